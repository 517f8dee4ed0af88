/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a host's threads report, applied to the cache under the write lock. */
#include "inventory_int.h"
#include "log.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

static void set_str(struct vm *vm, enum file_kind kind, char **field, const char *value)
{
	char *copy;

	if (!value || !strcmp(*field, value))
		return;
	copy = strdup(value);
	if (!copy)
		return;
	free(*field);
	*field = copy;
	if (field == &vm->description)
		vm->description_len = strlen(copy);
	inv_value_changed(&vm->node, kind);
}

#define SET_NUM(vm, kind, field, value)                                                            \
	do {                                                                                       \
		if ((vm)->field != (value)) {                                                      \
			(vm)->field = (value);                                                     \
			inv_value_changed(&(vm)->node, kind);                                      \
		}                                                                                  \
	} while (0)

/* A history row to write once the lock is dropped. */
struct store_note {
	char *host, *uuid;
	char *owner, *user; /* a reservation changed */
	char *ips;	    /* new addresses seen */
};

static void note_vm(struct store_note *note, struct vm *vm)
{
	if (!note->host) {
		note->host = strdup(vm->host->name);
		note->uuid = strdup(vm->uuid);
	}
}

static void apply(struct vm *vm, const struct dom_info *di, struct store_note *note)
{
	if (di->fields & DI_STATE)
		SET_NUM(vm, F_STATE, state, di->state);
	if (di->fields & DI_PERSISTENT)
		vm->persistent = di->persistent;
	if (di->fields & DI_AUTOSTART)
		SET_NUM(vm, F_AUTOSTART, autostart, di->autostart);
	if (di->fields & DI_DEFINITION) {
		if (strcmp(vm->owner, di->owner)) {
			note_vm(note, vm);
			note->owner = strdup(di->owner);
			note->user = strdup(vm->owner_writer ? vm->owner_writer : "-");
			set_str(vm, F_OWNER, &vm->owner, di->owner);
			inv_value_changed(&vm->node, F_HISTORY);
		}
		set_str(vm, F_DESCRIPTION, &vm->description, di->description);
		if (vm->config_size != di->config_size || vm->config_hash != di->config_hash) {
			vm->config_size = di->config_size;
			vm->config_hash = di->config_hash;
			inv_value_changed(&vm->node, F_CONFIG);
		}
	}
	if (di->fields & DI_SIZES) {
		SET_NUM(vm, F_VCPUS, vcpus, di->vcpus);
		SET_NUM(vm, F_MEMORY, memory_kib, di->memory_kib);
	}
	if (di->fields & DI_LIVE)
		set_str(vm, F_VNC, &vm->vnc, di->vnc);
	if (di->fields & DI_IPS) {
		set_str(vm, F_IP, &vm->ips, di->ips);
		if (*di->ips && strcmp(vm->ip_last, di->ips)) {
			set_str(vm, F_IP_LAST, &vm->ip_last, di->ips);
			note_vm(note, vm);
			note->ips = strdup(di->ips);
		}
	}
}

static void note_write(struct store_note *note)
{
	if (note->owner && inv_store)
		store_owner_changed(inv_store, note->host, note->uuid, note->owner, note->user,
				    time(NULL));
	if (note->ips && inv_store)
		store_put_last_ips(inv_store, note->host, note->uuid, note->ips, time(NULL));
	free(note->ips);
	free(note->host);
	free(note->uuid);
	free(note->owner);
	free(note->user);
}

