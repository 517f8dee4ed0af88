// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "auth.h"
#include "events.h"
#include "evparse.h"
#include "http.h"
#include "log.h"
#include "reqparse.h"
#include "vncproxy.h"

#define BODY_MAX_CONFIG (1024 * 1024 + 64)
#define BODY_MAX_SMALL 65536
#define CHUNK (256 * 1024)
#define COOKIE "ck_session"

#define CSP                                                                                        \
	"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "         \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

enum kind { K_HTTP, K_EVENTS, K_CONSOLE };
enum route { R_NONE, R_JOB, R_LOGIN, R_ME, R_LOGOUT };

struct pss {
	enum kind kind;
	enum route route;
	char sid[AUTH_ID_LEN + 1];
	struct api_job *job;
	char *body;
	size_t body_len, body_max;
	/* the reply being sent */
	int pending, hdr_sent, close_after, status;
	const char *ctype;
	struct sbuf out;
	size_t off;
	char cookie[160];
	const char *location;
	/* websockets */
	struct ev_client ev;
	struct console *con;
};

static struct {
	const struct ck_config *cfg;
	char web_root[PATH_MAX], novnc_root[PATH_MAX];
	char user_header[80]; /* lowercased with its colon, as lws wants it */
} h;

void http_set_config(const struct ck_config *cfg)
{
	size_t i;

	h.cfg = cfg;
	if (!realpath(cfg->web_root, h.web_root))
		ck_log("web root %s: %s", cfg->web_root, strerror(errno));
	if (!realpath(cfg->novnc_root, h.novnc_root))
		ck_log("noVNC root %s: %s (consoles will not load)", cfg->novnc_root,
		       strerror(errno));
	if (cfg->user_header) {
		for (i = 0; cfg->user_header[i] && i < sizeof(h.user_header) - 2; i++)
			h.user_header[i] = (char)tolower((unsigned char)cfg->user_header[i]);
		h.user_header[i] = ':';
	}
}

size_t http_pss_size(void)
{
	return sizeof(struct pss);
}

static int add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
	static const struct {
		const char *name, *value;
	} hdrs[] = {
	    {"content-security-policy:", CSP}, {"x-content-type-options:", "nosniff"},
	    {"x-frame-options:", "DENY"},      {"referrer-policy:", "no-referrer"},
	    {"cache-control:", "no-store"},
	};
	size_t i;

	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)hdrs[i].name,
						(const unsigned char *)hdrs[i].value,
						(int)strlen(hdrs[i].value), p, end))
			return -1;
	return 0;
}

static void reset_reply(struct pss *pss)
{
	sb_free(&pss->out);
	pss->pending = pss->hdr_sent = pss->close_after = 0;
	pss->off = 0;
	pss->cookie[0] = '\0';
	pss->location = NULL;
}

static int reply(struct lws *wsi, struct pss *pss, int status, const char *ctype, const char *text,
		 size_t len)
{
	sb_free(&pss->out);
	sb_init(&pss->out, LWS_PRE);
	sb_add(&pss->out, text, len);
	pss->status = status;
	pss->ctype = ctype;
	pss->pending = 1;
	/* an unread request body would be parsed as the next request */
	if (status >= 400)
		pss->close_after = 1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* A JSON object of one string. */
static int reply_kv(struct lws *wsi, struct pss *pss, int status, const char *key, const char *val)
{
	struct sbuf b;
	int rc;

	sb_init(&b, 0);
	sb_puts(&b, "{");
	sb_json_kv(&b, 1, key, val, strlen(val));
	sb_puts(&b, "}");
	rc = reply(wsi, pss, status, "application/json", b.oom ? "{}" : sb_text(&b),
		   b.oom ? 2 : b.len);
	sb_free(&b);
	return rc;
}

static int reply_error(struct lws *wsi, struct pss *pss, int status, const char *msg)
{
	return reply_kv(wsi, pss, status, "error", msg);
}

static void html_escape(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			sb_puts(b, "&lt;");
		else if (*s == '&')
			sb_puts(b, "&amp;");
		else if (*s == '"')
			sb_puts(b, "&quot;");
		else
			sb_add(b, s, 1);
	}
}

