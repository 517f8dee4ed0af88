/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_HOSTCONN_H
#define CK_HOSTCONN_H

/*
 * One libvirt host: its connection, events, periodic refresh and the actions
 * asked of it. Every libvirt call runs on the host's own threads, so a slow or
 * dead host delays nobody else. Knows nothing of FUSE: it reports what it sees
 * through callbacks and answers requests with an errno and a message.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_LEN 37

/*
 * Bounds on what a user may write (config.xml, description); a definition
 * from the host is shown as it is. See catkeeperfs(1), LIMITS.
 */
#define DESCRIPTION_MAX (64 * 1024)
#define TITLE_MAX 1024
#define NAME_MAX_BYTES 200

enum vm_state {
	VM_NOSTATE,
	VM_RUNNING,
	VM_BLOCKED,
	VM_PAUSED,
	VM_SHUTDOWN,
	VM_SHUTOFF,
	VM_CRASHED,
	VM_PMSUSPENDED,
};
const char *vm_state_name(enum vm_state st);

enum host_status { HOST_CONNECTING, HOST_CONNECTED, HOST_UNREACHABLE };

/* What is known of one domain; `fields` says which members are filled in. */
enum {
	DI_STATE = 1 << 0,
	DI_DEFINITION = 1 << 1, /* owner, description, vcpus, memory, config_size */
	DI_LIVE = 1 << 2,	/* vnc (and the running vcpus/memory) */
	DI_AUTOSTART = 1 << 3,
	DI_IPS = 1 << 4,
	DI_PERSISTENT = 1 << 5,
	DI_SIZES = 1 << 6, /* vcpus, memory_kib */
};

struct dom_info {
	unsigned fields;
	/* Fetches started later have larger tickets: an older one never overwrites. */
	uint64_t ticket;
	char *name;
	char uuid[UUID_LEN];
	enum vm_state state;
	bool persistent;
	bool autostart;
	unsigned vcpus;
	unsigned long long memory_kib;
	size_t config_size;
	uint64_t config_hash;
	char *owner;
	char *description;
	char *vnc;
	char *ips;
};
void dom_info_clear(struct dom_info *di);

struct hostconn_callbacks {
	void (*status)(void *opaque, enum host_status st, const char *reason);
	void (*domain)(void *opaque, const struct dom_info *di);
	void (*domain_gone)(void *opaque, const char *uuid, uint64_t ticket);
	/* After a full pass: every domain not in uuids is gone. */
	void (*sweep)(void *opaque, char *const *uuids, size_t n, uint64_t ticket);
};

enum hc_op {
	HC_LIFECYCLE, /* arg: start, shutdown, ... */
	HC_OWNER,     /* arg: NAME, !NAME or "" */
	HC_DESCRIPTION,
	HC_AUTOSTART, /* arg: "0" or "1" */
	HC_DEFINE,    /* arg: the XML; uuid empty for a new domain named `name` */
	HC_UNDEFINE,
	HC_RENAME,  /* arg: the new name */
	HC_GET_XML, /* result: the persistent definition */
};

struct hc_request {
	enum hc_op op;
	const char *uuid;
	const char *name;
	const char *arg;
	size_t arglen;
	/* Out: HC_GET_XML's XML; HC_OWNER's owner before the change. */
	char *result;
	/* Out: HC_DEFINE's uuid. */
	char uuid_out[UUID_LEN];
};

struct hostconn;

int hostconn_global_init(void);
/* True when some thread is still blocked in a call to a dead host. */
bool hostconn_global_shutdown(void);

struct hostconn *hostconn_new(const char *name, const char *uri, int refresh_secs,
			      const struct hostconn_callbacks *cb, void *opaque);
/*
 * Stops the host: its threads end at their next turn and requests waiting on
 * it return ECONNABORTED. Callbacks may still come until the last unref.
 */
void hostconn_stop(struct hostconn *hc);
/*
 * A reference for a request made outside the inventory's lock. The last
 * unref joins the threads (bounded) and frees; no callback runs after it.
 * Never under a lock that a callback takes.
 */
struct hostconn *hostconn_ref(struct hostconn *hc);
void hostconn_unref(struct hostconn *hc);
/*
 * The owner's end: stops the host, waits (bounded) for the requests under
 * way to return their references, then drops its own, so that the joins of
 * the last unref happen here and not in a request that a user waits for.
 */
void hostconn_release(struct hostconn *hc);

/*
 * Runs a request on the host's action thread and waits for it, at most a
 * bounded time. Returns 0 or a negative errno with *errmsg set (malloc'd).
 */
int hostconn_call(struct hostconn *hc, struct hc_request *req, char **errmsg);

/* Whether a state file takes this word (start, shutdown, ...). */
bool hostconn_lifecycle_word(const char *word);

#endif
