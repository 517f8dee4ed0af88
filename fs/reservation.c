/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "reservation.h"
#include "domxml.h"
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <libvirt/virterror.h>

/*
 * A lock is a volume named after the VM. Its capacity (a sparse size) is a
 * random token of its holder, so that a release deletes only its own lock.
 * Its age is read from the host's clock alone: the volume's mtime, compared
 * with the mtime of a probe volume made just then. A holder needs the lock
 * for a few calls only; one older than LOCK_STALE_SECS was left by a killed
 * process and may be broken. Pools that give no timestamps (the test
 * driver's) have no stale locks: nothing outlives its process there.
 */
#define LOCK_STALE_SECS 15
#define LOCK_WAIT_SECS 10
/* 2^40 bytes: a sparse file every file system of a pool can hold. */
#define TOKEN_BITS 40

static const char *const pool_names[] = {"catkeeper", "default", "default-pool"};

#define LOCK_POOL_XML                                                                              \
	"<pool type='dir'><name>catkeeper</name>"                                                  \
	"<target><path>/var/lib/libvirt/catkeeper</path></target></pool>"

/*
 * A host with none of the pools gets a small dir pool of its own, holding
 * only (empty, sparse) lock volumes. Two clients may race to make it: the
 * loser finds the winner's.
 */
static virStoragePoolPtr make_pool(virConnectPtr conn)
{
	virStoragePoolPtr pool = virStoragePoolDefineXML(conn, LOCK_POOL_XML, 0);

	if (!pool)
		pool = virStoragePoolLookupByName(conn, pool_names[0]);
	if (!pool)
		return NULL;
	if (virStoragePoolIsActive(pool) != 1) {
		virStoragePoolBuild(pool, 0);
		if (virStoragePoolCreate(pool, 0) < 0 && virStoragePoolIsActive(pool) != 1) {
			log_msg("cannot start the lock pool: %s", virGetLastErrorMessage());
			virStoragePoolFree(pool);
			return NULL;
		}
		virStoragePoolSetAutostart(pool, 1);
	}
	return pool;
}

static virStoragePoolPtr lock_pool(virConnectPtr conn)
{
	for (size_t i = 0; i < sizeof(pool_names) / sizeof(pool_names[0]); i++) {
		virStoragePoolPtr pool = virStoragePoolLookupByName(conn, pool_names[i]);

		if (pool && virStoragePoolIsActive(pool) == 1)
			return pool;
		if (pool)
			virStoragePoolFree(pool);
	}
	return make_pool(conn);
}

static uint64_t new_token(void)
{
	uint64_t t = 0;

	if (getrandom(&t, sizeof(t), 0) != sizeof(t)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
	}
	t &= (1ULL << TOKEN_BITS) - 1;
	return t ? t : 1;
}

/* What is known of a lock volume: its token and mtime (-1: no timestamps). */
struct lock_seen {
	uint64_t token;
	double mtime;
};

/* 1 when the volume NAME is there (filling *seen), 0 when it is not, -1 on error. */
static int lock_look(virStoragePoolPtr pool, const char *name, struct lock_seen *seen)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
	virStorageVolInfo info;
	char *xml, *m;
	int rc = 1;

	if (!vol) {
		virErrorPtr e = virGetLastError();

		return e && e->code == VIR_ERR_NO_STORAGE_VOL ? 0 : -1;
	}
	seen->mtime = -1;
	if (virStorageVolGetInfo(vol, &info) < 0) {
		rc = -1;
	} else {
		seen->token = info.capacity;
		xml = virStorageVolGetXMLDesc(vol, 0);
		m = xml ? strstr(xml, "<mtime>") : NULL;
		if (m)
			seen->mtime = strtod(m + strlen("<mtime>"), NULL);
		free(xml);
	}
	virStorageVolFree(vol);
	return rc;
}

/*
 * Creates the volume NAME holding TOKEN: 0, 1 when it exists already, or
 * -1 with the host's reason in *err.
 */
static int lock_create(virStoragePoolPtr pool, const char *name, uint64_t token, char **err)
{
	char xml[512];
	virStorageVolPtr vol;
	struct lock_seen seen;
	virErrorPtr e;
	bool exists;

	snprintf(xml, sizeof(xml),
		 "<volume><name>%s</name><capacity unit='bytes'>%llu</capacity>"
		 "<allocation>0</allocation><target><format type='raw'/></target></volume>",
		 name, (unsigned long long)token);
	vol = virStorageVolCreateXML(pool, xml, 0);
	if (vol) {
		virStorageVolFree(vol);
		return 0;
	}
	/*
	 * Storage drivers say "exists" with VIR_ERR_STORAGE_VOL_EXIST, the test
	 * driver in other words: otherwise, look.
	 */
	e = virGetLastError();
	exists = e && e->code == VIR_ERR_STORAGE_VOL_EXIST;
	if (asprintf(err, "cannot create the reservation lock %s: %s", name,
		     virGetLastErrorMessage()) < 0)
		*err = NULL;
	if (exists || lock_look(pool, name, &seen) == 1) {
		free(*err);
		*err = NULL;
		return 1;
	}
	return -1;
}

/* Deletes NAME if it still holds TOKEN (libvirt has no conditional delete). */
static void lock_delete(virStoragePoolPtr pool, const char *name, uint64_t token)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
	virStorageVolInfo info;

	if (!vol)
		return;
	if (virStorageVolGetInfo(vol, &info) == 0 && info.capacity != token)
		log_msg("lock %s is no longer ours: left alone", name);
	else if (virStorageVolDelete(vol, 0) < 0)
		log_msg("cannot remove lock %s: %s", name, virGetLastErrorMessage());
	virStorageVolFree(vol);
}

