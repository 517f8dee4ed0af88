/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "domxml.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

static xmlDocPtr parse(const char *xml, size_t len)
{
	return xmlReadMemory(xml, (int)len, "config.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name))
			return n;
	return NULL;
}

/* Owned copy of a node's text or attribute, "" when absent. */
static char *text_of(xmlNodePtr n)
{
	xmlChar *s = n ? xmlNodeGetContent(n) : NULL;
	char *r = strdup(s ? (char *)s : "");

	xmlFree(s);
	return r;
}

static char *attr(xmlNodePtr n, const char *name)
{
	xmlChar *s = n ? xmlGetProp(n, BAD_CAST name) : NULL;
	char *r = s ? strdup((char *)s) : NULL;

	xmlFree(s);
	return r;
}

static unsigned long long to_kib(unsigned long long v, const char *unit)
{
	static const struct {
		const char *name;
		unsigned long long mul, div;
	} units[] = {
	    {"b", 1, 1024},	  {"bytes", 1, 1024},	  {"KB", 1000, 1024},
	    {"k", 1, 1},	  {"KiB", 1, 1},	  {"MB", 1000000, 1024},
	    {"M", 1024, 1},	  {"MiB", 1024, 1},	  {"GB", 1000000000, 1024},
	    {"G", 1048576, 1},	  {"GiB", 1048576, 1},	  {"TB", 1000000000000ULL, 1024},
	    {"T", 1073741824, 1}, {"TiB", 1073741824, 1},
	};

	if (!unit)
		return v;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].name))
			return v * units[i].mul / units[i].div;
	return v;
}

static xmlNodePtr owner_node(xmlNodePtr metadata)
{
	for (xmlNodePtr n = metadata ? metadata->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns &&
		    !xmlStrcmp(n->ns->href, BAD_CAST OWNER_NS))
			return n;
	return NULL;
}

int domxml_definition(const char *xml, struct dom_info *di)
{
	xmlDocPtr doc = parse(xml, strlen(xml));
	xmlNodePtr root, n;
	char *s;

	if (!doc)
		return -EINVAL;
	root = xmlDocGetRootElement(doc);
	free(di->description);
	di->description = text_of(child(root, "description"));
	free(di->owner);
	di->owner = text_of(owner_node(child(root, "metadata")));

	n = child(root, "currentMemory");
	if (!n)
		n = child(root, "memory");
	s = text_of(n);
	di->memory_kib = strtoull(s ? s : "0", NULL, 10);
	free(s);
	s = attr(n, "unit");
	di->memory_kib = to_kib(di->memory_kib, s);
	free(s);

	n = child(root, "vcpu");
	s = attr(n, "current");
	if (!s)
		s = text_of(n);
	di->vcpus = (unsigned)strtoul(s ? s : "0", NULL, 10);
	free(s);
	di->config_size = strlen(xml);
	/* Any change of the definition, even one of the same size, is a change of config.xml. */
	di->config_hash = g_str_hash(xml);
	di->fields |= DI_SIZES;
	xmlFreeDoc(doc);
	return di->owner && di->description ? 0 : -ENOMEM;
}

static char *format_vnc(const char *addr, const char *port)
{
	char *r;
	int rc;

	if (!addr || !*addr || !strcmp(addr, "0.0.0.0"))
		addr = "127.0.0.1";
	else if (!strcmp(addr, "::"))
		addr = "::1";
	if (strchr(addr, ':'))
		rc = asprintf(&r, "[%s]:%s", addr, port);
	else
		rc = asprintf(&r, "%s:%s", addr, port);
	return rc < 0 ? NULL : r;
}

static char *graphics_vnc(xmlNodePtr g)
{
	char *port = attr(g, "port"), *addr = attr(g, "listen"), *sock = attr(g, "socket");
	char *r = NULL;
	xmlNodePtr l = child(g, "listen");

	if (sock || !port || atoi(port) <= 0)
		goto out;
	if (l) {
		char *type = attr(l, "type");
		bool unix_socket = type && (!strcmp(type, "socket") || !strcmp(type, "none"));

		free(type);
		if (unix_socket)
			goto out;
		if (!addr)
			addr = attr(l, "address");
	}
	r = format_vnc(addr, port);
out:
	free(port);
	free(addr);
	free(sock);
	return r ? r : strdup("");
}

