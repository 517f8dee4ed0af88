/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_LINK_H
#define CK_LINK_H

#include <stddef.h>
#include <sys/types.h>

#include <libwebsockets.h>

#include "auth.h"

/*
 * A console's byte stream to its VNC server, whatever carries it: a TCP
 * socket (linkdirect.c) or a channel of the host's ssh session
 * (sshtunnel.c). The console (vncproxy.c) knows only these calls; a
 * transport knows only its user's events.
 */
struct link;

struct link_events {
	void (*ready)(void *user); /* connected: bytes may flow */
	void (*kick)(void *user);  /* bytes may be readable or writable again */
	/* The link is gone, and no event follows; ended: the server's side ended normally. */
	void (*gone)(void *user, const char *why, int ended);
};

struct link_ops {
	/* >0 bytes, 0 at EOF, -EAGAIN, -ENOTCONN when the way to the host is lost, or -errno. */
	ssize_t (*read)(struct link *l, void *buf, size_t n);
	ssize_t (*write)(struct link *l, const void *buf, size_t n);
	/* the user will read (write) again: be woken by a kick when it can */
	void (*want_read)(struct link *l);
	void (*want_write)(struct link *l);
	/* the user is gone: no event after this, the transport frees the link */
	void (*close)(struct link *l);
};

struct link {
	const struct link_ops *ops;
	const struct link_events *ev;
	void *user; /* NULL once closed */
};

/* The transport t asks for; NULL when it cannot start. */
struct link *link_open(struct lws_vhost *vh, const struct console_target *t,
		       const struct link_events *ev, void *user);

/* A transport's socket, polled by lws under protocol, with opaque as its user data. */
struct lws *link_adopt_fd(struct lws_vhost *vh, int fd, const char *protocol, void *opaque);

/* Each transport. */
struct link *linkdirect_open(struct lws_vhost *vh, const struct console_target *t,
			     const struct link_events *ev, void *user);
struct link *sshtunnel_open(struct lws_vhost *vh, const struct console_target *t,
			    const struct link_events *ev, void *user);

#endif
