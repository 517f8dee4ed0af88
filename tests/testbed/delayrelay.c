/*
 * delayrelay: a TCP relay that holds every chunk it reads for DELAY_MS
 * before writing it on, in each direction.  The testbed's kernel has no
 * netem, so this is how a test puts latency in front of a host's sshd:
 * a request/response round trip through the relay costs 2 * DELAY_MS.
 *
 *   delayrelay [-n MAXCONN] [-b BYTES] [-t SECONDS] [-p PIDFILE]
 *              LISTEN_ADDR:PORT TARGET_ADDR:PORT DELAY_MS
 *
 * One thread, epoll, non-blocking sockets.  Bounded: at most MAXCONN
 * relayed connections (more are accepted and closed at once), at most
 * BYTES queued per direction (then it stops reading that side, so TCP
 * flow control pushes back on the sender), and with -t it exits by
 * itself after SECONDS.  SIGTERM/SIGINT end it.  The pid file is written
 * once the listening socket is ready, so a script can wait for it.
 * Addresses: IPv4 "1.2.3.4:22", IPv6 "[::1]:22", or a name getaddrinfo knows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX 65536

struct chunk {
	struct chunk *next;
	int64_t due_us;		/* monotonic time at which it may be written */
	size_t len, off;
	int eof;		/* marker: the reader saw EOF, shut down the writer */
	char data[];
};

struct conn;

/* One socket of a relayed pair; epoll's data.ptr points here. */
struct end {
	struct conn *c;
	int fd;
	int side;		/* 0 = client, 1 = target */
	uint32_t events;	/* what epoll currently watches */
	int unwatched;		/* hung up after its EOF: out of epoll for good */
};

/* Data flowing from end[i] to end[!i]. */
struct dir {
	struct chunk *head, *tail;
	size_t queued;
	int eof_read;		/* reader got EOF: nothing more will be queued */
	int shut;		/* EOF passed on (shutdown(SHUT_WR) done) */
	int blocked;		/* the writer returned EAGAIN: wait for EPOLLOUT */
};

struct conn {
	struct conn *prev, *next;
	struct end end[2];
	struct dir dir[2];
	int connecting;		/* the target connect() is in progress */
	int dead;
};

static int epfd, lfd;
static struct conn *conns;
static int nconns, maxconns = 256;
static size_t maxqueue = 4 << 20;
static int64_t delay_us;
static struct addrinfo *target;
static volatile sig_atomic_t stop;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Split "host:port" / "[v6]:port" and resolve it. */
static struct addrinfo *resolve(const char *spec, int passive)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host) {
		fprintf(stderr, "delayrelay: bad address %s (want ADDR:PORT)\n", spec);
		exit(2);
	}
	memcpy(host, spec, colon - spec);
	host[colon - spec] = 0;
	char *h = host;
	size_t hl = strlen(h);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	struct addrinfo hints = { 0 }, *res;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
	if (rc) {
		fprintf(stderr, "delayrelay: %s: %s\n", spec, gai_strerror(rc));
		exit(2);
	}
	return res;
}

static void set_nodelay(int fd)
{
	int one = 1;
	/* Interactive ssh traffic: Nagle would add its own delays on top. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void watch(struct end *e, uint32_t ev)
{
	if (e->fd < 0 || e->unwatched || e->events == ev)
		return;
	struct epoll_event ee = { .events = ev, .data.ptr = e };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ee) < 0)
		die("epoll_ctl mod");
	e->events = ev;
}

static void free_queue(struct dir *d)
{
	struct chunk *ch = d->head, *n;
	for (; ch; ch = n) {
		n = ch->next;
		free(ch);
	}
	d->head = d->tail = NULL;
	d->queued = 0;
}

/* Close both sockets of a pair.  Freed at the end of the loop turn, since
 * other epoll events of the same turn may still point at it. */
static void kill_conn(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	for (int i = 0; i < 2; i++) {
		if (c->end[i].fd >= 0) {
			if (!c->end[i].unwatched)
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->end[i].fd, NULL);
			close(c->end[i].fd);
			c->end[i].fd = -1;
		}
		free_queue(&c->dir[i]);
	}
}

