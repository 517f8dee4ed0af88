/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_STORE_H
#define CK_STORE_H

/*
 * What stays local to this machine: the configured hosts, the history of
 * reservations and the addresses last seen. Knows nothing of FUSE nor libvirt.
 */
#include <time.h>

struct store;

struct store *store_open(const char *path, char **err);
void store_close(struct store *st);

typedef void (*store_host_cb)(void *opaque, const char *name, const char *uri);
int store_each_host(struct store *st, store_host_cb cb, void *opaque);
int store_put_host(struct store *st, const char *name, const char *uri);
int store_del_host(struct store *st, const char *name);

/*
 * Record that OWNER (empty: nobody) now holds the VM. Closes the open row of a
 * previous holder; a repeat of the current holder changes nothing.
 */
int store_owner_changed(struct store *st, const char *host, const char *uuid, const char *owner,
			const char *local_user, time_t when);
/* The addresses a VM had when last seen with any (its ip_last), and when. */
int store_put_last_ips(struct store *st, const char *host, const char *uuid, const char *ips,
		       time_t when);
/* Malloc'd, NULL when none is known. */
char *store_last_ips(struct store *st, const char *host, const char *uuid);
/* Malloc'd text, one reservation a line (see catkeeperfs(1)); NULL on error. */
char *store_history(struct store *st, const char *host, const char *uuid);

#endif
