/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hostconn.h"
#include "domxml.h"
#include "hmap.h"
#include "log.h"
#include "reservation.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

/*
 * Keepalive: a host whose link goes silent is declared unreachable after
 * about KEEPALIVE_INTERVAL * (KEEPALIVE_COUNT + 1) seconds.
 */
#define KEEPALIVE_INTERVAL 2
#define KEEPALIVE_COUNT 3
/* Reconnection backoff: doubles from the first to the last, then stays. */
#define BACKOFF_FIRST 0.25
#define BACKOFF_MAX 2.0
/* How long a write waits for its host before it gives up with ETIMEDOUT. */
#define CALL_TIMEOUT_SECS 60
/* How long a connection may take before the host shows unreachable. */
#define CONNECT_PATIENCE_SECS 10
#define CONNECT_PATIENCE_TEXT "10"
/* A new attempt while the others hang, and how many may hang at once. */
#define CONNECT_RETRY_SECS 3
#define CONNECT_ATTEMPTS 4
/* How long unmounting waits for a host's threads stuck in a call. */
#define STOP_WAIT_SECS 3

struct job {
	struct hc_request req;
	char *uuid, *name, *arg;
	int rc;
	char *errmsg;
	bool done, abandoned;
	pthread_cond_t cond;
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
#define FETCH_MIN 16 /* domains needing a call before extra connections pay */
/* Listing every domain costs about as much as this many lookups (1,000 in 4-10 ms). */
#define LIST_COST 32

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
	virConnectPtr conn;
	bool stop, closed;
	struct attempt *attempts; /* connecting, see connect_host() */
	uint64_t tickets;
	int life_cb, meta_cb;
	char **resync;
	size_t nresync;
	struct job *jobs, **jobs_tail;
	struct hmap seen;
	/* Extra connections of the bulk pass (see full_pass()), under lock. */
	virConnectPtr fetchers[FETCHERS];
	bool fetch_opening[FETCHERS];
	int nopening;
	unsigned fetch_epoch; /* bumped when they are closed: later openings are not kept */
	pthread_t refresher, actor;
};

static pthread_t event_thread;
static volatile int event_quit;

const char *vm_state_name(enum vm_state st)
{
	static const char *const names[] = {
	    [VM_NOSTATE] = "nostate", [VM_RUNNING] = "running",		[VM_BLOCKED] = "blocked",
	    [VM_PAUSED] = "paused",   [VM_SHUTDOWN] = "shutdown",	[VM_SHUTOFF] = "shutoff",
	    [VM_CRASHED] = "crashed", [VM_PMSUSPENDED] = "pmsuspended",
	};

	return st <= VM_PMSUSPENDED ? names[st] : "nostate";
}

void dom_info_clear(struct dom_info *di)
{
	free(di->name);
	free(di->owner);
	free(di->description);
	free(di->vnc);
	free(di->ips);
	memset(di, 0, sizeof(*di));
}

static void silence(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* Set when hostconn_free() leaves a thread blocked in libvirt. */
static bool threads_left;

static void *event_loop(void *arg)
{
	(void)arg;
	while (!event_quit)
		if (virEventRunDefaultImpl() < 0)
			log_msg("libvirt event loop: %s", virGetLastErrorMessage());
	return NULL;
}

int hostconn_global_init(void)
{
	/*
	 * libxml2 initialises itself on first use, but not safely: two hosts
	 * connecting at once on their own threads each made its global mutex
	 * and one leaked. Do it here, before any thread exists.
	 */
	xmlInitParser();
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
		return -1;
	/* Errors are reported where they happen, with their context. */
	virSetErrorFunc(NULL, silence);
	return pthread_create(&event_thread, NULL, event_loop, NULL) ? -1 : 0;
}

/*
 * A closed connection is freed by the event loop itself, once it has dropped
 * the connection's socket watch and timers: let it turn a little longer.
 */
#define LAST_TURNS_MS 200

static void last_turn(int timer, void *opaque)
{
	(void)opaque;
	virEventRemoveTimeout(timer);
	event_quit = 1;
}

bool hostconn_global_shutdown(void)
{
	virEventAddTimeout(LAST_TURNS_MS, last_turn, NULL, NULL);
	pthread_join(event_thread, NULL);
	return threads_left;
}

static int seen_match(const void *value, const void *key)
{
	return !strcmp(((const struct seen *)value)->uuid, key);
}

/* ---- errors ---- */

static int set_err(char **errmsg, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(char **errmsg, int rc, const char *fmt, ...)
{
	va_list ap;

	free(*errmsg);
	va_start(ap, fmt);
	if (vasprintf(errmsg, fmt, ap) < 0)
		*errmsg = NULL;
	va_end(ap);
	return rc;
}

/* The errno that fits libvirt's last error, with its message. */
static int virt_err(virConnectPtr conn, char **errmsg)
{
	virErrorPtr e = virGetLastError();
	int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
	char *msg = strdup(e && e->message ? e->message : "libvirt error");
	int rc;

	switch (code) {
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_OPERATION_FAILED:
		rc = -EBUSY;
		break;
	case VIR_ERR_NO_DOMAIN:
		rc = -ENOENT;
		break;
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_XML_DETAIL:
	case VIR_ERR_XML_INVALID_SCHEMA:
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_CONFIG_UNSUPPORTED:
		rc = -EINVAL;
		break;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_OPERATION_UNSUPPORTED:
		rc = -EOPNOTSUPP;
		break;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
	case VIR_ERR_AUTH_FAILED:
		rc = -EPERM;
		break;
	case VIR_ERR_OPERATION_TIMEOUT:
	case VIR_ERR_AGENT_UNRESPONSIVE:
		rc = -ETIMEDOUT;
		break;
	case VIR_ERR_DOM_EXIST:
		rc = -EEXIST;
		break;
	default:
		/* A public call resets the last error: its message was copied first. */
		rc = conn && virConnectIsAlive(conn) == 0 ? -EHOSTUNREACH : -EIO;
	}
	set_err(errmsg, rc, "%s", msg ? msg : "libvirt error");
	free(msg);
	return rc;
}

/* ---- reading domains ---- */

static enum vm_state map_state(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:
		return VM_RUNNING;
	case VIR_DOMAIN_BLOCKED:
		return VM_BLOCKED;
	case VIR_DOMAIN_PAUSED:
		return VM_PAUSED;
	case VIR_DOMAIN_SHUTDOWN:
		return VM_SHUTDOWN;
	case VIR_DOMAIN_SHUTOFF:
		return VM_SHUTOFF;
	case VIR_DOMAIN_CRASHED:
		return VM_CRASHED;
	case VIR_DOMAIN_PMSUSPENDED:
		return VM_PMSUSPENDED;
	default:
		return VM_NOSTATE;
	}
}

static bool is_active(enum vm_state st)
{
	return st != VM_SHUTOFF && st != VM_NOSTATE;
}

static char *lease_addresses(virDomainPtr dom)
{
	virDomainInterfacePtr *ifaces = NULL;
	int n =
	    virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	if (n < 0)
		return NULL;
	out = open_memstream(&buf, &len);
	for (int i = 0; i < n; i++) {
		for (unsigned j = 0; out && j < ifaces[i]->naddrs; j++)
			fprintf(out, "%s\n", ifaces[i]->addrs[j].addr);
		virDomainInterfaceFree(ifaces[i]);
	}
	free(ifaces);
	if (out)
		fclose(out);
	return buf;
}

/* The definition (and, when running, the live parts) of one domain. */
static int fetch_detail(virDomainPtr dom, struct dom_info *di)
{
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);

	if (!xml)
		return -1;
	if (domxml_definition(xml, di) == 0)
		di->fields |= DI_DEFINITION;
	free(xml);
	if (!is_active(di->state)) {
		di->vnc = strdup("");
		di->ips = strdup("");
		di->fields |= DI_LIVE | DI_IPS;
		return 0;
	}
	xml = virDomainGetXMLDesc(dom, 0);
	if (xml) {
		di->vnc = domxml_vnc(xml);
		di->fields |= DI_LIVE;
		free(xml);
	}
	di->ips = lease_addresses(dom);
	if (di->ips)
		di->fields |= DI_IPS;
	return 0;
}

