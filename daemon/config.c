// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's config file, read with GLib's GKeyFile: one section per host
 * whose sshd needs more than its libvirt URI says:
 *
 *   [host h1]
 *   host = 10.77.1.2
 *   port = 22
 *   user = root
 *   key = /root/.ssh/id_ed25519
 *   known_hosts = /root/.ssh/known_hosts
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config.h"

static const char *const keys[] = {"host", "port", "user", "key", "known_hosts", NULL};

static int known_key(const char *k)
{
	const char *const *p;

	for (p = keys; *p; p++)
		if (!strcmp(k, *p))
			return 1;
	return 0;
}

static int set_port(struct ck_ssh_override *o, const char *v)
{
	char *end;
	long p = strtol(v, &end, 10);

	if (!*v || *end || p < 1 || p > 65535)
		return -1;
	o->port = (int)p;
	return 0;
}

/* One [host NAME] group into an override; err says what is wrong. */
static int load_group(GKeyFile *kf, const char *group, struct ck_config *cfg, char *err,
		      size_t errlen)
{
	char **names = g_key_file_get_keys(kf, group, NULL, NULL), **k, *v;
	struct ck_ssh_override *o;
	char **dst;
	int rc = 0;

	if (strncmp(group, "host ", 5) || !group[5]) {
		snprintf(err, errlen, "[%s]: a section is [host NAME]", group);
		g_strfreev(names);
		return -1;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->name = strdup(group + 5))) {
		free(o);
		g_strfreev(names);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->next = cfg->overrides;
	cfg->overrides = o;
	for (k = names; k && *k && !rc; k++) {
		if (!known_key(*k)) {
			snprintf(err, errlen, "[%s]: unknown key %s", group, *k);
			rc = -1;
			break;
		}
		v = g_strstrip(g_key_file_get_value(kf, group, *k, NULL));
		if (!strcmp(*k, "port")) {
			rc = set_port(o, v);
			if (rc)
				snprintf(err, errlen, "[%s]: bad port %s", group, v);
		} else {
			dst = !strcmp(*k, "host")   ? &o->host
			      : !strcmp(*k, "user") ? &o->user
			      : !strcmp(*k, "key")  ? &o->key
						    : &o->known_hosts;
			free(*dst);
			*dst = strdup(v);
			if (!*dst) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
			}
		}
		g_free(v);
	}
	g_strfreev(names);
	return rc;
}

int config_load_data(struct ck_config *cfg, const char *data, size_t len, char *err, size_t errlen)
{
	GKeyFile *kf = g_key_file_new();
	GError *gerr = NULL;
	char **groups, **g, *text;
	size_t i;
	int rc = 0;

	/* the format always took ';' comments too; GKeyFile knows only '#' */
	text = g_strndup(data, len);
	for (i = 0; text[i]; i++) {
		size_t b = i;

		while (text[b] == ' ' || text[b] == '\t')
			b++;
		if (text[b] == ';')
			text[b] = '#';
		i = (size_t)(strchrnul(text + i, '\n') - text);
		if (!text[i])
			break;
	}
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &gerr)) {
		snprintf(err, errlen, "%s", gerr->message);
		g_error_free(gerr);
		rc = -1;
	}
	groups = rc ? NULL : g_key_file_get_groups(kf, NULL);
	for (g = groups; g && *g && !rc; g++)
		rc = load_group(kf, *g, cfg, err, errlen);
	g_strfreev(groups);
	g_free(text);
	g_key_file_free(kf);
	return rc;
}

int config_load_file(struct ck_config *cfg, const char *path)
{
	char *data = NULL, err[512];
	gsize len = 0;
	GError *gerr = NULL;

	if (!g_file_get_contents(path, &data, &len, &gerr)) {
		fprintf(stderr, "catkeeper-web: cannot open config file %s: %s\n", path,
			gerr->message);
		g_error_free(gerr);
		return -1;
	}
	if (config_load_data(cfg, data, len, err, sizeof(err))) {
		fprintf(stderr, "catkeeper-web: %s: %s\n", path, err);
		g_free(data);
		return -1;
	}
	g_free(data);
	return 0;
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
