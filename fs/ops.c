/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The low-level FUSE operations: the tree, and the dispatch to each kind of file. */
#include "face.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fuse_session *face_session;
time_t face_started;

static struct handle *hd_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* ---- files ---- */

/*
 * The truncation of open(O_TRUNC) reaches us without its file handle: it
 * is matched to the handle that the same process opened for writing.
 */
static pthread_mutex_t writers_lock = PTHREAD_MUTEX_INITIALIZER;
static GSList *writers;

/*
 * Every open handle, so that files still open when the connection is cut
 * (their RELEASE never comes) are freed at the end.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *open_handles;

static struct handle *handle_new(uint64_t ino)
{
	struct handle *hd = calloc(1, sizeof(*hd));

	if (!hd)
		return NULL;
	hd->ino = ino;
	pthread_mutex_lock(&open_lock);
	if (!open_handles)
		open_handles = g_hash_table_new(NULL, NULL);
	g_hash_table_add(open_handles, hd);
	pthread_mutex_unlock(&open_lock);
	return hd;
}

static void writer_add(struct handle *hd, pid_t pid)
{
	hd->pid = pid;
	pthread_mutex_lock(&writers_lock);
	writers = g_slist_prepend(writers, hd);
	pthread_mutex_unlock(&writers_lock);
}

static int writer_truncate(uint64_t ino, pid_t pid, off_t size)
{
	int rc = 0;

	pthread_mutex_lock(&writers_lock);
	for (GSList *l = writers; l; l = l->next) {
		struct handle *hd = l->data;

		if (hd->ino == ino && hd->pid == pid)
			rc = handle_truncate(hd, size);
	}
	pthread_mutex_unlock(&writers_lock);
	return rc;
}

static void handle_free(struct handle *hd);

/*
 * A killed reader's file may be released while one of its requests is
 * still served: the last of them frees the handle.
 */
static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;

static struct handle *hd_get(struct fuse_file_info *fi)
{
	struct handle *hd = hd_of(fi);

	pthread_mutex_lock(&users_lock);
	hd->users++;
	pthread_mutex_unlock(&users_lock);
	return hd;
}

static void hd_put(struct handle *hd)
{
	bool last;

	pthread_mutex_lock(&users_lock);
	last = --hd->users == 0 && hd->released;
	pthread_mutex_unlock(&users_lock);
	if (last)
		handle_free(hd);
}

static void handle_free(struct handle *hd)
{
	if (hd->pid) {
		pthread_mutex_lock(&writers_lock);
		writers = g_slist_remove(writers, hd);
		pthread_mutex_unlock(&writers_lock);
	}
	pthread_mutex_lock(&open_lock);
	g_hash_table_remove(open_handles, hd);
	pthread_mutex_unlock(&open_lock);
	if (hd->events)
		events_close(hd->events);
	else
		poll_forget(hd);
	free(hd->buf);
	free(hd);
}

void handles_free_all(void)
{
	GList *left = NULL;

	pthread_mutex_lock(&open_lock);
	if (open_handles)
		left = g_hash_table_get_keys(open_handles);
	pthread_mutex_unlock(&open_lock);
	for (GList *l = left; l; l = l->next)
		handle_free(l->data);
	g_list_free(left);
	pthread_mutex_lock(&open_lock);
	if (open_handles)
		g_hash_table_destroy(open_handles);
	open_handles = NULL;
	pthread_mutex_unlock(&open_lock);
}

/*
 * Hands the kernel a VM file's text with its first open, so that the read
 * which follows is served from the page cache: a first read of the tree
 * costs one request fewer per file. Under the read lock, so no change comes
 * between the text and its pages: a change clears the mark, then its
 * invalidation drops what was stored. Unlike an invalidation, a store waits
 * on no page that the request being served could hold.
 */