/* Without a session a browser sees nothing but this. */
static int reply_login(struct lws *wsi, struct pss *pss, int status, const char *msg)
{
	struct sbuf b;
	int rc;

	sb_init(&b, 0);
	sb_puts(&b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>catkeeper: "
		    "log in</title><link rel=\"stylesheet\" href=\"/style.css\"></head>"
		    "<body class=\"login\"><h1>catkeeper</h1>");
	if (msg) {
		sb_puts(&b, "<p class=\"error\" id=\"login-error\">");
		html_escape(&b, msg);
		sb_puts(&b, "</p>");
	}
	if (auth_mode() == AUTH_PASSWORD)
		sb_puts(&b, "<form method=\"post\" action=\"/login\"><label>User "
			    "<input name=\"user\" autocomplete=\"username\"></label> "
			    "<label>Password <input name=\"password\" type=\"password\" "
			    "autocomplete=\"current-password\"></label> "
			    "<button>Log in</button></form>");
	else if (auth_mode() == AUTH_TOKEN)
		sb_puts(&b, "<p>Open the URL that catkeeper-web printed when it started, or "
			    "paste its token:</p><form method=\"get\" action=\"/login\">"
			    "<input name=\"token\" size=\"50\" aria-label=\"token\"> "
			    "<button>Log in</button></form>");
	else
		sb_puts(&b, "<p>This server trusts its reverse proxy to name the user, and "
			    "the proxy named none.</p>");
	sb_puts(&b, "</body></html>\n");
	rc = reply(wsi, pss, status, "text/html; charset=utf-8", b.oom ? "" : sb_text(&b),
		   b.oom ? 0 : b.len);
	sb_free(&b);
	return rc;
}

static int send_reply(struct lws *wsi, struct pss *pss)
{
	if (!pss->hdr_sent) {
		unsigned char hb[LWS_PRE + 2048], *start = hb + LWS_PRE, *p = start,
						  *end = hb + sizeof(hb) - 1;

		if (lws_add_http_common_headers(wsi, (unsigned int)pss->status, pss->ctype,
						pss->out.len, &p, end) ||
		    add_security_headers(wsi, &p, end) ||
		    (pss->cookie[0] &&
		     lws_add_http_header_by_name(
			 wsi, (const unsigned char *)"set-cookie:", (unsigned char *)pss->cookie,
			 (int)strlen(pss->cookie), &p, end)) ||
		    (pss->location &&
		     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_LOCATION,
						  (const unsigned char *)pss->location,
						  (int)strlen(pss->location), &p, end)) ||
		    (pss->close_after &&
		     lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						  (const unsigned char *)"close", 5, &p, end)) ||
		    lws_finalize_write_http_header(wsi, start, &p, end)) {
			ck_log("cannot write the headers of a reply: connection closed");
			return -1;
		}
		pss->hdr_sent = 1;
		if (pss->out.len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		size_t n = pss->out.len - pss->off < CHUNK ? pss->out.len - pss->off : CHUNK;
		int final = pss->off + n == pss->out.len;

		if (lws_write(wsi, (unsigned char *)sb_text(&pss->out) + pss->off, n,
			      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		pss->off += n;
		if (!final) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (pss->close_after)
		return -1;
	reset_reply(pss);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static const char *mime_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".json", "application/json"},
	    {".woff", "font/woff"},
	    {".ogg", "audio/ogg"},
	    {".mp3", "audio/mpeg"},
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	for (i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

/* A file under root, never outside it whatever the path or its symlinks say. */
static int serve_file(struct lws *wsi, struct pss *pss, const char *root, const char *rel)
{
	char path[PATH_MAX], real[PATH_MAX];
	unsigned char hb[1024], *p = hb, *end = hb + sizeof(hb);
	const char *mime;
	struct stat st;
	int n;

	if (!root[0] || strstr(rel, "/.") || rel[0] == '.')
		return reply_error(wsi, pss, 404, "not found");
	n = snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof(path) || !realpath(path, real) ||
	    strncmp(real, root, strlen(root)) || real[strlen(root)] != '/' || stat(real, &st) ||
	    !S_ISREG(st.st_mode) || !(mime = mime_of(real)))
		return reply_error(wsi, pss, 404, "not found");
	if (add_security_headers(wsi, &p, end))
		return -1;
	n = lws_serve_http_file(wsi, real, mime, (const char *)hb, (int)(p - hb));
	if (n < 0)
		ck_log("cannot serve %s: connection closed", real);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

static int header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
	int n = lws_hdr_copy(wsi, buf, len, t);

	if (n < 0) {
		buf[0] = '\0';
		return -1;
	}
	return n;
}

/* The session of this request, or NULL. In proxy mode the proxy's header decides. */
static struct session *find_session(struct lws *wsi, struct pss *pss)
{
	char sid[AUTH_ID_LEN + 8], user[AUTH_USER_MAX + 8];
	size_t max = sizeof(sid);
	struct session *s = NULL;

	if (!lws_http_cookie_get(wsi, COOKIE, sid, &max))
		s = auth_session_find(sid);
	if (auth_mode() != AUTH_PROXY)
		return s;
	if (lws_hdr_custom_copy(wsi, user, sizeof(user), h.user_header,
				(int)strlen(h.user_header)) <= 0 ||
	    !auth_user_name_ok(user))
		return NULL;
	if (s && !strcmp(s->user, user))
		return s;
	s = auth_session_new(user);
	if (s)
		snprintf(pss->cookie, sizeof(pss->cookie),
			 COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", s->id,
			 auth_secure() ? "; Secure" : "");
	return s;
}

static int login_ok(struct lws *wsi, struct pss *pss, const char *user)
{
	struct session *s = auth_session_new(user);

	if (!s)
		return reply_error(wsi, pss, 500, "out of memory");
	ck_log("login user=%s", user[0] ? user : "(token holder, unnamed)");
	snprintf(pss->cookie, sizeof(pss->cookie),
		 COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", s->id,
		 auth_secure() ? "; Secure" : "");
	pss->location = "/";
	return reply(wsi, pss, 303, "text/plain", "", 0);
}

static int token_login(struct lws *wsi, struct pss *pss)
{
	char buf[AUTH_ID_LEN + 16];
	const char *token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));

	if (token && auth_token_ok(token))
		return login_ok(wsi, pss, "");
	ck_log("refused a login with a wrong token");
	return reply_login(wsi, pss, 403, "That token is not this server's.");
}