static void reap(void)
{
	struct conn *c = conns, *n;
	for (; c; c = n) {
		n = c->next;
		if (!c->dead)
			continue;
		if (c->prev)
			c->prev->next = c->next;
		else
			conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
		nconns--;
	}
}

/* Recompute what epoll should watch for both ends of a pair. */
static void rearm(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		uint32_t ev = 0;
		struct dir *out = &c->dir[i];	/* read from end i */
		struct dir *in = &c->dir[!i];	/* written to end i */
		if (!(i == 1 && c->connecting) && !out->eof_read &&
		    out->queued < maxqueue)
			ev |= EPOLLIN;
		if ((i == 1 && c->connecting) || in->blocked)
			ev |= EPOLLOUT;
		watch(&c->end[i], ev);
	}
}

static void do_read(struct conn *c, int i)
{
	struct dir *d = &c->dir[i];
	while (!d->eof_read && d->queued < maxqueue) {
		struct chunk *ch = malloc(sizeof *ch + CHUNK_MAX);
		if (!ch)
			die("malloc");
		ssize_t n = read(c->end[i].fd, ch->data, CHUNK_MAX);
		if (n < 0) {
			free(ch);
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			kill_conn(c);	/* reset by peer and the like */
			return;
		}
		ch->next = NULL;
		ch->due_us = now_us() + delay_us;
		ch->len = n;
		ch->off = 0;
		ch->eof = n == 0;
		if (n == 0)
			d->eof_read = 1;
		else if ((size_t)n < CHUNK_MAX / 2) {
			/* Do not keep 64 KiB around for a few bytes. */
			struct chunk *s = realloc(ch, sizeof *ch + n);
			if (s)
				ch = s;
		}
		if (d->tail)
			d->tail->next = ch;
		else
			d->head = ch;
		d->tail = ch;
		d->queued += n;
		if (n < CHUNK_MAX)
			return;	/* drained for now */
	}
}

/* Write whatever is due from dir i to the other end. */
static void flush(struct conn *c, int i, int64_t now)
{
	struct dir *d = &c->dir[i];
	int fd = c->end[!i].fd;
	if (c->connecting && i == 0)
		return;	/* the target is not connected yet */
	while (d->head && d->head->due_us <= now) {
		struct chunk *ch = d->head;
		if (ch->eof) {
			shutdown(fd, SHUT_WR);
			d->shut = 1;
		} else {
			while (ch->off < ch->len) {
				ssize_t n = write(fd, ch->data + ch->off,
						  ch->len - ch->off);
				if (n < 0) {
					if (errno == EINTR)
						continue;
					if (errno == EAGAIN) {
						d->blocked = 1;
						return;
					}
					kill_conn(c);
					return;
				}
				ch->off += n;
				d->queued -= n;
			}
		}
		d->blocked = 0;
		d->head = ch->next;
		if (!d->head)
			d->tail = NULL;
		free(ch);
	}
	d->blocked = 0;
}

