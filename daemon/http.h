/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_HTTP_H
#define CK_HTTP_H

#include <libwebsockets.h>

#include "config.h"

/* The page, its API and the websockets (events, consoles) of one vhost. */
void http_set_config(const struct ck_config *cfg);
size_t http_pss_size(void);
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len);

#endif
