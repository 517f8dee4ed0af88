/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_SSHTUNNEL_H
#define CK_SSHTUNNEL_H

#include <stddef.h>
#include <sys/types.h>

#include <libwebsockets.h>

#include "auth.h"

struct console;
struct ssh_chan;

/*
 * A direct-tcpip channel to t->addr:t->port through the sshd of t's host,
 * over the one SSH session shared by every console of that host. The
 * console hears back through console_link_ready/kick/failed.
 */
struct ssh_chan *ssh_chan_open(struct lws_vhost *vh, const struct console_target *t,
			       struct console *c);
/* >0 bytes, 0 at EOF, -EAGAIN, -ENOTCONN when the session to the host is lost, or -EIO. */
ssize_t ssh_chan_read(struct ssh_chan *ch, void *buf, size_t n);
ssize_t ssh_chan_write(struct ssh_chan *ch, const void *buf, size_t n);
/* The console will read again: let the session's socket wake it. */
void ssh_chan_want_read(struct ssh_chan *ch);
void ssh_chan_want_write(struct ssh_chan *ch);
/* The console is gone; the channel closes and is freed. */
void ssh_chan_close(struct ssh_chan *ch);

int sshtunnel_init(void);
void sshtunnel_exit(void);
int sshtunnel_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			   size_t len);

#endif