static void do_accept(void)
{
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;	/* EAGAIN, or out of fds: try next turn */
		}
		if (nconns >= maxconns) {
			close(cfd);
			continue;
		}
		int tfd = socket(target->ai_family,
				 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (tfd < 0) {
			close(cfd);
			continue;
		}
		set_nodelay(cfd);
		set_nodelay(tfd);
		int rc = connect(tfd, target->ai_addr, target->ai_addrlen);
		if (rc < 0 && errno != EINPROGRESS) {
			/* Say so at once, as an unreachable network would. */
			struct linger lg = { 1, 0 };
			setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			close(cfd);
			close(tfd);
			continue;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c)
			die("calloc");
		c->connecting = rc < 0;
		int fds[2] = { cfd, tfd };
		for (int i = 0; i < 2; i++) {
			c->end[i] = (struct end){ .c = c, .fd = fds[i], .side = i };
			struct epoll_event ee = { .events = 0, .data.ptr = &c->end[i] };
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ee) < 0)
				die("epoll_ctl add");
		}
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		nconns++;
		rearm(c);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: delayrelay [-n MAXCONN] [-b BYTES] [-t SECONDS] [-p PIDFILE]\n"
		"                  LISTEN_ADDR:PORT TARGET_ADDR:PORT DELAY_MS\n"
		"Relays TCP, holding each chunk DELAY_MS in each direction\n"
		"(round trip +2*DELAY_MS).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	double lifetime = 0;
	int opt;
	while ((opt = getopt(argc, argv, "n:b:t:p:h")) != -1) {
		switch (opt) {
		case 'n': maxconns = atoi(optarg); break;
		case 'b': maxqueue = strtoull(optarg, NULL, 10); break;
		case 't': lifetime = strtod(optarg, NULL); break;
		case 'p': pidfile = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 3 || maxconns < 1 || maxqueue < CHUNK_MAX)
		usage();
	char *end;
	double dms = strtod(argv[optind + 2], &end);
	if (*end || dms < 0 || dms > 600000)
		usage();
	delay_us = (int64_t)(dms * 1000);

	struct addrinfo *la = resolve(argv[optind], 1);
	target = resolve(argv[optind + 1], 0);

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	lfd = socket(la->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, la->ai_addr, la->ai_addrlen) < 0)
		die("bind");
	if (listen(lfd, 1024) < 0)
		die("listen");
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
		die("epoll_ctl");

	if (pidfile) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", pidfile);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) ||
		    rename(tmp, pidfile))
			die(pidfile);
	}

	int64_t deadline = lifetime > 0 ? now_us() + (int64_t)(lifetime * 1e6) : 0;
	struct epoll_event evs[64];
	while (!stop) {
		int64_t now = now_us();
		if (deadline && now >= deadline)
			break;
		/* Sleep until the earliest held chunk is due. */
		int64_t next = deadline ? deadline : INT64_MAX;
		for (struct conn *c = conns; c; c = c->next)
			for (int i = 0; i < 2; i++)
				if (c->dir[i].head && !c->dir[i].blocked &&
				    c->dir[i].head->due_us < next)
					next = c->dir[i].head->due_us;
		int timeout = -1;
		if (next != INT64_MAX)
			timeout = next <= now ? 0 : (int)((next - now + 999) / 1000);
		int n = epoll_wait(epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			struct end *e = evs[k].data.ptr;
			if (!e) {
				do_accept();
				continue;
			}
			struct conn *c = e->c;
			if (c->dead)
				continue;
			if (e->side == 1 && c->connecting) {
				int err = 0;
				socklen_t el = sizeof err;
				getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					struct linger lg = { 1, 0 };
					setsockopt(c->end[0].fd, SOL_SOCKET, SO_LINGER,
						   &lg, sizeof lg);
					kill_conn(c);
					continue;
				}
				c->connecting = 0;
			}
			if (evs[k].events & EPOLLERR) {
				kill_conn(c);	/* reset: no point delaying that */
				continue;
			}
			if (evs[k].events & EPOLLOUT)
				c->dir[!e->side].blocked = 0;
			if (evs[k].events & (EPOLLIN | EPOLLHUP))
				do_read(c, e->side);
			if ((evs[k].events & EPOLLHUP) && !c->dead &&
			    c->dir[e->side].eof_read) {
				/* epoll reports HUP whatever we ask for: stop
				 * watching, or it spins until the held data is
				 * due.  Writes to it will fail and end the pair. */
				epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL);
				e->unwatched = 1;
			}
		}
		now = now_us();
		for (struct conn *c = conns; c; c = c->next) {
			for (int i = 0; i < 2 && !c->dead; i++)
				if (!c->dir[i].blocked)
					flush(c, i, now);
			if (c->dead)
				continue;
			/* Both directions ended and passed on: done. */
			if (c->dir[0].shut && c->dir[1].shut) {
				kill_conn(c);
				continue;
			}
			rearm(c);
		}
		reap();
	}
	if (pidfile)
		unlink(pidfile);
	return 0;
}