/* Everything about one domain, for a domain an event named. */
static int fetch_domain(virDomainPtr dom, struct dom_info *di)
{
	int st, reason, autostart;

	di->name = strdup(virDomainGetName(dom));
	virDomainGetUUIDString(dom, di->uuid);
	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return -1;
	di->state = map_state(st);
	di->fields |= DI_STATE;
	di->persistent = virDomainIsPersistent(dom) == 1;
	di->fields |= DI_PERSISTENT;
	if (di->persistent && virDomainGetAutostart(dom, &autostart) == 0) {
		di->autostart = autostart;
		di->fields |= DI_AUTOSTART;
	} else if (!di->persistent) {
		di->autostart = false;
		di->fields |= DI_AUTOSTART;
	}
	if (fetch_detail(dom, di) < 0)
		return -1;
	if (is_active(di->state)) {
		/* A running domain's sizes are the live ones. */
		virDomainInfo info;

		if (virDomainGetInfo(dom, &info) == 0) {
			di->vcpus = info.nrVirtCpu;
			di->memory_kib = info.memory;
			di->fields |= DI_SIZES;
		}
	}
	return 0;
}

/* Whether a domain's details must be fetched: new to us, or it started or stopped. */
static bool seen_changed(struct hostconn *hc, const char *uuid, bool active)
{
	struct seen *s;
	bool changed;

	pthread_mutex_lock(&hc->lock);
	s = hmap_get(&hc->seen, hmap_hash_str(uuid), uuid);
	changed = !s || s->active != active;
	pthread_mutex_unlock(&hc->lock);
	return changed;
}

static void remember(struct hostconn *hc, const char *uuid, bool active)
{
	struct seen *s = hmap_get(&hc->seen, hmap_hash_str(uuid), uuid);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return;
		snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
		if (hmap_put(&hc->seen, hmap_hash_str(uuid), s) < 0) {
			free(s);
			return;
		}
	}
	s->active = active;
}

static void forget(struct hostconn *hc, const char *uuid)
{
	free(hmap_del(&hc->seen, hmap_hash_str(uuid), uuid));
}

static void forget_all(struct hostconn *hc)
{
	for (size_t i = 0; i < hc->seen.nbuckets; i++)
		for (struct hmap_entry *e = hc->seen.buckets[i]; e; e = e->next)
			free(e->value);
	hmap_destroy(&hc->seen);
}

static uint64_t take_ticket(struct hostconn *hc)
{
	uint64_t t;

	pthread_mutex_lock(&hc->lock);
	t = ++hc->tickets;
	pthread_mutex_unlock(&hc->lock);
	return t;
}

/* Reads a domain again and reports it; the refresher and actor both use it. */
static void resync_one(struct hostconn *hc, virConnectPtr conn, const char *uuid)
{
	uint64_t ticket = take_ticket(hc);
	virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
	struct dom_info di = {.ticket = ticket};

	if (!dom) {
		virErrorPtr e = virGetLastError();

		if (e && e->code == VIR_ERR_NO_DOMAIN) {
			pthread_mutex_lock(&hc->lock);
			forget(hc, uuid);
			pthread_mutex_unlock(&hc->lock);
			hc->cb->domain_gone(hc->opaque, uuid, ticket);
		}
		return;
	}
	if (fetch_domain(dom, &di) == 0) {
		pthread_mutex_lock(&hc->lock);
		remember(hc, di.uuid, is_active(di.state));
		pthread_mutex_unlock(&hc->lock);
		hc->cb->domain(hc->opaque, &di);
	} else {
		log_msg("%s: cannot read domain %s: %s", hc->name, uuid, virGetLastErrorMessage());
	}
	dom_info_clear(&di);
	virDomainFree(dom);
}

/* The state, and a running domain's live sizes when the driver gives both. */
static void stat_values(virDomainStatsRecordPtr rec, struct dom_info *di)
{
	bool vcpus = false, memory = false;

	for (int i = 0; i < rec->nparams; i++) {
		virTypedParameterPtr p = &rec->params[i];

		if (!strcmp(p->field, "state.state"))
			di->state = map_state(p->value.i);
	}
	if (!is_active(di->state))
		return;
	for (int i = 0; i < rec->nparams; i++) {
		virTypedParameterPtr p = &rec->params[i];

		if (!strcmp(p->field, "vcpu.current")) {
			di->vcpus = p->value.ui;
			vcpus = true;
		} else if (!strcmp(p->field, "balloon.current")) {
			di->memory_kib = p->value.ul;
			memory = true;
		}
	}
	if (vcpus && memory)
		di->fields |= DI_SIZES;
}

