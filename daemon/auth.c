// SPDX-License-Identifier: GPL-2.0-or-later
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"
#include "netaddr.h"

#define MAX_SESSIONS 1024
#define MAX_USER_SESSIONS 16
#define MAX_GRANTS 64
#define MAX_LOGIN_TOKENS 16

struct grant {
	char token[AUTH_ID_LEN + 1];
	char sid[AUTH_ID_LEN + 1]; /* the session it was given to */
	char user[AUTH_USER_MAX + 1];
	time_t expires;
	struct console_target t;
};

static struct {
	const struct ck_config *cfg;
	enum auth_mode mode;
	int tls, ttl;
	char token[AUTH_ID_LEN + 1];
	char hosts[24][300]; /* accepted Host header values */
	int n_hosts;
	char *passwd; /* the password file, lines user:crypt-hash */
	struct session *sessions;
	int n_sessions;
	pthread_mutex_t grant_lock;
	struct grant grants[MAX_GRANTS];
	/* one-time login tokens: the start token, then invitations */
	struct {
		char token[AUTH_ID_LEN + 1];
		time_t expires;
	} logins[MAX_LOGIN_TOKENS];
	int token_ttl;
	char dummy_hash[512]; /* crypt setting for unknown users: as slow as a known one */
	struct sockaddr_storage proxies[16];
	int n_proxies;
} a = {
    .grant_lock = PTHREAD_MUTEX_INITIALIZER,
};

int auth_random_id(char *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[AUTH_ID_LEN];
	int i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < AUTH_ID_LEN; i++)
		out[i] = b64[r[i] & 63];
	out[AUTH_ID_LEN] = '\0';
	return 0;
}

/* Constant time for equal lengths, so a token cannot be guessed byte by byte. */
int auth_equal(const char *a1, const char *b)
{
	size_t n = strlen(a1), i;
	unsigned char d = 0;

	if (n != strlen(b))
		return 0;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(a1[i] ^ b[i]);
	return !d;
}

static void add_host(const char *name, int port)
{
	int default_port = a.tls ? 443 : 80;

	if (a.n_hosts + 2 > (int)(sizeof(a.hosts) / sizeof(a.hosts[0])))
		return;
	snprintf(a.hosts[a.n_hosts++], sizeof(a.hosts[0]), "%s:%d", name, port);
	if (port == default_port)
		snprintf(a.hosts[a.n_hosts++], sizeof(a.hosts[0]), "%s", name);
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	long len;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "catkeeper-web: password file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)len + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[len] = '\0';
out:
	if (!buf)
		fprintf(stderr, "catkeeper-web: cannot read password file %s\n", path);
	fclose(f);
	return buf;
}

/* The first account's hash: unknown users cost the same crypt() as known ones. */
static void set_dummy_hash(void)
{
	const char *colon = strchr(a.passwd, ':');
	size_t n = colon ? strcspn(colon + 1, "\n") : 0;

	if (colon && n < sizeof(a.dummy_hash)) {
		memcpy(a.dummy_hash, colon + 1, n);
		a.dummy_hash[n] = '\0';
	}
}

/* Whose header is believed: --trusted-proxy addresses, else loopback only. */
static int set_proxies(const struct ck_config *cfg)
{
	static const char *const loopback[] = {"127.0.0.1", "::1"};
	const char *const *list = cfg->n_proxies ? cfg->proxies : loopback;
	int n = cfg->n_proxies ? cfg->n_proxies : 2, i;
	socklen_t len;

	for (i = 0; i < n && i < (int)(sizeof(a.proxies) / sizeof(a.proxies[0])); i++) {
		if (netaddr_parse_numeric(list[i], 0, &a.proxies[i], &len)) {
			fprintf(stderr,
				"catkeeper-web: --trusted-proxy %s: not a numeric address\n",
				list[i]);
			return -1;
		}
		a.n_proxies++;
	}
	return 0;
}

int auth_proxy_ok(const struct sockaddr *peer)
{
	int i;

	for (i = 0; i < a.n_proxies; i++)
		if (netaddr_same(peer, (const struct sockaddr *)&a.proxies[i]))
			return 1;
	return 0;
}

const char *auth_cookie_name(void)
{
	/* the prefix makes browsers refuse the cookie from anything but this https origin */
	return a.tls ? "__Host-ck_session" : "ck_session";
}

