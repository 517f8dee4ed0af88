/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_EVENTS_H
#define CK_EVENTS_H

struct lws;

/* A page's websocket that receives every change of the mount. */
struct ev_client {
	struct lws *wsi;
	unsigned long next_seq;
	struct ev_client *next;
};

/*
 * A thread follows MOUNT/.events, reads the values of what changed and
 * queues one JSON message per host or VM; the loop sends them to every page.
 */
int events_start(void (*wake)(void *), void *arg);
void events_stop(void);

/* Loop side. */
void events_client_add(struct ev_client *c, struct lws *wsi);
void events_client_remove(struct ev_client *c);
void events_deliver(void);
int events_writeable(struct ev_client *c);

#endif
