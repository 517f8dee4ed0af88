// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "uri.h"

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

static int parse_query(const char *q, struct ck_uri *u)
{
	while (*q) {
		const char *amp = strchrnul(q, '&'), *eq = memchr(q, '=', (size_t)(amp - q));

		if (eq) {
			size_t kl = (size_t)(eq - q), vl = (size_t)(amp - eq - 1);

			if (kl == 7 && !strncmp(q, "keyfile", 7) &&
			    uri_decode(u->keyfile, sizeof(u->keyfile), eq + 1, vl, 0))
				return -1;
			if (kl == 11 && !strncmp(q, "known_hosts", 11) &&
			    uri_decode(u->known_hosts, sizeof(u->known_hosts), eq + 1, vl, 0))
				return -1;
		}
		q = *amp ? amp + 1 : amp;
	}
	return 0;
}

int uri_parse(const char *text, struct ck_uri *u)
{
	const char *colon, *auth, *auth_end, *at, *hp, *hp_end, *pc, *q;

	memset(u, 0, sizeof(*u));
	colon = strstr(text, "://");
	if (!colon)
		return -1;
	pc = memchr(text, '+', (size_t)(colon - text));
	if (pc && (size_t)(colon - pc - 1) < sizeof(u->transport))
		memcpy(u->transport, pc + 1, (size_t)(colon - pc - 1));
	auth = colon + 3;
	auth_end = auth + strcspn(auth, "/?");
	at = memchr(auth, '@', (size_t)(auth_end - auth));
	hp = auth;
	if (at) {
		if (uri_decode(u->user, sizeof(u->user), auth, (size_t)(at - auth), 0))
			return -1;
		hp = at + 1;
	}
	hp_end = auth_end;
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', (size_t)(auth_end - hp));

		if (!rb || (size_t)(rb - hp - 1) >= sizeof(u->host))
			return -1;
		memcpy(u->host, hp + 1, (size_t)(rb - hp - 1));
		pc = rb + 1 < auth_end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		pc = memchr(hp, ':', (size_t)(auth_end - hp));
		if (pc)
			hp_end = pc;
		if ((size_t)(hp_end - hp) >= sizeof(u->host))
			return -1;
		memcpy(u->host, hp, (size_t)(hp_end - hp));
	}
	if (pc) {
		char *end;
		long p = strtol(pc + 1, &end, 10);

		if (end != auth_end || p < 1 || p > 65535)
			return -1;
		u->port = (int)p;
	}
	q = strchr(auth_end, '?');
	return q ? parse_query(q + 1, u) : 0;
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