static void prime_pages(struct vm *vm, fuse_ino_t ino)
{
	uint32_t bit = 1u << KIND_OF(ino);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	size_t len;
	char *text;

	if (vm->primed & bit)
		return;
	text = file_render(&vm->node, KIND_OF(ino), &len);
	if (!text)
		return;
	bv.buf[0].mem = text;
	bv.buf[0].size = len;
	if (!len || fuse_lowlevel_notify_store(face_session, ino, 0, &bv, 0) == 0)
		vm->primed |= bit;
	free(text);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum file_kind kind = KIND_OF(ino);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct handle *hd;
	struct node *n;
	/* .vms: every VM's row, or one host's */
	bool table = ino == INO_VMS || (ino > INO_EVENTS && kind == F_VMS);
	int rc = 0;

	if ((ino == INO_EVENTS || table) && writing) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (ino != INO_EVENTS && !table && kind != F_SCRATCH && writing && !file_writable(kind)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	hd = handle_new(ino);
	if (!hd) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (ino == INO_EVENTS) {
		hd->events = events_open();
		fi->direct_io = 1;
		fi->nonseekable = 1;
		rc = hd->events ? 0 : -ENOMEM;
	} else if (kind == F_CONFIG) {
		/* Its size may differ from what the cache said: no page cache. */
		fi->direct_io = 1;
		rc = config_open(hd, ID_OF(ino), writing);
		if (rc == 0 && writing)
			writer_add(hd, fuse_req_ctx(req)->pid);
	} else if (kind == F_SCRATCH || writing || table) {
		fi->direct_io = 1;
	} else {
		fi->keep_cache = 1;
		fi->noflush = 1;
	}
	inv_rdlock();
	n = ino == INO_VMS ? NULL : inv_node(ID_OF(ino));
	if (table && (ino == INO_VMS || (n && n->type == N_HOST))) {
		/* Read as it was at its open: rows do not move under a reader. */
		hd->table = true;
		hd->buf = table_render((struct host *)n, &hd->len);
	} else if (!n && ino != INO_EVENTS) {
		rc = -ENOENT;
	} else if (n) {
		hd->seen_gen = file_gen(n, kind);
		/*
		 * Not from a ring's thread: a READ of the same page may be queued
		 * on that very ring, and the store would wait for it forever.
		 */
		if (fi->keep_cache && n->type == N_VM && !uring_ring_thread())
			prime_pages((struct vm *)n, ino);
	}
	inv_unlock();
	if (rc < 0) {
		handle_free(hd);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)hd;
	if (fuse_reply_open(req, fi) == -ENOENT)
		handle_free(hd);
}

static void reply_slice(fuse_req_t req, const char *buf, size_t len, size_t size, off_t off)
{
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - off < size ? len - off : size);
}

static void do_read(struct handle *hd, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	enum file_kind kind = KIND_OF(ino);
	struct node *n;

	if (hd->events) {
		events_read(req, hd->events, size, fi->flags & O_NONBLOCK);
		return;
	}
	if (hd->table) {
		reply_slice(req, hd->buf, hd->len, size, off);
		return;
	}
	if (kind == F_CONFIG) {
		int rc = config_loaded(hd);

		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			reply_slice(req, hd->buf, hd->len, size, off);
		return;
	}
	inv_rdlock();
	n = inv_node(ID_OF(ino));
	if (!n) {
		inv_unlock();
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n->type == N_SCRATCH) {
		struct scratch *s = (struct scratch *)n;

		reply_slice(req, s->data, s->size, size, off);
		inv_unlock();
		return;
	}
	if (off == 0)
		hd->seen_gen = file_gen(n, kind);
	/* Under the lock: the text is replied from where it is kept. */
	file_reply(req, n, kind, size, off);
	inv_unlock();
}

static int scratch_resize(struct scratch *s, size_t size)
{
	char *p;

	if (size > MAX_XML)
		return -EFBIG;
	p = realloc(s->data, size ? size : 1);
	if (!p)
		return -ENOMEM;
	if (size > s->size)
		memset(p + s->size, 0, size - s->size);
	s->data = p;
	s->size = size;
	s->mtime = time(NULL);
	return 0;
}

static int scratch_write(uint64_t id, const char *buf, size_t len, off_t off)
{
	struct node *n;
	int rc = -ENOENT;

	inv_wrlock();
	n = inv_node(id);
	if (n && n->type == N_SCRATCH) {
		struct scratch *s = (struct scratch *)n;

		rc = off + len > s->size ? scratch_resize(s, off + len) : 0;
		if (!rc)
			memcpy(s->data + off, buf, len);
	}
	inv_unlock();
	return rc;
}

