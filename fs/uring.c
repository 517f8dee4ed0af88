/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * FUSE over io_uring, where the kernel offers it (Linux 6.14 and later, with
 * the fuse module's enable_uring set). Requests then arrive on one ring per
 * CPU, served by a thread on that CPU, instead of waking whichever thread
 * waits on /dev/fuse: where waking another CPU is dear (a VM's halted vCPU),
 * a warm read of a file costs a quarter to a half as much (24 us against
 * 53-110 us on the machine that measured it).
 *
 * libfuse 3.14 knows nothing of it. What we rely on of libfuse: its custom io
 * hooks (fuse_session_custom_io(), 3.14), through which we see the INIT
 * request, add FUSE_OVER_IO_URING to its reply and catch every reply (a reply
 * to a ring's request goes back through its ring entry); and
 * fuse_session_process_buf(), to which a ring's request is handed rebuilt in
 * /dev/fuse's layout. Everything else (INIT, interrupts, forgets, and every
 * request before the rings are up) comes through /dev/fuse and libfuse's own
 * loop. The layouts are the kernel's, from <linux/fuse.h> (fs/fuse-uapi).
 *
 * Correctness first:
 * - The kernel blocks every request once the INIT reply offers io_uring, until
 *   each CPU's ring has an entry; if a ring cannot be had, it must be told (a
 *   rejected REGISTER) or the mount hangs. So the rings are made before the
 *   reply offers them, and any failure after it ends in one rejected REGISTER
 *   and one log line: requests stay on /dev/fuse.
 * - The kernel holds a ring's entry for a request until its reply. A request
 *   that may wait (uringpark.c) would hold it for as long, and a ring whose
 *   entries are all held serves no one: each parked request gets a new entry
 *   registered in its place. A new entry takes only new requests, though;
 *   those queued while the ring had none are handed out only when a reply is
 *   committed. So when a ring has parked a request and committed nothing
 *   since, it commits something: a stat of the mount root (the "kick"), made
 *   from this CPU by io_uring's worker, whose GETATTR lands on this ring and
 *   its reply pulls the next queued request.
 */
#include "log.h"
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define ENTRIES 8	      /* entries each ring keeps free for new requests */
#define MAX_ENTRIES 4096      /* per ring; past that, parked requests keep theirs */
#define WAKE UINT64_MAX	      /* user_data of the eventfd's poll */
#define KICK (UINT64_MAX - 1) /* of the kick's statx */
/* libfuse says max_pages = max_write / page size; the ring's buffers follow. */
#define MAX_WRITE (128 * 1024)
#define PAYLOAD (MAX_WRITE + 4096)
/* How long uring_stop() waits for parked requests, and a ring for its kick. */
#define STOP_WAIT_MS 1000

struct queue;

struct entry {
	struct queue *q;
	uint32_t idx;
	struct fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
	_Atomic uint64_t unique; /* of the request it holds; 0 when with the kernel */
	uint64_t commit_id;
	bool registering; /* sent to the kernel, no request yet */
	bool parked;	  /* its request waits in uringpark.c */
	struct entry *next_pending;
};

struct queue {
	int qid;
	struct io_uring ring;
	bool ring_up;
	/*
	 * Only the ring's thread submits: the kernel cancels a command when the
	 * thread that submitted it ends, and a reply may come from any thread
	 * (a parked request's, libfuse's). Those queue it here and wake the
	 * ring's thread through the eventfd.
	 */
	pthread_mutex_t lock;
	struct entry *pending;
	bool gone; /* the ring's thread ended */
	int efd;
	pthread_t thread;
	bool started;
	char *req; /* a quick request, rebuilt in /dev/fuse's layout */
	/* Only ever appended to, for entry_of() on other threads. */
	struct entry *ent[MAX_ENTRIES];
	_Atomic int nent;
	/* The ring's thread's own. */
	int live, parked;
	bool owed, kicking, leaving, told;
	bool can_kick; /* its io_uring worker runs on its CPU */
	struct statx kick_buf;
};

struct fuse_session *uring_session;
_Thread_local struct entry *uring_current;

static int dev_fd;
static char *mnt_path; /* absolute, for the kick */
static uint64_t init_unique;
static bool offered;
static struct queue *queues;
static int nqueues;
static _Atomic int queues_up;
static _Atomic bool rings_on, stopping, failed;
static _Atomic unsigned long served; /* requests that came from a ring */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fall_back(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	if (n >= (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) && in->opcode == FUSE_INIT) {
		const struct fuse_init_in *arg = (const void *)(in + 1);

		init_unique = in->unique;
		offered = (arg->flags & FUSE_INIT_EXT) &&
			  ((uint64_t)arg->flags2 << 32 & FUSE_OVER_IO_URING);
	}
	return n;
}

static struct entry *entry_of(uint64_t unique)
{
	struct entry *e = uring_current;

	if (e && e->unique == unique)
		return e;
	for (int q = 0; q < nqueues; q++) {
		int n = atomic_load_explicit(&queues[q].nent, memory_order_acquire);

		for (int i = 0; i < n; i++)
			if (queues[q].ent[i]->unique == unique)
				return queues[q].ent[i];
	}
	return NULL;
}

static struct io_uring_sqe *new_cmd(struct io_uring *ring, int qid, uint64_t user_data, int op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return NULL;
	/* A 128-byte entry: the command sits in its second half. */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = dev_fd;
	sqe->cmd_op = op;
	sqe->user_data = user_data;
	((struct fuse_uring_cmd_req *)sqe->cmd)->qid = qid;
	return sqe;
}

/* On the ring's thread. */
static int submit_cmd(struct queue *q, struct entry *e, int op)
{
	struct io_uring_sqe *sqe = new_cmd(&q->ring, q->qid, e->idx, op);

	if (!sqe)
		return -EBUSY;
	if (op == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
		e->registering = true;
	} else {
		((struct fuse_uring_cmd_req *)sqe->cmd)->commit_id = e->commit_id;
		/* Its fetch hands out a request that waited for an entry, if any. */
		q->owed = false;
		if (e->parked) {
			e->parked = false;
			q->parked--;
		}
	}
	return io_uring_submit(&q->ring) < 0 ? -EIO : 0;
}

/* The reply to a ring's request goes back in its entry, which fetches the next. */
static ssize_t commit(struct entry *e, struct iovec *iov, int count)
{
	size_t len = 0;
	int rc = 0;

	for (int i = 1; i < count; i++) {
		if (len + iov[i].iov_len > PAYLOAD)
			return -EINVAL;
		memcpy(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(e->hdr->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
	e->hdr->ring_ent_in_out.payload_sz = len;
	e->unique = 0;
	if (pthread_equal(pthread_self(), e->q->thread)) {
		rc = submit_cmd(e->q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
	} else {
		bool gone;

		pthread_mutex_lock(&e->q->lock);
		/* Once the ring's thread is gone, the kernel ends it with the connection. */
		gone = e->q->gone;
		if (!gone) {
			e->next_pending = e->q->pending;
			e->q->pending = e;
		}
		pthread_mutex_unlock(&e->q->lock);
		if (!gone && eventfd_write(e->q->efd, 1) < 0)
			rc = -errno;
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

/* Commits the replies other threads left. */
static void commit_pending(struct queue *q)
{
	struct entry *e;
	uint64_t count;

	if (read(q->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_msg("io_uring: queue %d: eventfd: %s", q->qid, strerror(errno));
	pthread_mutex_lock(&q->lock);
	e = q->pending;
	q->pending = NULL;
	pthread_mutex_unlock(&q->lock);
	for (struct entry *next; e; e = next) {
		next = e->next_pending;
		submit_cmd(q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
	}
	arm_wake(q);
}

static int prepare(void);
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
	    iov[1].iov_len >= sizeof(struct fuse_init_out) && prepare() == 0) {
		struct fuse_init_out *out = iov[1].iov_base;

		out->flags |= FUSE_INIT_EXT;
		out->flags2 |= (uint32_t)(FUSE_OVER_IO_URING >> 32);
		init = true;
	}
	n = writev(fd, iov, count);
	if (init && n >= 0)
		rings_start();
	return n;
}

/* Whether a lookup or listing in this directory waits for its host's first listing. */
static bool listing_pending(uint64_t nodeid)
{
	struct node *n;
	bool pending;

	if (nodeid == INO_ROOT || KIND_OF(nodeid) != F_DIR)
		return false;
	inv_rdlock();
	n = inv_node(ID_OF(nodeid));
	pending = n && n->type == N_HOST && !((struct host *)n)->listed;
	inv_unlock();
	return pending;
}

/* The class of waits a request may do, or -1: served on the ring's thread. */
static int waits(const struct fuse_in_header *in, const void *op_in)
{
	switch (in->opcode) {
	case FUSE_GETATTR:
	case FUSE_OPENDIR:
	case FUSE_RELEASEDIR:
	case FUSE_STATFS:
	case FUSE_POLL:
	case FUSE_RELEASE:
		return -1;
	case FUSE_LOOKUP:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return listing_pending(in->nodeid) ? PARK_HOST : -1;
	case FUSE_READ:
		/* A read of .events waits for the next change. */
		return in->nodeid == INO_EVENTS &&
			       !(((const struct fuse_read_in *)op_in)->flags & O_NONBLOCK)
			   ? PARK_EVENTS
			   : -1;
	case FUSE_OPEN:
		/* config.xml is read from its host when opened. */
		return KIND_OF(in->nodeid) == F_CONFIG ? PARK_HOST : -1;
	default:
		return PARK_HOST;
	}
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
	memcpy(to + sizeof(*in) + fixed, e->payload, e->hdr->ring_ent_in_out.payload_sz);
}

static struct entry *entry_new(struct queue *q)
{
	int n = atomic_load(&q->nent);
	struct entry *e;

	if (n == MAX_ENTRIES || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->q = q;
	e->idx = n;
	e->hdr = calloc(1, sizeof(*e->hdr));
	/* Pages are touched only as far as requests fill them. */
	e->payload = malloc(PAYLOAD);
	if (!e->hdr || !e->payload) {
		free(e->hdr);
		free(e->payload);
		free(e);
		return NULL;
	}
	e->iov[0] = (struct iovec){e->hdr, sizeof(*e->hdr)};
	e->iov[1] = (struct iovec){e->payload, PAYLOAD};
	q->ent[n] = e;
	atomic_store_explicit(&q->nent, n + 1, memory_order_release);
	return e;
}

/* An entry in place of one the kernel will not give back soon (or ever). */
static void replace(struct queue *q)
{
	struct entry *e;

	if (q->live - q->parked >= ENTRIES)
		return;
	e = entry_new(q);
	if (!e || submit_cmd(q, e, FUSE_IO_URING_CMD_REGISTER) < 0) {
		if (!q->told)
			log_msg("io_uring: queue %d: a held entry is not replaced", q->qid);
		q->told = true;
		return;
	}
	q->live++;
}

static void park_request(struct queue *q, struct entry *e, size_t fixed, int cls)
{
	const struct fuse_in_header *in = (const void *)e->hdr->in_out;
	struct fuse_buf buf = {.size = in->len, .mem = malloc(in->len)};
	int rc = -ENOMEM;

	if (buf.mem) {
		rebuild(e, fixed, buf.mem);
		rc = park(&buf, e, cls);
		if (rc < 0)
			free(buf.mem);
	}
	if (rc < 0) {
		refuse(e, -rc);
		return;
	}
	e->parked = true;
	q->parked++;
	q->owed = true;
	replace(q);
}

static void serve(struct queue *q, struct entry *e)
{
	const struct fuse_in_header *in = (const void *)e->hdr->in_out;
	size_t payload = e->hdr->ring_ent_in_out.payload_sz;
	struct fuse_buf buf = {.size = in->len};
	size_t fixed;
	int cls;

	e->registering = false;
	e->commit_id = e->hdr->ring_ent_in_out.commit_id;
	e->unique = in->unique;
	if (in->len < sizeof(*in) + payload ||
	    in->len - sizeof(*in) - payload > sizeof(e->hdr->op_in) || payload > PAYLOAD) {
		log_msg("io_uring: a request of %u bytes does not fit its entry", in->len);
		refuse(e, EIO);
		return;
	}
	fixed = in->len - sizeof(*in) - payload;
	served++;
	cls = waits(in, e->hdr->op_in);
	if (cls >= 0) {
		park_request(q, e, fixed, cls);
		return;
	}
	rebuild(e, fixed, q->req);
	buf.mem = q->req;
	uring_current = e;
	fuse_session_process_buf(uring_session, &buf);
	uring_current = NULL;
}

/*
 * A stat of the mount root from this CPU: its GETATTR comes to this ring,
 * and its reply pulls a request that waited for an entry (see the top).
 */
static void kick(struct queue *q)
{
	struct io_uring_sqe *sqe;

	if (!mnt_path || !q->can_kick || !(sqe = io_uring_get_sqe(&q->ring)))
		return;
	io_uring_prep_statx(sqe, AT_FDCWD, mnt_path, AT_STATX_FORCE_SYNC, STATX_MODE, &q->kick_buf);
	sqe->user_data = KICK;
	if (io_uring_submit(&q->ring) >= 0)
		q->kicking = true;
}

/* A command the kernel refused; false when the connection is ending. */
static bool cmd_failed(struct queue *q, struct entry *e, int err)
{
	if (err == -ENOTCONN || err == -ECONNABORTED || err == -ENODEV || err == -ECANCELED)
		return false;
	if (!q->told)
		log_msg("io_uring: queue %d: the kernel refused a %s: %s", q->qid,
			e->registering ? "registration" : "reply", strerror(-err));
	q->told = true;
	q->live--;
	/* A refused reply leaves its entry with the kernel, for good. */
	if (!e->registering)
		replace(q);
	return true;
}

/* Registers the first entries; false (and the caller falls back) if none took. */
static bool register_first(struct queue *q)
{
	struct io_uring_cqe *cqe;

	for (int i = 0; i < ENTRIES; i++) {
		struct entry *e = entry_new(q);

		if (!e || submit_cmd(q, e, FUSE_IO_URING_CMD_REGISTER) < 0)
			break;
		q->live++;
	}
	/* The kernel answers a registration at once only to refuse it. */
	while (io_uring_peek_cqe(&q->ring, &cqe) == 0 && cqe->res < 0 &&
	       cqe->user_data < (uint64_t)q->nent && q->ent[cqe->user_data]->registering) {
		q->live--;
		io_uring_cqe_seen(&q->ring, cqe);
	}
	return q->live > 0;
}

static void queue_loop(struct queue *q)
{
	for (;;) {
		struct __kernel_timespec ts = {.tv_sec = STOP_WAIT_MS / 1000,
					       .tv_nsec = STOP_WAIT_MS % 1000 * 1000000L};
		struct io_uring_cqe *cqe;
		uint64_t id;
		int rc;

		if (q->leaving && !q->kicking)
			return;
		if (q->owed && !q->kicking && !q->leaving)
			kick(q);
		rc = q->leaving ? io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts)
				: io_uring_wait_cqe(&q->ring, &cqe);
		if (rc == -ETIME)
			return; /* leaving, and the kick is not answered */
		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			log_msg("io_uring: queue %d ended: %s", q->qid, strerror(-rc));
			return;
		}
		id = cqe->user_data;
		rc = cqe->res;
		io_uring_cqe_seen(&q->ring, cqe);
		if (id == WAKE) {
			q->leaving = atomic_load(&stopping) || atomic_load(&failed);
			commit_pending(q);
		} else if (id == KICK) {
			q->kicking = false;
			/* A stat that failed asked nothing of us: no kicking it over and over. */
			if (rc < 0)
				q->owed = false;
		} else if (id < (uint64_t)q->nent) {
			if (rc >= 0)
				serve(q, q->ent[id]);
			else if (!cmd_failed(q, q->ent[id], rc))
				return;
		}
	}
}

static void queue_run(struct queue *q)
{
	cpu_set_t set;

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
	if (!register_first(q)) {
		fall_back("queue %d: the kernel took none of its entries", q->qid);
		return;
	}
	if (arm_wake(q) < 0) {
		fall_back("queue %d: cannot wait for replies", q->qid);
		return;
	}
	/*
	 * The kick's stat runs on this thread's io_uring worker: on this CPU
	 * too. (The thread has one once it has submitted.)
	 */
	q->can_kick = io_uring_register_iowq_aff(&q->ring, sizeof(set), &set) == 0;
	if (!q->can_kick)
		log_msg("io_uring: queue %d: its worker is not pinned: no kicks", q->qid);
	if (atomic_fetch_add(&queues_up, 1) + 1 == nqueues)
		log_msg("io_uring: %d rings of %d requests", nqueues, ENTRIES);
	queue_loop(q);
}

static void *queue_main(void *arg)
{
	struct queue *q = arg;

	uring_on_ring = true;
	q->thread = pthread_self();
	queue_run(q);
	pthread_mutex_lock(&q->lock);
	q->gone = true;
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Entries are registered by each ring's thread; this makes the rest. */
static int queue_setup(struct queue *q, int qid)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
				    .cq_entries = MAX_ENTRIES * 2};
	int rc;

	q->qid = qid;
	pthread_mutex_init(&q->lock, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return -errno;
	q->req = malloc(sizeof(struct fuse_in_header) + FUSE_URING_OP_IN_OUT_SZ + PAYLOAD);
	if (!q->req)
		return -ENOMEM;
	rc = io_uring_queue_init_params(ENTRIES * 4, &q->ring, &p);
	if (rc < 0)
		return rc;
	q->ring_up = true;
	return 0;
}

/* The kernel's queues: one per possible CPU, which _SC_NPROCESSORS_CONF may not count. */
static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char buf[256], *p;
	int lo, hi = -1;

	/* "0-3", "0", or "0-3,8-11": the last number is the highest. */
	if (f && fgets(buf, sizeof(buf), f)) {
		for (p = buf + strcspn(buf, "\n"); p > buf && p[-1] >= '0' && p[-1] <= '9'; p--)
			;
		if (sscanf(p, "%d", &lo) == 1)
			hi = lo;
	}
	if (f)
		fclose(f);
	return hi >= 0 ? hi + 1 : (int)sysconf(_SC_NPROCESSORS_CONF);
}

static void free_queues(void)
{
	for (int q = 0; q < nqueues; q++) {
		struct queue *qu = &queues[q];
		int n = atomic_load(&qu->nent);

		if (qu->ring_up)
			io_uring_queue_exit(&qu->ring);
		for (int i = 0; i < n; i++) {
			free(qu->ent[i]->hdr);
			free(qu->ent[i]->payload);
			free(qu->ent[i]);
		}
		free(qu->req);
		if (qu->efd >= 0)
			close(qu->efd);
		pthread_mutex_destroy(&qu->lock);
	}
	free(queues);
	queues = NULL;
	nqueues = 0;
}

/* Before the INIT reply offers io_uring: whatever can fail without the kernel. */
static int prepare(void)
{
	int n = possible_cpus(), rc = 0;

	if (queues)
		return -EALREADY;
	queues = calloc(n, sizeof(*queues));
	if (!queues) {
		log_msg("io_uring: no memory for the rings; requests stay on /dev/fuse");
		return -ENOMEM;
	}
	nqueues = n;
	for (int q = 0; q < n; q++)
		queues[q].efd = -1;
	for (int q = 0; q < n && rc == 0; q++) {
		rc = queue_setup(&queues[q], q);
		if (rc < 0)
			log_msg("io_uring: cannot set up the ring of CPU %d: %s; requests stay on "
				"/dev/fuse",
				q, strerror(-rc));
	}
	if (rc < 0)
		free_queues();
	return rc;
}

/*
 * A registration the kernel refuses: the one way to tell it that the rings
 * will not come, so that it stops holding requests for them.
 */
static void refuse_rings(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;

	if (io_uring_queue_init(2, &ring, IORING_SETUP_SQE128) < 0) {
		log_msg("io_uring: cannot tell the kernel; requests may hang");
		return;
	}
	/* No buffers: refused. */
	if (!new_cmd(&ring, 0, 0, FUSE_IO_URING_CMD_REGISTER) ||
	    io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_peek_cqe(&ring, &cqe) < 0 ||
	    cqe->res >= 0)
		log_msg("io_uring: the kernel did not refuse the rings; requests may hang");
	io_uring_queue_exit(&ring);
}

/* Before every ring is up: back to /dev/fuse, with one log line. */
static void fall_back(const char *fmt, ...)
{
	char why[200];
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	if (atomic_load(&failed)) {
		pthread_mutex_unlock(&fail_lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_msg("io_uring: %s; requests stay on /dev/fuse", why);
	atomic_store(&failed, true);
	refuse_rings();
	/* The other rings end: they never had a request, the kernel wanted them all. */
	for (int q = 0; q < nqueues; q++)
		if (queues[q].efd >= 0)
			eventfd_write(queues[q].efd, 1);
	pthread_mutex_unlock(&fail_lock);
}

/* The kernel took our INIT reply: one thread per ring. */
static void rings_start(void)
{
	atomic_store(&rings_on, true);
	for (int q = 0; q < nqueues; q++) {
		if (pthread_create(&queues[q].thread, NULL, queue_main, &queues[q])) {
			fall_back("cannot start the ring thread of CPU %d", q);
			return;
		}
		queues[q].started = true;
	}
}

void uring_attach(struct fuse_session *se, const char *mountpoint)
{
	static const struct fuse_custom_io io = {.read = hook_read, .writev = hook_writev};
	char cwd[PATH_MAX];

	uring_session = se;
	dev_fd = fuse_session_fd(se);
	/* Made absolute now: the daemon leaves its directory. */
	if (mountpoint[0] == '/')
		mnt_path = strdup(mountpoint);
	else if (getcwd(cwd, sizeof(cwd)) && asprintf(&mnt_path, "%s/%s", cwd, mountpoint) < 0)
		mnt_path = NULL;
	if (!mnt_path)
		log_msg("io_uring: no path to the mount; it stays on /dev/fuse");
	else if (fuse_session_custom_io(se, &io, dev_fd) < 0)
		log_msg("io_uring: cannot hook libfuse's io; requests stay on /dev/fuse");
}

void uring_adjust_init(struct fuse_conn_info *conn)
{
	if (conn->max_write > MAX_WRITE)
		conn->max_write = MAX_WRITE;
}

bool uring_stop(void)
{
	static bool done, left;

	if (done)
		return left;
	done = true;
	if (!queues)
		return false;
	atomic_store(&stopping, true);
	/* Parked reads of .events end when the session has. */
	fuse_session_exit(uring_session);
	for (int q = 0; q < nqueues; q++) {
		if (queues[q].efd >= 0)
			eventfd_write(queues[q].efd, 1);
	}
	for (int q = 0; q < nqueues; q++)
		if (queues[q].started)
			pthread_join(queues[q].thread, NULL);
	left = park_stop(STOP_WAIT_MS);
	atomic_store(&rings_on, false);
	log_msg("io_uring: %lu requests came from the rings%s", (unsigned long)served,
		left ? "; some are still being served" : "");
	/* A parked request still being served replies into its entry. */
	if (!left)
		free_queues();
	else
		for (int q = 0; q < nqueues; q++)
			if (queues[q].ring_up)
				io_uring_queue_exit(&queues[q].ring);
	free(mnt_path);
	mnt_path = NULL;
	return left;
}
