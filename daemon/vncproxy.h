/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_VNCPROXY_H
#define CK_VNCPROXY_H

#include <stddef.h>

#include <libwebsockets.h>

#include "auth.h"

/*
 * One console: a browser's websocket joined to a VNC server, over a TCP
 * socket for local hosts or an ssh channel for remote ones.
 */
struct console;

struct console *console_new(struct lws *ws, const struct console_target *t, const char *user);
int console_established(struct console *c);
int console_ws_receive(struct console *c, const void *in, size_t len);
int console_ws_writeable(struct console *c);
void console_ws_closed(struct console *c);

/* Why USER's last console of HOST/VM ended ("" when unknown). */
const char *console_last_reason(const char *user, const char *host, const char *vm);

#endif
