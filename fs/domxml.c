/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "domxml.h"
#include "hostconn.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
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

/* The length of an element's text, entity references not expanded (there are none). */
static size_t text_len(xmlNodePtr n)
{
	size_t len = 0;

	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
			len += (size_t)xmlStrlen(c->content);
	return len;
}

static int too_long(char **err, const char *what, size_t len, size_t max)
{
	if (asprintf(err, "config.xml: <%s> is %zu bytes, at most %zu are accepted", what, len,
		     max) < 0)
		*err = NULL;
	return -EFBIG;
}

/*
 * A user's XML: refused with a DTD, since a DTD's entities let a few KB
 * expand to GBs wherever the text is read; values are bounded.
 */
static int parse_user(const char *xml, size_t len, xmlDocPtr *docp, char **err)
{
	static const struct {
		const char *name;
		size_t max;
	} bounds[] = {
	    {"name", NAME_MAX_BYTES}, {"title", TITLE_MAX}, {"description", DESCRIPTION_MAX}};
	xmlDocPtr doc;
	xmlNodePtr root;

	*docp = NULL;
	if (len > INT_MAX)
		return too_long(err, "domain", len, INT_MAX);
	doc = parse(xml, len);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		char msg[256];

		snprintf(msg, sizeof(msg), "line %d: %s", e ? e->line : 0,
			 e && e->message ? e->message : "not XML");
		msg[strcspn(msg, "\n")] = '\0';
		return fail(err, "config.xml is not well-formed XML: %s", msg);
	}
	if (doc->intSubset || doc->extSubset) {
		xmlFreeDoc(doc);
		return fail(err, "config.xml must not hold a DTD (<!DOCTYPE>) or entities%s", "");
	}
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, BAD_CAST "domain")) {
		xmlFreeDoc(doc);
		return fail(err, "config.xml must hold a <domain> element%s", "");
	}
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		size_t n = text_len(child(root, bounds[i].name));

		if (n > bounds[i].max) {
			xmlFreeDoc(doc);
			return too_long(err, bounds[i].name, n, bounds[i].max);
		}
	}
	*docp = doc;
	return 0;
}

int domxml_check(const char *xml, size_t len, char **err)
{
	xmlDocPtr doc;
	int rc = parse_user(xml, len, &doc, err);

	xmlFreeDoc(doc);
	return rc;
}

int domxml_ids(const char *xml, size_t len, char **name, char **uuid)
{
	xmlDocPtr doc;
	char *err = NULL;
	int rc = parse_user(xml, len, &doc, &err);

	free(err);
	*name = *uuid = NULL;
	if (rc < 0)
		return rc;
	*name = text_of(child(xmlDocGetRootElement(doc), "name"));
	*uuid = text_of(child(xmlDocGetRootElement(doc), "uuid"));
	xmlFreeDoc(doc);
	if (*name && *uuid)
		return 0;
	free(*name);
	free(*uuid);
	*name = *uuid = NULL;
	return -ENOMEM;
}

int domxml_prepare(const char *xml, size_t len, const char *name, const char *uuid,
		   const char *owner, char **out, char **err)
{
	xmlDocPtr doc;
	xmlNodePtr root, n, md;
	xmlChar *buf = NULL;
	int size, rc;

	*out = NULL;
	rc = parse_user(xml, len, &doc, err);
	if (rc < 0)
		return rc;
	root = xmlDocGetRootElement(doc);
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

void dom_info_clear(struct dom_info *di)
{
	free(di->name);
	free(di->owner);
	free(di->description);
	free(di->vnc);
	free(di->ips);
	memset(di, 0, sizeof(*di));
}
