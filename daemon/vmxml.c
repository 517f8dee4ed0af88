// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the daemon reads in a VM's config.xml, with libxml2: no network, no
 * entity expansion, no DTD loading; the XML comes from whoever last wrote it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "vmxml.h"

#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
#define VNC_AUTOPORT_MIN 5900

static xmlDocPtr parse(const char *xml, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	return xmlReadMemory(xml, (int)len, "config.xml", NULL, XML_OPTS);
}

/* Calls fn on each <graphics> of <domain><devices> until it returns non-zero. */
static int each_graphics(xmlDocPtr doc, int (*fn)(xmlNodePtr g, void *arg), void *arg)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), dev, g;
	int r;

	if (!root || xmlStrcmp(root->name, BAD_CAST "domain"))
		return 0;
	for (dev = root->children; dev; dev = dev->next) {
		if (dev->type != XML_ELEMENT_NODE || xmlStrcmp(dev->name, BAD_CAST "devices"))
			continue;
		for (g = dev->children; g; g = g->next)
			if (g->type == XML_ELEMENT_NODE &&
			    !xmlStrcmp(g->name, BAD_CAST "graphics") && (r = fn(g, arg)))
				return r;
	}
	return 0;
}

static int attr_is(xmlNodePtr n, const char *name, const char *value)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST name);
	int r = v && !xmlStrcmp(v, BAD_CAST value);

	xmlFree(v);
	return r;
}

static long attr_long(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST name);
	char *end;
	long r;

	if (!v)
		return -1;
	r = strtol((const char *)v, &end, 10);
	if (*end || end == (char *)v)
		r = -1;
	xmlFree(v);
	return r;
}

static int vnc_on_port(xmlNodePtr g, void *arg)
{
	int port = *(int *)arg;

	if (!attr_is(g, "type", "vnc"))
		return 0;
	return attr_long(g, "port") == port ||
	       (attr_is(g, "autoport", "yes") && port >= VNC_AUTOPORT_MIN);
}

int vmxml_vnc_port_ok(const char *xml, size_t len, int port)
{
	xmlDocPtr doc = parse(xml, len);
	int ok;

	if (!doc)
		return 0;
	ok = each_graphics(doc, vnc_on_port, &port);
	xmlFreeDoc(doc);
	return ok;
}

static int hide_passwd(xmlNodePtr g, void *arg)
{
	(void)arg;
	if (xmlHasProp(g, BAD_CAST "passwd"))
		xmlSetProp(g, BAD_CAST "passwd", BAD_CAST "********");
	return 0;
}

int vmxml_redact(const char *xml, size_t len, char **out, size_t *out_len)
{
	xmlDocPtr doc = parse(xml, len);
	xmlChar *mem = NULL;
	int n = 0;

	if (!doc)
		return -1;
	each_graphics(doc, hide_passwd, NULL);
	xmlDocDumpMemory(doc, &mem, &n);
	xmlFreeDoc(doc);
	if (!mem || n < 0) {
		xmlFree(mem);
		return -1;
	}
	*out = malloc((size_t)n + 1);
	if (*out) {
		memcpy(*out, mem, (size_t)n);
		(*out)[n] = '\0';
		*out_len = (size_t)n;
	}
	xmlFree(mem);
	return *out ? 0 : -1;
}
