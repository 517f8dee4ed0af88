/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_HOST_H
#define CK_HOST_H

/*
 * The host object shared by the files that make up hostconn: virtloop.c
 * (libvirt's event loop), virterr.c (errors), domread.c (reading domains),
 * bulkpass.c (the periodic pass), conn.c (connecting, the host's life) and
 * actions.c (writes). Private to them: the rest of fs/ sees hostconn.h.
 */
#include "hostconn.h"

#include <pthread.h>

#include <glib.h>
#include <libvirt/libvirt.h>

/*
 * Keepalive: a host whose link goes silent is declared unreachable after
 * about KEEPALIVE_INTERVAL * (KEEPALIVE_COUNT + 1) seconds.
 */
#define KEEPALIVE_INTERVAL 2
#define KEEPALIVE_COUNT 3

struct job {
	struct hc_request req;
	char *uuid, *name, *arg;
	int rc;
	char *errmsg;
	bool done, abandoned;
	struct job *next;
};

/* What the refresher last saw of a domain, to fetch details only on change. */
struct seen {
	char uuid[UUID_LEN];
	bool active;
};

/*
 * A bulk pass with many domains to fetch spreads them over up to FETCHERS
 * extra connections to the host, each carrying one call at a time like the
 * main one: over a slow link the fetches overlap instead of queueing. They
 * are opened when a pass needs them and closed when one no longer does.
 */
#define FETCHERS 7

struct hostconn {
	char *name, *uri;
	int refresh_secs;
	const struct hostconn_callbacks *cb;
	void *opaque;

	pthread_mutex_t lock;
	/*
	 * One libvirt call at a time on a connection: libvirt 9.0's client loses
	 * the other callers when keepalive closes a connection under several at
	 * once (they hang for good and the close callback never comes; seen with
	 * three listAllDomains on a black-holed host). Taken before lock, never
	 * while holding it.
	 */
	pthread_mutex_t call_lock;
	pthread_cond_t wake; /* refresher */
	pthread_cond_t work; /* actor */
	pthread_cond_t done; /* a job is done, or the host stops */
	int refs;
	virConnectPtr conn;
	bool stop, closed;
	struct attempt *attempts; /* connecting, see connect_host() */
	uint64_t tickets;
	int life_cb, meta_cb;
	char **resync;
	size_t nresync;
	struct job *jobs, **jobs_tail;
	GHashTable *seen; /* uuid -> struct seen */
	/* Extra connections of the bulk pass (see full_pass()), under lock. */
	virConnectPtr fetchers[FETCHERS];
	bool fetch_opening[FETCHERS];
	int nopening;
	unsigned fetch_epoch; /* bumped when they are closed: later openings are not kept */
	pthread_t refresher, actor;
};

/* virtloop.c */
/* A thread left blocked in a call to a dead host: the process exits without it. */
void virtloop_thread_left(void);

/* virterr.c */
int set_err(char **errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The errno that fits libvirt's last error, with its message. */
int virt_err(virConnectPtr conn, char **errmsg);

/* domread.c */
bool is_active(enum vm_state st);
char *lease_addresses(virDomainPtr dom);
int fetch_detail(virDomainPtr dom, struct dom_info *di);
void stat_values(virDomainStatsRecordPtr rec, struct dom_info *di);
bool seen_changed(struct hostconn *hc, const char *uuid, bool active);
/* Under hc->lock. */
void seen_remember(struct hostconn *hc, const char *uuid, bool active);
uint64_t take_ticket(struct hostconn *hc);
void resync_one(struct hostconn *hc, virConnectPtr conn, const char *uuid);

/* bulkpass.c */
int full_pass(struct hostconn *hc, virConnectPtr conn);
void fetchers_close(struct hostconn *hc);
int spawn_detached(void *(*fn)(void *), void *arg);

/* actions.c */
void *actor_main(void *arg);
void job_free(struct job *job);

#endif
