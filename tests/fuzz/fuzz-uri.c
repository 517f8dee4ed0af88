// SPDX-License-Identifier: GPL-2.0-or-later
/* libvirt URIs: parsing and the add-host policy never crash and agree. */
#include <libxml/uri.h>

#include "fuzz.h"
#include "uri.h"

/* name= as a parameter of the raw query q ("a=1&b=2;c=3"), where libvirt would see it */
static int has_param(const char *q, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = q; (p = strstr(p, name)); p++)
		if ((p == q || p[-1] == '&' || p[-1] == ';') && p[n] == '=')
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), *q;
	struct ck_uri u;
	xmlURIPtr x;

	if (!uri_parse(s, &u)) {
		if (strlen(u.host) >= sizeof(u.host) || strlen(u.user) >= sizeof(u.user) ||
		    u.port < 0 || u.port > 65535)
			abort();
		uri_is_local(&u);
		uri_is_ssh(&u);
	}
	/* a URI the policy lets through has no key or command in its query, as libvirt reads it */
	x = xmlParseURI(s);
	q = x ? x->query_raw : NULL;
	if (q && !uri_refusal(s) &&
	    (has_param(q, "command") || has_param(q, "keyfile") || has_param(q, "known_hosts")))
		abort();
	xmlFreeURI(x);
	free(s);
	return 0;
}