/* A domain's uuid, and its handle when the listing keeps them. */
struct dom_ref {
	char uuid[VIR_UUID_STRING_BUFLEN];
	virDomainPtr dom;
};

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const struct dom_ref *)a)->uuid, ((const struct dom_ref *)b)->uuid);
}

/* For bsearch() with a uuid string as the key. */
static int cmp_uuid_ref(const void *key, const void *ref)
{
	return strcmp(key, ((const struct dom_ref *)ref)->uuid);
}

/*
 * The domains a listing flag selects, sorted by uuid; with their handles on
 * conn when handles is set. NULL on error.
 */
static struct dom_ref *list_refs(virConnectPtr conn, unsigned flags, bool handles, int *count)
{
	virDomainPtr *doms = NULL;
	struct dom_ref *refs;
	int n = virConnectListAllDomains(conn, &doms, flags);

	*count = 0;
	if (n < 0)
		return NULL;
	refs = calloc(n + 1, sizeof(*refs));
	for (int i = 0; i < n; i++) {
		bool kept = refs && virDomainGetUUIDString(doms[i], refs[*count].uuid) == 0;

		if (kept)
			refs[(*count)++].dom = handles ? doms[i] : NULL;
		if (!kept || !handles)
			virDomainFree(doms[i]);
	}
	free(doms);
	if (refs)
		qsort(refs, *count, sizeof(*refs), cmp_ref);
	return refs;
}

static struct dom_ref *find_ref(struct dom_ref *refs, int n, const char *uuid)
{
	return refs ? bsearch(uuid, refs, n, sizeof(*refs), cmp_uuid_ref) : NULL;
}

static void free_refs(struct dom_ref *refs, int n)
{
	for (int i = 0; refs && i < n; i++)
		if (refs[i].dom)
			virDomainFree(refs[i].dom);
	free(refs);
}

static void free_uuids(char **uuids, int n)
{
	for (int i = 0; uuids && i < n; i++)
		free(uuids[i]);
	free(uuids);
}

/* The state of one bulk pass, shared by its fetching threads. */
struct pass {
	struct hostconn *hc;
	uint64_t ticket; /* taken before the listing */
	virDomainStatsRecordPtr *recs;
	int n;
	struct dom_ref *autos, *transients; /* uuids only */
	int nauto, ntrans;
	char **uuids;
	/* The domains that need a call, taken in turn by the pass's connections. */
	int *queue, nqueue, next;
	int nfetchers;
	bool *retry; /* their fetcher's connection failed under them */
	pthread_mutex_t lock;
};

/*
 * Domain i of the pass; dom is its handle on the connection that makes the
 * calls (the main one, under call_lock, or a fetcher's).
 */
static void pass_one(struct pass *p, int i, virDomainPtr dom)
{
	struct hostconn *hc = p->hc;
	struct dom_info di = {.ticket = p->ticket};
	bool need_detail;

	di.name = strdup(virDomainGetName(p->recs[i]->dom));
	virDomainGetUUIDString(p->recs[i]->dom, di.uuid);
	free(p->uuids[i]); /* a retried domain */
	p->uuids[i] = strdup(di.uuid);
	di.state = VM_NOSTATE;
	stat_values(p->recs[i], &di);
	di.fields |= DI_STATE;
	if (p->autos) {
		di.autostart = find_ref(p->autos, p->nauto, di.uuid) != NULL;
		di.fields |= DI_AUTOSTART;
	}
	if (p->transients) {
		di.persistent = !find_ref(p->transients, p->ntrans, di.uuid);
		di.fields |= DI_PERSISTENT;
	}
	need_detail = seen_changed(hc, di.uuid, is_active(di.state));
	if (need_detail) {
		bool live = di.fields & DI_SIZES;
		unsigned vcpus = di.vcpus;
		unsigned long long mem = di.memory_kib;

		if (fetch_detail(dom, &di) == 0 && live) {
			/* A running domain's sizes are the live ones. */
			di.vcpus = vcpus;
			di.memory_kib = mem;
		}
		if (!(di.fields & DI_DEFINITION)) {
			/* Not known yet and its definition unreadable: report nothing. */
			dom_info_clear(&di);
			return;
		}
		pthread_mutex_lock(&hc->lock);
		remember(hc, di.uuid, is_active(di.state));
		pthread_mutex_unlock(&hc->lock);
	} else if (is_active(di.state)) {
		di.ips = lease_addresses(dom);
		if (di.ips)
			di.fields |= DI_IPS;
	}
	hc->cb->domain(hc->opaque, &di);
	dom_info_clear(&di);
}

/* Whether domain i makes a call: a new definition or state, or addresses. */
static bool pass_needs_call(struct pass *p, int i)
{
	struct dom_info di = {.state = VM_NOSTATE};
	char uuid[VIR_UUID_STRING_BUFLEN];

	stat_values(p->recs[i], &di);
	return is_active(di.state) || virDomainGetUUIDString(p->recs[i]->dom, uuid) < 0 ||
	       seen_changed(p->hc, uuid, false);
}

static int pass_take(struct pass *p)
{
	int i;

	pthread_mutex_lock(&p->lock);
	i = p->hc->stop || p->next >= p->nqueue ? -1 : p->queue[p->next++];
	pthread_mutex_unlock(&p->lock);
	return i;
}

/* Opening a connection to a host that went dark hangs: on threads of their own. */
static int spawn_detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc ? -1 : 0;
}

struct opening {
	struct hostconn *hc;
	int slot;
	unsigned epoch;
};

