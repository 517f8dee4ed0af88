/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "inventory.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_WAIT_SECS 2

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct host *hosts, **hosts_tail = &hosts;
static struct hmap nodes;
static uint64_t next_id = 1;
static struct store *store;
static int refresh_secs;

/* The change stream. */
static pthread_mutex_t ch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ch_cond = PTHREAD_COND_INITIALIZER;
static struct change *ch_queue;
static size_t ch_len, ch_cap, ch_head;
static uint64_t ch_seq, ch_done;
static bool ch_quit;

/* The loaded flag of hosts. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t load_cond = PTHREAD_COND_INITIALIZER;

static const struct hostconn_callbacks host_callbacks;

void inv_rdlock(void)
{
	pthread_rwlock_rdlock(&lock);
}

void inv_wrlock(void)
{
	pthread_rwlock_wrlock(&lock);
}

void inv_unlock(void)
{
	pthread_rwlock_unlock(&lock);
}

static int node_match(const void *value, const void *key)
{
	return ((const struct node *)value)->id == *(const uint64_t *)key;
}

static int vm_name_match(const void *value, const void *key)
{
	return !strcmp(((const struct vm *)value)->name, key);
}

static int vm_uuid_match(const void *value, const void *key)
{
	return !strcmp(((const struct vm *)value)->uuid, key);
}

static uint64_t new_node(struct node *n, enum node_type type)
{
	n->id = next_id++;
	n->type = type;
	if (hmap_put(&nodes, hmap_hash_u64(n->id), n) < 0)
		return 0;
	return n->id;
}

static void drop_node(struct node *n)
{
	hmap_del(&nodes, hmap_hash_u64(n->id), &n->id);
}

struct node *inv_node(uint64_t id)
{
	return hmap_get(&nodes, hmap_hash_u64(id), &id);
}

static struct host *host_by_id(uint64_t id)
{
	struct node *n = inv_node(id);

	return n && n->type == N_HOST ? (struct host *)n : NULL;
}

static struct vm *vm_by_id(uint64_t id)
{
	struct node *n = inv_node(id);

	return n && n->type == N_VM ? (struct vm *)n : NULL;
}

struct host *inv_hosts(void)
{
	return hosts;
}

struct host *inv_host(const char *name)
{
	for (struct host *h = hosts; h; h = h->next)
		if (!strcmp(h->name, name))
			return h;
	return NULL;
}

struct vm *inv_vm(struct host *h, const char *name)
{
	return hmap_get(&h->by_name, hmap_hash_str(name), name);
}

struct scratch *inv_scratch(struct vm *vm, const char *name)
{
	for (struct scratch *s = vm->scratch; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

size_t inv_vm_index(struct host *h, uint64_t id)
{
	size_t lo = 0, hi = h->nvms;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (h->vms[mid]->node.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool inv_host_writable(const struct host *h)
{
	return h->hc && h->status != HOST_UNREACHABLE;
}

/* ---- the change stream ---- */

static const char *const file_names[F_STATUS + 1] = {
    [F_STATE] = "state",     [F_CONFIG] = "config.xml",
    [F_OWNER] = "owner",     [F_DESCRIPTION] = "description",
    [F_IP] = "ip",	     [F_VNC] = "vnc",
    [F_UUID] = "uuid",	     [F_VCPUS] = "vcpus",
    [F_MEMORY] = "memory",   [F_AUTOSTART] = "autostart",
    [F_HISTORY] = "history", [F_ERROR] = "error",
    [F_URI] = ".uri",	     [F_STATUS] = ".status",
};

const char *inv_file_name(enum file_kind kind)
{
	return kind <= F_STATUS ? file_names[kind] : NULL;
}

char *inv_path(struct node *n, enum file_kind kind)
{
	char *p = NULL;
	int rc = -1;

	if (n->type == N_HOST) {
		struct host *h = (struct host *)n;

		if (kind == F_URI || kind == F_STATUS)
			rc = asprintf(&p, "%s/%s", h->name, file_names[kind]);
		else
			rc = asprintf(&p, "%s", h->name);
	} else if (n->type == N_VM) {
		struct vm *vm = (struct vm *)n;

		if (kind == F_DIR)
			rc = asprintf(&p, "%s/%s", vm->host->name, vm->name);
		else
			rc = asprintf(&p, "%s/%s/%s", vm->host->name, vm->name, file_names[kind]);
	} else {
		struct scratch *s = (struct scratch *)n;

		rc = asprintf(&p, "%s/%s/%s", s->vm->host->name, s->vm->name, s->name);
	}
	return rc < 0 ? NULL : p;
}

