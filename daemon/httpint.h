/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_HTTPINT_H
#define CK_HTTPINT_H

/*
 * Inside the HTTP side: http.c routes, reply.c answers (and serves files),
 * login.c begins and finds sessions. One connection's state is a struct pss.
 */
#include <libwebsockets.h>

#include "api.h"
#include "auth.h"
#include "events.h"
#include "json.h"

#define BODY_MAX_CONFIG (1024 * 1024 + 64)
#define BODY_MAX_SMALL 65536

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
	char cookie[200];
	const char *location;
	char retry_after[24];
	/* websockets */
	struct ev_client ev;
	struct console *con;
	int counted; /* holds one of the capped websocket places (http.c) */
	char peer[64];
};

/* reply.c */
void reset_reply(struct pss *pss);
int reply(struct lws *wsi, struct pss *pss, int status, const char *ctype, const char *text,
	  size_t len);
int reply_kv(struct lws *wsi, struct pss *pss, int status, const char *key, const char *val);
int reply_error(struct lws *wsi, struct pss *pss, int status, const char *msg);
/* The login page, with msg (NULL: none) above the form. */
int reply_login(struct lws *wsi, struct pss *pss, int status, const char *msg);
int send_reply(struct lws *wsi, struct pss *pss);
/* rel under root (an fd from reply_open_root), beneath it whatever the path or symlinks say. */
int serve_file(struct lws *wsi, struct pss *pss, int root_fd, const char *rel);
/* A header's value into buf ("" and -1 when absent). */
int header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len);

/* login.c */
void login_set_config(const struct ck_config *cfg);
/* The session of this request, or NULL; never makes one. */
struct session *login_find_session(struct lws *wsi, struct pss *pss);
/* GET /login: the start token or an invitation; behind a proxy, its header. */
int login_get(struct lws *wsi, struct pss *pss);
/* POST /login (pss->body holds the form): checked on a worker thread. */
int login_post(struct lws *wsi, struct pss *pss);
/* The worker's verdict on a password (an API_LOGIN job). */
int login_post_done(struct lws *wsi, struct pss *pss, struct api_job *j);
int login_session_json(struct lws *wsi, struct pss *pss, struct session *s);
/* POST /api/me: the token holder names its session. */
int login_name_session(struct lws *wsi, struct pss *pss);
/* POST /api/invite: a one-time login URL for another browser (token mode). */
int login_invite(struct lws *wsi, struct pss *pss, struct session *s);
/* POST /logout */
int login_logout(struct lws *wsi, struct pss *pss, struct session *s);
/* This connection's peer address, numeric ("" when unknown). */
const char *login_peer(struct lws *wsi, struct pss *pss);

#endif