static void *opening_main(void *arg)
{
	struct opening *o = arg;
	struct hostconn *hc = o->hc;
	virConnectPtr conn = virConnectOpen(hc->uri);

	if (conn)
		virConnectSetKeepAlive(conn, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT);
	virResetLastError();
	pthread_mutex_lock(&hc->lock);
	if (conn && !hc->stop && o->epoch == hc->fetch_epoch) {
		hc->fetchers[o->slot] = conn;
		conn = NULL;
	}
	pthread_mutex_unlock(&hc->lock);
	if (conn)
		virConnectClose(conn);
	/* Counted out only now: hostconn_free() waits for the close too. */
	pthread_mutex_lock(&hc->lock);
	hc->fetch_opening[o->slot] = false;
	hc->nopening--;
	pthread_mutex_unlock(&hc->lock);
	free(o);
	return NULL;
}

/* Under the lock: starts opening the empty slots below n. */
static void fetchers_open(struct hostconn *hc, int n)
{
	for (int k = 0; k < n; k++) {
		struct opening *o;

		if (hc->fetchers[k] || hc->fetch_opening[k] || !(o = malloc(sizeof(*o))))
			continue;
		*o = (struct opening){.hc = hc, .slot = k, .epoch = hc->fetch_epoch};
		if (spawn_detached(opening_main, o) < 0) {
			free(o);
			continue;
		}
		hc->fetch_opening[k] = true;
		hc->nopening++;
	}
}

static void fetchers_close(struct hostconn *hc)
{
	virConnectPtr conns[FETCHERS];

	pthread_mutex_lock(&hc->lock);
	hc->fetch_epoch++;
	for (int k = 0; k < FETCHERS; k++) {
		conns[k] = hc->fetchers[k];
		hc->fetchers[k] = NULL;
	}
	pthread_mutex_unlock(&hc->lock);
	for (int k = 0; k < FETCHERS; k++)
		if (conns[k])
			virConnectClose(conns[k]);
}

/* A pass's worker on one fetcher connection, which it holds for the pass. */
struct fetcher {
	struct pass *p;
	virConnectPtr conn;
	pthread_t thread;
	bool running, dead;
};

/* Whether each of the pass's fetchers has more to fetch than a listing costs. */
static bool pass_lists(struct pass *p)
{
	return p->nfetchers && (long)p->nqueue * LIST_COST >= (long)p->n * p->nfetchers;
}

static void *fetcher_main(void *arg)
{
	struct fetcher *f = arg;
	struct pass *p = f->p;
	struct dom_ref *refs = NULL;
	int i, nrefs = 0;

	/*
	 * When each fetcher has more domains to fetch than a listing costs (a
	 * first listing), one listing of every handle saves a lookup per domain.
	 */
	if (pass_lists(p))
		refs = list_refs(f->conn, 0, true, &nrefs);
	while ((i = pass_take(p)) >= 0) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		struct dom_ref *ref = NULL;
		virDomainPtr dom = NULL;

		if (virDomainGetUUIDString(p->recs[i]->dom, uuid) == 0) {
			ref = find_ref(refs, nrefs, uuid);
			dom = ref ? ref->dom : virDomainLookupByUUIDString(f->conn, uuid);
		}
		if (dom) {
			pass_one(p, i, dom);
			if (!ref)
				virDomainFree(dom);
		}
		if (virConnectIsAlive(f->conn) != 1) {
			/* The main connection does this one again. */
			p->retry[i] = true;
			f->dead = true;
			break;
		}
	}
	free_refs(refs, nrefs);
	virResetLastError();
	return NULL;
}

/* Starts a worker on each fetcher connection that has opened since. */
static void fetchers_start(struct pass *p, struct fetcher *f, int n)
{
	struct hostconn *hc = p->hc;

	pthread_mutex_lock(&hc->lock);
	for (int k = 0; k < n; k++) {
		if (f[k].running || f[k].dead || !hc->fetchers[k])
			continue;
		f[k] = (struct fetcher){.p = p, .conn = hc->fetchers[k]};
		if (pthread_create(&f[k].thread, NULL, fetcher_main, &f[k]) == 0) {
			f[k].running = true;
			hc->fetchers[k] = NULL;
		}
	}
	pthread_mutex_unlock(&hc->lock);
}

/* Joins the workers; their connections go back to their slots, or closed. */
static void fetchers_finish(struct hostconn *hc, struct fetcher *f, int n)
{
	for (int k = 0; k < n; k++) {
		if (!f[k].running)
			continue;
		pthread_join(f[k].thread, NULL);
		pthread_mutex_lock(&hc->lock);
		if (!f[k].dead && !hc->fetchers[k]) {
			hc->fetchers[k] = f[k].conn;
			f[k].conn = NULL;
		}
		pthread_mutex_unlock(&hc->lock);
		if (f[k].conn)
			virConnectClose(f[k].conn);
	}
}

/* Domain i on the main connection. */
static void pass_main(struct pass *p, int i)
{
	pthread_mutex_lock(&p->hc->call_lock);
	pass_one(p, i, p->recs[i]->dom);
	pthread_mutex_unlock(&p->hc->call_lock);
}

/*
 * The bulk pass: one stats call for every domain's state and live sizes, two
 * lists for autostart and transience, then per domain only what has no event
 * (addresses) or what changed since the last pass.
 */
