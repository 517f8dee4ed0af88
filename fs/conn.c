/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A host's life: connecting (in parallel attempts, since an open cannot be
 * cancelled), events, reconnecting with backoff, and its refresher thread.
 */
#include "host.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

/* Reconnection backoff: doubles from the first to the last, then stays. */
#define BACKOFF_FIRST 0.25
#define BACKOFF_MAX 2.0
/* How long a connection may take before the host shows unreachable. */
#define CONNECT_PATIENCE_SECS 10
#define CONNECT_PATIENCE_TEXT "10"
/* A new attempt while the others hang, and how many may hang at once. */
#define CONNECT_RETRY_SECS 3
#define CONNECT_ATTEMPTS 4
/* How long the owner waits for the requests under way to let go of a host. */
#define RELEASE_WAIT_SECS 5
/* How long unmounting waits for a host's threads stuck in a call. */
#define STOP_WAIT_SECS 1

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
	struct timespec ts = deadline_in(secs);

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
			g_hash_table_remove_all(hc->seen);
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
	hc->seen = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	pthread_mutex_init(&hc->lock, NULL);
	pthread_mutex_init(&hc->call_lock, NULL);
	pthread_cond_init(&hc->wake, NULL);
	pthread_cond_init(&hc->work, NULL);
	pthread_cond_init(&hc->done, NULL);
	hc->refs = 1;
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

void hostconn_stop(struct hostconn *hc)
{
	pthread_mutex_lock(&hc->lock);
	hc->stop = true;
	pthread_cond_broadcast(&hc->wake);
	pthread_cond_broadcast(&hc->work);
	pthread_cond_broadcast(&hc->done);
	pthread_mutex_unlock(&hc->lock);
}

struct hostconn *hostconn_ref(struct hostconn *hc)
{
	pthread_mutex_lock(&hc->lock);
	hc->refs++;
	pthread_mutex_unlock(&hc->lock);
	return hc;
}

/* The last reference: its threads end (bounded), then it is freed. */
static void hostconn_destroy(struct hostconn *hc)
{
	struct timespec deadline;
	bool stuck;

	hostconn_stop(hc);
	deadline = deadline_in(STOP_WAIT_SECS);
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
		virtloop_thread_left();
		return;
	}
	if (hc->conn)
		disconnect_host(hc, hc->conn);
	for (size_t i = 0; i < hc->nresync; i++)
		free(hc->resync[i]);
	free(hc->resync);
	g_hash_table_destroy(hc->seen);
	pthread_cond_destroy(&hc->wake);
	pthread_cond_destroy(&hc->work);
	pthread_cond_destroy(&hc->done);
	pthread_mutex_destroy(&hc->call_lock);
	pthread_mutex_destroy(&hc->lock);
	free(hc->name);
	free(hc->uri);
	free(hc);
}

void hostconn_unref(struct hostconn *hc)
{
	bool last;

	if (!hc)
		return;
	pthread_mutex_lock(&hc->lock);
	last = --hc->refs == 0;
	pthread_cond_broadcast(&hc->done);
	pthread_mutex_unlock(&hc->lock);
	if (last)
		hostconn_destroy(hc);
}

void hostconn_release(struct hostconn *hc)
{
	struct timespec deadline = deadline_in(RELEASE_WAIT_SECS);

	hostconn_stop(hc);
	pthread_mutex_lock(&hc->lock);
	while (hc->refs > 1)
		if (pthread_cond_timedwait(&hc->done, &hc->lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&hc->lock);
	hostconn_unref(hc);
}
