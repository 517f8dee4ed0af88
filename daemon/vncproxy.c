// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Console proxy. The bytes from the VNC server are read straight into the
 * buffer that becomes the websocket frame (LWS_PRE bytes in front), and only
 * when the browser's socket can take them: the server's socket is not polled
 * while a frame waits, so a slow browser slows the VNC server down instead
 * of growing a queue here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"
#include "vncproxy.h"

/*
 * The largest frame to the browser. Larger frames cost both ends less per
 * byte (1 MiB against 256 KiB: about a sixth less CPU in the daemon and in
 * node's ws client); larger than 1 MiB gained nothing measurable, and lws
 * sends at most the protocol's tx_packet_size (main.c) at once. Only the
 * pages a console has used are resident.
 */
#define DOWN_BUF (1024 * 1024)
#define UP_MAX (1024 * 1024) /* browser bytes the VNC server has not taken yet */
#define RFB_BANNER 12	     /* "RFB 003.008\n" */

struct console {
	struct lws *ws;
	struct link *link; /* to the VNC server, whatever carries it; NULL once gone */
	int connected, closing;
	int link_ended; /* closing because the VNC server's side ended: a normal close */
	/*
	 * Nothing is relayed either way until the server's first bytes are an
	 * RFB banner: the address comes from a VM definition users may edit,
	 * and must not make the proxy a way into other local services.
	 */
	int verified;
	unsigned char banner[RFB_BANNER];
	size_t banner_len;
	char reason[124];
	unsigned char *down;
	unsigned char *up;
	size_t up_len, up_off;
	struct console_target t;
	char user[AUTH_USER_MAX + 1];
};

/*
 * Why the last consoles ended, for the page to ask: the close frame that
 * says so can be lost when the browser's socket is reset (1006).
 */
#define ENDINGS 16
static struct ending {
	char user[AUTH_USER_MAX + 1], host[256], vm[256],
	    reason[sizeof(((struct console *)0)->reason)];
} endings[ENDINGS];
static unsigned next_ending;

const char *console_last_reason(const char *user, const char *host, const char *vm)
{
	for (unsigned i = 0; i < ENDINGS; i++) {
		struct ending *e = &endings[(next_ending + ENDINGS - 1 - i) % ENDINGS];

		if (!strcmp(e->user, user) && !strcmp(e->host, host) && !strcmp(e->vm, vm))
			return e->reason;
	}
	return "";
}

static void console_free(struct console *c)
{
	struct ending *e;

	if (c->ws || c->link)
		return;
	ck_log("user=%s vm=%s/%s console closed%s%s", c->user, c->t.host, c->t.vm,
	       c->reason[0] ? ": " : "", c->reason);
	e = &endings[next_ending++ % ENDINGS];
	snprintf(e->user, sizeof(e->user), "%s", c->user);
	snprintf(e->host, sizeof(e->host), "%s", c->t.host);
	snprintf(e->vm, sizeof(e->vm), "%s", c->t.vm);
	snprintf(e->reason, sizeof(e->reason), "%s", c->reason);
	free(c->down);
	free(c->up);
	free(c);
}

/*
 * Ends the browser's side with a reason it can show (NULL: already in
 * c->reason). Once connected, the VNC server's side ending is a normal close
 * however it is noticed (c->link_ended); anything else is not.
 */
static void console_close(struct console *c, const char *why)
{
	if (why && !c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	c->closing = 1;
	if (c->ws)
		lws_callback_on_writable(c->ws);
}

struct console *console_new(struct lws *ws, const struct console_target *t, const char *user)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c || !(c->down = malloc(LWS_PRE + DOWN_BUF))) {
		ck_log("console: out of memory");
		free(c);
		return NULL;
	}
	c->ws = ws;
	c->t = *t;
	snprintf(c->user, sizeof(c->user), "%s", user);
	return c;
}

static const struct link_events events;