static void push_change(enum change_type type, uint64_t ino, uint64_t parent, const char *name,
			char *path)
{
	struct change *c;

	pthread_mutex_lock(&ch_lock);
	if (ch_len == ch_cap) {
		size_t cap = ch_cap ? ch_cap * 2 : 256;
		struct change *q = malloc(cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&ch_lock);
			free(path);
			return;
		}
		for (size_t i = 0; i < ch_len; i++)
			q[i] = ch_queue[(ch_head + i) % ch_cap];
		free(ch_queue);
		ch_queue = q;
		ch_cap = cap;
		ch_head = 0;
	}
	c = &ch_queue[(ch_head + ch_len++) % ch_cap];
	c->type = type;
	c->ino = ino;
	c->parent = parent;
	c->name = name ? strdup(name) : NULL;
	c->path = path;
	c->seq = ++ch_seq;
	pthread_cond_broadcast(&ch_cond);
	pthread_mutex_unlock(&ch_lock);
}

void inv_value_changed(struct node *n, enum file_kind kind)
{
	uint64_t ino = INO_OF(n->id, n->type == N_SCRATCH ? F_SCRATCH : kind);

	if (n->type == N_VM) {
		struct vm *vm = (struct vm *)n;

		vm->gen[kind]++;
		vm->primed &= ~(1u << kind);
		vm->mtime = time(NULL);
		/* A VM being created has nothing cached anywhere: its "created" says it all. */
		if (vm->creating)
			return;
	} else if (n->type == N_HOST) {
		((struct host *)n)->gen[kind - F_URI]++;
	}
	push_change(CH_VALUE, ino, 0, NULL, inv_path(n, kind));
}

static void dir_created(struct node *n, uint64_t parent, const char *name)
{
	push_change(CH_CREATED, INO_OF(n->id, F_DIR), parent, name, inv_path(n, F_DIR));
}

static void dir_deleted(struct node *n, uint64_t parent, const char *name)
{
	push_change(CH_DELETED, INO_OF(n->id, F_DIR), parent, name, inv_path(n, F_DIR));
}

bool inv_next_change(struct change *ch)
{
	pthread_mutex_lock(&ch_lock);
	while (!ch_len && !ch_quit)
		pthread_cond_wait(&ch_cond, &ch_lock);
	if (!ch_len) {
		pthread_mutex_unlock(&ch_lock);
		return false;
	}
	*ch = ch_queue[ch_head];
	ch_head = (ch_head + 1) % ch_cap;
	ch_len--;
	pthread_mutex_unlock(&ch_lock);
	return true;
}

void inv_change_done(struct change *ch)
{
	pthread_mutex_lock(&ch_lock);
	if (ch->seq > ch_done)
		ch_done = ch->seq;
	pthread_cond_broadcast(&ch_cond);
	pthread_mutex_unlock(&ch_lock);
	free(ch->name);
	free(ch->path);
}

void inv_sync_changes(void)
{
	struct timespec deadline;
	uint64_t want;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SYNC_WAIT_SECS;
	pthread_mutex_lock(&ch_lock);
	want = ch_seq;
	while (ch_done < want && !ch_quit)
		if (pthread_cond_timedwait(&ch_cond, &ch_lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ch_lock);
}

/* ---- VMs ---- */

static int vm_insert(struct host *h, struct vm *vm)
{
	if (h->nvms == h->capvms) {
		size_t cap = h->capvms ? h->capvms * 2 : 16;
		struct vm **v = realloc(h->vms, cap * sizeof(*v));

		if (!v)
			return -1;
		h->vms = v;
		h->capvms = cap;
	}
	/* New ids are the largest: appending keeps the array sorted. */
	h->vms[h->nvms++] = vm;
	return hmap_put(&h->by_name, hmap_hash_str(vm->name), vm);
}

static void vm_free(struct vm *vm)
{
	free(vm->name);
	free(vm->owner);
	free(vm->description);
	free(vm->ips);
	free(vm->vnc);
	free(vm->error);
	free(vm->owner_writer);
	free(vm);
}

static struct vm *vm_new(struct host *h, const char *name)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->host = h;
	vm->name = strdup(name);
	vm->owner = strdup("");
	vm->description = strdup("");
	vm->ips = strdup("");
	vm->vnc = strdup("");
	vm->error = strdup("");
	vm->state = VM_SHUTOFF;
	vm->mtime = time(NULL);
	if (!vm->name || !vm->owner || !vm->description || !vm->ips || !vm->vnc || !vm->error ||
	    !new_node(&vm->node, N_VM)) {
		vm_free(vm);
		return NULL;
	}
	if (vm_insert(h, vm) < 0) {
		drop_node(&vm->node);
		vm_free(vm);
		return NULL;
	}
	return vm;
}

