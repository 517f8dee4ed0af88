/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_AUTH_H
#define CK_AUTH_H

#include <sys/socket.h>
#include <time.h>

#include "config.h"

#define AUTH_ID_LEN 43 /* 32 random bytes, base64url */
#define AUTH_USER_MAX 64
#define AUTH_SESSION_LIFE (7 * 24 * 3600) /* the cookie's Max-Age */
#define AUTH_SESSION_IDLE (12 * 3600)

enum auth_mode { AUTH_TOKEN, AUTH_PASSWORD, AUTH_PROXY };

struct session {
	char id[AUTH_ID_LEN + 1];
	char csrf[AUTH_ID_LEN + 1];
	char user[AUTH_USER_MAX + 1]; /* empty until the token holder names itself */
	time_t created, last_seen;
	struct session *next;
};

/* Where a console token leads: resolved from the mount when it was issued. */
struct console_target {
	char host[256], vm[256];
	char addr[64]; /* numeric address of the VNC server, as seen from the host */
	int port;
	int ssh; /* reach addr:port through the host's sshd */
	char ssh_host[256], ssh_user[64], ssh_key[512], ssh_known_hosts[512];
	char ssh_addr[64]; /* ssh_host resolved off the event loop */
	int ssh_port;
};

int auth_init(const struct ck_config *cfg, int tls);
enum auth_mode auth_mode(void);
const char *auth_token(void);

/* One-time login tokens (the start token, invitations), valid --token-ttl seconds. */
int auth_token_ok(const char *token);
int auth_invite(char *token_out);
/* A reverse proxy allowed to name the user (--trusted-proxy; loopback by default). */
int auth_proxy_ok(const struct sockaddr *peer);
const char *auth_cookie_name(void);
/* 1 when the password file has this user with this password. */
int auth_password_ok(const char *user, const char *password);
int auth_user_name_ok(const char *name);
/* Host management (adding hosts) is for admins: the token holder, or --admin accounts. */
int auth_is_admin(const struct session *s);

struct session *auth_session_new(const char *user);
struct session *auth_session_find(const char *id);
void auth_session_drop(struct session *s);

/* DNS rebinding: the Host header must name this server. */
int auth_host_ok(const char *host);
/* Cross-site requests: Origin must be this very server. */
int auth_origin_ok(const char *origin, const char *host);
int auth_secure(void);

/* Console tokens: short-lived, single use, bound to one VM and one session. Thread-safe. */
int auth_console_grant(const struct console_target *t, const struct session *s, char *token_out);
/*
 * Copies the target and forgets the token; -1 when unknown, expired, or for
 * another VM or session.
 */
int auth_console_claim(const char *token, const char *host, const char *vm, const struct session *s,
		       struct console_target *t, char *user_out);

int auth_random_id(char *out);
int auth_equal(const char *a, const char *b);

#endif
