// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * How sessions begin, and only there: the one-time start token (or an
 * invitation made from a session), a password checked on a worker thread
 * with back-off per user and per address, or a trusted reverse proxy's
 * header at GET /login. Every other request only finds its session.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "httpint.h"
#include "log.h"
#include "netaddr.h"

/* back-off: free tries, then 1 s doubling up to STRIKE_MAX_WAIT per failure */
#define STRIKES 512
#define STRIKE_FREE 5
#define STRIKE_MAX_WAIT 300
#define STRIKE_FORGET 3600

struct strike {
	char key[AUTH_USER_MAX + 72]; /* "u:NAME" or "a:ADDRESS" */
	int fails;
	time_t until, last;
};

static struct {
	char user_header[80]; /* lowercased with its colon, as lws wants it */
	struct strike strikes[STRIKES];
} l;

void login_set_config(const struct ck_config *cfg)
{
	size_t i;

	if (!cfg->user_header)
		return;
	for (i = 0; cfg->user_header[i] && i < sizeof(l.user_header) - 2; i++)
		l.user_header[i] = (char)tolower((unsigned char)cfg->user_header[i]);
	l.user_header[i] = ':';
}

const char *login_peer(struct lws *wsi, struct pss *pss)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char *colon;

	if (pss->peer[0])
		return pss->peer;
	if (getpeername(lws_get_socket_fd(lws_get_network_wsi(wsi)), (struct sockaddr *)&ss, &sl))
		return "";
	/* the address alone: a client's every connection counts as one */
	netaddr_format((struct sockaddr *)&ss, pss->peer, sizeof(pss->peer));
	colon = strrchr(pss->peer, ':');
	if (colon)
		*colon = '\0';
	return pss->peer;
}

/* The user a trusted proxy names on this request, or NULL. */
static const char *proxy_user(struct lws *wsi, char *user, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (auth_mode() != AUTH_PROXY ||
	    getpeername(lws_get_socket_fd(lws_get_network_wsi(wsi)), (struct sockaddr *)&ss, &sl) ||
	    !auth_proxy_ok((struct sockaddr *)&ss))
		return NULL;
	if (lws_hdr_custom_copy(wsi, user, (int)cap, l.user_header, (int)strlen(l.user_header)) <=
		0 ||
	    !auth_user_name_ok(user))
		return NULL;
	return user;
}

struct session *login_find_session(struct lws *wsi, struct pss *pss)
{
	char sid[AUTH_ID_LEN + 8], user[AUTH_USER_MAX + 8];
	size_t max = sizeof(sid);
	struct session *s = NULL;

	(void)pss;
	if (!lws_http_cookie_get(wsi, auth_cookie_name(), sid, &max))
		s = auth_session_find(sid);
	if (!s || auth_mode() != AUTH_PROXY)
		return s;
	/* behind a proxy, the proxy must still name the session's user */
	return proxy_user(wsi, user, sizeof(user)) && !strcmp(user, s->user) ? s : NULL;
}

static int begin_session(struct lws *wsi, struct pss *pss, const char *user)
{
	struct session *s = auth_session_new(user);

	if (!s)
		return reply_error(wsi, pss, 500, "out of memory");
	ck_log("login user=%s", user[0] ? user : "(token holder, unnamed)");
	snprintf(pss->cookie, sizeof(pss->cookie),
		 "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", auth_cookie_name(),
		 s->id, AUTH_SESSION_LIFE, auth_secure() ? "; Secure" : "");
	pss->location = "/";
	return reply(wsi, pss, 303, "text/plain", "", 0);
}

int login_get(struct lws *wsi, struct pss *pss)
{
	char buf[AUTH_ID_LEN + 16], user[AUTH_USER_MAX + 8];
	const char *token;

	if (auth_mode() == AUTH_PROXY) {
		if (proxy_user(wsi, user, sizeof(user)))
			return begin_session(wsi, pss, user);
		ck_log("refused a login without the user header from a trusted proxy (from %s)",
		       login_peer(wsi, pss));
		return reply_login(wsi, pss, 403, NULL);
	}
	token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));
	if (token && auth_token_ok(token))
		return begin_session(wsi, pss, "");
	ck_log("refused a login with a wrong, used or expired token");
	return reply_login(wsi, pss, 403,
			   "That token is not valid: each login URL works once, for a few "
			   "minutes.");
}

