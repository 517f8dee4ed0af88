/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_SSHTUNNEL_H
#define CK_SSHTUNNEL_H

#include <stddef.h>
#include <sys/types.h>

#include <libwebsockets.h>

/*
 * The ssh transport of link.h (sshtunnel_open): a direct-tcpip channel to
 * t->addr:t->port through the sshd of t's host, over the one SSH session
 * shared by every console of that host.
 */
int sshtunnel_init(void);
void sshtunnel_exit(void);
int sshtunnel_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			   size_t len);

#endif