int auth_init(const struct ck_config *cfg, int tls)
{
	int i;

	a.cfg = cfg;
	a.tls = tls;
	a.ttl = cfg->console_ttl > 0 ? cfg->console_ttl : 30;
	if (cfg->passwd_file) {
		a.mode = AUTH_PASSWORD;
		a.passwd = slurp(cfg->passwd_file);
		if (!a.passwd)
			return -1;
	} else if (cfg->user_header) {
		a.mode = AUTH_PROXY;
	} else {
		a.mode = AUTH_TOKEN;
	}
	a.token_ttl = cfg->token_ttl > 0 ? cfg->token_ttl : 600;
	if (auth_random_id(a.token)) {
		fprintf(stderr, "catkeeper-web: no random bytes: %s\n", strerror(errno));
		return -1;
	}
	if (a.mode == AUTH_TOKEN) {
		strcpy(a.logins[0].token, a.token);
		a.logins[0].expires = time(NULL) + a.token_ttl;
	}
	if (a.mode == AUTH_PASSWORD)
		set_dummy_hash();
	if (a.mode == AUTH_PROXY && set_proxies(cfg))
		return -1;
	if (cfg->loopback) {
		add_host("127.0.0.1", cfg->port);
		add_host("localhost", cfg->port);
		add_host("[::1]", cfg->port);
	} else {
		add_host(cfg->listen, cfg->port);
	}
	for (i = 0; i < cfg->n_names; i++)
		add_host(cfg->names[i], cfg->port);
	return 0;
}

enum auth_mode auth_mode(void)
{
	return a.mode;
}

const char *auth_token(void)
{
	return a.token;
}

int auth_secure(void)
{
	return a.tls;
}

int auth_token_ok(const char *token)
{
	time_t now = time(NULL);
	int i, ok = 0;

	if (a.mode != AUTH_TOKEN)
		return 0;
	for (i = 0; i < MAX_LOGIN_TOKENS; i++) {
		if (!a.logins[i].token[0] || !auth_equal(token, a.logins[i].token))
			continue;
		ok = a.logins[i].expires >= now;
		/* one use, and an expired one is gone too */
		memset(&a.logins[i], 0, sizeof(a.logins[i]));
	}
	return ok;
}

int auth_invite(char *token_out)
{
	time_t now = time(NULL);
	int i;

	for (i = 0; i < MAX_LOGIN_TOKENS; i++)
		if (!a.logins[i].token[0] || a.logins[i].expires < now)
			break;
	if (i == MAX_LOGIN_TOKENS || auth_random_id(a.logins[i].token))
		return -1;
	a.logins[i].expires = now + a.token_ttl;
	strcpy(token_out, a.logins[i].token);
	return 0;
}

int auth_is_admin(const struct session *s)
{
	int i;

	/* the token holder started the daemon, or was given its URL by who did */
	if (a.mode == AUTH_TOKEN)
		return 1;
	for (i = 0; i < a.cfg->n_admins; i++)
		if (s->user[0] && !strcmp(s->user, a.cfg->admins[i]))
			return 1;
	return 0;
}

int auth_user_name_ok(const char *name)
{
	const unsigned char *p;
	size_t n = strlen(name);

	if (!n || n > AUTH_USER_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '/' || *p == ':' || *p == '!')
			return 0;
	return 1;
}

/* crypt() of password with setting hash, compared in constant time. */
static int hash_matches(const char *password, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	int ok;

	if (!cd)
		return 0;
	/* crypt_rn: NULL on failure instead of a "*" string */
	out = crypt_rn(password, hash, cd, sizeof(*cd));
	ok = out && auth_equal(out, hash);
	free(cd);
	return ok;
}

int auth_password_ok(const char *user, const char *password)
{
	size_t ulen = strlen(user);
	const char *line = a.passwd;

	if (a.mode != AUTH_PASSWORD)
		return 0;
	if (!auth_user_name_ok(user)) {
		hash_matches(password, a.dummy_hash);
		return 0;
	}
	while (line && *line) {
		const char *eol = strchrnul(line, '\n');

		if ((size_t)(eol - line) > ulen + 1 && !strncmp(line, user, ulen) &&
		    line[ulen] == ':') {
			char hash[512];
			size_t hl = (size_t)(eol - line) - ulen - 1;

			if (hl >= sizeof(hash))
				return 0;
			memcpy(hash, line + ulen + 1, hl);
			hash[hl] = '\0';
			return hash_matches(password, hash);
		}
		line = *eol ? eol + 1 : eol;
	}
	/* an unknown user takes as long as a known one */
	hash_matches(password, a.dummy_hash);
	return 0;
}

