/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The notifier: the only thread that tells the kernel of changes. Never a
 * thread serving a request, so an invalidation cannot wait on its own
 * request. For each change: drop the kernel's attributes and pages (or
 * entries), then wake pollers, then tell .events readers.
 */
#include "face.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One per open file that polls (sysfs-style), until its release or a change. */
struct poller {
	uint64_t ino;
	const void *owner; /* the open file */
	struct fuse_pollhandle *ph;
	struct poller *next;
};

static pthread_t thread;
static bool running;
static pthread_mutex_t poll_lock = PTHREAD_MUTEX_INITIALIZER;
static struct poller *pollers;

void poll_wait(uint64_t ino, const void *owner, struct fuse_pollhandle *ph)
{
	struct fuse_pollhandle *old = NULL;
	struct poller *p;

	pthread_mutex_lock(&poll_lock);
	for (p = pollers; p && p->owner != owner; p = p->next)
		;
	if (p) {
		/* A file polled again: its newest handle is the one to notify. */
		old = p->ph;
		p->ph = ph;
		p->ino = ino;
	} else if ((p = malloc(sizeof(*p)))) {
		p->ino = ino;
		p->owner = owner;
		p->ph = ph;
		p->next = pollers;
		pollers = p;
	} else {
		old = ph;
	}
	pthread_mutex_unlock(&poll_lock);
	if (old)
		fuse_pollhandle_destroy(old);
}

void poll_forget(const void *owner)
{
	struct poller *gone = NULL;

	pthread_mutex_lock(&poll_lock);
	for (struct poller **pp = &pollers; *pp; pp = &(*pp)->next) {
		if ((*pp)->owner == owner) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&poll_lock);
	if (gone) {
		fuse_pollhandle_destroy(gone->ph);
		free(gone);
	}
}

static void wake_pollers(uint64_t ino)
{
	struct poller *woken = NULL;

	pthread_mutex_lock(&poll_lock);
	for (struct poller **pp = &pollers; *pp;) {
		struct poller *p = *pp;

		if (p->ino == ino) {
			*pp = p->next;
			p->next = woken;
			woken = p;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&poll_lock);
	while (woken) {
		struct poller *p = woken;

		woken = p->next;
		fuse_lowlevel_notify_poll(p->ph);
		fuse_pollhandle_destroy(p->ph);
		free(p);
	}
}

static void *notifier_main(void *arg)
{
	struct fuse_session *se = arg;
	struct change ch;

	while (inv_next_change(&ch)) {
		switch (ch.type) {
		case CH_VALUE:
			fuse_lowlevel_notify_inval_inode(se, ch.ino, 0, 0);
			wake_pollers(ch.ino);
			if (ch.path)
				events_publish("changed", ch.path);
			break;
		case CH_CREATED:
			fuse_lowlevel_notify_inval_entry(se, ch.parent, ch.name, strlen(ch.name));
			fuse_lowlevel_notify_inval_inode(se, ch.parent, 0, 0);
			if (ch.path)
				events_publish("created", ch.path);
			break;
		case CH_DELETED:
			fuse_lowlevel_notify_delete(se, ch.parent, ch.ino, ch.name,
						    strlen(ch.name));
			fuse_lowlevel_notify_inval_inode(se, ch.parent, 0, 0);
			if (ch.path)
				events_publish("deleted", ch.path);
			break;
		}
		inv_change_done(&ch);
	}
	return NULL;
}

int notifier_start(struct fuse_session *se)
{
	if (pthread_create(&thread, NULL, notifier_main, se))
		return -1;
	pthread_setname_np(thread, "ck-notify");
	running = true;
	return 0;
}

/* After inventory_stop(), which ends the change stream. */
void notifier_stop(void)
{
	if (!running)
		return;
	pthread_join(thread, NULL);
	running = false;
	pthread_mutex_lock(&poll_lock);
	while (pollers) {
		struct poller *p = pollers;

		pollers = p->next;
		fuse_pollhandle_destroy(p->ph);
		free(p);
	}
	pthread_mutex_unlock(&poll_lock);
}