static struct strike *strike_find(const char *kind, const char *what, int make)
{
	char key[sizeof(l.strikes[0].key)];
	time_t now = time(NULL);
	struct strike *s, *free_one = NULL;

	snprintf(key, sizeof(key), "%s:%s", kind, what);
	for (s = l.strikes; s < l.strikes + STRIKES; s++) {
		if (s->key[0] && now - s->last > STRIKE_FORGET && now >= s->until)
			s->key[0] = '\0';
		if (s->key[0] && !strcmp(s->key, key))
			return s;
		if (!free_one || (free_one->key[0] && (!s->key[0] || s->last < free_one->last)))
			free_one = s;
	}
	if (!make)
		return NULL;
	memset(free_one, 0, sizeof(*free_one));
	snprintf(free_one->key, sizeof(free_one->key), "%s", key);
	return free_one;
}

/* Seconds before user or addr may try again (0: now). */
static long strike_wait(const char *user, const char *addr)
{
	struct strike *u = strike_find("u", user, 0), *a = strike_find("a", addr, 0);
	time_t now = time(NULL), until = 0;

	if (u && u->until > until)
		until = u->until;
	if (a && a->until > until)
		until = a->until;
	return until > now ? (long)(until - now) : 0;
}

static void strike_add(const char *kind, const char *what)
{
	struct strike *s = strike_find(kind, what, 1);
	long wait;

	s->fails++;
	s->last = time(NULL);
	if (s->fails < STRIKE_FREE)
		return;
	wait = s->fails - STRIKE_FREE < 9 ? 1L << (s->fails - STRIKE_FREE) : STRIKE_MAX_WAIT;
	s->until = s->last + (wait < STRIKE_MAX_WAIT ? wait : STRIKE_MAX_WAIT);
}

static void strike_clear(const char *kind, const char *what)
{
	struct strike *s = strike_find(kind, what, 0);

	if (s)
		memset(s, 0, sizeof(*s));
}

/* user=..&password=.. of the form body, decoded by lws; -1 when either is missing or too long. */
static int form_fields(struct lws *wsi, struct pss *pss, char *user, size_t ucap, char *pw,
		       size_t pcap)
{
	static const char *const names[] = {"user", "password"};
	struct lws_spa *spa = lws_spa_create(wsi, names, 2, (int)(ucap + pcap), NULL, NULL);
	int rc = -1;

	if (!spa)
		return -1;
	if (!lws_spa_process(spa, pss->body, (int)pss->body_len) && !lws_spa_finalize(spa) &&
	    lws_spa_get_string(spa, 0) && lws_spa_get_string(spa, 1) &&
	    (size_t)lws_spa_get_length(spa, 0) < ucap &&
	    (size_t)lws_spa_get_length(spa, 1) < pcap) {
		snprintf(user, ucap, "%s", lws_spa_get_string(spa, 0));
		snprintf(pw, pcap, "%s", lws_spa_get_string(spa, 1));
		rc = 0;
	}
	lws_spa_destroy(spa);
	return rc;
}

int login_post(struct lws *wsi, struct pss *pss)
{
	char user[AUTH_USER_MAX + 1], pw[256];
	const char *addr = login_peer(wsi, pss);
	struct api_job *j;
	long wait;

	if (form_fields(wsi, pss, user, sizeof(user), pw, sizeof(pw))) {
		ck_log("refused a login without a user and a password");
		return reply_login(wsi, pss, 403, "Wrong user or password.");
	}
	wait = strike_wait(user, addr);
	if (wait) {
		ck_log("refused a login for %s from %s: too many failures, %ld s to wait", user,
		       addr, wait);
		snprintf(pss->retry_after, sizeof(pss->retry_after), "%ld", wait);
		return reply_login(wsi, pss, 429, "Too many failed logins: wait a little.");
	}
	/* crypt() of a strong hash takes long: a worker thread does it */
	j = api_job_new(API_LOGIN, user, LWS_PRE);
	if (!j || !(j->body = strdup(pw))) {
		api_job_free(j);
		return reply_error(wsi, pss, 500, "out of memory");
	}
	memset(pw, 0, sizeof(pw));
	j->body_len = strlen(j->body);
	j->wsi = wsi;
	pss->job = j;
	mountio_submit(&j->base);
	return 0;
}