static int password_login(struct lws *wsi, struct pss *pss)
{
	char user[AUTH_USER_MAX + 1], pw[256];

	if (form_value(pss->body, "user", user, sizeof(user)) ||
	    form_value(pss->body, "password", pw, sizeof(pw)) || !auth_password_ok(user, pw)) {
		ck_log("refused a login for a wrong user or password");
		return reply_login(wsi, pss, 403, "Wrong user or password.");
	}
	return login_ok(wsi, pss, user);
}

static int session_json(struct lws *wsi, struct pss *pss, struct session *s)
{
	static const char *const modes[] = {"token", "password", "proxy"};
	struct sbuf b;
	int rc;

	sb_init(&b, 0);
	sb_puts(&b, "{");
	sb_json_kv(&b, 1, "user", s->user, strlen(s->user));
	sb_json_kv(&b, 0, "csrf", s->csrf, strlen(s->csrf));
	sb_json_kv(&b, 0, "mode", modes[auth_mode()], strlen(modes[auth_mode()]));
	sb_puts(&b, "}");
	rc = b.oom ? reply_error(wsi, pss, 500, "out of memory")
		   : reply(wsi, pss, 200, "application/json", sb_text(&b), b.len);
	sb_free(&b);
	return rc;
}

static int name_session(struct lws *wsi, struct pss *pss)
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
	return session_json(wsi, pss, s);
}

static int one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return 1;
	return 0;
}

/* GET /api/console/HOST/VM: why this user's last console of it ended. */
static int reply_ended(struct lws *wsi, struct pss *pss, struct session *s, const char *host,
		       const char *vm)
{
	return reply_kv(wsi, pss, 200, "reason", console_last_reason(s->user, host, vm));
}

