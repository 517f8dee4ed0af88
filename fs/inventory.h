/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_INVENTORY_H
#define CK_INVENTORY_H

/*
 * The cache of every host and VM, their inode numbers, and the stream of
 * changes. Fed by the host connections, read by the FUSE face under a
 * read lock; nothing here waits on a host except the requests that act.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "hostconn.h"

#include <glib.h>

struct store;

/* A VM directory's files; the number is the low bits of the inode. */
enum file_kind {
	F_DIR = 0,
	F_STATE,
	F_CONFIG,
	F_OWNER,
	F_DESCRIPTION,
	F_IP,
	F_VNC,
	F_UUID,
	F_VCPUS,
	F_MEMORY,
	F_AUTOSTART,
	F_HISTORY,
	F_ERROR,
	F_IP_LAST,
	F_NVMFILES,
	F_URI = 16,
	F_STATUS,
	F_VMS,	     /* a host's table */
	F_LINK = 20, /* a VM's link in a view: F_LINK + the view */
	F_SCRATCH = 31,
};

/* The views at the mount's root (views.c); their names are no host's. */
enum view { V_OWNER, V_STATE, V_IP, V_FREE, V_COUNT };
extern const char *const inv_view_names[V_COUNT];
/*
 * Bumped (under the write lock) by every change a view may show: the views'
 * mtime, so that the kernel drops the listings it cached of them.
 */
extern uint64_t inv_views_gen;

#define KIND_BITS 5
#define INO_ROOT 1
#define INO_EVENTS 2
#define INO_VMS 3	 /* the table of every VM */
#define INO_VIEW_FIRST 4 /* by-owner, by-state, by-ip, free */
#define INO_OF(id, kind) (((uint64_t)(id) << KIND_BITS) | (kind))
#define ID_OF(ino) ((ino) >> KIND_BITS)
#define KIND_OF(ino) ((enum file_kind)((ino) & ((1u << KIND_BITS) - 1)))

enum node_type { N_HOST, N_VM, N_SCRATCH };

struct node {
	uint64_t id;
	enum node_type type;
};

struct vm;

struct host {
	struct node node;
	char *name;
	char *uri;   /* NULL while pending (made by mkdir) */
	bool stored; /* in the database, not from the command line */
	bool removed;
	bool loaded; /* the first listing is done (under load_lock) */
	bool listed; /* the same, under the inventory lock */
	int refs;
	enum host_status status;
	char *reason;
	time_t stale_since;
	uint32_t gen[2]; /* .uri, .status */
	struct hostconn *hc;
	GHashTable *by_name, *by_uuid; /* -> struct vm, keyed by its own fields */
	struct vm **vms;	       /* by id, for stable readdir offsets */
	size_t nvms, capvms;
	struct host *next;
};

struct scratch {
	struct node node;
	struct vm *vm;
	char *name;
	char *data;
	size_t size;
	mode_t mode;
	time_t mtime;
	struct scratch *next;
};

struct vm {
	struct node node;
	struct host *host;
	char *name;
	char uuid[UUID_LEN];
	bool pending;	 /* made by mkdir, defined by its first config.xml */
	bool defining;	 /* that config.xml is being defined: the listing may adopt it */
	bool creating;	 /* its first values are being set */
	uint64_t ticket; /* of the newest fetch applied */
	enum vm_state state;
	bool persistent, autostart;
	unsigned vcpus;
	unsigned long long memory_kib;
	size_t config_size;
	uint64_t config_hash;
	char *owner, *description, *ips, *vnc, *error;
	char *ip_last; /* the addresses last seen, kept when it stops (and in the store) */
	size_t description_len; /* it may be MBs, read in pages */
	char *owner_writer;	/* local user of a reservation under way */
	time_t mtime;
	uint32_t gen[F_NVMFILES];
	/* Kinds whose text the kernel was handed at this generation (the face's mark). */
	_Atomic uint32_t primed;
	struct scratch *scratch;
};

enum change_type { CH_VALUE, CH_CREATED, CH_DELETED };

struct change {
	enum change_type type;
	uint64_t ino;	 /* the file, or the created/deleted directory */
	uint64_t parent; /* CH_CREATED, CH_DELETED */
	char *name;	 /* CH_CREATED, CH_DELETED */
	char *path;	 /* relative to the mount root */
	uint64_t seq;
};

int inventory_init(struct store *st, int refresh_secs);
/* Hosts named on the command line, or else the database's, or else the default. */
int inventory_add_host(const char *name, const char *uri, bool stored);
/* Starts libvirt's event loop and every host's threads (after daemonizing). */
int inventory_start(void);
/* Stops the hosts, without waiting: requests waiting on them return. */
void inventory_stop_hosts(void);
/*
 * Ends every host and the change stream. True when a host's thread is still
 * blocked in libvirt (see main()). Then inventory_free() once no thread
 * reads the inventory any more.
 */
bool inventory_stop(void);
void inventory_free(void);

void inv_rdlock(void);
void inv_wrlock(void);
void inv_unlock(void);

/* Under the lock. */
struct node *inv_node(uint64_t id);
struct host *inv_hosts(void);
struct host *inv_host(const char *name);
struct vm *inv_vm(struct host *h, const char *name);
struct scratch *inv_scratch(struct vm *vm, const char *name);
/* Index of the first VM whose id is at least `id`. */
size_t inv_vm_index(struct host *h, uint64_t id);
bool inv_host_writable(const struct host *h);
char *inv_path(struct node *n, enum file_kind kind);
/* The name of a VM's or host's file, NULL for none. */
const char *inv_file_name(enum file_kind kind);

/* Take the write lock themselves. */
int inv_mkdir_host(const char *name, uint64_t *id);
int inv_set_uri(uint64_t host_id, const char *uri, char **err);
int inv_rmdir_host(const char *name);
int inv_mkdir_vm(uint64_t host_id, const char *name, uint64_t *id);
int inv_scratch_create(uint64_t vm_id, const char *name, mode_t mode, uint64_t *id);
int inv_scratch_unlink(uint64_t vm_id, const char *name);
int inv_scratch_rename(uint64_t vm_id, const char *from, const char *to);
void inv_value_changed(struct node *n, enum file_kind kind);

/* Waits (bounded) until the host's first listing is done. */
void inv_wait_loaded(uint64_t host_id, int secs);

/*
 * Asks the VM's host to act and waits for it. On failure the message lands in
 * the VM's error file and the log, with WHAT (the file and what was written).
 */
int inv_request(uint64_t vm_id, struct hc_request *req, const char *what, const char *user);
/* For failures found before asking the host. */
void inv_vm_error(uint64_t vm_id, const char *what, int err, const char *msg);

char *inv_history(struct vm *vm);

/* The change stream: the notifier takes each change, then says it is done. */
bool inv_next_change(struct change *ch);
void inv_change_done(struct change *ch);
/* Waits (bounded) until every change recorded so far is done. */
void inv_sync_changes(void);

#endif
