/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "reservation.h"
#include "domxml.h"
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libvirt/virterror.h>

/*
 * A lock records when it was taken in its capacity (seconds since the epoch,
 * a sparse size). A holder needs it for a few calls only; one older than this
 * was left by a killed process and may be broken.
 */
#define LOCK_STALE_SECS 15
#define LOCK_WAIT_SECS 10

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

static int create_lock(virStoragePoolPtr pool, const char *name)
{
	char xml[512];
	virStorageVolPtr vol;

	snprintf(xml, sizeof(xml),
		 "<volume><name>%s</name><capacity unit='bytes'>%lld</capacity>"
		 "<allocation>0</allocation><target><format type='raw'/></target></volume>",
		 name, (long long)time(NULL));
	vol = virStorageVolCreateXML(pool, xml, 0);
	if (!vol)
		return -1;
	virStorageVolFree(vol);
	return 0;
}

/* When the lock NAME was taken, or -1 when it is not there. */
static long long lock_time(virStoragePoolPtr pool, const char *name)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
	virStorageVolInfo info;
	long long t = -1;

	if (!vol)
		return -1;
	if (virStorageVolGetInfo(vol, &info) == 0)
		t = (long long)info.capacity;
	virStorageVolFree(vol);
	return t;
}

static void delete_lock(virStoragePoolPtr pool, const char *name)
{
	virStorageVolPtr vol = virStorageVolLookupByName(pool, name);

	if (vol) {
		if (virStorageVolDelete(vol, 0) < 0)
			log_msg("cannot remove lock %s: %s", name, virGetLastErrorMessage());
		virStorageVolFree(vol);
	}
}

/*
 * Breaking a stale lock races with other breakers, so it takes a lock of its
 * own, then checks that the lock is still the stale one it saw.
 */
static void break_stale(virStoragePoolPtr pool, const char *uuid, const char *name, long long seen)
{
	char breaker[128];
	long long t;

	snprintf(breaker, sizeof(breaker), "catkeeper-break-%s", uuid);
	if (create_lock(pool, breaker) < 0) {
		t = lock_time(pool, breaker);
		if (t >= 0 && time(NULL) - t > 2 * LOCK_STALE_SECS)
			delete_lock(pool, breaker);
		return;
	}
	if (lock_time(pool, name) == seen) {
		log_msg("breaking the stale reservation lock %s", name);
		delete_lock(pool, name);
	}
	delete_lock(pool, breaker);
}

int reslock_acquire(virConnectPtr conn, const char *uuid, char **err)
{
	virStoragePoolPtr pool = lock_pool(conn);
	time_t deadline = time(NULL) + LOCK_WAIT_SECS;
	unsigned seed = (unsigned)(uintptr_t)&pool ^ (unsigned)time(NULL);
	char name[128];
	int rc = -EBUSY;

	if (!pool) {
		if (asprintf(err, "no storage pool for reservation locks: %s",
			     virGetLastErrorMessage()) < 0)
			*err = NULL;
		return -EIO;
	}
	snprintf(name, sizeof(name), "catkeeper-lock-%s", uuid);
	for (;;) {
		long long t;
		struct timespec pause;

		if (create_lock(pool, name) == 0) {
			rc = 0;
			break;
		}
		t = lock_time(pool, name);
		if (t < 0 && virConnectIsAlive(conn) != 1) {
			if (asprintf(err, "cannot take the reservation lock: %s",
				     virGetLastErrorMessage()) < 0)
				*err = NULL;
			rc = -EHOSTUNREACH;
			break;
		}
		if (t >= 0 && time(NULL) - t > LOCK_STALE_SECS)
			break_stale(pool, uuid, name, t);
		if (time(NULL) > deadline) {
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

void reslock_release(virConnectPtr conn, const char *uuid)
{
	virStoragePoolPtr pool = lock_pool(conn);
	char name[128];

	if (!pool)
		return;
	snprintf(name, sizeof(name), "catkeeper-lock-%s", uuid);
	delete_lock(pool, name);
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
