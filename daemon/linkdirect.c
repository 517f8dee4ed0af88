// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The direct transport: a TCP socket to the VNC server, for hosts whose
 * consoles this machine reaches itself. lws polls the socket (protocol
 * ck-vnc); the user reads and writes it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "link.h"
#include "linkdirect.h"
#include "log.h"
#include "netaddr.h"

struct direct {
	struct link link; /* first: the user holds a pointer to it */
	struct lws *raw;
	int fd;
	int connected;
	struct console_target t;
};

static ssize_t d_read(struct link *l, void *buf, size_t n)
{
	ssize_t r = read(((struct direct *)l)->fd, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t d_write(struct link *l, const void *buf, size_t n)
{
	ssize_t r = write(((struct direct *)l)->fd, buf, n);

	return r < 0 ? -errno : r;
}

static void d_want_read(struct link *l)
{
	lws_rx_flow_control(((struct direct *)l)->raw, 1);
}

static void d_want_write(struct link *l)
{
	lws_callback_on_writable(((struct direct *)l)->raw);
}

/* lws closes the socket and reports it; the struct goes then. */
static void d_close(struct link *l)
{
	struct direct *d = (struct direct *)l;

	d->link.user = NULL;
	lws_set_timeout(d->raw, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

static const struct link_ops direct_ops = {d_read, d_write, d_want_read, d_want_write, d_close};

struct link *linkdirect_open(struct lws_vhost *vh, const struct console_target *t,
			     const struct link_events *ev, void *user)
{
	struct sockaddr_storage ss;
	struct direct *d;
	socklen_t sl;
	int one = 1;

	if (netaddr_parse_numeric(t->addr, t->port, &ss, &sl)) {
		ck_log("console: %s is no numeric address", t->addr);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->link = (struct link){&direct_ops, ev, user};
	d->t = *t;
	d->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		ck_log("console: socket: %s", strerror(errno));
		free(d);
		return NULL;
	}
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(d->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		ck_log("console: cannot connect to %s:%d: %s", t->addr, t->port, strerror(errno));
		close(d->fd);
		free(d);
		return NULL;
	}
	d->raw = link_adopt_fd(vh, d->fd, "ck-vnc", d);
	if (!d->raw) {
		ck_log("console: cannot watch the console's socket");
		close(d->fd);
		free(d);
		return NULL;
	}
	lws_set_timeout(d->raw, PENDING_TIMEOUT_AWAITING_CONNECT_RESPONSE, 10);
	lws_callback_on_writable(d->raw);
	return &d->link;
}

/* The socket accepted the connection, or why not. */
static int connected(struct lws *wsi, struct direct *d)
{
	char why[200];
	socklen_t sl = sizeof(int);
	int err = 0;

	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
		snprintf(why, sizeof(why), "cannot connect to the console at %s:%d: %s", d->t.addr,
			 d->t.port, strerror(err ? err : errno));
		if (d->link.user)
			d->link.ev->gone(d->link.user, why, 0);
		d->link.user = NULL;
		return -1;
	}
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	d->connected = 1;
	if (d->link.user)
		d->link.ev->ready(d->link.user);
	return 0;
}

int linkdirect_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			    size_t len)
{
	struct direct *d = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!d || !d->link.user)
			return -1;
		if (!d->connected)
			return connected(wsi, d);
		d->link.ev->kick(d->link.user);
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!d || !d->link.user)
			return -1;
		/* the user reads; until it finds the socket empty, stop polling it */
		lws_rx_flow_control(wsi, 0);
		d->link.ev->kick(d->link.user);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (!d)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		if (d->link.user)
			d->link.ev->gone(d->link.user,
					 d->connected ? "the VNC server closed the console"
						      : "cannot connect to the console (timed out)",
					 d->connected);
		free(d);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
