/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_LINKDIRECT_H
#define CK_LINKDIRECT_H

#include <libwebsockets.h>

/* The ck-vnc protocol: lws's events on the direct transport's sockets. */
int linkdirect_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			    size_t len);

#endif
