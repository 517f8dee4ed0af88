// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "api.h"
#include "events.h"
#include "evparse.h"
#include "json.h"
#include "log.h"
#include "mountio.h"

#define MAX_TARGETS 256
#define MAX_QUEUED 4096

struct evmsg {
	struct evmsg *next;
	unsigned long seq;
	size_t len;
	unsigned char *data; /* LWS_PRE bytes, then the text */
};

struct target {
	char host[256];
	char vm[256]; /* empty: the host itself */
};

static struct {
	pthread_t thread;
	int running;
	int stop_pipe[2];
	void (*wake)(void *);
	void *wake_arg;

	/* handed from the thread to the loop */
	pthread_mutex_t lock;
	struct evmsg *incoming, **incoming_tail;

	/* loop side */
	struct evmsg *head, *tail;
	unsigned long next_seq, queued;
	struct ev_client *clients;
} ev = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .next_seq = 1,
};

static void queue_msg(struct sbuf *b)
{
	struct evmsg *m;

	if (b->oom) {
		ck_log("events: out of memory, a change was not sent");
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		ck_log("events: out of memory, a change was not sent");
		return;
	}
	m->data = (unsigned char *)b->p;
	m->len = b->len;
	b->p = NULL;
	pthread_mutex_lock(&ev.lock);
	*ev.incoming_tail = m;
	ev.incoming_tail = &m->next;
	pthread_mutex_unlock(&ev.lock);
}

static void queue_text(const char *text)
{
	struct sbuf b;

	sb_init(&b, LWS_PRE);
	sb_puts(&b, text);
	queue_msg(&b);
}

static void send_target(const struct target *t)
{
	struct sbuf b;

	sb_init(&b, LWS_PRE);
	if (t->vm[0]) {
		sb_puts(&b, "{\"t\":\"vm\",\"vm\":");
		api_vm_json(&b, t->host, t->vm);
	} else {
		sb_puts(&b, "{\"t\":\"host\",\"host\":");
		api_host_json(&b, t->host);
	}
	sb_puts(&b, "}");
	queue_msg(&b);
}

/* Reads the values once per host or VM however many lines named it. */
static void handle_batch(char *lines)
{
	static struct target targets[MAX_TARGETS];
	int n = 0, i, overflow = 0;
	char *line, *save = NULL;

	for (line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct target t;

		if (!strcmp(line, "overflow")) {
			overflow = 1;
			continue;
		}
		if (evparse_line(line, t.host, sizeof(t.host), t.vm, sizeof(t.vm)))
			continue;
		for (i = 0; i < n; i++)
			if (!strcmp(targets[i].host, t.host) && !strcmp(targets[i].vm, t.vm))
				break;
		if (i < n)
			continue;
		if (n == MAX_TARGETS) {
			overflow = 1;
			continue;
		}
		targets[n++] = t;
	}
	if (overflow) {
		queue_text("{\"t\":\"reload\"}");
		return;
	}
	for (i = 0; i < n; i++)
		send_target(&targets[i]);
}

/*
 * Test trees stand in for the stream with a FIFO, which hangs up between
 * writers unless we hold a writer ourselves, or a regular file, followed
 * from its end as tail -f does (*growing is set then).
 */
static int open_events(int *growing)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/.events", mountio_root());
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	*growing = 0;
	if (fd < 0 || fstat(fd, &st))
		return fd;
	if (S_ISREG(st.st_mode)) {
		*growing = 1;
		lseek(fd, 0, SEEK_END);
	} else if (S_ISFIFO(st.st_mode)) {
		close(fd);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	}
	return fd;
}