static void do_write(struct handle *hd, fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off)
{
	enum file_kind kind = KIND_OF(ino);
	int rc;

	if (kind == F_CONFIG) {
		rc = handle_write(hd, buf, size, off);
		if (rc == -EFBIG)
			inv_vm_error(ID_OF(ino), "config.xml", EFBIG,
				     "config.xml is larger than 1 MiB");
	} else if (kind == F_SCRATCH) {
		rc = scratch_write(ID_OF(ino), buf, size, off);
	} else if (off != 0 && (kind != F_DESCRIPTION || (size_t)off != hd->len)) {
		rc = -EINVAL;
		inv_vm_error(ID_OF(ino), file_name(kind), EINVAL, "write the whole value at once");
	} else {
		/*
		 * A description may take several lines, which printf writes
		 * one by one: each write stores all the text so far.
		 */
		if (off == 0)
			hd->len = 0;
		rc = handle_write(hd, buf, size, off);
		if (rc == 0)
			rc = file_write(req, ino, hd->buf, hd->len);
		if (rc == 0)
			inv_sync_changes();
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static void do_flush(struct handle *hd, fuse_req_t req, fuse_ino_t ino)
{
	int rc = 0;

	/*
	 * Nothing is committed while the file is empty: that is a truncation on
	 * its way to a write (a shell's `> config.xml` opens with O_TRUNC, then
	 * dup2()s and closes the first descriptor: a FLUSH before any byte),
	 * never a definition.
	 */
	if (KIND_OF(ino) == F_CONFIG && hd->dirty && hd->len) {
		hd->dirty = false;
		rc = config_commit(req, ID_OF(ino), hd->buf ? hd->buf : "", hd->len);
		if (rc == 0)
			inv_sync_changes();
	}
	fuse_reply_err(req, -rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *hd = hd_of(fi);
	bool last;

	(void)ino;
	pthread_mutex_lock(&users_lock);
	hd->released = true;
	last = hd->users == 0;
	pthread_mutex_unlock(&users_lock);
	if (last)
		handle_free(hd);
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *hd = hd_get(fi);

	do_read(hd, req, ino, size, off, fi);
	hd_put(hd);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct handle *hd = hd_get(fi);

	do_write(hd, req, ino, buf, size, off);
	hd_put(hd);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *hd = hd_get(fi);

	do_flush(hd, req, ino);
	hd_put(hd);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	enum file_kind kind = KIND_OF(ino);
	int rc = 0;

	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (kind == F_CONFIG && fi) {
			struct handle *hd = hd_get(fi);

			rc = handle_truncate(hd, attr->st_size);
			hd_put(hd);
		} else if (kind == F_CONFIG)
			rc = writer_truncate(ino, fuse_req_ctx(req)->pid, attr->st_size);
		else if (kind == F_SCRATCH) {
			struct node *n;

			inv_wrlock();
			n = inv_node(ID_OF(ino));
			rc = n ? scratch_resize((struct scratch *)n, attr->st_size) : -ENOENT;
			inv_unlock();
		}
		/* Value files are written whole: their truncation is a no-op, as in sysfs. */
	}
	if ((to_set & FUSE_SET_ATTR_MODE) && kind == F_SCRATCH) {
		struct node *n;

		inv_wrlock();
		n = inv_node(ID_OF(ino));
		if (n)
			((struct scratch *)n)->mode = attr->st_mode & 07777;
		inv_unlock();
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		op_getattr(req, ino, fi);
}

static uint64_t vm_dir_id(fuse_ino_t parent)
{
	struct node *n;
	uint64_t id = 0;

	if (KIND_OF(parent) != F_DIR || parent == INO_ROOT)
		return 0;
	inv_rdlock();
	n = inv_node(ID_OF(parent));
	if (n && n->type == N_VM)
		id = n->id;
	inv_unlock();
	return id;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e = {.attr_timeout = 0, .entry_timeout = 0};
	uint64_t vm = vm_dir_id(parent), id;
	struct handle *hd;
	int rc;

	if (!vm || file_kind_of(name) != F_DIR) {
		fuse_reply_err(req, EACCES);
		return;
	}
	rc = inv_scratch_create(vm, name, mode, &id);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = INO_OF(id, F_SCRATCH);
	inv_rdlock();
	rc = attr_of(e.ino, &e.attr);
	inv_unlock();
	hd = handle_new(e.ino);
	if (rc < 0 || !hd) {
		free(hd);
		fuse_reply_err(req, rc < 0 ? -rc : ENOMEM);
		return;
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)hd;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		handle_free(hd);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t vm = vm_dir_id(parent);

	if (!vm || file_kind_of(name) != F_DIR)
		fuse_reply_err(req, EPERM);
	else
		fuse_reply_err(req, -inv_scratch_unlink(vm, name));
}

/* sed -i and editors write a scratch file, then rename it over config.xml. */
static int scratch_to_config(fuse_req_t req, uint64_t vm, const char *from)
{
	struct scratch *s;
	char *data = NULL;
	size_t len = 0;
	int rc;

	inv_rdlock();
	s = inv_scratch((struct vm *)inv_node(vm), from);
	if (s && (data = malloc(s->size + 1))) {
		memcpy(data, s->data, s->size);
		len = s->size;
	}
	inv_unlock();
	if (!s)
		return -ENOENT;
	if (!data)
		return -ENOMEM;
	rc = config_commit(req, vm, data, len);
	free(data);
	if (rc == 0)
		inv_scratch_unlink(vm, from);
	return rc;
}

/* vim moves config.xml aside as a backup: leave it, and give the backup its text. */
static int config_to_scratch(uint64_t vm, const char *to)
{
	struct handle hd = {0};
	uint64_t id;
	int rc = config_open(&hd, vm, false);

	if (rc < 0)
		return rc;
	inv_scratch_unlink(vm, to);
	rc = inv_scratch_create(vm, to, 0644, &id);
	if (rc == 0)
		rc = scratch_write(id, hd.buf ? hd.buf : "", hd.len, 0);
	free(hd.buf);
	return rc;
}

static int rename_in_vm(fuse_req_t req, uint64_t vm, const char *name, const char *newname)
{
	enum file_kind from = file_kind_of(name), to = file_kind_of(newname);

	if (from == F_DIR && to == F_DIR)
		return inv_scratch_rename(vm, name, newname);
	if (from == F_DIR && to == F_CONFIG)
		return scratch_to_config(req, vm, name);
	if (from == F_CONFIG && to == F_DIR)
		return config_to_scratch(vm, newname);
	return -EPERM;
}

static int rename_vm(fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname)
{
	struct hc_request r = {.op = HC_RENAME, .arg = newname, .arglen = strlen(newname)};
	struct node *from, *to;
	struct vm *vm = NULL;
	uint64_t id = 0;
	char what[300];
	int rc = 0;

	inv_rdlock();
	from = inv_node(ID_OF(parent));
	to = inv_node(ID_OF(newparent));
	/*
	 * Never EXDEV: mv would then copy the VM's files into a pending
	 * directory on the other host. Moving is migration, which is not done.
	 */
	if (!from || !to || from->type != N_HOST || KIND_OF(newparent) != F_DIR)
		rc = -EPERM;
	else if (!(vm = inv_vm((struct host *)from, name)))
		rc = -ENOENT;
	else if (from != to || to->type != N_HOST)
		rc = -EPERM;
	else if (!vm_name_valid(newname))
		rc = -EINVAL;
	else if (inv_vm((struct host *)to, newname))
		rc = -EEXIST;
	if (vm)
		id = vm->node.id;
	inv_unlock();
	snprintf(what, sizeof(what), "rename to %s", newname);
	if (vm && (rc == -EPERM || rc == -EEXIST))
		inv_vm_error(id, what, -rc,
			     rc == -EPERM ? "a VM cannot move to another host or into a VM"
					    " (migration is not supported)"
					  : "a VM of that name exists already");
	if (rc < 0)
		return rc;
	return inv_request(id, &r, what, NULL);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	uint64_t vm = vm_dir_id(parent);
	int rc;

	if (flags & RENAME_EXCHANGE)
		rc = -EINVAL;
	else if (vm)
		rc = parent == newparent ? rename_in_vm(req, vm, name, newname) : -EXDEV;
	else if (parent == INO_ROOT)
		rc = -EPERM;
	else
		rc = rename_vm(parent, name, newparent, newname);
	fuse_reply_err(req, -rc);
}

static void do_poll(struct handle *hd, fuse_req_t req, fuse_ino_t ino, struct fuse_pollhandle *ph)
{
	unsigned revents = POLLIN | POLLRDNORM;
	struct node *n;

	if (hd->events) {
		fuse_reply_poll(req, events_poll(hd->events, ph));
		return;
	}
	/* Registered first: a change right after the check still wakes us. */
	if (ph)
		poll_wait(ino, hd, ph);
	inv_rdlock();
	n = inv_node(ID_OF(ino));
	if (!n || file_gen(n, KIND_OF(ino)) != hd->seen_gen)
		revents |= POLLPRI | POLLERR;
	inv_unlock();
	fuse_reply_poll(req, revents);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct handle *hd = hd_get(fi);

	do_poll(hd, req, ino, ph);
	hd_put(hd);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target;

	inv_rdlock();
	target = view_readlink(ino);
	inv_unlock();
	if (target)
		fuse_reply_readlink(req, target);
	else
		fuse_reply_err(req, ino == INO_ROOT || view_ino(ino) ? EINVAL : ENOENT);
	g_free(target);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255};

	(void)ino;
	fuse_reply_statfs(req, &st);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	face_started = time(NULL);
	/* O_TRUNC must reach us as a truncation we can ignore on value files. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	uring_adjust_init(conn);
}

const struct fuse_lowlevel_ops catkeeper_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .readlink = op_readlink,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .unlink = op_unlink,
    .rename = op_rename,
    .create = op_create,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .poll = op_poll,
    .statfs = op_statfs,
};
