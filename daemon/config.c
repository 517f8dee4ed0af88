// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's config file: INI-like, one section per host whose sshd needs
 * more than its libvirt URI says:
 *
 *   [host h1]
 *   host = 10.77.1.2
 *   port = 22
 *   user = root
 *   key = /root/.ssh/id_ed25519
 *   known_hosts = /root/.ssh/known_hosts
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int set_field(struct ck_ssh_override *o, const char *k, const char *v)
{
	char **dst = NULL;

	if (!strcmp(k, "port")) {
		char *end;
		long p = strtol(v, &end, 10);

		if (*end || p < 1 || p > 65535)
			return -1;
		o->port = (int)p;
		return 0;
	}
	if (!strcmp(k, "host"))
		dst = &o->host;
	else if (!strcmp(k, "user"))
		dst = &o->user;
	else if (!strcmp(k, "key"))
		dst = &o->key;
	else if (!strcmp(k, "known_hosts"))
		dst = &o->known_hosts;
	if (!dst)
		return -1;
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : -1;
}

int config_load_file(struct ck_config *cfg, const char *path)
{
	struct ck_ssh_override *cur = NULL;
	char line[1024];
	int lineno = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "catkeeper-web: cannot open config file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || strncmp(s, "[host ", 6))
				goto bad;
			*end = '\0';
			cur = calloc(1, sizeof(*cur));
			if (!cur)
				goto bad;
			cur->name = strdup(trim(s + 6));
			if (!cur->name) {
				free(cur);
				goto bad;
			}
			cur->next = cfg->overrides;
			cfg->overrides = cur;
			continue;
		}
		eq = strchr(s, '=');
		if (!cur || !eq)
			goto bad;
		*eq = '\0';
		if (set_field(cur, trim(s), trim(eq + 1)))
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	fprintf(stderr, "catkeeper-web: %s:%d: cannot parse this line\n", path, lineno);
	fclose(f);
	return -1;
}

void config_free(struct ck_config *cfg)
{
	struct ck_ssh_override *o;

	while ((o = cfg->overrides)) {
		cfg->overrides = o->next;
		free(o->name);
		free(o->host);
		free(o->user);
		free(o->key);
		free(o->known_hosts);
		free(o);
	}
}

const struct ck_ssh_override *config_override(const struct ck_config *cfg, const char *host)
{
	const struct ck_ssh_override *o;

	for (o = cfg->overrides; o; o = o->next)
		if (!strcmp(o->name, host))
			return o;
	return NULL;
}

int config_is_loopback(const char *addr)
{
	return !strcmp(addr, "localhost") || !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") ||
	       !strcmp(addr, "[::1]");
}
