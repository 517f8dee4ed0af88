// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * How the daemon answers: a whole reply in a buffer, its headers with the
 * security ones, sent in chunks as the socket takes them; the login page;
 * static files.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "httpint.h"
#include "log.h"

#define CHUNK (256 * 1024)
#define FILE_MAX (8 * 1024 * 1024)

#define CSP                                                                                        \
	"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "         \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

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

void reset_reply(struct pss *pss)
{
	sb_free(&pss->out);
	pss->pending = pss->hdr_sent = pss->close_after = 0;
	pss->off = 0;
	pss->cookie[0] = '\0';
	pss->retry_after[0] = '\0';
	pss->location = NULL;
}

int reply(struct lws *wsi, struct pss *pss, int status, const char *ctype, const char *text,
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
int reply_kv(struct lws *wsi, struct pss *pss, int status, const char *key, const char *val)
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

int reply_error(struct lws *wsi, struct pss *pss, int status, const char *msg)
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
int reply_login(struct lws *wsi, struct pss *pss, int status, const char *msg)
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

int send_reply(struct lws *wsi, struct pss *pss)
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
		    (pss->retry_after[0] &&
		     lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
						 (unsigned char *)pss->retry_after,
						 (int)strlen(pss->retry_after), &p, end)) ||
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

/* Read whole: the page's files are small, and lws would open them again by path. */
static char *read_beneath(int root_fd, const char *rel, size_t *len)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd;

	fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX ||
	    !(buf = malloc((size_t)st.st_size + 1)))
		goto out;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	close(fd);
	return buf;
}

int serve_file(struct lws *wsi, struct pss *pss, int root_fd, const char *rel)
{
	const char *mime = mime_of(rel);
	size_t len = 0;
	char *data;
	int rc;

	/* no hidden files, and only beneath root: openat2 refuses "..", "/" and symlinks out */
	if (root_fd < 0 || !mime || strstr(rel, "/.") || rel[0] == '.' ||
	    !(data = read_beneath(root_fd, rel, &len)))
		return reply_error(wsi, pss, 404, "not found");
	rc = reply(wsi, pss, 200, mime, data, len);
	free(data);
	return rc;
}

int header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
	int n = lws_hdr_copy(wsi, buf, len, t);

	if (n < 0) {
		buf[0] = '\0';
		return -1;
	}
	return n;
}
