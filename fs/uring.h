/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_URING_H
#define CK_URING_H

/*
 * What uring.c (the rings) shares with uringpark.c (the requests that may
 * wait, served off the rings).
 */
#include "face.h"

struct entry;

/* The session the rings serve. */
extern struct fuse_session *uring_session;
/* Set on each ring's own thread (uring_ring_thread()). */
extern _Thread_local bool uring_on_ring;
/* The ring entry whose request this thread is serving, if any. */
extern _Thread_local struct entry *uring_current;

/* Which waits a parked request may do: each class has its own threads. */
enum park_class {
	PARK_EVENTS, /* a read of .events: until the next change, however long */
	PARK_HOST,   /* on a host: bounded by the host's call timeout */
	PARK_NCLASSES,
};

/*
 * Serves BUF (a request rebuilt in /dev/fuse's layout, malloc'd with its mem,
 * taken) on a thread of CLS, with uring_current set to E. Never waits.
 * 0, or a negative errno when it could not be taken (the caller answers it).
 */
int park(struct fuse_buf *buf, struct entry *e, enum park_class cls);
/*
 * Drops the parked requests not begun, and waits up to WAIT_MS for those
 * being served. True when some are still being served.
 */
bool park_stop(int wait_ms);

#endif
