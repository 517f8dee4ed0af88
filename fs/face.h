/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_FACE_H
#define CK_FACE_H

/* The FUSE face: what ops.c and tree.c share with the modules for each kind of file. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "inventory.h"

/* Larger writes to config.xml (or a scratch file) fail with EFBIG. */
#define MAX_XML (1024 * 1024)

struct events_reader;

/* One open file. */
struct handle {
	uint64_t ino;
	char *buf; /* config.xml as read or being written, a table as of its open */
	size_t len;
	bool dirty;
	bool unfetched;	   /* config.xml opened for writing: the host's XML not read yet */
	bool table;	   /* .vms: buf is all there is to read */
	uint32_t seen_gen; /* for poll(): the generation last read */
	struct events_reader *events;
	int users; /* requests being served */
	bool released;
	pid_t pid; /* config.xml opened for writing by */
};

/* ops.c: frees the handles of files still open when the connection ended. */
void handles_free_all(void);

/* tree.c: attributes, lookups, listings, mkdir and rmdir. */
extern time_t face_started; /* the mount's start: the time of its directories */
int attr_of(fuse_ino_t ino, struct stat *st);
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

/* table.c: .vms, every VM (only NULL) or one host's, one row each; under the lock. */
char *table_render(struct host *only, size_t *len);

/* views.c: by-owner/, by-state/, by-ip/, free/; under the inventory's lock. */
typedef bool (*view_add_fn)(void *buf, const char *name, fuse_ino_t ino, mode_t type, off_t next);
bool view_ino(fuse_ino_t ino);
fuse_ino_t view_root_child(const char *name);
fuse_ino_t view_child(fuse_ino_t parent, const char *name);
int view_attr(fuse_ino_t ino, struct stat *st);
void view_list(fuse_ino_t ino, off_t off, view_add_fn add, void *buf);
char *view_readlink(fuse_ino_t ino);
void views_free(void);

/* files.c: value files, rendered from the cache. */
const char *file_name(enum file_kind kind);
enum file_kind file_kind_of(const char *name);
bool file_writable(enum file_kind kind);
/* Under the inventory lock: the content of a file, malloc'd. */
char *file_render(struct node *n, enum file_kind kind, size_t *len);
uint32_t file_gen(struct node *n, enum file_kind kind);
/* Under the inventory lock: the size of a file, and a reply with a slice of it. */
size_t file_size(struct node *n, enum file_kind kind);
void file_reply(fuse_req_t req, struct node *n, enum file_kind kind, size_t size, off_t off);
/* Acts on a write to a value file; returns 0 or a negative errno. */
int file_write(fuse_req_t req, uint64_t ino, const char *buf, size_t len);
/*
 * What a new VM may be called: libvirt refuses '/' and newlines; control
 * characters, a leading '.' (hidden, or . and ..) and over 200 bytes are
 * refused too.
 */
bool vm_name_valid(const char *name);
/* The name of the user who sent REQ, for the history. */
char *req_user(fuse_req_t req);

/* configxml.c: config.xml is read from the host when needed and written whole. */
int config_open(struct handle *hd, uint64_t vm_id, bool writing);
/* A writer's config.xml is fetched by its first read or partial write: 0 or -errno. */
int config_loaded(struct handle *hd);
/* The text an open file builds (config.xml, a multi-line description). */
int handle_write(struct handle *hd, const char *buf, size_t len, off_t off);
int handle_truncate(struct handle *hd, off_t size);
int config_commit(fuse_req_t req, uint64_t vm_id, const char *xml, size_t len);

/* events.c: the .events stream. */
struct events_reader *events_open(void);
void events_close(struct events_reader *r);
void events_read(fuse_req_t req, struct events_reader *r, size_t size, bool nonblock);
unsigned events_poll(struct events_reader *r, struct fuse_pollhandle *ph);
void events_publish(const char *type, const char *path);

/* notify.c: the one thread that tells the kernel and pollers of changes. */
int notifier_start(struct fuse_session *se);
void notifier_stop(void);
/* OWNER (an open file) waits on INO with PH, replacing its earlier handle. */
void poll_wait(uint64_t ino, const void *owner, struct fuse_pollhandle *ph);
/* At OWNER's release: its handle goes. */
void poll_forget(const void *owner);

/* uring.c: FUSE over io_uring where the kernel offers it (without liburing: no-ops). */
void uring_attach(struct fuse_session *se);
void uring_adjust_init(struct fuse_conn_info *conn);
void uring_detach(void);

extern const struct fuse_lowlevel_ops catkeeper_ops;
extern struct fuse_session *face_session;

#endif
