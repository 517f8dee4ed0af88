/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree: attributes, lookups, listings, and making or removing directories. */
#include "face.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* Changes are pushed to the kernel, so its caches may keep entries long. */
#define CACHE_SECS 3600.0
/* How long a lookup in a host waits for the host's first listing. */
#define FIRST_LISTING_WAIT 5

/* ---- attributes ---- */

static void dir_attr(struct stat *st, fuse_ino_t ino, time_t mtime)
{
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

static int file_attr(struct stat *st, fuse_ino_t ino, mode_t mode, size_t size, time_t mtime)
{
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
	return 0;
}

static bool vm_has(struct vm *vm, enum file_kind kind)
{
	return kind < F_NVMFILES && (!vm->pending || kind == F_CONFIG);
}

/* Under the lock: the attributes of INO, or a negative errno. */
int attr_of(fuse_ino_t ino, struct stat *st)
{
	enum file_kind kind = KIND_OF(ino);
	struct node *n;

	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	if (ino == INO_ROOT) {
		dir_attr(st, ino, face_started);
		return 0;
	}
	if (ino == INO_EVENTS)
		return file_attr(st, ino, 0444, 0, face_started);
	if (view_ino(ino))
		return view_attr(ino, st);
	if (ino == INO_VMS || KIND_OF(ino) == F_VMS) {
		size_t len;

		n = ino == INO_VMS ? NULL : inv_node(ID_OF(ino));
		if (ino != INO_VMS && (!n || n->type != N_HOST))
			return -ENOENT;
		free(table_render((struct host *)n, &len));
		return file_attr(st, ino, 0444, len, face_started);
	}
	n = inv_node(ID_OF(ino));
	if (!n)
		return -ENOENT;
	if (n->type == N_SCRATCH) {
		struct scratch *s = (struct scratch *)n;

		return file_attr(st, ino, s->mode, s->size, s->mtime);
	}
	if (kind == F_DIR) {
		dir_attr(st, ino, n->type == N_VM ? ((struct vm *)n)->mtime : face_started);
		return 0;
	}
	if (n->type == N_HOST && kind != F_URI && kind != F_STATUS)
		return -ENOENT;
	if (n->type == N_VM && !vm_has((struct vm *)n, kind))
		return -ENOENT;
	if (kind == F_CONFIG) {
		struct vm *vm = (struct vm *)n;

		return file_attr(st, ino, 0644, vm->pending ? 0 : vm->config_size, vm->mtime);
	}
	return file_attr(st, ino, file_writable(kind) ? 0644 : 0444, file_size(n, kind),
			 n->type == N_VM ? ((struct vm *)n)->mtime : face_started);
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino, double timeout)
{
	struct fuse_entry_param e = {.ino = ino, .attr_timeout = timeout, .entry_timeout = timeout};
	int rc;

	inv_rdlock();
	rc = attr_of(ino, &e.attr);
	inv_unlock();
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

/* Under the lock: the inode of NAME in PARENT, 0 when there is none. */
static fuse_ino_t child_of(fuse_ino_t parent, const char *name, double *timeout)
{
	struct node *n;
	enum file_kind kind;

	*timeout = CACHE_SECS;
	if (parent == INO_ROOT) {
		struct host *h;

		if (!strcmp(name, ".events"))
			return INO_EVENTS;
		if (!strcmp(name, ".vms"))
			return INO_VMS;
		if (view_root_child(name)) {
			*timeout = 0; /* their mtime says when their listing changed */
			return view_root_child(name);
		}
		h = inv_host(name);
		return h ? INO_OF(h->node.id, F_DIR) : 0;
	}
	if (view_ino(parent)) {
		/* Views change with every value they filter on: never cached. */
		*timeout = 0;
		return view_child(parent, name);
	}
	n = KIND_OF(parent) == F_DIR ? inv_node(ID_OF(parent)) : NULL;
	if (!n)
		return 0;
	kind = file_kind_of(name);
	if (n->type == N_HOST) {
		struct vm *vm;

		if (kind == F_URI || kind == F_STATUS || kind == F_VMS)
			return INO_OF(n->id, kind);
		vm = inv_vm((struct host *)n, name);
		return vm ? INO_OF(vm->node.id, F_DIR) : 0;
	}
	if (n->type == N_VM) {
		struct vm *vm = (struct vm *)n;
		struct scratch *s;

		if (kind != F_DIR && vm_has(vm, kind))
			return INO_OF(vm->node.id, kind);
		s = inv_scratch(vm, name);
		*timeout = 0;
		return s ? INO_OF(s->node.id, F_SCRATCH) : 0;
	}
	return 0;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	double timeout;
	fuse_ino_t ino;

	inv_rdlock();
	ino = child_of(parent, name, &timeout);
	inv_unlock();
	if (!ino && parent != INO_ROOT && KIND_OF(parent) == F_DIR) {
		/* Right after mount, a host's VMs appear once it has listed them. */
		inv_wait_loaded(ID_OF(parent), FIRST_LISTING_WAIT);
		inv_rdlock();
		ino = child_of(parent, name, &timeout);
		inv_unlock();
	}
	if (!ino)
		fuse_reply_err(req, ENOENT);
	else
		reply_entry(req, ino, timeout);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc;

	(void)fi;
	inv_rdlock();
	rc = attr_of(ino, &st);
	inv_unlock();
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, KIND_OF(ino) == F_SCRATCH ? 0 : CACHE_SECS);
}

/* ---- directories ---- */

struct dirbuf {
	char *p;
	size_t size, len;
	fuse_req_t req;
	bool plus; /* readdirplus: entries carry their attributes */
};

/* Adds an entry of TYPE (S_IFDIR...); false once the buffer is full. Under the lock. */
static bool add(void *buf, const char *name, fuse_ino_t ino, mode_t type, off_t next)
{
	struct dirbuf *b = buf;
	struct fuse_entry_param e = {
	    .ino = ino, .attr_timeout = CACHE_SECS, .entry_timeout = CACHE_SECS};
	size_t need;

	if (!b->plus) {
		e.attr.st_ino = ino;
		e.attr.st_mode = type;
		need = fuse_add_direntry(b->req, NULL, 0, name, NULL, 0);
		if (b->len + need > b->size)
			return false;
		fuse_add_direntry(b->req, b->p + b->len, b->size - b->len, name, &e.attr, next);
	} else {
		need = fuse_add_direntry_plus(b->req, NULL, 0, name, NULL, 0);
		if (b->len + need > b->size)
			return false;
		/* The kernel makes no entry of the dots, nor of an ino of 0. */
		if (strcmp(name, ".") && strcmp(name, "..") && attr_of(ino, &e.attr) < 0)
			e.ino = 0;
		if (KIND_OF(ino) == F_SCRATCH || view_ino(ino))
			e.attr_timeout = e.entry_timeout = 0;
		fuse_add_direntry_plus(b->req, b->p + b->len, b->size - b->len, name, &e, next);
	}
	b->len += need;
	return true;
}

/* Offsets: 1 and 2 for the dots, 3 + kind for files, FIRST_ID + id for objects. */
#define FIRST_ID 64

static void list_root(struct dirbuf *b, off_t off)
{
	if (off < 3 && !add(b, ".vms", INO_VMS, S_IFREG, 3))
		return;
	for (enum view v = 0; v < V_COUNT; v++)
		if (off < 4 + v && !add(b, inv_view_names[v], INO_VIEW_FIRST + v, S_IFDIR, 4 + v))
			return;
	for (struct host *h = inv_hosts(); h; h = h->next)
		if ((off_t)(h->node.id + FIRST_ID) > off &&
		    !add(b, h->name, INO_OF(h->node.id, F_DIR), S_IFDIR, h->node.id + FIRST_ID))
			return;
}

static void list_host(struct dirbuf *b, struct host *h, off_t off)
{
	static const enum file_kind files[] = {F_URI, F_STATUS, F_VMS};

	for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
		if (3 + files[i] > off && !add(b, file_name(files[i]), INO_OF(h->node.id, files[i]),
					       S_IFREG, 3 + files[i]))
			return;
	for (size_t i = inv_vm_index(h, off < FIRST_ID ? 0 : off - FIRST_ID + 1); i < h->nvms;
	     i++) {
		struct vm *vm = h->vms[i];

		if (!add(b, vm->name, INO_OF(vm->node.id, F_DIR), S_IFDIR, vm->node.id + FIRST_ID))
			return;
	}
}

static void list_vm(struct dirbuf *b, struct vm *vm, off_t off)
{
	off_t pos = FIRST_ID;

	for (enum file_kind k = F_STATE; k < F_NVMFILES; k++)
		if (vm_has(vm, k) && 3 + k > off &&
		    !add(b, file_name(k), INO_OF(vm->node.id, k), S_IFREG, 3 + k))
			return;
	for (struct scratch *s = vm->scratch; s; s = s->next, pos++)
		if (pos + 1 > off &&
		    !add(b, s->name, INO_OF(s->node.id, F_SCRATCH), S_IFREG, pos + 1))
			return;
}

static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct dirbuf b = {.size = size, .req = req, .plus = plus};
	struct node *n = NULL;

	if (ino != INO_ROOT && !view_ino(ino) && off == 0)
		inv_wait_loaded(ID_OF(ino), FIRST_LISTING_WAIT);
	b.p = malloc(size);
	if (!b.p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	inv_rdlock();
	if (ino != INO_ROOT && !view_ino(ino) && !(n = inv_node(ID_OF(ino)))) {
		inv_unlock();
		free(b.p);
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((off >= 1 || add(&b, ".", ino, S_IFDIR, 1)) &&
	    (off >= 2 || add(&b, "..", ino, S_IFDIR, 2))) {
		if (view_ino(ino))
			view_list(ino, off, add, &b);
		else if (ino == INO_ROOT)
			list_root(&b, off);
		else if (n->type == N_HOST)
			list_host(&b, (struct host *)n, off);
		else if (n->type == N_VM)
			list_vm(&b, (struct vm *)n, off);
	}
	inv_unlock();
	fuse_reply_buf(req, b.p, b.len);
	free(b.p);
}

/*
 * Listing keeps no state per open directory: telling the kernel so spares
 * an open and a release request for every directory a script enters.
 */
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, false);
}

