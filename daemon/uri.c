// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libvirt URIs, read with libxml2's xmlParseURI as libvirt itself reads
 * them: what they say about reaching a host's sshd, and whether a user may
 * add a host with one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/uri.h>

#include "config.h"
#include "uri.h"

/* What a user who adds a host may ask for; the rest runs or reads files as the daemon's user. */
static const char *const allowed_transports[] = {"",	"ssh", "libssh2", "libssh",
						 "tls", "tcp", NULL};
static const char *const allowed_params[] = {"mode", "sshauth", "no_tty", NULL};

static int listed(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && !strncmp(s, *words, n))
			return 1;
	return 0;
}

static int copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		return -1;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
	return 0;
}

/* Calls fn for each key=value of the raw query; non-zero stops. */
static int each_param(const char *q,
		      int (*fn)(const char *k, size_t kl, const char *v, size_t vl, void *arg),
		      void *arg)
{
	while (q && *q) {
		/* libvirt separates parameters with ';' as well as '&' */
		const char *amp = q + strcspn(q, "&;"), *eq = memchr(q, '=', (size_t)(amp - q));
		size_t kl = eq ? (size_t)(eq - q) : (size_t)(amp - q);
		int r;

		if (kl || amp > q) {
			r = fn(q, kl, eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, arg);
			if (r)
				return r;
		}
		q = *amp ? amp + 1 : amp;
	}
	return 0;
}

static int ssh_param(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct ck_uri *u = arg;

	if (kl == 7 && !strncmp(k, "keyfile", 7))
		return uri_decode(u->keyfile, sizeof(u->keyfile), v, vl, 0);
	if (kl == 11 && !strncmp(k, "known_hosts", 11))
		return uri_decode(u->known_hosts, sizeof(u->known_hosts), v, vl, 0);
	return 0;
}

int uri_decode(char *dst, size_t cap, const char *src, size_t n, int plus)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = src[i];

		if (c == '+' && plus)
			c = ' ';
		else if (c == '%' && i + 2 < n && isxdigit((unsigned char)src[i + 1]) &&
			 isxdigit((unsigned char)src[i + 2])) {
			char hex[3] = {src[i + 1], src[i + 2], 0};

			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

int uri_parse(const char *text, struct ck_uri *u)
{
	xmlURIPtr x;
	const char *plus;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	/* only absolute URIs with an authority part ("driver://...") */
	if (!strstr(text, "://"))
		return -1;
	x = xmlParseURI(text);
	if (!x || !x->scheme)
		goto out;
	plus = strchr(x->scheme, '+');
	if (copy(u->transport, sizeof(u->transport), plus ? plus + 1 : "") ||
	    copy(u->user, sizeof(u->user), x->user) || copy(u->host, sizeof(u->host), x->server))
		goto out;
	/* an IPv6 literal is an address, without the URI's brackets */
	if (u->host[0] == '[' && u->host[strlen(u->host) - 1] == ']') {
		memmove(u->host, u->host + 1, strlen(u->host) - 2);
		u->host[strlen(u->host) - 2] = '\0';
	}
	/* libxml2 before 2.11 says 0 for no port, later ones -1 */
	if (x->port > 65535)
		goto out;
	u->port = x->port > 0 ? x->port : 0;
	rc = each_param(x->query_raw, ssh_param, u);
out:
	xmlFreeURI(x);
	return rc;
}

int uri_is_ssh(const struct ck_uri *u)
{
	return !strcmp(u->transport, "ssh") || !strcmp(u->transport, "libssh2") ||
	       !strcmp(u->transport, "libssh");
}

int uri_is_local(const struct ck_uri *u)
{
	if (!strcmp(u->transport, "unix") || !u->host[0])
		return 1;
	return !uri_is_ssh(u) && config_is_loopback(u->host);
}

static int param_allowed(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)v;
	(void)vl;
	(void)arg;
	return !listed(k, kl, allowed_params);
}

const char *uri_refusal(const char *text)
{
	xmlURIPtr x;
	const char *plus, *why = NULL;
	size_t i;

	for (i = 0; text[i]; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return "a URI has no control characters";
	if (!strstr(text, "://"))
		return "a URI looks like driver[+transport]://[user@]host[:port]/path";
	x = xmlParseURI(text);
	if (!x || !x->scheme) {
		xmlFreeURI(x);
		return "cannot parse that URI";
	}
	plus = strchr(x->scheme, '+');
	for (i = 0; x->scheme[i] && x->scheme + i != plus; i++)
		if (!isalnum((unsigned char)x->scheme[i]))
			why = "the URI's driver is not a plain name";
	if (!why && !listed(plus ? plus + 1 : "", plus ? strlen(plus + 1) : 0, allowed_transports))
		why = "that transport is not one a host may be added with (ssh, libssh2, libssh, "
		      "tls, tcp or none)";
	if (!why && x->query_raw && each_param(x->query_raw, param_allowed, NULL))
		why = "that URI parameter is not allowed (only mode, sshauth, no_tty): keys, "
		      "known_hosts and commands belong in the daemon's config file";
	if (!why && x->fragment)
		why = "a URI for a host has no fragment";
	xmlFreeURI(x);
	return why;
}