static void on_domain(void *opaque, const struct dom_info *di)
{
	struct host *h = opaque;
	struct store_note note = {0};
	struct vm *vm, *named;

	inv_wrlock();
	if (h->removed)
		goto out;
	vm = g_hash_table_lookup(h->by_uuid, di->uuid);
	named = g_hash_table_lookup(h->by_name, di->name);
	/*
	 * A directory made by mkdir, now defined by its config.xml. Only then:
	 * a domain of that name defined elsewhere meanwhile is not its, and
	 * adopting it would make the directory's config.xml redefine it.
	 */
	if (!vm && named && named->pending && named->defining) {
		vm = named;
		vm->pending = false;
	} else if (named && named != vm) {
		/* Another domain had this name (events crossed): it is gone. */
		vm_remove(named);
	}
	if (vm && di->ticket < vm->ticket)
		goto out; /* a fetch that started before the one applied last */
	if (!vm) {
		if (!(di->fields & DI_DEFINITION))
			goto out;
		vm = vm_new(h, di->name);
		if (!vm)
			goto out;
		/* A host's first listing is no change: one invalidation ends it. */
		if (h->listed)
			dir_created(&vm->node, INO_OF(h->node.id, F_DIR), vm->name);
		vm->creating = true;
	}
	if (!*vm->uuid) {
		char *last = inv_store ? store_last_ips(inv_store, h->name, di->uuid) : NULL;

		snprintf(vm->uuid, sizeof(vm->uuid), "%s", di->uuid);
		g_hash_table_insert(h->by_uuid, vm->uuid, vm);
		inv_value_changed(&vm->node, F_UUID);
		/* Where it was last seen, from before this mount or a stop. */
		if (last)
			set_str(vm, F_IP_LAST, &vm->ip_last, last);
		free(last);
	}
	if (strcmp(vm->name, di->name))
		vm_rename(vm, di->name);
	apply(vm, di, &note);
	vm->ticket = di->ticket;
	vm->creating = false;
out:
	inv_unlock();
	note_write(&note);
}

static void on_domain_gone(void *opaque, const char *uuid, uint64_t ticket)
{
	struct host *h = opaque;
	struct vm *vm;

	inv_wrlock();
	vm = h->removed ? NULL : g_hash_table_lookup(h->by_uuid, uuid);
	if (vm && vm->ticket < ticket)
		vm_remove(vm);
	inv_unlock();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_sweep(void *opaque, char *const *uuids, size_t n, uint64_t ticket)
{
	struct host *h = opaque;
	char **sorted = malloc((n ? n : 1) * sizeof(*sorted));

	if (!sorted)
		return;
	memcpy(sorted, uuids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	inv_wrlock();
	for (size_t i = 0; !h->removed && i < h->nvms;) {
		struct vm *vm = h->vms[i];
		const char *key = vm->uuid;

		/* Seen after the listing began: newer than what the listing says. */
		if (vm->pending || vm->ticket > ticket ||
		    bsearch(&key, sorted, n, sizeof(*sorted), cmp_str)) {
			i++;
			continue;
		}
		vm_remove(vm);
	}
	inv_unlock();
	free(sorted);
}

static void on_status(void *opaque, enum host_status st, const char *reason)
{
	struct host *h = opaque;
	bool changed;

	inv_wrlock();
	if (h->removed) {
		/* A host being dropped: its waiters go, nothing else changes. */
		inv_unlock();
		goto wake;
	}
	changed = h->status != st || (reason && (!h->reason || strcmp(h->reason, reason)));
	if (st == HOST_UNREACHABLE && h->status != HOST_UNREACHABLE)
		h->stale_since = time(NULL);
	h->status = st;
	free(h->reason);
	h->reason = reason ? strdup(reason) : NULL;
	if (h->reason)
		h->reason[strcspn(h->reason, "\n")] = '\0';
	if (changed) {
		log_msg("%s: %s%s%s", h->name,
			st == HOST_CONNECTED	? "connected"
			: st == HOST_CONNECTING ? "connecting"
						: "unreachable",
			reason ? ": " : "", reason ? reason : "");
		inv_value_changed(&h->node, F_STATUS);
	}
	if (st == HOST_CONNECTED && !h->listed) {
		h->listed = true;
		push_change(CH_VALUE, INO_OF(h->node.id, F_DIR), 0, NULL, NULL);
	}
	inv_unlock();
wake:
	pthread_mutex_lock(&inv_load_lock);
	if (st == HOST_CONNECTED)
		h->loaded = true;
	pthread_cond_broadcast(&inv_load_cond);
	pthread_mutex_unlock(&inv_load_lock);
}

const struct hostconn_callbacks inv_host_callbacks = {
    .status = on_status,
    .domain = on_domain,
    .domain_gone = on_domain_gone,
    .sweep = on_sweep,
};