static int full_pass(struct hostconn *hc, virConnectPtr conn)
{
	unsigned what = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BALLOON;
	struct pass p = {.hc = hc, .ticket = take_ticket(hc)};

	pthread_mutex_lock(&hc->call_lock);
	p.n = virConnectGetAllDomainStats(conn, what, &p.recs, 0);
	if (p.n < 0)
		p.n = virConnectGetAllDomainStats(conn, VIR_DOMAIN_STATS_STATE, &p.recs, 0);
	if (p.n >= 0) {
		p.autos = list_refs(conn, VIR_CONNECT_LIST_DOMAINS_AUTOSTART, false, &p.nauto);
		p.transients =
		    list_refs(conn, VIR_CONNECT_LIST_DOMAINS_TRANSIENT, false, &p.ntrans);
	}
	pthread_mutex_unlock(&hc->call_lock);
	if (p.n < 0)
		return -1;
	p.uuids = calloc(p.n + 1, sizeof(*p.uuids));
	p.queue = calloc(p.n + 1, sizeof(*p.queue));
	p.retry = calloc(p.n + 1, sizeof(*p.retry));
	pthread_mutex_init(&p.lock, NULL);
	if (p.uuids && p.queue && p.retry) {
		struct fetcher f[FETCHERS] = {0};
		int nf = 0;

		for (int i = 0; i < p.n; i++)
			if (pass_needs_call(&p, i))
				p.queue[p.nqueue++] = i;
		/* An in-process test driver has no link to hide, and its own state. */
		if (p.nqueue >= FETCH_MIN && strncmp(hc->uri, "test:", 5)) {
			nf = p.nqueue / FETCH_MIN + 1 < FETCHERS ? p.nqueue / FETCH_MIN + 1
								 : FETCHERS;
			p.nfetchers = nf;
			pthread_mutex_lock(&hc->lock);
			fetchers_open(hc, nf);
			pthread_mutex_unlock(&hc->lock);
		}
		/* Domain by domain, so that a write waits for one domain, not a pass. */
		for (int i = 0, k = 0; i < p.n && !hc->stop; i++) {
			if (k < p.nqueue && p.queue[k] == i) {
				k++;
				continue;
			}
			pass_main(&p, i);
		}
		for (;;) {
			int i;

			fetchers_start(&p, f, nf);
			if ((i = pass_take(&p)) < 0)
				break;
			pass_main(&p, i);
		}
		fetchers_finish(hc, f, nf);
		/*
		 * Each fetcher's listing (every domain, on its own thread's heap)
		 * is freed now: give it back, or RSS keeps ~1.4 KiB per domain.
		 */
		if (pass_lists(&p))
			malloc_trim(0);
		for (int i = 0; i < p.n && !hc->stop; i++)
			if (p.retry[i])
				pass_main(&p, i);
		if (p.nqueue < FETCH_MIN)
			fetchers_close(hc);
	}
	free(p.queue);
	free(p.retry);
	pthread_mutex_destroy(&p.lock);
	if (p.uuids && !hc->stop) {
		int m = 0;

		for (int i = 0; i < p.n; i++)
			if (p.uuids[i])
				p.uuids[m++] = p.uuids[i];
		hc->cb->sweep(hc->opaque, p.uuids, m, p.ticket);
		p.n = m;
	}
	free_uuids(p.uuids, p.n);
	virDomainStatsRecordListFree(p.recs);
	free_refs(p.autos, p.nauto);
	free_refs(p.transients, p.ntrans);
	return 0;
}

/* ---- connection ---- */

static void queue_resync(struct hostconn *hc, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	char **grown;

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return;
	pthread_mutex_lock(&hc->lock);
	for (size_t i = 0; i < hc->nresync; i++)
		if (!strcmp(hc->resync[i], uuid))
			goto out;
	grown = realloc(hc->resync, (hc->nresync + 1) * sizeof(*grown));
	if (!grown)
		goto out;
	hc->resync = grown;
	hc->resync[hc->nresync] = strdup(uuid);
	if (hc->resync[hc->nresync])
		hc->nresync++;
	pthread_cond_signal(&hc->wake);
out:
	pthread_mutex_unlock(&hc->lock);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	(void)conn;
	(void)event;
	(void)detail;
	queue_resync(opaque, dom);
	return 0;
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
			void *opaque)
{
	(void)conn;
	(void)type;
	(void)nsuri;
	queue_resync(opaque, dom);
}

static const char *close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_EOF:
		return "connection closed by the host";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
		return "no keepalive answer";
	case VIR_CONNECT_CLOSE_REASON_CLIENT:
		return "connection closed";
	default:
		return "connection error";
	}
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct hostconn *hc = opaque;

	(void)conn;
	pthread_mutex_lock(&hc->lock);
	hc->closed = true;
	pthread_cond_signal(&hc->wake);
	pthread_mutex_unlock(&hc->lock);
	/* The status flips at once: writes fail fast from now on. */
	if (reason != VIR_CONNECT_CLOSE_REASON_CLIENT)
		hc->cb->status(hc->opaque, HOST_UNREACHABLE, close_reason(reason));
}

static void setup_conn(struct hostconn *hc, virConnectPtr conn)
{
	/* Local drivers have no keepalive nor close callback; that is fine. */
	virConnectSetKeepAlive(conn, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT);
	virConnectRegisterCloseCallback(conn, on_close, hc, NULL);
	hc->life_cb =
	    virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
					     VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), hc, NULL);
	hc->meta_cb =
	    virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
					     VIR_DOMAIN_EVENT_CALLBACK(on_metadata), hc, NULL);
	if (hc->life_cb < 0 || hc->meta_cb < 0)
		log_msg("%s: no domain events (%s): changes are seen every %d s", hc->name,
			virGetLastErrorMessage(), hc->refresh_secs);
	virResetLastError();
}

static void disconnect_host(struct hostconn *hc, virConnectPtr conn)
{
	if (hc->life_cb >= 0)
		virConnectDomainEventDeregisterAny(conn, hc->life_cb);
	if (hc->meta_cb >= 0)
		virConnectDomainEventDeregisterAny(conn, hc->meta_cb);
	hc->life_cb = hc->meta_cb = -1;
	virConnectUnregisterCloseCallback(conn, on_close);
	virConnectClose(conn);
	fetchers_close(hc);
}

static void timed_wait(struct hostconn *hc, double secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)secs;
	ts.tv_nsec += (long)((secs - (time_t)secs) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&hc->wake, &hc->lock, &ts);
}

/*
 * Opening a connection cannot be cancelled, and one to a black-holed host
 * hangs until TCP gives up (its SYNs are retried after 1, 3, 7, 15... s).
 * So each attempt runs on a thread of its own, and while none has answered a
 * new one starts every CONNECT_RETRY_SECS: a host that comes back is reached
 * within that time. The first to succeed is kept, later ones are closed.
 */
struct attempt {
	struct hostconn *hc;
	virConnectPtr conn;
	char *error;
	bool done;
	struct attempt *next;
};

static void *attempt_main(void *arg)
{
	struct attempt *a = arg;
	struct hostconn *hc = a->hc;
	virConnectPtr conn = virConnectOpen(hc->uri);
	char *error = conn ? NULL : strdup(virGetLastErrorMessage());

	pthread_mutex_lock(&hc->lock);
	a->conn = conn;
	a->error = error;
	a->done = true;
	pthread_cond_broadcast(&hc->wake);
	pthread_mutex_unlock(&hc->lock);
	return NULL;
}