/* The host's time now: the mtime of a probe volume made for it; -1 if none. */
static double host_now(virStoragePoolPtr pool)
{
	uint64_t token = new_token();
	struct lock_seen seen = {.mtime = -1};
	char name[64], *err = NULL;

	snprintf(name, sizeof(name), "catkeeper-now-%llx", (unsigned long long)token);
	if (lock_create(pool, name, token, &err) != 0) {
		free(err);
		return -1;
	}
	lock_look(pool, name, &seen);
	lock_delete(pool, name, token);
	return seen.mtime;
}

static bool stale(const struct lock_seen *seen, double now)
{
	return seen->mtime >= 0 && now >= 0 && now - seen->mtime > LOCK_STALE_SECS;
}

/*
 * Breaking a stale lock races with other breakers, so it takes a lock of its
 * own, then checks that the lock is still the stale one it saw.
 */
static void break_stale(virStoragePoolPtr pool, const char *uuid, const char *name,
			const struct lock_seen *was, double now)
{
	uint64_t token = new_token();
	struct lock_seen now_seen, breaker_seen;
	char breaker[128], *err = NULL;
	int rc;

	if (!stale(was, now))
		return;
	snprintf(breaker, sizeof(breaker), "catkeeper-break-%s", uuid);
	rc = lock_create(pool, breaker, token, &err);
	free(err);
	if (rc == 1 && lock_look(pool, breaker, &breaker_seen) == 1 &&
	    now - breaker_seen.mtime > 2 * LOCK_STALE_SECS)
		lock_delete(pool, breaker, breaker_seen.token);
	if (rc != 0)
		return;
	if (lock_look(pool, name, &now_seen) == 1 && now_seen.token == was->token) {
		log_msg("breaking the stale reservation lock %s (%.0f s old by the host's clock)",
			name, now - was->mtime);
		lock_delete(pool, name, was->token);
	}
	lock_delete(pool, breaker, token);
}

static double secs_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

int reslock_acquire(virConnectPtr conn, const char *uuid, uint64_t *token, char **err)
{
	virStoragePoolPtr pool = lock_pool(conn);
	struct timespec start, now, probe_at;
	double probe = -1;
	bool probed = false;
	unsigned seed;
	char name[128];
	int rc = -EBUSY;

	*token = new_token();
	seed = (unsigned)*token;
	if (!pool) {
		if (asprintf(err, "no storage pool for reservation locks: %s",
			     virGetLastErrorMessage()) < 0)
			*err = NULL;
		return -EIO;
	}
	snprintf(name, sizeof(name), "catkeeper-lock-%s", uuid);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct lock_seen seen;
		struct timespec pause;
		int made = lock_create(pool, name, *token, err);

		if (made == 0) {
			rc = 0;
			break;
		}
		if (made < 0) {
			rc = virConnectIsAlive(conn) == 1 ? -EIO : -EHOSTUNREACH;
			break;
		}
		if (lock_look(pool, name, &seen) == 1 && seen.mtime >= 0) {
			/* One probe of the host's clock; the time since is measured here. */
			if (!probed) {
				probe = host_now(pool);
				clock_gettime(CLOCK_MONOTONIC, &probe_at);
				probed = true;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (probe >= 0)
				break_stale(pool, uuid, name, &seen,
					    probe + secs_between(&probe_at, &now));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (secs_between(&start, &now) > LOCK_WAIT_SECS) {
			if (asprintf(err,
				     "the reservation lock of this VM stayed taken by another"
				     " client for %d s",
				     LOCK_WAIT_SECS) < 0)
				*err = NULL;
			break;
		}
		pause.tv_sec = 0;
		pause.tv_nsec = (5 + rand_r(&seed) % 30) * 1000000L;
		nanosleep(&pause, NULL);
	}
	virStoragePoolFree(pool);
	return rc;
}

void reslock_release(virConnectPtr conn, const char *uuid, uint64_t token)
{
	virStoragePoolPtr pool = lock_pool(conn);
	char name[128];

	if (!pool)
		return;
	snprintf(name, sizeof(name), "catkeeper-lock-%s", uuid);
	lock_delete(pool, name, token);
	virStoragePoolFree(pool);
}

char *owner_fetch(virDomainPtr dom, bool persistent)
{
	unsigned flags = persistent ? VIR_DOMAIN_AFFECT_CONFIG : VIR_DOMAIN_AFFECT_LIVE;
	char *elem = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, OWNER_NS, flags);
	char *owner;

	if (!elem) {
		virErrorPtr e = virGetLastError();

		if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA)
			return strdup("");
		return NULL;
	}
	owner = domxml_owner_element_text(elem);
	free(elem);
	return owner;
}

int owner_store(virDomainPtr dom, const char *owner, bool active, bool persistent)
{
	unsigned flags =
	    (active ? VIR_DOMAIN_AFFECT_LIVE : 0) | (persistent ? VIR_DOMAIN_AFFECT_CONFIG : 0);
	char *elem = NULL;
	int rc;

	if (*owner && !(elem = domxml_owner_element(owner)))
		return -1;
	rc = virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, elem, elem ? OWNER_KEY : NULL,
				  OWNER_NS, flags);
	free(elem);
	return rc;
}
