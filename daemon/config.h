/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_CONFIG_H
#define CK_CONFIG_H

#include <stddef.h>

/* What the daemon's config file can say about reaching one host's sshd. */
struct ck_ssh_override {
	char *name; /* catkeeper host name (directory under the mount) */
	char *host;
	char *user;
	char *key;
	char *known_hosts;
	int port;
	struct ck_ssh_override *next;
};

struct ck_config {
	const char *mount;
	const char *listen;
	int port;
	const char *web_root;
	const char *novnc_root;
	const char *cert;
	const char *key;
	const char *passwd_file;
	const char *user_header; /* trusted reverse-proxy header, e.g. X-Remote-User */
	const char *config_file;
	const char *names[16]; /* extra names accepted in the Host header */
	int n_names;
	const char *admins[16]; /* accounts that may add hosts (--admin) */
	int n_admins;
	const char *proxies[16]; /* --trusted-proxy: who may set user_header */
	int n_proxies;
	int token_ttl;	 /* seconds a login token stays valid */
	int console_ttl; /* seconds a console token stays valid */
	int workers;
	int loopback; /* every listening address is a loopback one */
	struct ck_ssh_override *overrides;
};

int config_load_file(struct ck_config *cfg, const char *path);
/* The file's text; -1 with err set (the overrides read so far stay in cfg). */
int config_load_data(struct ck_config *cfg, const char *data, size_t len, char *err, size_t errlen);
void config_free(struct ck_config *cfg);
const struct ck_ssh_override *config_override(const struct ck_config *cfg, const char *host);
int config_is_loopback(const char *addr);

#endif