static void scratch_free(struct scratch *s)
{
	drop_node(&s->node);
	free(s->name);
	free(s->data);
	free(s);
}

static void vm_remove(struct vm *vm)
{
	struct host *h = vm->host;
	size_t i = inv_vm_index(h, vm->node.id);

	dir_deleted(&vm->node, INO_OF(h->node.id, F_DIR), vm->name);
	if (i < h->nvms && h->vms[i] == vm)
		memmove(&h->vms[i], &h->vms[i + 1], (h->nvms - i - 1) * sizeof(*h->vms));
	h->nvms--;
	hmap_del(&h->by_name, hmap_hash_str(vm->name), vm->name);
	if (*vm->uuid)
		hmap_del(&h->by_uuid, hmap_hash_str(vm->uuid), vm->uuid);
	drop_node(&vm->node);
	while (vm->scratch) {
		struct scratch *s = vm->scratch;

		vm->scratch = s->next;
		scratch_free(s);
	}
	vm_free(vm);
}

static void vm_rename(struct vm *vm, const char *name)
{
	struct host *h = vm->host;
	uint64_t parent = INO_OF(h->node.id, F_DIR);
	char *copy = strdup(name);

	if (!copy)
		return;
	dir_deleted(&vm->node, parent, vm->name);
	hmap_del(&h->by_name, hmap_hash_str(vm->name), vm->name);
	free(vm->name);
	vm->name = copy;
	hmap_put(&h->by_name, hmap_hash_str(vm->name), vm);
	dir_created(&vm->node, parent, vm->name);
}

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
struct owner_note {
	char *host, *uuid, *owner, *user;
};