/* ls and find get every VM's attributes with the listing: no lookup each. */
void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, true);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	uint64_t id = 0;
	int rc;

	(void)mode;
	if (view_ino(parent))
		rc = -EPERM; /* views are read-only */
	else if (parent == INO_ROOT && view_root_child(name))
		rc = -EEXIST;
	else if (parent == INO_ROOT)
		rc = inv_mkdir_host(name, &id);
	else if (KIND_OF(parent) == F_DIR && !vm_name_valid(name))
		rc = -EINVAL;
	else if (KIND_OF(parent) == F_DIR)
		rc = inv_mkdir_vm(ID_OF(parent), name, &id);
	else
		rc = -ENOTDIR;
	if (rc == -ENOENT)
		rc = -EPERM;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_entry(req, INO_OF(id, F_DIR), CACHE_SECS);
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hc_request r = {.op = HC_UNDEFINE};
	double timeout;
	fuse_ino_t ino;
	struct node *n;
	int rc;

	if (view_ino(parent) || (parent == INO_ROOT && view_root_child(name))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (parent == INO_ROOT) {
		fuse_reply_err(req, -inv_rmdir_host(name));
		return;
	}
	inv_rdlock();
	ino = child_of(parent, name, &timeout);
	n = inv_node(ID_OF(parent));
	inv_unlock();
	if (!ino || !n)
		rc = -ENOENT;
	else if (n->type != N_HOST || KIND_OF(ino) != F_DIR)
		rc = -ENOTDIR;
	else
		rc = inv_request(ID_OF(ino), &r, "rmdir", NULL);
	fuse_reply_err(req, -rc);
}
