/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The periodic bulk pass over a host: one stats call for every domain, then
 * per domain only what changed, spread over extra connections when many do.
 */
#include "host.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#define FETCH_MIN 16 /* domains needing a call before extra connections pay */
/* Listing every domain costs about as much as this many lookups (1,000 in 4-10 ms). */
#define LIST_COST 32

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
		seen_remember(hc, di.uuid, is_active(di.state));
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
int spawn_detached(void *(*fn)(void *), void *arg)
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

void fetchers_close(struct hostconn *hc)
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
int full_pass(struct hostconn *hc, virConnectPtr conn)
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