/* Maps /api/... to a mount job; replies itself when the request is wrong. */
static int api_route(struct lws *wsi, struct pss *pss, struct session *s, int post, char *path)
{
	static const char *const readable[] = {"config.xml", "error", "history", NULL};
	static const char *const writable[] = {"state", "description", "config.xml", "autostart",
					       NULL};
	static const char *const owner_ops[] = {"reserve", "release", "takeover", NULL};
	char *part[5];
	int n = split_names(path, part, 5);
	enum api_op op;
	struct api_job *j;

	if (n == 1 && !strcmp(part[0], "vms") && !post)
		op = API_LIST;
	else if (n == 4 && !strcmp(part[0], "vm") && !post && one_of(part[3], readable))
		op = API_READ;
	else if (n == 4 && !strcmp(part[0], "vm") && post && one_of(part[3], writable))
		op = API_WRITE;
	else if (n == 4 && !strcmp(part[0], "vm") && post && one_of(part[3], owner_ops))
		op = API_OWNER;
	else if (n == 2 && !strcmp(part[0], "host") && post)
		op = API_ADD_HOST;
	else if (n == 3 && !strcmp(part[0], "console") && post)
		op = API_CONSOLE;
	else if (n == 3 && !strcmp(part[0], "console"))
		return reply_ended(wsi, pss, s, part[1], part[2]);
	else
		return reply_error(wsi, pss, 404, "no such API");
	if (post && !s->user[0])
		return reply_error(wsi, pss, 403, "say who you are first");
	if (op == API_ADD_HOST && !auth_is_admin(s)) {
		ck_log("user=%s refused: adding a host is for admins", s->user);
		return reply_error(wsi, pss, 403, "adding hosts is for admins (--admin)");
	}
	j = api_job_new(op, s->user, LWS_PRE);
	if (!j)
		return reply_error(wsi, pss, 500, "out of memory");
	j->wsi = wsi;
	if (n >= 2)
		snprintf(j->host, sizeof(j->host), "%s", part[1]);
	if (n >= 3)
		snprintf(j->vm, sizeof(j->vm), "%s", part[2]);
	if (n >= 4)
		snprintf(j->what, sizeof(j->what), "%s", part[3]);
	if ((n >= 2 && !mount_name_ok(j->host)) || (n >= 3 && !mount_name_ok(j->vm))) {
		api_job_free(j);
		return reply_error(wsi, pss, 400, "bad host or VM name");
	}
	pss->job = j;
	pss->route = R_JOB;
	pss->body_max =
	    op == API_WRITE && !strcmp(j->what, "config.xml") ? BODY_MAX_CONFIG : BODY_MAX_SMALL;
	if (!post) {
		/* submitted once, here: no body may complete it again */
		pss->route = R_NONE;
		mountio_submit(&j->base);
	}
	return 0;
}

/* A POST without Content-Length has no body (chunks are refused): lws would wait for one. */
static int body_expected(struct lws *wsi)
{
	char len[24];

	return header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, len, sizeof(len)) > 0 &&
	       strtoull(len, NULL, 10) > 0;
}

/* Origin, CSRF token and size of a state-changing request. */
static int post_checks(struct lws *wsi, struct pss *pss, const char *host, struct session *s)
{
	char origin[300], csrf[AUTH_ID_LEN + 8], len[24];

	if (header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) <= 0 ||
	    !auth_origin_ok(origin, host)) {
		ck_log("refused a request from origin '%s'", origin);
		return reply_error(wsi, pss, 403, "cross-origin request refused");
	}
	if (s && (lws_hdr_custom_copy(wsi, csrf, sizeof(csrf), "x-csrf-token:", 13) <= 0 ||
		  !auth_equal(csrf, s->csrf))) {
		ck_log("refused a request without the CSRF token");
		return reply_error(wsi, pss, 403, "missing or wrong CSRF token");
	}
	/* lws 4.1 does not undo chunking of request bodies: ask for a length */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return reply_error(wsi, pss, 411, "a request body needs a Content-Length");
	if (header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, len, sizeof(len)) > 0 &&
	    strtoull(len, NULL, 10) > BODY_MAX_CONFIG)
		return reply_error(wsi, pss, 413, "request too large");
	return 1;
}

/*
 * How the request's body is framed. Content-Length and chunking together
 * can be read two ways (request smuggling), and a GET carries no body: its
 * body would complete a second time what the headers already started.
 */
static int framing_checks(struct lws *wsi, struct pss *pss, int post)
{
	int te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
	int cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;

	if (te && cl)
		return reply_error(wsi, pss, 400, "both Content-Length and Transfer-Encoding");
	if (!post && (te || body_expected(wsi)))
		return reply_error(wsi, pss, 400, "a GET request carries no body");
	return 1;
}

static int on_body_done(struct lws *wsi, struct pss *pss);