static int session_expired(const struct session *s, time_t now)
{
	return now - s->created >= AUTH_SESSION_LIFE || now - s->last_seen >= AUTH_SESSION_IDLE;
}

static void drop_expired(time_t now)
{
	struct session **pp = &a.sessions, *s;

	while ((s = *pp)) {
		if (session_expired(s, now)) {
			*pp = s->next;
			free(s);
			a.n_sessions--;
		} else {
			pp = &s->next;
		}
	}
}

/* The least recently used session, of user (NULL: of anyone). */
static struct session *oldest(const char *user)
{
	struct session *s, *old = NULL;

	for (s = a.sessions; s; s = s->next)
		if ((!user || !strcmp(s->user, user)) && (!old || s->last_seen <= old->last_seen))
			old = s;
	return old;
}

struct session *auth_session_new(const char *user)
{
	time_t now = time(NULL);
	struct session *s;
	int mine = 0;

	drop_expired(now);
	/* bounded per user, so that no one's logins push others' sessions out */
	for (s = a.sessions; s; s = s->next)
		mine += user && user[0] && !strcmp(s->user, user);
	if (mine >= MAX_USER_SESSIONS)
		auth_session_drop(oldest(user));
	if (a.n_sessions >= MAX_SESSIONS)
		auth_session_drop(oldest(NULL));
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (auth_random_id(s->id) || auth_random_id(s->csrf)) {
		free(s);
		return NULL;
	}
	snprintf(s->user, sizeof(s->user), "%s", user ? user : "");
	s->created = s->last_seen = now;
	s->next = a.sessions;
	a.sessions = s;
	a.n_sessions++;
	return s;
}

struct session *auth_session_find(const char *id)
{
	struct session *s;
	time_t now = time(NULL);

	for (s = a.sessions; s; s = s->next)
		if (auth_equal(s->id, id)) {
			if (session_expired(s, now))
				return NULL;
			s->last_seen = now;
			return s;
		}
	return NULL;
}

void auth_session_drop(struct session *s)
{
	struct session **pp;

	for (pp = &a.sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			free(s);
			a.n_sessions--;
			return;
		}
}

int auth_host_ok(const char *host)
{
	int i;

	for (i = 0; i < a.n_hosts; i++)
		if (!strcasecmp(host, a.hosts[i]))
			return 1;
	return 0;
}

int auth_origin_ok(const char *origin, const char *host)
{
	const char *scheme = a.tls ? "https://" : "http://";
	size_t sl = strlen(scheme);

	return !strncmp(origin, scheme, sl) && !strcasecmp(origin + sl, host) && auth_host_ok(host);
}

int auth_console_grant(const struct console_target *t, const struct session *s, char *token_out)
{
	time_t now = time(NULL);
	struct grant *g = NULL;
	int i;

	pthread_mutex_lock(&a.grant_lock);
	for (i = 0; i < MAX_GRANTS; i++)
		if (!a.grants[i].token[0] || a.grants[i].expires < now) {
			g = &a.grants[i];
			break;
		}
	if (!g || auth_random_id(g->token)) {
		pthread_mutex_unlock(&a.grant_lock);
		return -1;
	}
	g->expires = now + a.ttl;
	g->t = *t;
	strcpy(g->sid, s->id);
	strcpy(g->user, s->user);
	strcpy(token_out, g->token);
	pthread_mutex_unlock(&a.grant_lock);
	return 0;
}

int auth_console_claim(const char *token, const char *host, const char *vm, const struct session *s,
		       struct console_target *t, char *user_out)
{
	time_t now = time(NULL);
	int i, rc = -1;

	pthread_mutex_lock(&a.grant_lock);
	for (i = 0; i < MAX_GRANTS; i++) {
		struct grant *g = &a.grants[i];

		if (!g->token[0] || !auth_equal(g->token, token))
			continue;
		if (g->expires >= now && !strcmp(g->t.host, host) && !strcmp(g->t.vm, vm) &&
		    auth_equal(g->sid, s->id)) {
			*t = g->t;
			strcpy(user_out, g->user);
			rc = 0;
		}
		/* single use, and a wrong try burns it too */
		memset(g, 0, sizeof(*g));
		break;
	}
	pthread_mutex_unlock(&a.grant_lock);
	return rc;
}
