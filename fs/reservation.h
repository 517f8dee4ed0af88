/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_RESERVATION_H
#define CK_RESERVATION_H

/*
 * The owner of a VM lives in its libvirt metadata. libvirt has no conditional
 * metadata write, so every change of the owner (and every redefinition, which
 * carries the owner along) happens under a per-VM lock on the host itself: a
 * storage volume, whose creation is atomic in libvirt. See catkeeperfs(1).
 *
 * Depends on libvirt and domxml.h only: hostconn.c calls it, never the other
 * way round.
 */
#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>

/*
 * Returns 0 with *token set (to pass to the release), or -EBUSY (taken),
 * -EIO (the host's reason) or -EHOSTUNREACH with *err set.
 */
int reslock_acquire(virConnectPtr conn, const char *uuid, uint64_t *token, char **err);
/* Deletes the lock only if it still holds TOKEN. */
void reslock_release(virConnectPtr conn, const char *uuid, uint64_t token);

/* The owner as stored now (fresh from libvirt), "" when free; NULL on error. */
char *owner_fetch(virDomainPtr dom, bool persistent);
/* Stores OWNER ("" releases) in the live and persistent definitions. */
int owner_store(virDomainPtr dom, const char *owner, bool active, bool persistent);

#endif