static void *follow(void *arg)
{
	static char buf[65536];
	size_t have = 0;
	int fd = -1, opened_before = 0, complained = 0, growing = 0;

	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = ev.stop_pipe[0], .events = POLLIN},
				      {.fd = -1, .events = POLLIN}};
		ssize_t r;
		char *end;

		if (fd < 0) {
			fd = open_events(&growing);
			if (fd < 0) {
				if (!complained++)
					ck_log("events: cannot open %s/.events: %s (retrying)",
					       mountio_root(), strerror(errno));
			} else {
				complained = 0;
				have = 0;
				/* changes were missed while it was closed */
				if (opened_before++) {
					queue_text("{\"t\":\"reload\"}");
					ev.wake(ev.wake_arg);
				}
			}
		}
		p[1].fd = fd;
		if (poll(p, 2, fd < 0 ? 1000 : -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (fd < 0 || !p[1].revents)
			continue;
		r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (!r && growing) {
			/* a regular file is always readable: wait for it to grow */
			usleep(50000);
			continue;
		}
		if (r <= 0) {
			if (r < 0)
				ck_log("events: read: %s (reopening)", strerror(errno));
			close(fd);
			fd = -1;
			/* a writer that closed a FIFO would wake us in a loop */
			usleep(100000);
			continue;
		}
		have += (size_t)r;
		buf[have] = '\0';
		end = strrchr(buf, '\n');
		if (!end) {
			if (have == sizeof(buf) - 1)
				have = 0; /* a line longer than any path: drop it */
			continue;
		}
		*end = '\0';
		handle_batch(buf);
		have -= (size_t)(end + 1 - buf);
		memmove(buf, end + 1, have);
		ev.wake(ev.wake_arg);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

int events_start(void (*wake)(void *), void *arg)
{
	int rc;

	ev.wake = wake;
	ev.wake_arg = arg;
	ev.incoming_tail = &ev.incoming;
	if (pipe2(ev.stop_pipe, O_CLOEXEC)) {
		ck_log("events: pipe: %s", strerror(errno));
		return -1;
	}
	rc = pthread_create(&ev.thread, NULL, follow, NULL);
	if (rc) {
		ck_log("events: cannot start the follower thread: %s", strerror(rc));
		close(ev.stop_pipe[0]);
		close(ev.stop_pipe[1]);
		return -1;
	}
	ev.running = 1;
	return 0;
}

static void free_msg(struct evmsg *m)
{
	free(m->data);
	free(m);
}

void events_stop(void)
{
	struct evmsg *m;

	if (ev.running) {
		if (write(ev.stop_pipe[1], "x", 1) != 1)
			ck_log("events: cannot stop the follower: %s", strerror(errno));
		pthread_join(ev.thread, NULL);
		close(ev.stop_pipe[0]);
		close(ev.stop_pipe[1]);
		ev.running = 0;
	}
	while ((m = ev.head)) {
		ev.head = m->next;
		free_msg(m);
	}
	while ((m = ev.incoming)) {
		ev.incoming = m->next;
		free_msg(m);
	}
}

void events_client_add(struct ev_client *c, struct lws *wsi)
{
	c->wsi = wsi;
	c->next_seq = ev.next_seq;
	c->next = ev.clients;
	ev.clients = c;
}

void events_client_remove(struct ev_client *c)
{
	struct ev_client **pp;

	for (pp = &ev.clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

/* Frees what every page has sent, and the oldest when a page lags too far. */
static void prune(void)
{
	unsigned long min = ev.next_seq;
	struct ev_client *c;

	for (c = ev.clients; c; c = c->next)
		if (c->next_seq < min)
			min = c->next_seq;
	while (ev.head && (ev.head->seq < min || ev.queued > MAX_QUEUED)) {
		struct evmsg *m = ev.head;

		ev.head = m->next;
		if (!ev.head)
			ev.tail = NULL;
		free_msg(m);
		ev.queued--;
	}
}

void events_deliver(void)
{
	struct evmsg *list, *m;
	struct ev_client *c;

	pthread_mutex_lock(&ev.lock);
	list = ev.incoming;
	ev.incoming = NULL;
	ev.incoming_tail = &ev.incoming;
	pthread_mutex_unlock(&ev.lock);
	if (!list)
		return;
	while ((m = list)) {
		list = m->next;
		m->next = NULL;
		m->seq = ev.next_seq++;
		if (ev.tail)
			ev.tail->next = m;
		else
			ev.head = m;
		ev.tail = m;
		ev.queued++;
	}
	prune();
	for (c = ev.clients; c; c = c->next)
		lws_callback_on_writable(c->wsi);
}

int events_writeable(struct ev_client *c)
{
	struct evmsg *m;

	if (c->next_seq >= ev.next_seq)
		return 0;
	if (!ev.head || c->next_seq < ev.head->seq) {
		/* this page lagged behind what is kept: it must start over */
		unsigned char buf[LWS_PRE + 16];

		memcpy(buf + LWS_PRE, "{\"t\":\"reload\"}", 14);
		c->next_seq = ev.next_seq;
		return lws_write(c->wsi, buf + LWS_PRE, 14, LWS_WRITE_TEXT) < 14 ? -1 : 0;
	}
	for (m = ev.head; m->seq != c->next_seq; m = m->next)
		;
	if (lws_write(c->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	c->next_seq++;
	if (c->next_seq < ev.next_seq)
		lws_callback_on_writable(c->wsi);
	prune();
	return 0;
}
