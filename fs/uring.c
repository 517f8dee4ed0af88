/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * FUSE over io_uring, where the kernel offers it (Linux 6.14 and later, with
 * the fuse module's enable_uring set). Requests then arrive on one ring per
 * CPU, served by a thread on that CPU, instead of waking whichever thread
 * waits on /dev/fuse: where waking another CPU is dear (a VM's halted vCPU),
 * a warm read of a file costs a quarter to a half as much (24 us against
 * 53-110 us on the machine that measured it).
 *
 * libfuse 3.14 knows nothing of it. Its custom io hooks let us add the flag
 * to its INIT reply and catch the replies to requests that came from a ring;
 * requests themselves are rebuilt in /dev/fuse's layout and handed to
 * fuse_session_process_buf(). Whatever else (INIT, interrupts, forgets, and
 * everything before the rings are registered) still comes through /dev/fuse
 * and libfuse's own loop.
 */
#include "face.h"
#include "log.h"

#include <errno.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

/* The kernel's ABI for it (protocol 7.42), newer than Debian 12's headers. */
#define INIT_OVER_IO_URING (1ULL << 41)

struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct ring_req_header {
	char in_out[128]; /* fuse_in_header in, fuse_out_header out */
	char op_in[128];  /* the request's fixed argument, if any */
	struct ring_ent_in_out ent;
};

struct ring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

enum { RING_CMD_REGISTER = 1, RING_CMD_COMMIT_AND_FETCH = 2 };

#define ENTRIES 8    /* requests in flight per CPU */
#define WAKE ENTRIES /* user_data of the eventfd's poll */
/* libfuse says max_pages = max_write / page size; the ring's buffers follow. */
#define MAX_WRITE (128 * 1024)
#define PAYLOAD (MAX_WRITE + 4096)

struct queue;

struct entry {
	struct queue *q;
	int idx;
	struct ring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
	_Atomic uint64_t unique; /* of the request it holds; 0 when with the kernel */
	uint64_t commit_id;
	bool pending; /* its reply waits for the ring's thread to commit it */
};

struct queue {
	int qid;
	struct io_uring ring;
	bool ring_up;
	/*
	 * Only the ring's thread submits: the kernel cancels a command when the
	 * thread that submitted it ends, and a reply may come from any thread
	 * (a slow request's, libfuse's, the notifier). Those queue it here and
	 * wake the ring's thread through the eventfd.
	 */
	pthread_mutex_t lock;
	int efd;
	pthread_t thread;
	bool started;
	char *req; /* a quick request, rebuilt in /dev/fuse's layout */
	struct entry ent[ENTRIES];
};

static struct fuse_session *session;
static int dev_fd;
static uint64_t init_unique;
static bool offered;
static struct queue *queues;
static int nqueues;
static _Atomic bool rings_on;
static _Atomic unsigned long served; /* requests that came from a ring */

/*
 * Slow requests, each on a thread of its own, counted for the detach; at most
 * MAX_SLOW at once, as libfuse's own loop had workers (the ring's thread waits
 * for one to end: they never wait for it).
 */
#define MAX_SLOW 128
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slow_cond = PTHREAD_COND_INITIALIZER;
static int nslow;

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	if (n >= (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) && in->opcode == FUSE_INIT) {
		const struct fuse_init_in *arg = (const void *)(in + 1);

		init_unique = in->unique;
		offered = (arg->flags & FUSE_INIT_EXT) &&
			  ((uint64_t)arg->flags2 << 32 & INIT_OVER_IO_URING);
	}
	return n;
}

static struct entry *entry_of(uint64_t unique)
{
	for (int q = 0; q < nqueues; q++)
		for (int i = 0; i < ENTRIES; i++)
			if (queues[q].ent[i].unique == unique)
				return &queues[q].ent[i];
	return NULL;
}

/* On the ring's thread. */
static int submit_cmd(struct queue *q, struct entry *e, int op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	struct ring_cmd_req *cmd;

	if (!sqe)
		return -EBUSY;
	/* A 128-byte entry: the command sits in its second half. */
	memset(sqe, 0, sizeof(*sqe));
	memset(sqe->cmd, 0, sizeof(struct ring_cmd_req));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = dev_fd;
	sqe->cmd_op = op;
	sqe->user_data = e->idx;
	if (op == RING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	}
	cmd = (struct ring_cmd_req *)sqe->cmd;
	cmd->qid = q->qid;
	cmd->commit_id = e->commit_id;
	return io_uring_submit(&q->ring) < 0 ? -EIO : 0;
}

/* The reply to a ring's request goes back in its entry, which fetches the next. */
static ssize_t commit(struct entry *e, struct iovec *iov, int count)
{
	size_t len = 0;
	int rc;

	for (int i = 1; i < count; i++) {
		if (len + iov[i].iov_len > PAYLOAD)
			return -EINVAL;
		memcpy(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(e->hdr->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
	e->hdr->ent.payload_sz = len;
	e->unique = 0;
	if (pthread_equal(pthread_self(), e->q->thread)) {
		rc = submit_cmd(e->q, e, RING_CMD_COMMIT_AND_FETCH);
	} else {
		uint64_t one = 1;

		pthread_mutex_lock(&e->q->lock);
		e->pending = true;
		pthread_mutex_unlock(&e->q->lock);
		rc = write(e->q->efd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
	}
	return rc < 0 ? rc : (ssize_t)(sizeof(struct fuse_out_header) + len);
}

static int arm_wake(struct queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, q->efd, POLLIN);
	sqe->user_data = WAKE;
	return io_uring_submit(&q->ring) < 0 ? -EIO : 0;
}

/* Commits the replies other threads left, and waits for the next. */
static void commit_pending(struct queue *q)
{
	uint64_t count;

	if (read(q->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_msg("io_uring: queue %d: eventfd: %s", q->qid, strerror(errno));
	for (int i = 0; i < ENTRIES; i++) {
		bool pending;

		pthread_mutex_lock(&q->lock);
		pending = q->ent[i].pending;
		q->ent[i].pending = false;
		pthread_mutex_unlock(&q->lock);
		if (pending)
			submit_cmd(q, &q->ent[i], RING_CMD_COMMIT_AND_FETCH);
	}
	arm_wake(q);
}

static void rings_start(void);

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_out_header *oh = iov[0].iov_base;
	bool init = false;
	ssize_t n;

	(void)userdata;
	if (oh->unique && atomic_load(&rings_on)) {
		struct entry *e = entry_of(oh->unique);

		if (e)
			return commit(e, iov, count);
	}
	if (oh->unique && oh->unique == init_unique && offered && !oh->error && count == 2 &&
	    iov[1].iov_len >= sizeof(struct fuse_init_out)) {
		struct fuse_init_out *out = iov[1].iov_base;

		out->flags |= FUSE_INIT_EXT;
		out->flags2 |= (uint32_t)(INIT_OVER_IO_URING >> 32);
		init = true;
	}
	n = writev(fd, iov, count);
	if (init && n >= 0)
		rings_start();
	return n;
}

/* Whether serving it could wait on a host: then not on the ring's thread. */
static bool waits(const struct fuse_in_header *in)
{
	switch (in->opcode) {
	case FUSE_LOOKUP:
	case FUSE_GETATTR:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_OPENDIR:
	case FUSE_RELEASEDIR:
	case FUSE_STATFS:
	case FUSE_POLL:
	case FUSE_RELEASE:
		return false;
	case FUSE_READ:
		/* A read of .events waits for the next change. */
		return in->nodeid == INO_EVENTS;
	case FUSE_OPEN:
		/* config.xml is read from its host when opened. */
		return KIND_OF(in->nodeid) == F_CONFIG;
	default:
		return true;
	}
}

static void *slow_main(void *arg)
{
	struct fuse_buf *buf = arg;

	fuse_session_process_buf(session, buf);
	free(buf->mem);
	free(buf);
	pthread_mutex_lock(&slow_lock);
	nslow--;
	pthread_cond_broadcast(&slow_cond);
	pthread_mutex_unlock(&slow_lock);
	return NULL;
}

/* Takes buf (malloc'd, with its mem) to a thread of its own. */
static int slow_start(struct fuse_buf *buf)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&slow_lock);
	while (nslow >= MAX_SLOW)
		pthread_cond_wait(&slow_cond, &slow_lock);
	if (pthread_create(&t, &attr, slow_main, buf) == 0) {
		nslow++;
		rc = 0;
	}
	pthread_mutex_unlock(&slow_lock);
	pthread_attr_destroy(&attr);
	return rc;
}

/* Answers a request that could not be served, so that its caller does not hang. */
static void refuse(struct entry *e, int err)
{
	struct fuse_out_header oh = {.len = sizeof(oh), .error = -err, .unique = e->unique};
	struct iovec iov = {&oh, sizeof(oh)};

	commit(e, &iov, 1);
}

/* A ring's request in /dev/fuse's layout, as fuse_session_process_buf() takes it. */
static void rebuild(const struct entry *e, size_t fixed, char *to)
{
	const struct fuse_in_header *in = (const void *)e->hdr->in_out;

	memcpy(to, in, sizeof(*in));
	memcpy(to + sizeof(*in), e->hdr->op_in, fixed);
	memcpy(to + sizeof(*in) + fixed, e->payload, e->hdr->ent.payload_sz);
}

static void serve(struct queue *q, struct entry *e)
{
	const struct fuse_in_header *in = (const void *)e->hdr->in_out;
	size_t payload = e->hdr->ent.payload_sz;
	struct fuse_buf buf = {.size = in->len};
	size_t fixed;

	e->commit_id = e->hdr->ent.commit_id;
	e->unique = in->unique;
	if (in->len < sizeof(*in) + payload ||
	    in->len - sizeof(*in) - payload > sizeof(e->hdr->op_in) || payload > PAYLOAD) {
		log_msg("io_uring: a request of %u bytes does not fit its entry", in->len);
		refuse(e, EIO);
		return;
	}
	fixed = in->len - sizeof(*in) - payload;
	served++;
	if (waits(in)) {
		/* Its own copy: the ring's thread goes on to the next request. */
		struct fuse_buf *slow = malloc(sizeof(*slow));

		if (slow)
			*slow = (struct fuse_buf){.size = in->len, .mem = malloc(in->len)};
		if (slow && slow->mem) {
			rebuild(e, fixed, slow->mem);
			if (slow_start(slow) == 0)
				return;
			free(slow->mem);
		}
		free(slow);
		refuse(e, ENOMEM);
		return;
	}
	rebuild(e, fixed, q->req);
	buf.mem = q->req;
	fuse_session_process_buf(session, &buf);
}

static void *queue_main(void *arg)
{
	struct queue *q = arg;
	cpu_set_t set;

	q->thread = pthread_self();
	/*
	 * A batch thread does not preempt the task that woke it: a reader's
	 * close queues its RELEASE and reads on, and the release is served with
	 * its next open (a read of 1,000 VMs: 1,100 preemptions fewer). It still
	 * gets its fair share of the CPU.
	 */
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &(struct sched_param){0});
	CPU_ZERO(&set);
	CPU_SET(q->qid, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	/* Registered from here: the commands belong to this thread. */
	for (int i = 0; i < ENTRIES; i++)
		if (submit_cmd(q, &q->ent[i], RING_CMD_REGISTER) < 0) {
			log_msg("io_uring: queue %d: cannot register its entries", q->qid);
			return NULL;
		}
	if (arm_wake(q) < 0)
		return NULL;
	for (;;) {
		struct io_uring_cqe *cqe;
		struct entry *e;
		int rc = io_uring_wait_cqe(&q->ring, &cqe);

		if (rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		if (cqe->user_data == WAKE) {
			io_uring_cqe_seen(&q->ring, cqe);
			commit_pending(q);
			continue;
		}
		e = &q->ent[cqe->user_data % ENTRIES];
		rc = cqe->res;
		io_uring_cqe_seen(&q->ring, cqe);
		if (rc < 0) {
			/* ENOTCONN or ENODEV at unmount; any other ends this ring too. */
			if (rc != -ENOTCONN && rc != -ENODEV)
				log_msg("io_uring: queue %d ended: %s", q->qid, strerror(-rc));
			break;
		}
		serve(q, e);
	}
	return NULL;
}

static int queue_setup(struct queue *q, int qid)
{
	q->qid = qid;
	pthread_mutex_init(&q->lock, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->req = malloc(sizeof(struct fuse_in_header) + sizeof(q->ent[0].hdr->op_in) + PAYLOAD);
	if (q->efd < 0 || !q->req ||
	    io_uring_queue_init(ENTRIES * 2 + 2, &q->ring, IORING_SETUP_SQE128) < 0)
		return -1;
	q->ring_up = true;
	for (int i = 0; i < ENTRIES; i++) {
		struct entry *e = &q->ent[i];

		e->q = q;
		e->idx = i;
		e->hdr = calloc(1, sizeof(*e->hdr));
		e->payload = malloc(PAYLOAD);
		if (!e->hdr || !e->payload)
			return -1;
		e->iov[0] = (struct iovec){e->hdr, sizeof(*e->hdr)};
		e->iov[1] = (struct iovec){e->payload, PAYLOAD};
	}
	return 0;
}

/* The kernel took our INIT reply: one ring per possible CPU, or none. */
static void rings_start(void)
{
	int n = sysconf(_SC_NPROCESSORS_CONF);

	queues = calloc(n, sizeof(*queues));
	if (!queues)
		return;
	nqueues = n;
	for (int q = 0; q < n; q++)
		queues[q].efd = -1;
	atomic_store(&rings_on, true);
	for (int q = 0; q < n; q++) {
		if (queue_setup(&queues[q], q) < 0) {
			log_msg("io_uring: cannot set up the ring of CPU %d; requests stay on "
				"/dev/fuse",
				q);
			return;
		}
		if (pthread_create(&queues[q].thread, NULL, queue_main, &queues[q]) == 0)
			queues[q].started = true;
	}
	log_msg("io_uring: %d rings of %d requests", n, ENTRIES);
}

void uring_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {.read = hook_read, .writev = hook_writev};

	session = se;
	dev_fd = fuse_session_fd(se);
	if (fuse_session_custom_io(se, &io, dev_fd) < 0)
		log_msg("io_uring: cannot hook libfuse's io; requests stay on /dev/fuse");
}

void uring_adjust_init(struct fuse_conn_info *conn)
{
	if (conn->max_write > MAX_WRITE)
		conn->max_write = MAX_WRITE;
}

/* After the unmount: the rings end with the connection. */
void uring_detach(void)
{
	/* A slow request's reply still writes into its entry. */
	pthread_mutex_lock(&slow_lock);
	while (nslow)
		pthread_cond_wait(&slow_cond, &slow_lock);
	pthread_mutex_unlock(&slow_lock);
	for (int q = 0; q < nqueues; q++) {
		struct queue *qu = &queues[q];

		if (qu->started)
			pthread_join(qu->thread, NULL);
		if (qu->ring_up)
			io_uring_queue_exit(&qu->ring);
		for (int i = 0; i < ENTRIES; i++) {
			free(qu->ent[i].hdr);
			free(qu->ent[i].payload);
		}
		free(qu->req);
		if (qu->efd >= 0)
			close(qu->efd);
		pthread_mutex_destroy(&qu->lock);
	}
	if (nqueues)
		log_msg("io_uring: %lu requests came from the rings", (unsigned long)served);
	free(queues);
	queues = NULL;
	nqueues = 0;
}