char *domxml_vnc(const char *xml)
{
	xmlDocPtr doc = parse(xml, strlen(xml));
	char *r = NULL;

	if (!doc)
		return strdup("");
	for (xmlNodePtr g = child(child(xmlDocGetRootElement(doc), "devices"), "graphics"); g;
	     g = g->next) {
		char *type;

		if (g->type != XML_ELEMENT_NODE || xmlStrcmp(g->name, BAD_CAST "graphics"))
			continue;
		type = attr(g, "type");
		if (type && !strcmp(type, "vnc"))
			r = graphics_vnc(g);
		free(type);
		if (r)
			break;
	}
	xmlFreeDoc(doc);
	return r ? r : strdup("");
}

char *domxml_owner_element_text(const char *elem)
{
	xmlDocPtr doc = parse(elem, strlen(elem));
	char *r;

	if (!doc)
		return strdup("");
	r = text_of(xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);
	return r;
}

char *domxml_owner_element(const char *owner)
{
	xmlChar *esc = xmlEncodeSpecialChars(NULL, BAD_CAST owner);
	char *r;

	if (!esc || asprintf(&r, "<owner>%s</owner>", (char *)esc) < 0)
		r = NULL;
	xmlFree(esc);
	return r;
}

/* libvirt accepts uuids with or without dashes, in either case. */
static bool same_uuid(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-' || isspace((unsigned char)*a))
			a++;
		while (*b == '-' || isspace((unsigned char)*b))
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
			return false;
	}
}

static int fail(char **err, const char *fmt, const char *arg)
{
	if (asprintf(err, fmt, arg) < 0)
		*err = NULL;
	return -EINVAL;
}

int domxml_prepare(const char *xml, size_t len, const char *name, const char *uuid,
		   const char *owner, char **out, char **err)
{
	xmlDocPtr doc = parse(xml, len);
	xmlNodePtr root, n, md;
	xmlChar *buf = NULL;
	int size, rc = 0;

	*out = NULL;
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[256];

		snprintf(msg, sizeof(msg), "line %d: %s", e ? e->line : 0,
			 e && e->message ? e->message : "not XML");
		msg[strcspn(msg, "\n")] = '\0';
		return fail(err, "config.xml is not well-formed XML: %s", msg);
	}
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, BAD_CAST "domain")) {
		rc = fail(err, "config.xml must hold a <domain> element%s", "");
		goto out;
	}
	n = child(root, "name");
	if (!n)
		n = xmlNewChild(root, NULL, BAD_CAST "name", NULL);
	xmlNodeSetContent(n, NULL);
	xmlNodeAddContent(n, BAD_CAST name);

	n = child(root, "uuid");
	if (uuid && *uuid) {
		char *have = text_of(n);

		if (n && !same_uuid(have, uuid)) {
			if (asprintf(err, "config.xml is for uuid %s, this VM is %s", have, uuid) <
			    0)
				*err = NULL;
			free(have);
			rc = -EINVAL;
			goto out;
		}
		free(have);
		if (!n)
			xmlNewTextChild(root, NULL, BAD_CAST "uuid", BAD_CAST uuid);
	}

	md = child(root, "metadata");
	for (xmlNodePtr o; (o = owner_node(md));) {
		xmlUnlinkNode(o);
		xmlFreeNode(o);
	}
	if (owner && *owner) {
		xmlNsPtr ns;

		if (!md)
			md = xmlNewChild(root, NULL, BAD_CAST "metadata", NULL);
		n = xmlNewTextChild(md, NULL, BAD_CAST "owner", BAD_CAST owner);
		ns = xmlNewNs(n, BAD_CAST OWNER_NS, BAD_CAST OWNER_KEY);
		xmlSetNs(n, ns);
	}
	xmlDocDumpMemory(doc, &buf, &size);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	*out = strdup((char *)buf);
	if (!*out)
		rc = -ENOMEM;
out:
	xmlFree(buf);
	xmlFreeDoc(doc);
	return rc;
}
