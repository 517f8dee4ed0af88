/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * .events: every open gets its own buffer of change lines, from the moment it
 * opened. A reader that falls behind loses lines and is told so by an
 * "overflow" line. A line is TYPE, a TAB, the path and a newline, whatever
 * bytes the names hold: control characters, a backslash and a space in the path are
 * written as \ooo (name_escape(), documented in catkeeperfs(1)).
 */
#include "face.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_BUF (256 * 1024)
#define WAIT_SLICE_NS 250000000L

struct events_reader {
	struct events_reader *next;
	char *buf;
	size_t head, len;
	bool overflow;
	struct fuse_pollhandle *ph;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct events_reader *readers;

struct events_reader *events_open(void)
{
	struct events_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->buf = malloc(EVENTS_BUF);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&lock);
	r->next = readers;
	readers = r;
	pthread_mutex_unlock(&lock);
	return r;
}

void events_close(struct events_reader *r)
{
	pthread_mutex_lock(&lock);
	for (struct events_reader **pp = &readers; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	if (r->ph)
		fuse_pollhandle_destroy(r->ph);
	free(r->buf);
	free(r);
}

static void put(struct events_reader *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		r->buf[(r->head + r->len + i) % EVENTS_BUF] = s[i];
	r->len += n;
}

void events_publish(const char *type, const char *raw_path)
{
	/* One line per event, whatever bytes the names hold (see name_escape). */
	char *path = name_escape(raw_path);
	size_t tl = strlen(type), pl;

	if (!path)
		return;
	pl = strlen(path);

	pthread_mutex_lock(&lock);
	for (struct events_reader *r = readers; r; r = r->next) {
		if (r->overflow || r->len + tl + pl + 2 > EVENTS_BUF) {
			r->overflow = true;
		} else {
			put(r, type, tl);
			put(r, "\t", 1);
			put(r, path, pl);
			put(r, "\n", 1);
		}
		if (r->ph) {
			fuse_lowlevel_notify_poll(r->ph);
			fuse_pollhandle_destroy(r->ph);
			r->ph = NULL;
		}
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	free(path);
}

static void wake(fuse_req_t req, void *data)
{
	(void)req;
	(void)data;
	pthread_mutex_lock(&lock);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Whole lines only, unless one line is larger than the read. */
static size_t take(struct events_reader *r, char *out, size_t size)
{
	size_t n = 0, last_nl = 0;

	while (n < r->len && n < size) {
		out[n] = r->buf[(r->head + n) % EVENTS_BUF];
		if (out[n++] == '\n')
			last_nl = n;
	}
	if (last_nl)
		n = last_nl;
	r->head = (r->head + n) % EVENTS_BUF;
	r->len -= n;
	return n;
}

void events_read(fuse_req_t req, struct events_reader *r, size_t size, bool nonblock)
{
	char *out = malloc(size + 9);
	size_t n = 0;
	int oldstate, err = 0;

	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* libfuse cancels its workers at unmount: leave this wait by ourselves. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
	fuse_req_interrupt_func(req, wake, NULL);
	pthread_mutex_lock(&lock);
	while (!r->len && !r->overflow) {
		struct timespec ts;

		if (nonblock) {
			err = EAGAIN;
			break;
		}
		if (fuse_req_interrupted(req) || fuse_session_exited(face_session)) {
			err = EINTR;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WAIT_SLICE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cond, &lock, &ts);
	}
	if (!err) {
		n = take(r, out, size);
		if (!r->len && r->overflow && n + 9 <= size) {
			memcpy(out + n, "overflow\n", 9);
			n += 9;
			r->overflow = false;
		}
	}
	pthread_mutex_unlock(&lock);
	pthread_setcancelstate(oldstate, NULL);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, out, n);
	free(out);
}

unsigned events_poll(struct events_reader *r, struct fuse_pollhandle *ph)
{
	unsigned revents;

	pthread_mutex_lock(&lock);
	revents = r->len || r->overflow ? POLLIN | POLLRDNORM : 0;
	if (ph && !revents) {
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		r->ph = ph;
		ph = NULL;
	}
	pthread_mutex_unlock(&lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	return revents;
}
