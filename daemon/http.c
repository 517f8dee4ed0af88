// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HTTP side's routes: the page, its API (mount jobs run by workers),
 * the events and console websockets. Replies are made in reply.c, sessions
 * begin in login.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "httpint.h"
#include "log.h"
#include "reqparse.h"
#include "vncproxy.h"

/* websockets (pages' events, consoles) held open at once, in all and per client address */
#define WS_MAX 256
#define WS_PER_CLIENT 32

static struct {
	const struct ck_config *cfg;
	int web_fd, novnc_fd; /* the roots static files are opened beneath */
	int ws_total;
	struct {
		char addr[64];
		int n;
	} ws_peers[WS_MAX];
} h = {.web_fd = -1, .novnc_fd = -1};

static int open_root(const char *dir, const char *what)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		ck_log("%s %s: %s", what, dir, strerror(errno));
	return fd;
}

void http_set_config(const struct ck_config *cfg)
{
	h.cfg = cfg;
	h.web_fd = open_root(cfg->web_root, "web root");
	h.novnc_fd = open_root(cfg->novnc_root, "noVNC root (consoles will not load)");
	login_set_config(cfg);
}

size_t http_pss_size(void)
{
	return sizeof(struct pss);
}

/* The noVNC files console.html loads: the RFB client and the modules it imports. */
static int novnc_used(const char *rel)
{
	size_t n = strlen(rel);

	return n > 3 && !strcmp(rel + n - 3, ".js") &&
	       (!strncmp(rel, "core/", 5) || !strncmp(rel, "vendor/pako/", 12));
}

static int ws_count(const char *addr)
{
	int i;

	for (i = 0; i < WS_MAX; i++)
		if (h.ws_peers[i].n && !strcmp(h.ws_peers[i].addr, addr))
			return h.ws_peers[i].n;
	return 0;
}

/* A websocket place is left for addr (checked at the upgrade, taken once established). */
static int ws_room(const char *addr)
{
	return h.ws_total < WS_MAX && ws_count(addr) < WS_PER_CLIENT;
}

/* Takes one of the capped websocket places for addr; 0 when none is left. */
static int ws_take(const char *addr)
{
	int i, free_i = -1;

	if (!ws_room(addr))
		return 0;
	for (i = 0; i < WS_MAX; i++) {
		if (h.ws_peers[i].n && !strcmp(h.ws_peers[i].addr, addr))
			break;
		if (!h.ws_peers[i].n && free_i < 0)
			free_i = i;
	}
	if (i == WS_MAX) {
		i = free_i;
		snprintf(h.ws_peers[i].addr, sizeof(h.ws_peers[i].addr), "%s", addr);
	}
	h.ws_peers[i].n++;
	h.ws_total++;
	return 1;
}

static void ws_give_back(const char *addr)
{
	int i;

	for (i = 0; i < WS_MAX; i++)
		if (h.ws_peers[i].n && !strcmp(h.ws_peers[i].addr, addr)) {
			h.ws_peers[i].n--;
			h.ws_total--;
			return;
		}
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
	s = login_find_session(wsi, pss);
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
			    : login_get(wsi, pss);
	}
	if (!strcmp(path, "/style.css"))
		return serve_file(wsi, pss, h.web_fd, "style.css");
	if (!s) {
		if (!strncmp(path, "/api/", 5))
			return reply_error(wsi, pss, 401, "not logged in");
		if (auth_mode() == AUTH_PROXY && !post) {
			/* behind a proxy, sessions begin at /login, which reads its header */
			pss->location = "/login";
			return reply(wsi, pss, 303, "text/plain", "", 0);
		}
		return reply_login(wsi, pss, 401, NULL);
	}
	snprintf(pss->sid, sizeof(pss->sid), "%s", s->id);
	if (!strcmp(path, "/api/session"))
		return post ? reply_error(wsi, pss, 405, "method not allowed")
			    : login_session_json(wsi, pss, s);
	if (!strcmp(path, "/api/me") && post) {
		pss->route = R_ME;
		return body_expected(wsi) ? 0 : on_body_done(wsi, pss);
	}
	if (!strcmp(path, "/logout") && post)
		return login_logout(wsi, pss, s);
	if (!strcmp(path, "/api/invite") && post)
		return login_invite(wsi, pss, s);
	if (!strncmp(path, "/api/", 5)) {
		rc = api_route(wsi, pss, s, post, path + 5);
		if (rc || !post || pss->route != R_JOB || body_expected(wsi))
			return rc;
		return on_body_done(wsi, pss);
	}
	if (post)
		return reply_error(wsi, pss, 404, "not found");
	if (!strcmp(path, "/"))
		return serve_file(wsi, pss, h.web_fd, "index.html");
	if (!strncmp(path, "/novnc/", 7))
		return novnc_used(path + 7) ? serve_file(wsi, pss, h.novnc_fd, path + 7)
					    : reply_error(wsi, pss, 404, "not found");
	return serve_file(wsi, pss, h.web_fd, path + 1);
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
		rc = login_post(wsi, pss);
		/* the form held a password */
		explicit_bzero(pss->body, pss->body_len);
		break;
	case R_ME:
		rc = login_name_session(wsi, pss);
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
	if (j->op == API_LOGIN) {
		login_post_done(wsi, pss, j);
		api_job_free(j);
		return;
	}
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
	s = login_find_session(wsi, pss);
	if (!s) {
		ck_log("refused a websocket without a session");
		return -1;
	}
	if (!ws_room(login_peer(wsi, pss))) {
		ck_log("refused a websocket from %s: too many open", login_peer(wsi, pss));
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
		pss->counted = ws_take(login_peer(wsi, pss));
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
		if (pss->counted)
			ws_give_back(login_peer(wsi, pss));
		pss->counted = 0;
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