static int on_http(struct lws *wsi, struct pss *pss, const char *uri)
{
	char host[300], path[1024];
	int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0, rc;
	struct session *s;

	reset_reply(pss);
	pss->route = R_NONE;
	pss->body_len = 0;
	pss->body_max = BODY_MAX_SMALL;
	if (header(wsi, WSI_TOKEN_HOST, host, sizeof(host)) <= 0 || !auth_host_ok(host)) {
		ck_log("refused a request for Host '%s'", host);
		return reply_error(wsi, pss, 421, "this server does not serve that Host name");
	}
	if (!post && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return reply_error(wsi, pss, 405, "method not allowed");
	if (strlen(uri) >= sizeof(path))
		return reply_error(wsi, pss, 414, "URI too long");
	strcpy(path, uri);
	rc = framing_checks(wsi, pss, post);
	if (rc <= 0)
		return rc;
	s = find_session(wsi, pss);
	if (post) {
		rc = post_checks(wsi, pss, host, !strcmp(path, "/login") ? NULL : s);
		if (rc <= 0)
			return rc;
	}
	if (!strcmp(path, "/login")) {
		if (post && auth_mode() == AUTH_PASSWORD) {
			pss->route = R_LOGIN;
			return body_expected(wsi) ? 0 : on_body_done(wsi, pss);
		}
		return post ? reply_error(wsi, pss, 405, "method not allowed")
			    : token_login(wsi, pss);
	}
	if (!strcmp(path, "/style.css"))
		return serve_file(wsi, pss, h.web_root, "style.css");
	if (!s) {
		if (!strncmp(path, "/api/", 5))
			return reply_error(wsi, pss, 401, "not logged in");
		return reply_login(wsi, pss, 401, NULL);
	}
	snprintf(pss->sid, sizeof(pss->sid), "%s", s->id);
	if (!strcmp(path, "/api/session"))
		return post ? reply_error(wsi, pss, 405, "method not allowed")
			    : session_json(wsi, pss, s);
	if (!strcmp(path, "/api/me") && post) {
		pss->route = R_ME;
		return body_expected(wsi) ? 0 : on_body_done(wsi, pss);
	}
	if (!strcmp(path, "/logout") && post) {
		ck_log("logout user=%s", s->user);
		auth_session_drop(s);
		snprintf(pss->cookie, sizeof(pss->cookie), COOKIE "=; Path=/; Max-Age=0");
		return reply(wsi, pss, 200, "application/json", "{\"ok\":true}", 11);
	}
	if (!strncmp(path, "/api/", 5)) {
		rc = api_route(wsi, pss, s, post, path + 5);
		if (rc || !post || pss->route != R_JOB || body_expected(wsi))
			return rc;
		return on_body_done(wsi, pss);
	}
	if (post)
		return reply_error(wsi, pss, 404, "not found");
	if (!strcmp(path, "/"))
		return serve_file(wsi, pss, h.web_root, "index.html");
	if (!strncmp(path, "/novnc/", 7))
		return serve_file(wsi, pss, h.novnc_root, path + 7);
	return serve_file(wsi, pss, h.web_root, path + 1);
}

static int on_body(struct lws *wsi, struct pss *pss, const void *in, size_t len)
{
	char *p;

	if (pss->route == R_NONE)
		return 0;
	if (pss->body_len + len > pss->body_max) {
		ck_log("refused a request body over %zu bytes", pss->body_max);
		pss->route = R_NONE;
		if (pss->job) {
			api_job_free(pss->job);
			pss->job = NULL;
		}
		return reply_error(wsi, pss, 413, "request too large");
	}
	p = realloc(pss->body, pss->body_len + len + 1);
	if (!p) {
		ck_log("out of memory for a request body: connection closed");
		return -1;
	}
	pss->body = p;
	memcpy(p + pss->body_len, in, len);
	pss->body_len += len;
	p[pss->body_len] = '\0';
	return 0;
}

static int on_body_done(struct lws *wsi, struct pss *pss)
{
	enum route r = pss->route;
	int rc;

	/* an empty body is an empty string, not NULL */
	if (!pss->body && r != R_NONE && on_body(wsi, pss, "", 0))
		return -1;
	pss->route = R_NONE;
	switch (r) {
	case R_LOGIN:
		rc = password_login(wsi, pss);
		break;
	case R_ME:
		rc = name_session(wsi, pss);
		break;
	case R_JOB:
		pss->job->body = pss->body;
		pss->job->body_len = pss->body_len;
		pss->body = NULL;
		pss->body_len = 0;
		mountio_submit(&pss->job->base);
		return 0;
	default:
		return 0;
	}
	free(pss->body);
	pss->body = NULL;
	pss->body_len = 0;
	return rc;
}

/* A finished mount job: its reply goes to the connection that asked, if still there. */
static void job_done(struct api_job *j)
{
	struct lws *wsi = j->wsi;
	struct pss *pss;

	if (!wsi) {
		api_job_free(j);
		return;
	}
	pss = lws_wsi_user(wsi);
	pss->job = NULL;
	if (j->op == API_CONSOLE && j->status == 200) {
		struct session *s = auth_session_find(pss->sid);
		char token[AUTH_ID_LEN + 1];

		if (!s || auth_console_grant(&j->target, s, token)) {
			api_job_free(j);
			if (s)
				reply_error(wsi, pss, 503, "too many console tokens, try again");
			else
				reply_error(wsi, pss, 401, "not logged in");
			return;
		}
		sb_printf(&j->out, "{\"token\":\"%s\",\"ssh\":%s}", token,
			  j->target.ssh ? "true" : "false");
	}
	sb_free(&pss->out);
	pss->out = j->out;
	sb_init(&j->out, 0);
	pss->status = j->status;
	pss->ctype = j->ctype;
	pss->pending = 1;
	lws_callback_on_writable(wsi);
	api_job_free(j);
}

/* Host, Origin, session and (for consoles) a token bound to the VM. */
static int ws_filter(struct lws *wsi, struct pss *pss)
{
	char host[300], origin[300], uri[1024], buf[AUTH_ID_LEN + 16], *part[4];
	const char *token;
	struct console_target t;
	char user[AUTH_USER_MAX + 1];
	struct session *s;
	int n;

	memset(pss, 0, sizeof(*pss));
	if (header(wsi, WSI_TOKEN_HOST, host, sizeof(host)) <= 0 || !auth_host_ok(host) ||
	    header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) <= 0 ||
	    !auth_origin_ok(origin, host)) {
		ck_log("refused a websocket: Host '%s', Origin '%s'", host, origin);
		return -1;
	}
	s = find_session(wsi, pss);
	if (!s) {
		ck_log("refused a websocket without a session");
		return -1;
	}
	if (header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) <= 0)
		return -1;
	if (!strcmp(uri, "/events")) {
		pss->kind = K_EVENTS;
		return 0;
	}
	n = split_names(uri, part, 4);
	if (n != 3 || strcmp(part[0], "console") ||
	    !(token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf))) ||
	    auth_console_claim(token, part[1], part[2], s, &t, user)) {
		ck_log("refused a console without a valid token for it");
		return -1;
	}
	pss->kind = K_CONSOLE;
	pss->con = console_new(wsi, &t, user);
	return pss->con ? 0 : -1;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct pss *pss = user;
	struct mjob *mj;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, pss, in);
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(wsi, pss, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return on_body_done(wsi, pss);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss && pss->pending ? send_reply(wsi, pss) : 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		/* a request that failed while its headers were parsed has no pss */
		if (!pss)
			return 0;
		if (pss->job)
			pss->job->wsi = NULL;
		free(pss->body);
		pss->body = NULL;
		sb_free(&pss->out);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(wsi, pss);
	case LWS_CALLBACK_ESTABLISHED:
		if (pss->kind == K_EVENTS) {
			events_client_add(&pss->ev, wsi);
			return 0;
		}
		return console_established(pss->con);
	case LWS_CALLBACK_RECEIVE:
		return pss->kind == K_CONSOLE ? console_ws_receive(pss->con, in, len) : 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return pss->kind == K_EVENTS ? events_writeable(&pss->ev)
					     : console_ws_writeable(pss->con);
	case LWS_CALLBACK_CLOSED:
		if (!pss)
			return 0;
		if (pss->kind == K_EVENTS)
			events_client_remove(&pss->ev);
		else if (pss->con)
			console_ws_closed(pss->con);
		pss->con = NULL;
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		while ((mj = mountio_done()))
			job_done((struct api_job *)mj);
		events_deliver();
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