int console_established(struct console *c)
{
	ck_log("user=%s vm=%s/%s console to %s:%d%s", c->user, c->t.host, c->t.vm, c->t.addr,
	       c->t.port, c->t.ssh ? " through ssh" : "");
	c->link = link_open(lws_get_vhost(c->ws), &c->t, &events, c);
	if (!c->link)
		console_close(c, c->t.ssh ? "cannot start an ssh connection"
					  : "cannot connect to the console");
	return 0;
}

static ssize_t link_read(struct console *c, void *buf, size_t n)
{
	return c->link ? c->link->ops->read(c->link, buf, n) : -ENOTCONN;
}

static ssize_t link_write(struct console *c, const void *buf, size_t n)
{
	return c->link ? c->link->ops->write(c->link, buf, n) : -ENOTCONN;
}

/* What the browser is told when the link to the VNC server ends with n. */
static const char *link_end_reason(ssize_t n)
{
	if (n == -ENOTCONN)
		return "lost the ssh connection to the host";
	if (n == -ECONNRESET || !n)
		return "the VNC server closed the console";
	return "the console's connection failed";
}

/* Nothing more to read for now: be woken when the server sends again. */
static void wait_readable(struct console *c)
{
	if (c->link)
		c->link->ops->want_read(c->link);
}

static void wait_writable(struct console *c)
{
	if (c->link)
		c->link->ops->want_write(c->link);
}

static int keep_up(struct console *c, const void *in, size_t len)
{
	unsigned char *p;

	if (c->up_off) {
		memmove(c->up, c->up + c->up_off, c->up_len - c->up_off);
		c->up_len -= c->up_off;
		c->up_off = 0;
	}
	if (c->up_len + len > UP_MAX)
		return -1;
	p = realloc(c->up, c->up_len + len);
	if (!p)
		return -1;
	c->up = p;
	memcpy(p + c->up_len, in, len);
	c->up_len += len;
	return 0;
}

/* Writes what the browser sent while the server could not take it. */
static void flush_up(struct console *c)
{
	if (!c->verified)
		return;
	while (c->up_off < c->up_len) {
		ssize_t n = link_write(c, c->up + c->up_off, c->up_len - c->up_off);

		if (n == -EAGAIN) {
			wait_writable(c);
			return;
		}
		if (n < 0) {
			console_close(c, link_end_reason(n));
			return;
		}
		c->up_off += (size_t)n;
	}
	c->up_len = c->up_off = 0;
	if (c->ws)
		lws_rx_flow_control(c->ws, 1);
}

int console_ws_receive(struct console *c, const void *in, size_t len)
{
	ssize_t n = 0;

	if (c->closing)
		return 0;
	if (c->connected && c->verified && c->up_len == c->up_off) {
		n = link_write(c, in, len);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0) {
			console_close(c, link_end_reason(n));
			return 0;
		}
		if ((size_t)n == len)
			return 0;
	}
	if (keep_up(c, (const unsigned char *)in + n, len - (size_t)n)) {
		console_close(c, "the browser sent more than the console takes");
		return 0;
	}
	lws_rx_flow_control(c->ws, 0);
	if (c->connected)
		wait_writable(c);
	return 0;
}

static int is_rfb_banner(const unsigned char *b)
{
	static const char form[] = "RFB 999.999\n";
	int i;

	for (i = 0; i < RFB_BANNER; i++)
		if (form[i] == '9' ? b[i] < '0' || b[i] > '9' : b[i] != (unsigned char)form[i])
			return 0;
	return 1;
}