/* Under the lock. */
static int attempt_start(struct hostconn *hc)
{
	struct attempt *a = calloc(1, sizeof(*a));

	if (!a)
		return -1;
	a->hc = hc;
	if (spawn_detached(attempt_main, a) < 0) {
		free(a);
		return -1;
	}
	a->next = hc->attempts;
	hc->attempts = a;
	return 0;
}

/*
 * Under the lock: takes the finished attempts, keeping the first connection
 * into *conn and the last error into *error; closes the other connections.
 * Returns how many attempts are still under way.
 */
static int attempt_harvest(struct hostconn *hc, virConnectPtr *conn, char **error)
{
	int running = 0;

	for (struct attempt **pp = &hc->attempts; *pp;) {
		struct attempt *a = *pp;

		if (!a->done) {
			running++;
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		if (a->conn && !*conn && !hc->stop) {
			*conn = a->conn;
		} else if (a->conn) {
			pthread_mutex_unlock(&hc->lock);
			virConnectClose(a->conn);
			pthread_mutex_lock(&hc->lock);
		}
		if (a->error) {
			free(*error);
			*error = a->error;
		}
		free(a);
	}
	return running;
}

/* Under the lock: a connection, or NULL with *error set (or on stop). */
static virConnectPtr connect_host(struct hostconn *hc, char **error)
{
	double started = now_mono(), next_try = started;
	virConnectPtr conn = NULL;
	bool told = false;

	while (!hc->stop) {
		int running = attempt_harvest(hc, &conn, error);

		if (conn)
			return conn;
		if (*error && !running)
			return NULL;
		if (now_mono() >= next_try && running < CONNECT_ATTEMPTS) {
			if (attempt_start(hc) < 0 && !running) {
				*error = strdup("cannot start a thread to connect");
				return NULL;
			}
			next_try = now_mono() + CONNECT_RETRY_SECS;
		}
		if (!told && now_mono() - started >= CONNECT_PATIENCE_SECS) {
			told = true;
			pthread_mutex_unlock(&hc->lock);
			hc->cb->status(hc->opaque, HOST_UNREACHABLE,
				       "no answer within " CONNECT_PATIENCE_TEXT
				       " s, still trying");
			pthread_mutex_lock(&hc->lock);
			continue;
		}
		timed_wait(hc, next_try - now_mono() > 0 ? next_try - now_mono() : 0.05);
	}
	return NULL;
}

static void *refresher_main(void *arg)
{
	struct hostconn *hc = arg;
	double backoff = BACKOFF_FIRST, next_pass = 0;

	pthread_mutex_lock(&hc->lock);
	while (!hc->stop) {
		if (!hc->conn) {
			char *error = NULL;
			virConnectPtr conn = connect_host(hc, &error);

			if (!conn) {
				pthread_mutex_unlock(&hc->lock);
				if (error)
					hc->cb->status(hc->opaque, HOST_UNREACHABLE, error);
				free(error);
				pthread_mutex_lock(&hc->lock);
				timed_wait(hc, backoff);
				backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
				continue;
			}
			free(error);
			backoff = BACKOFF_FIRST;
			hc->conn = conn;
			hc->closed = false;
			pthread_mutex_unlock(&hc->lock);
			pthread_mutex_lock(&hc->call_lock);
			setup_conn(hc, conn);
			pthread_mutex_unlock(&hc->call_lock);
			/*
			 * A connection lost during the listing has reported
			 * itself unreachable already: do not say otherwise.
			 */
			if (full_pass(hc, conn) == 0 && virConnectIsAlive(conn) == 1)
				hc->cb->status(hc->opaque, HOST_CONNECTED, NULL);
			else if (virConnectIsAlive(conn) == 1)
				log_msg("%s: first listing failed: %s", hc->name,
					virGetLastErrorMessage());
			next_pass = now_mono() + hc->refresh_secs;
			pthread_mutex_lock(&hc->lock);
			continue;
		}
		if (hc->closed) {
			virConnectPtr conn = hc->conn;

			hc->conn = NULL;
			forget_all(hc);
			pthread_mutex_unlock(&hc->lock);
			log_msg("%s: connection lost, reconnecting", hc->name);
			pthread_mutex_lock(&hc->call_lock);
			disconnect_host(hc, conn);
			pthread_mutex_unlock(&hc->call_lock);
			pthread_mutex_lock(&hc->lock);
			continue;
		}
		if (hc->nresync) {
			char **list = hc->resync;
			size_t n = hc->nresync;
			virConnectPtr conn = hc->conn;

			hc->resync = NULL;
			hc->nresync = 0;
			pthread_mutex_unlock(&hc->lock);
			for (size_t i = 0; i < n; i++) {
				pthread_mutex_lock(&hc->call_lock);
				resync_one(hc, conn, list[i]);
				pthread_mutex_unlock(&hc->call_lock);
				free(list[i]);
			}
			free(list);
			pthread_mutex_lock(&hc->lock);
			continue;
		}
		if (now_mono() >= next_pass) {
			virConnectPtr conn = hc->conn;

			pthread_mutex_unlock(&hc->lock);
			if (full_pass(hc, conn) < 0 && virConnectIsAlive(conn) == 0) {
				pthread_mutex_lock(&hc->lock);
				hc->closed = true;
				continue;
			}
			next_pass = now_mono() + hc->refresh_secs;
			pthread_mutex_lock(&hc->lock);
			continue;
		}
		timed_wait(hc, next_pass - now_mono());
	}
	pthread_mutex_unlock(&hc->lock);
	return NULL;
}

/* ---- actions ---- */

/*
 * Drivers differ in how they refuse an action that does not fit the state
 * (qemu: operation invalid, test: internal error): check it here, so a
 * refusal is EBUSY everywhere.
 */
static int lifecycle_fits(virDomainPtr dom, const char *word, char **errmsg)
{
	int active = virDomainIsActive(dom);

	if (active < 0)
		return -1;
	if (!strcmp(word, "start") && active)
		return set_err(errmsg, -EBUSY, "%s is running already", virDomainGetName(dom));
	if (strcmp(word, "start") && !active)
		return set_err(errmsg, -EBUSY, "%s is not running", virDomainGetName(dom));
	return 0;
}

static int lifecycle(virDomainPtr dom, const char *word)
{
	if (!strcmp(word, "start"))
		return virDomainCreate(dom);
	if (!strcmp(word, "shutdown"))
		return virDomainShutdown(dom);
	if (!strcmp(word, "reboot"))
		return virDomainReboot(dom, 0);
	if (!strcmp(word, "reset"))
		return virDomainReset(dom, 0);
	if (!strcmp(word, "destroy"))
		return virDomainDestroy(dom);
	if (!strcmp(word, "suspend"))
		return virDomainSuspend(dom);
	if (!strcmp(word, "resume"))
		return virDomainResume(dom);
	return -2;
}

static bool dom_active(virDomainPtr dom)
{
	return virDomainIsActive(dom) == 1;
}

static int set_owner(virConnectPtr conn, virDomainPtr dom, struct job *job)
{
	const char *want = job->arg;
	bool takeover = *want == '!';
	bool persistent = virDomainIsPersistent(dom) == 1;
	char *cur;
	int rc;

	if (takeover)
		want++;
	rc = reslock_acquire(conn, job->uuid, &job->errmsg);
	if (rc < 0)
		return rc;
	cur = owner_fetch(dom, persistent);
	if (!cur) {
		rc = virt_err(conn, &job->errmsg);
		goto out;
	}
	job->req.result = strdup(cur);
	if (!strcmp(cur, want))
		goto out;
	if (*cur && *want && !takeover) {
		rc = set_err(&job->errmsg, -EBUSY, "reserved by %s (write !%s to take it over)",
			     cur, want);
		goto out;
	}
	if (owner_store(dom, want, dom_active(dom), persistent) < 0)
		rc = virt_err(conn, &job->errmsg);
out:
	free(cur);
	reslock_release(conn, job->uuid);
	return rc;
}

static int define(virConnectPtr conn, virDomainPtr dom, struct job *job)
{
	struct dom_info cur = {0};
	char *xml = NULL, *prepared = NULL;
	virDomainPtr made;
	int rc;

	if (dom) {
		rc = reslock_acquire(conn, job->uuid, &job->errmsg);
		if (rc < 0)
			return rc;
		xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
		if (!xml || domxml_definition(xml, &cur) < 0) {
			rc = virt_err(conn, &job->errmsg);
			goto out;
		}
	} else if ((made = virDomainLookupByName(conn, job->name))) {
		virDomainFree(made);
		return set_err(&job->errmsg, -EEXIST, "a VM named %s exists already", job->name);
	}
	rc = domxml_prepare(job->arg, job->req.arglen, job->name, dom ? job->uuid : NULL, cur.owner,
			    &prepared, &job->errmsg);
	if (rc < 0)
		goto out;
	made = virDomainDefineXML(conn, prepared);
	if (!made) {
		rc = virt_err(conn, &job->errmsg);
		/* Drivers report many a bad definition as an internal error. */
		if (rc == -EIO)
			rc = -EINVAL;
		goto out;
	}
	virDomainGetUUIDString(made, job->req.uuid_out);
	virDomainFree(made);
out:
	if (dom)
		reslock_release(conn, job->uuid);
	dom_info_clear(&cur);
	free(xml);
	free(prepared);
	return rc;
}

static int act(struct hostconn *hc, virConnectPtr conn, struct job *job)
{
	virDomainPtr dom = NULL;
	int rc = 0;

	if (job->uuid && *job->uuid) {
		dom = virDomainLookupByUUIDString(conn, job->uuid);
		if (!dom)
			return virt_err(conn, &job->errmsg);
	}
	switch (job->req.op) {
	case HC_LIFECYCLE:
		rc = lifecycle_fits(dom, job->arg, &job->errmsg);
		if (rc < -1)
			goto done;
		if (rc == 0)
			rc = lifecycle(dom, job->arg);
		break;
	case HC_OWNER:
		rc = set_owner(conn, dom, job);
		goto done;
	case HC_DESCRIPTION:
		rc = virDomainSetMetadata(
		    dom, VIR_DOMAIN_METADATA_DESCRIPTION, job->arg, NULL, NULL,
		    VIR_DOMAIN_AFFECT_CURRENT |
			(virDomainIsPersistent(dom) == 1 && dom_active(dom)
			     ? VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_AFFECT_LIVE
			     : 0));
		break;
	case HC_AUTOSTART:
		rc = virDomainSetAutostart(dom, !strcmp(job->arg, "1"));
		break;
	case HC_DEFINE:
		rc = define(conn, dom, job);
		goto done;
	case HC_UNDEFINE:
		if (dom_active(dom)) {
			rc = set_err(&job->errmsg, -EBUSY, "%s is running: shut it down first",
				     virDomainGetName(dom));
			goto done;
		}
		rc = virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
						     VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
		break;
	case HC_RENAME: {
		virDomainPtr other;

		if (dom_active(dom)) {
			rc = set_err(&job->errmsg, -EBUSY, "%s is running: shut it down first",
				     virDomainGetName(dom));
			goto done;
		}
		if ((other = virDomainLookupByName(conn, job->arg))) {
			virDomainFree(other);
			rc = set_err(&job->errmsg, -EEXIST, "a VM named %s exists already",
				     job->arg);
			goto done;
		}
		rc = virDomainRename(dom, job->arg, 0);
		break;
	}
	case HC_GET_XML:
		job->req.result =
		    virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
		rc = job->req.result ? 0 : -1;
		break;
	}
	if (rc == -2)
		rc = set_err(&job->errmsg, -EINVAL, "unknown action '%s'", job->arg);
	else if (rc < 0)
		rc = virt_err(conn, &job->errmsg);
done:
	if (rc == 0 && job->req.op != HC_GET_XML) {
		/* The cache shows the effect before the write returns. */
		resync_one(hc, conn, *job->req.uuid_out ? job->req.uuid_out : job->uuid);
	}
	if (dom)
		virDomainFree(dom);
	return rc;
}

static void job_free(struct job *job)
{
	free(job->uuid);
	free(job->name);
	free(job->arg);
	free(job->errmsg);
	free(job->req.result);
	pthread_cond_destroy(&job->cond);
	free(job);
}

static void *actor_main(void *arg)
{
	struct hostconn *hc = arg;

	pthread_mutex_lock(&hc->lock);
	for (;;) {
		struct job *job;
		virConnectPtr conn;

		while (!hc->stop && !hc->jobs)
			pthread_cond_wait(&hc->work, &hc->lock);
		if (!hc->jobs)
			break;
		job = hc->jobs;
		hc->jobs = job->next;
		if (!hc->jobs)
			hc->jobs_tail = &hc->jobs;
		conn = hc->conn && !hc->closed && !hc->stop ? hc->conn : NULL;
		if (conn)
			virConnectRef(conn);
		pthread_mutex_unlock(&hc->lock);

		if (conn) {
			pthread_mutex_lock(&hc->call_lock);
			job->rc = act(hc, conn, job);
			pthread_mutex_unlock(&hc->call_lock);
			virConnectClose(conn);
		} else {
			job->rc = set_err(&job->errmsg, -EHOSTUNREACH, "host %s is unreachable",
					  hc->name);
		}

		pthread_mutex_lock(&hc->lock);
		job->done = true;
		if (job->abandoned)
			job_free(job);
		else
			pthread_cond_signal(&job->cond);
	}
	pthread_mutex_unlock(&hc->lock);
	return NULL;
}

int hostconn_call(struct hostconn *hc, struct hc_request *req, char **errmsg)
{
	struct job *job;
	struct timespec deadline;
	int rc = 0;

	*errmsg = NULL;
	pthread_mutex_lock(&hc->lock);
	if (!hc->conn || hc->closed) {
		pthread_mutex_unlock(&hc->lock);
		return set_err(errmsg, -EHOSTUNREACH, "host %s is unreachable", hc->name);
	}
	pthread_mutex_unlock(&hc->lock);

	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->req = *req;
	job->uuid = req->uuid ? strdup(req->uuid) : NULL;
	job->name = req->name ? strdup(req->name) : NULL;
	job->arg = malloc(req->arglen + 1);
	if (job->arg) {
		memcpy(job->arg, req->arg ? req->arg : "", req->arglen);
		job->arg[req->arglen] = '\0';
	}
	pthread_cond_init(&job->cond, NULL);
	if ((req->uuid && !job->uuid) || (req->name && !job->name) || !job->arg) {
		job_free(job);
		return -ENOMEM;
	}

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += CALL_TIMEOUT_SECS;
	pthread_mutex_lock(&hc->lock);
	*hc->jobs_tail = job;
	hc->jobs_tail = &job->next;
	pthread_cond_signal(&hc->work);
	while (!job->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&job->cond, &hc->lock, &deadline);
	if (!job->done) {
		job->abandoned = true;
		pthread_mutex_unlock(&hc->lock);
		return set_err(errmsg, -ETIMEDOUT, "host %s did not answer within %d s", hc->name,
			       CALL_TIMEOUT_SECS);
	}
	pthread_mutex_unlock(&hc->lock);
	rc = job->rc;
	*errmsg = job->errmsg;
	job->errmsg = NULL;
	req->result = job->req.result;
	job->req.result = NULL;
	memcpy(req->uuid_out, job->req.uuid_out, sizeof(req->uuid_out));
	job_free(job);
	return rc;
}

struct hostconn *hostconn_new(const char *name, const char *uri, int refresh_secs,
			      const struct hostconn_callbacks *cb, void *opaque)
{
	struct hostconn *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return NULL;
	hc->name = strdup(name);
	hc->uri = strdup(uri);
	hc->refresh_secs = refresh_secs;
	hc->cb = cb;
	hc->opaque = opaque;
	hc->life_cb = hc->meta_cb = -1;
	hc->jobs_tail = &hc->jobs;
	hmap_init(&hc->seen, seen_match);
	pthread_mutex_init(&hc->lock, NULL);
	pthread_mutex_init(&hc->call_lock, NULL);
	pthread_cond_init(&hc->wake, NULL);
	pthread_cond_init(&hc->work, NULL);
	if (!hc->name || !hc->uri)
		goto fail;
	if (pthread_create(&hc->refresher, NULL, refresher_main, hc))
		goto fail;
	if (pthread_create(&hc->actor, NULL, actor_main, hc)) {
		pthread_mutex_lock(&hc->lock);
		hc->stop = true;
		pthread_cond_signal(&hc->wake);
		pthread_mutex_unlock(&hc->lock);
		pthread_join(hc->refresher, NULL);
		goto fail;
	}
	return hc;
fail:
	free(hc->name);
	free(hc->uri);
	free(hc);
	return NULL;
}

void hostconn_free(struct hostconn *hc)
{
	struct timespec deadline;
	bool stuck;

	if (!hc)
		return;
	pthread_mutex_lock(&hc->lock);
	hc->stop = true;
	pthread_cond_broadcast(&hc->wake);
	pthread_cond_broadcast(&hc->work);
	pthread_mutex_unlock(&hc->lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_WAIT_SECS;
	stuck = pthread_timedjoin_np(hc->refresher, NULL, &deadline) != 0;
	if (stuck)
		pthread_detach(hc->refresher);
	if (pthread_timedjoin_np(hc->actor, NULL, &deadline)) {
		pthread_detach(hc->actor);
		stuck = true;
	}
	if (!stuck) {
		virConnectPtr extra = NULL;
		char *error = NULL;

		pthread_mutex_lock(&hc->lock);
		stuck = attempt_harvest(hc, &extra, &error) > 0 || hc->nopening > 0;
		pthread_mutex_unlock(&hc->lock);
		free(error);
		if (extra)
			virConnectClose(extra);
	}
	if (stuck) {
		/* Blocked in a call to a dead host: the process exits without it. */
		log_msg("%s: its connection is still blocked; leaving it", hc->name);
		threads_left = true;
		return;
	}
	if (hc->conn)
		disconnect_host(hc, hc->conn);
	for (size_t i = 0; i < hc->nresync; i++)
		free(hc->resync[i]);
	free(hc->resync);
	forget_all(hc);
	pthread_cond_destroy(&hc->wake);
	pthread_cond_destroy(&hc->work);
	pthread_mutex_destroy(&hc->call_lock);
	pthread_mutex_destroy(&hc->lock);
	free(hc->name);
	free(hc->uri);
	free(hc);
}
