/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Requests from a ring that may wait (a read of .events, anything that asks a
 * host or waits for its first listing) are served here, never on the ring's
 * thread: a thread each, up to MAX_THREADS per class; past that they queue,
 * and only their own class waits its turn (a crowd of .events readers never
 * holds up a write). Their ring entry stays theirs until they answer, which
 * is why uring.c registers another entry in its place.
 */
#include "log.h"
#include "uring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* As many as libfuse's own loop has workers (main.c). */
#define MAX_THREADS 128

struct job {
	struct fuse_buf buf;
	struct entry *e;
	struct job *next;
};

struct lane {
	struct job *head, *last;
	int threads;
	bool told; /* the log said it is full */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static struct lane lanes[PARK_NCLASSES];
static int running;
static bool stopped;

static void job_free(struct job *j)
{
	free(j->buf.mem);
	free(j);
}

static void *worker(void *arg)
{
	struct lane *c = arg;

	pthread_mutex_lock(&lock);
	while (c->head && !stopped) {
		struct job *j = c->head;

		c->head = j->next;
		if (!c->head)
			c->last = NULL;
		pthread_mutex_unlock(&lock);
		uring_current = j->e;
		fuse_session_process_buf(uring_session, &j->buf);
		uring_current = NULL;
		job_free(j);
		pthread_mutex_lock(&lock);
	}
	c->threads--;
	running--;
	pthread_cond_broadcast(&ended);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int park(struct fuse_buf *buf, struct entry *e, enum park_class cls)
{
	struct lane *c = &lanes[cls];
	struct job *j = malloc(sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int rc = 0;

	if (!j)
		return -ENOMEM;
	*j = (struct job){.buf = *buf, .e = e};
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&lock);
	if (stopped) {
		rc = -ESHUTDOWN;
	} else if (c->threads < MAX_THREADS) {
		if (pthread_create(&t, &attr, worker, c) == 0) {
			c->threads++;
			running++;
		} else if (!c->threads) {
			rc = -EAGAIN; /* no thread would ever take it */
		}
	} else if (!c->told) {
		c->told = true;
		log_msg("io_uring: %d requests that wait are served at once; the next wait "
			"their turn",
			MAX_THREADS);
	}
	if (!rc) {
		if (c->last)
			c->last->next = j;
		else
			c->head = j;
		c->last = j;
	}
	pthread_mutex_unlock(&lock);
	pthread_attr_destroy(&attr);
	if (rc)
		free(j);
	return rc;
}

bool park_stop(int wait_ms)
{
	struct timespec deadline;
	bool left;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	stopped = true;
	/* Not begun: the kernel ends them with the connection. */
	for (int i = 0; i < PARK_NCLASSES; i++) {
		while (lanes[i].head) {
			struct job *j = lanes[i].head;

			lanes[i].head = j->next;
			job_free(j);
		}
		lanes[i].last = NULL;
	}
	while (running && pthread_cond_timedwait(&ended, &lock, &deadline) != ETIMEDOUT)
		;
	left = running > 0;
	pthread_mutex_unlock(&lock);
	return left;
}

_Thread_local bool uring_on_ring;

bool uring_ring_thread(void)
{
	return uring_on_ring;
}