/* Reads the server's banner; 1 once it is one (and sent on), 0: later, -1: not VNC. */
static int check_banner(struct console *c)
{
	ssize_t n = link_read(c, c->banner + c->banner_len, RFB_BANNER - c->banner_len);

	if (n == -EAGAIN)
		return 0;
	if (n <= 0) {
		snprintf(c->reason, sizeof(c->reason), "%s", link_end_reason(n));
		return -1;
	}
	c->banner_len += (size_t)n;
	if (c->banner_len < RFB_BANNER)
		return 0;
	if (!is_rfb_banner(c->banner)) {
		ck_log("user=%s vm=%s/%s console: %s:%d is not a VNC server", c->user, c->t.host,
		       c->t.vm, c->t.addr, c->t.port);
		snprintf(c->reason, sizeof(c->reason), "the console's address is not a VNC server");
		return -1;
	}
	memcpy(c->down + LWS_PRE, c->banner, RFB_BANNER);
	if (lws_write(c->ws, c->down + LWS_PRE, RFB_BANNER, LWS_WRITE_BINARY) < RFB_BANNER) {
		snprintf(c->reason, sizeof(c->reason), "the browser's connection failed");
		return -1;
	}
	c->verified = 1;
	flush_up(c);
	return 1;
}

/*
 * One read from the server straight into the frame buffer, one frame out.
 * 1: the buffer filled, more may wait; 0: drained for now; -1: the link ended
 * (c->reason says why).
 */
static int pump_down(struct console *c)
{
	ssize_t n, more = 0;

	if (!c->verified)
		return check_banner(c);
	n = link_read(c, c->down + LWS_PRE, DOWN_BUF);

	/*
	 * In bulk, fewer and larger frames cost the browser less than one per
	 * socket read; a small answer goes out at once.
	 */
	while (n >= DOWN_BUF / 8 && n < DOWN_BUF &&
	       (more = link_read(c, c->down + LWS_PRE + n, (size_t)(DOWN_BUF - n))) > 0)
		n += more;
	if (n == -EAGAIN)
		return 0;
	if (n <= 0) {
		if (!c->reason[0])
			snprintf(c->reason, sizeof(c->reason), "%s", link_end_reason(n));
		return -1;
	}
	if (lws_write(c->ws, c->down + LWS_PRE, (size_t)n, LWS_WRITE_BINARY) < n) {
		snprintf(c->reason, sizeof(c->reason), "the browser's connection failed");
		return -1;
	}
	return n == DOWN_BUF;
}

int console_ws_writeable(struct console *c)
{
	int r;

	if (c->closing) {
		lws_close_reason(c->ws,
				 c->link_ended ? LWS_CLOSE_STATUS_NORMAL
					       : LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				 (unsigned char *)c->reason, strlen(c->reason));
		return -1;
	}
	if (!c->connected)
		return 0;
	r = pump_down(c);
	if (r < 0) {
		lws_close_reason(c->ws, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)c->reason,
				 strlen(c->reason));
		return -1;
	}
	if (r)
		lws_callback_on_writable(c->ws);
	else
		wait_readable(c);
	return 0;
}

void console_ws_closed(struct console *c)
{
	c->ws = NULL;
	if (!c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "closed by the browser");
	if (c->link) {
		c->link->ops->close(c->link);
		c->link = NULL;
	}
	console_free(c);
}

static void on_ready(void *user)
{
	struct console *c = user;

	c->connected = 1;
	flush_up(c);
	if (c->ws)
		lws_callback_on_writable(c->ws);
}

/*
 * The server's side may move: forward at once when the browser's socket has
 * room (a round trip then costs one poll); otherwise read when the browser
 * can take it.
 */
static void on_kick(void *user)
{
	struct console *c = user;
	int r;

	if (c->up_off < c->up_len)
		flush_up(c);
	if (c->ws && c->connected && !c->closing && !lws_send_pipe_choked(c->ws)) {
		r = pump_down(c);
		if (!r) {
			wait_readable(c);
			return;
		}
		if (r < 0) {
			c->link_ended = 1;
			console_close(c, NULL);
			return;
		}
	}
	if (c->ws)
		lws_callback_on_writable(c->ws);
}

static void on_gone(void *user, const char *why, int ended)
{
	struct console *c = user;

	c->link = NULL;
	c->link_ended = ended && c->connected;
	console_close(c, why);
	console_free(c);
}

static const struct link_events events = {on_ready, on_kick, on_gone};