static void apply(struct vm *vm, const struct dom_info *di, struct owner_note *note)
{
	if (di->fields & DI_STATE)
		SET_NUM(vm, F_STATE, state, di->state);
	if (di->fields & DI_PERSISTENT)
		vm->persistent = di->persistent;
	if (di->fields & DI_AUTOSTART)
		SET_NUM(vm, F_AUTOSTART, autostart, di->autostart);
	if (di->fields & DI_DEFINITION) {
		if (strcmp(vm->owner, di->owner)) {
			note->host = strdup(vm->host->name);
			note->uuid = strdup(vm->uuid);
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
	if (di->fields & DI_IPS)
		set_str(vm, F_IP, &vm->ips, di->ips);
}

static void note_write(struct owner_note *note)
{
	if (note->owner && store)
		store_owner_changed(store, note->host, note->uuid, note->owner, note->user,
				    time(NULL));
	free(note->host);
	free(note->uuid);
	free(note->owner);
	free(note->user);
}

static void on_domain(void *opaque, const struct dom_info *di)
{
	struct host *h = opaque;
	struct owner_note note = {0};
	struct vm *vm, *named;

	inv_wrlock();
	if (h->removed)
		goto out;
	vm = hmap_get(&h->by_uuid, hmap_hash_str(di->uuid), di->uuid);
	named = hmap_get(&h->by_name, hmap_hash_str(di->name), di->name);
	if (!vm && named && (named->pending || !*named->uuid)) {
		/* A directory made by mkdir, now defined. */
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
		snprintf(vm->uuid, sizeof(vm->uuid), "%s", di->uuid);
		hmap_put(&h->by_uuid, hmap_hash_str(vm->uuid), vm);
		inv_value_changed(&vm->node, F_UUID);
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
	vm = h->removed ? NULL : hmap_get(&h->by_uuid, hmap_hash_str(uuid), uuid);
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
	pthread_mutex_lock(&load_lock);
	if (st == HOST_CONNECTED)
		h->loaded = true;
	pthread_cond_broadcast(&load_cond);
	pthread_mutex_unlock(&load_lock);
}

static const struct hostconn_callbacks host_callbacks = {
    .status = on_status,
    .domain = on_domain,
    .domain_gone = on_domain_gone,
    .sweep = on_sweep,
};

/* ---- hosts ---- */

static struct host *host_new(const char *name)
{
	struct host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->name = strdup(name);
	h->refs = 1;
	h->status = HOST_CONNECTING;
	hmap_init(&h->by_name, vm_name_match);
	hmap_init(&h->by_uuid, vm_uuid_match);
	if (!h->name || !new_node(&h->node, N_HOST)) {
		free(h->name);
		free(h);
		return NULL;
	}
	*hosts_tail = h;
	hosts_tail = &h->next;
	return h;
}

static void host_put(struct host *h)
{
	if (--h->refs)
		return;
	while (h->nvms)
		vm_remove(h->vms[h->nvms - 1]);
	free(h->vms);
	hmap_destroy(&h->by_name);
	hmap_destroy(&h->by_uuid);
	free(h->name);
	free(h->uri);
	free(h->reason);
	free(h);
}

/* Unlinks a host; its connection is stopped outside the lock. */
static struct hostconn *host_unlink(struct host *h)
{
	struct hostconn *hc = h->hc;

	for (struct host **pp = &hosts; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			if (hosts_tail == &h->next)
				hosts_tail = pp;
			break;
		}
	}
	dir_deleted(&h->node, INO_ROOT, h->name);
	drop_node(&h->node);
	h->removed = true;
	h->hc = NULL;
	return hc;
}

/*
 * Called with the write lock, returns without it: the connection stops
 * outside the lock, since its threads may be reporting into the inventory.
 */
static void host_drop(struct host *h)
{
	struct hostconn *hc = host_unlink(h);

	inv_unlock();
	hostconn_free(hc);
	inv_wrlock();
	host_put(h);
	inv_unlock();
}

static bool valid_host_name(const char *name)
{
	return *name && *name != '.' && !strpbrk(name, "/:") && strlen(name) < 256;
}

int inventory_init(struct store *st, int refresh)
{
	store = st;
	refresh_secs = refresh;
	hmap_init(&nodes, node_match);
	return hostconn_global_init();
}

int inventory_add_host(const char *name, const char *uri, bool stored)
{
	struct host *h;

	if (!valid_host_name(name) || inv_host(name))
		return -EINVAL;
	h = host_new(name);
	if (!h)
		return -ENOMEM;
	h->uri = strdup(uri);
	h->stored = stored;
	return h->uri ? 0 : -ENOMEM;
}

static void host_start(struct host *h)
{
	h->hc = hostconn_new(h->name, h->uri, refresh_secs, &host_callbacks, h);
	if (!h->hc)
		log_msg("%s: cannot start its connection threads", h->name);
}

void inventory_start(void)
{
	inv_wrlock();
	for (struct host *h = hosts; h; h = h->next)
		host_start(h);
	inv_unlock();
}

bool inventory_shutdown(void)
{
	bool left;

	for (;;) {
		inv_wrlock();
		if (!hosts) {
			inv_unlock();
			break;
		}
		host_drop(hosts);
	}
	left = hostconn_global_shutdown();
	pthread_mutex_lock(&ch_lock);
	ch_quit = true;
	pthread_cond_broadcast(&ch_cond);
	while (ch_len) {
		struct change *c = &ch_queue[ch_head];

		free(c->name);
		free(c->path);
		ch_head = (ch_head + 1) % ch_cap;
		ch_len--;
	}
	free(ch_queue);
	ch_queue = NULL;
	pthread_mutex_unlock(&ch_lock);
	hmap_destroy(&nodes);
	return left;
}

int inv_mkdir_host(const char *name, uint64_t *id)
{
	struct host *h;
	int rc = 0;

	if (!valid_host_name(name))
		return -EINVAL;
	inv_wrlock();
	if (inv_host(name)) {
		rc = -EEXIST;
	} else if (!(h = host_new(name))) {
		rc = -ENOMEM;
	} else {
		h->status = HOST_UNREACHABLE;
		h->reason = strdup("no URI yet: write one to .uri");
		*id = h->node.id;
		dir_created(&h->node, INO_ROOT, h->name);
	}
	inv_unlock();
	return rc;
}

int inv_set_uri(uint64_t host_id, const char *uri, char **err)
{
	struct host *h;
	int rc = 0;

	*err = NULL;
	if (!*uri || strchr(uri, '\n'))
		return -EINVAL;
	inv_wrlock();
	h = host_by_id(host_id);
	if (!h) {
		rc = -ENOENT;
	} else if (h->uri) {
		if (asprintf(err, "%s has a URI already: rmdir and mkdir it to change it",
			     h->name) < 0)
			*err = NULL;
		rc = -EBUSY;
	} else if (!(h->uri = strdup(uri))) {
		rc = -ENOMEM;
	} else {
		if (store && store_put_host(store, h->name, uri) == 0)
			h->stored = true;
		h->status = HOST_CONNECTING;
		free(h->reason);
		h->reason = NULL;
		inv_value_changed(&h->node, F_URI);
		inv_value_changed(&h->node, F_STATUS);
		log_msg("%s: added with URI %s", h->name, uri);
		host_start(h);
	}
	inv_unlock();
	return rc;
}

int inv_rmdir_host(const char *name)
{
	struct host *h;

	inv_wrlock();
	h = inv_host(name);
	if (!h) {
		inv_unlock();
		return -ENOENT;
	}
	if (h->stored && store)
		store_del_host(store, h->name);
	log_msg("%s: forgotten (its VMs stay on it)", h->name);
	host_drop(h);
	return 0;
}

void inv_wait_loaded(uint64_t host_id, int secs)
{
	struct timespec deadline;
	struct host *h;

	inv_wrlock();
	h = host_by_id(host_id);
	if (!h || h->loaded || !h->hc || h->status == HOST_UNREACHABLE) {
		inv_unlock();
		return;
	}
	h->refs++;
	inv_unlock();
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += secs;
	pthread_mutex_lock(&load_lock);
	while (!h->loaded && h->status != HOST_UNREACHABLE && !h->removed)
		if (pthread_cond_timedwait(&load_cond, &load_lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&load_lock);
	inv_wrlock();
	host_put(h);
	inv_unlock();
}

int inv_mkdir_vm(uint64_t host_id, const char *name, uint64_t *id)
{
	struct host *h;
	struct vm *vm;
	int rc = 0;

	if (*name == '.' || strlen(name) > 200)
		return -EINVAL;
	inv_wrlock();
	h = host_by_id(host_id);
	if (!h) {
		rc = -ENOENT;
	} else if (!h->uri) {
		rc = -EHOSTUNREACH;
	} else if (inv_vm(h, name)) {
		rc = -EEXIST;
	} else if (!(vm = vm_new(h, name))) {
		rc = -ENOMEM;
	} else {
		vm->pending = true;
		*id = vm->node.id;
		dir_created(&vm->node, INO_OF(h->node.id, F_DIR), vm->name);
	}
	inv_unlock();
	return rc;
}

/* Drops a pending VM directory (rmdir before its config.xml was written). */
static int drop_pending(struct vm *vm)
{
	if (!vm->pending)
		return -EAGAIN;
	vm_remove(vm);
	return 0;
}

int inv_scratch_create(uint64_t vm_id, const char *name, mode_t mode, uint64_t *id)
{
	struct vm *vm;
	struct scratch *s;
	int rc = 0;

	inv_wrlock();
	vm = vm_by_id(vm_id);
	if (!vm) {
		rc = -ENOENT;
	} else if (inv_scratch(vm, name)) {
		rc = -EEXIST;
	} else if (!(s = calloc(1, sizeof(*s))) || !(s->name = strdup(name)) ||
		   !new_node(&s->node, N_SCRATCH)) {
		if (s)
			free(s->name);
		free(s);
		rc = -ENOMEM;
	} else {
		s->vm = vm;
		s->mode = mode & 07777;
		s->mtime = time(NULL);
		s->next = vm->scratch;
		vm->scratch = s;
		*id = s->node.id;
	}
	inv_unlock();
	return rc;
}

static struct scratch *unlink_scratch(struct vm *vm, const char *name)
{
	for (struct scratch **pp = &vm->scratch; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name)) {
			struct scratch *s = *pp;

			*pp = s->next;
			return s;
		}
	}
	return NULL;
}

int inv_scratch_unlink(uint64_t vm_id, const char *name)
{
	struct scratch *s = NULL;
	struct vm *vm;

	inv_wrlock();
	vm = vm_by_id(vm_id);
	if (vm)
		s = unlink_scratch(vm, name);
	if (s)
		scratch_free(s);
	inv_unlock();
	return s ? 0 : -ENOENT;
}

int inv_scratch_rename(uint64_t vm_id, const char *from, const char *to)
{
	struct vm *vm;
	struct scratch *s, *old;
	char *copy = strdup(to);
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	inv_wrlock();
	vm = vm_by_id(vm_id);
	s = vm ? inv_scratch(vm, from) : NULL;
	if (!s) {
		rc = -ENOENT;
		free(copy);
	} else {
		old = s != inv_scratch(vm, to) ? unlink_scratch(vm, to) : NULL;
		if (old)
			scratch_free(old);
		free(s->name);
		s->name = copy;
	}
	inv_unlock();
	return rc;
}

static void record_error(struct vm *vm, const char *what, int err, const char *msg)
{
	char when[21], *text;

	iso_time(time(NULL), when);
	if (asprintf(&text, "%s %s: %s\n", when, what, msg ? msg : strerror(err)) < 0)
		return;
	log_msg("%s/%s: %s: %s", vm->host->name, vm->name, what, msg ? msg : strerror(err));
	free(vm->error);
	vm->error = text;
	inv_value_changed(&vm->node, F_ERROR);
}

void inv_vm_error(uint64_t vm_id, const char *what, int err, const char *msg)
{
	struct vm *vm;

	inv_wrlock();
	vm = vm_by_id(vm_id);
	if (vm)
		record_error(vm, what, err, msg);
	inv_unlock();
}

int inv_request(uint64_t vm_id, struct hc_request *req, const char *what, const char *user)
{
	struct vm *vm;
	struct host *h;
	struct hostconn *hc;
	char uuid[UUID_LEN], *name = NULL, *msg = NULL;
	int rc;

	inv_wrlock();
	vm = vm_by_id(vm_id);
	if (!vm) {
		inv_unlock();
		return -ENOENT;
	}
	h = vm->host;
	if (!inv_host_writable(h)) {
		rc = -EHOSTUNREACH;
		if (asprintf(&msg, "host %s is unreachable%s%s", h->name, h->reason ? ": " : "",
			     h->reason ? h->reason : "") < 0)
			msg = NULL;
		record_error(vm, what, -rc, msg);
		inv_unlock();
		free(msg);
		return rc;
	}
	if (req->op == HC_UNDEFINE && drop_pending(vm) == 0) {
		inv_unlock();
		return 0;
	}
	if (req->op == HC_OWNER) {
		free(vm->owner_writer);
		vm->owner_writer = user ? strdup(user) : NULL;
	}
	snprintf(uuid, sizeof(uuid), "%s", vm->uuid);
	name = strdup(vm->name);
	hc = h->hc;
	h->refs++;
	inv_unlock();

	req->uuid = *uuid ? uuid : NULL;
	if (!req->name)
		req->name = name;
	rc = hostconn_call(hc, req, &msg);

	inv_wrlock();
	vm = vm_by_id(vm_id);
	if (vm && req->op == HC_OWNER) {
		free(vm->owner_writer);
		vm->owner_writer = NULL;
	}
	if (rc < 0 && vm)
		record_error(vm, what, -rc, msg);
	else if (rc < 0)
		log_msg("%s/%s: %s: %s", h->name, name, what, msg ? msg : strerror(-rc));
	host_put(h);
	inv_unlock();
	free(msg);
	free(name);
	return rc;
}

char *inv_history(struct vm *vm)
{
	if (!store || !*vm->uuid)
		return strdup("");
	return store_history(store, vm->host->name, vm->uuid);
}