int login_post_done(struct lws *wsi, struct pss *pss, struct api_job *j)
{
	const char *addr = login_peer(wsi, pss);

	if (j->status != 200) {
		strike_add("u", j->user);
		strike_add("a", addr);
		ck_log("refused a login for a wrong user or password (from %s)", addr);
		return reply_login(wsi, pss, 403, "Wrong user or password.");
	}
	strike_clear("u", j->user);
	strike_clear("a", addr);
	return begin_session(wsi, pss, j->user);
}

int login_session_json(struct lws *wsi, struct pss *pss, struct session *s)
{
	static const char *const modes[] = {"token", "password", "proxy"};
	struct sbuf b;
	int rc;

	sb_init(&b, 0);
	sb_puts(&b, "{");
	sb_json_kv(&b, 1, "user", s->user, strlen(s->user));
	sb_json_kv(&b, 0, "csrf", s->csrf, strlen(s->csrf));
	sb_json_kv(&b, 0, "mode", modes[auth_mode()], strlen(modes[auth_mode()]));
	sb_puts(&b, auth_is_admin(s) ? ",\"admin\":true}" : ",\"admin\":false}");
	rc = b.oom ? reply_error(wsi, pss, 500, "out of memory")
		   : reply(wsi, pss, 200, "application/json", sb_text(&b), b.len);
	sb_free(&b);
	return rc;
}

int login_name_session(struct lws *wsi, struct pss *pss)
{
	struct session *s = auth_session_find(pss->sid);
	char name[AUTH_USER_MAX + 2];
	size_t n = pss->body_len;

	if (!s)
		return reply_error(wsi, pss, 401, "not logged in");
	if (auth_mode() != AUTH_TOKEN || s->user[0])
		return reply_error(wsi, pss, 409, "this session already has a name");
	if (n && pss->body[n - 1] == '\n')
		n--;
	if (n >= sizeof(name))
		return reply_error(wsi, pss, 400, "that name is too long");
	memcpy(name, pss->body, n);
	name[n] = '\0';
	if (!auth_user_name_ok(name))
		return reply_error(wsi, pss, 400,
				   "a name is 1-64 printable characters "
				   "without spaces, '/', ':' or '!'");
	/* auth_user_name_ok() bounds it to the size of user */
	strcpy(s->user, name);
	ck_log("the token holder's session is named %s", name);
	return login_session_json(wsi, pss, s);
}

int login_invite(struct lws *wsi, struct pss *pss, struct session *s)
{
	char token[AUTH_ID_LEN + 1], url[AUTH_ID_LEN + 32];

	if (auth_mode() != AUTH_TOKEN)
		return reply_error(wsi, pss, 404, "invitations are for the token mode");
	if (auth_invite(token))
		return reply_error(wsi, pss, 503, "too many open invitations, try again later");
	ck_log("user=%s made a one-time login URL", s->user[0] ? s->user : "(unnamed)");
	snprintf(url, sizeof(url), "/login?token=%s", token);
	return reply_kv(wsi, pss, 200, "url", url);
}

int login_logout(struct lws *wsi, struct pss *pss, struct session *s)
{
	ck_log("logout user=%s", s->user);
	auth_session_drop(s);
	snprintf(pss->cookie, sizeof(pss->cookie), "%s=; Path=/; Max-Age=0%s", auth_cookie_name(),
		 auth_secure() ? "; Secure" : "");
	return reply(wsi, pss, 200, "application/json", "{\"ok\":true}", 11);
}
