/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "inventory_int.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct host *hosts, **hosts_tail = &hosts;
static GHashTable *nodes; /* id -> struct node */
static uint64_t next_id = 1;
struct store *inv_store;
static int refresh_secs;

/* The loaded flag of hosts. */
pthread_mutex_t inv_load_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t inv_load_cond = PTHREAD_COND_INITIALIZER;

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

uint64_t new_node(struct node *n, enum node_type type)
{
	n->id = next_id++;
	n->type = type;
	g_hash_table_insert(nodes, &n->id, n);
	return n->id;
}

void drop_node(struct node *n)
{
	g_hash_table_remove(nodes, &n->id);
}

struct node *inv_node(uint64_t id)
{
	return g_hash_table_lookup(nodes, &id);
}

struct host *host_by_id(uint64_t id)
{
	struct node *n = inv_node(id);

	return n && n->type == N_HOST ? (struct host *)n : NULL;
}

struct vm *vm_by_id(uint64_t id)
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
	return g_hash_table_lookup(h->by_name, name);
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
	g_hash_table_insert(h->by_name, vm->name, vm);
	return 0;
}

static void vm_free(struct vm *vm)
{
	free(vm->name);
	free(vm->owner);
	free(vm->description);
	free(vm->ips);
	free(vm->vnc);
	free(vm->error);
	free(vm->ip_last);
	free(vm->owner_writer);
	free(vm);
}

struct vm *vm_new(struct host *h, const char *name)
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
	vm->ip_last = strdup("");
	vm->state = VM_SHUTOFF;
	vm->mtime = time(NULL);
	if (!vm->name || !vm->owner || !vm->description || !vm->ips || !vm->vnc || !vm->error || !vm->ip_last ||
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

void vm_remove(struct vm *vm)
{
	struct host *h = vm->host;
	size_t i = inv_vm_index(h, vm->node.id);

	dir_deleted(&vm->node, INO_OF(h->node.id, F_DIR), vm->name);
	if (i < h->nvms && h->vms[i] == vm)
		memmove(&h->vms[i], &h->vms[i + 1], (h->nvms - i - 1) * sizeof(*h->vms));
	h->nvms--;
	g_hash_table_remove(h->by_name, vm->name);
	if (*vm->uuid)
		g_hash_table_remove(h->by_uuid, vm->uuid);
	drop_node(&vm->node);
	while (vm->scratch) {
		struct scratch *s = vm->scratch;

		vm->scratch = s->next;
		scratch_free(s);
	}
	vm_free(vm);
}

void vm_rename(struct vm *vm, const char *name)
{
	struct host *h = vm->host;
	uint64_t parent = INO_OF(h->node.id, F_DIR);
	char *copy = strdup(name);

	if (!copy)
		return;
	dir_deleted(&vm->node, parent, vm->name);
	g_hash_table_remove(h->by_name, vm->name);
	free(vm->name);
	vm->name = copy;
	g_hash_table_insert(h->by_name, vm->name, vm);
	dir_created(&vm->node, parent, vm->name);
}

/* ---- hosts ---- */

static struct host *host_new(const char *name)
{
	struct host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->name = strdup(name);
	h->refs = 1;
	h->status = HOST_CONNECTING;
	h->by_name = g_hash_table_new(g_str_hash, g_str_equal);
	h->by_uuid = g_hash_table_new(g_str_hash, g_str_equal);
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
	g_hash_table_destroy(h->by_name);
	g_hash_table_destroy(h->by_uuid);
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
	if (hc) {
		hostconn_release(hc);
	}
	inv_wrlock();
	host_put(h);
	inv_unlock();
}

const char *const inv_view_names[V_COUNT] = {"by-owner", "by-state", "by-ip", "free"};

static bool valid_host_name(const char *name)
{
	for (enum view v = 0; v < V_COUNT; v++)
		if (!strcmp(name, inv_view_names[v]))
			return false;
	return *name && *name != '.' && !strpbrk(name, "/:") && strlen(name) < 256;
}

int inventory_init(struct store *st, int refresh)
{
	inv_store = st;
	refresh_secs = refresh;
	nodes = g_hash_table_new(g_int64_hash, g_int64_equal);
	return 0;
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
	h->hc = hostconn_new(h->name, h->uri, refresh_secs, &inv_host_callbacks, h);
	if (!h->hc)
		log_msg("%s: cannot start its connection threads", h->name);
}

int inventory_start(void)
{
	if (hostconn_global_init() < 0)
		return -1;
	inv_wrlock();
	for (struct host *h = hosts; h; h = h->next)
		host_start(h);
	inv_unlock();
	return 0;
}

void inventory_stop_hosts(void)
{
	inv_rdlock();
	for (struct host *h = hosts; h; h = h->next)
		if (h->hc)
			hostconn_stop(h->hc);
	inv_unlock();
}

bool inventory_stop(void)
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
	changes_stop();
	return left;
}

void inventory_free(void)
{
	g_hash_table_destroy(nodes);
	nodes = NULL;
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
		*err = g_strdup_printf("%s has a URI already: rmdir and mkdir it to change it",
				       h->name);
		rc = -EBUSY;
	} else if (!(h->uri = strdup(uri))) {
		rc = -ENOMEM;
	} else {
		if (inv_store && store_put_host(inv_store, h->name, uri) == 0)
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
	if (h->stored && inv_store)
		store_del_host(inv_store, h->name);
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
	deadline = deadline_in(secs);
	pthread_mutex_lock(&inv_load_lock);
	while (!h->loaded && h->status != HOST_UNREACHABLE && !h->removed)
		if (pthread_cond_timedwait(&inv_load_cond, &inv_load_lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&inv_load_lock);
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

/* A VM's line in the log, its names escaped (name_escape). */
static void vm_log(const char *host, const char *name, const char *what, const char *msg,
		   const char *tail)
{
	char *h = name_escape(host), *n = name_escape(name);

	log_msg("%s/%s: %s: %s%s", h ? h : "?", n ? n : "?", what, msg, tail);
	free(h);
	free(n);
}

void record_error(struct vm *vm, const char *what, int err, const char *msg)
{
	char when[21], *text;

	iso_time(time(NULL), when);
	text = g_strdup_printf("%s %s: %s\n", when, what, msg ? msg : strerror(err));
	vm_log(vm->host->name, vm->name, what, msg ? msg : strerror(err), "");
	free(vm->error);
	vm->error = text;
	inv_value_changed(&vm->node, F_ERROR);
}

/*
 * A pending directory whose definition failed goes: left behind, it would
 * look like a VM (coreutils mv and cp -r leave such directories).
 */
static void define_failed(struct vm *vm, const char *what, const char *msg)
{
	vm_log(vm->host->name, vm->name, what, msg, " (the pending directory is removed)");
	vm_remove(vm);
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
		msg = g_strdup_printf("host %s is unreachable%s%s", h->name, h->reason ? ": " : "",
				      h->reason ? h->reason : "");
		record_error(vm, what, -rc, msg);
		inv_unlock();
		free(msg);
		return rc;
	}
	if (req->op == HC_UNDEFINE && drop_pending(vm) == 0) {
		inv_unlock();
		return 0;
	}
	if (req->op == HC_DEFINE && vm->pending)
		vm->defining = true;
	if (req->op == HC_OWNER) {
		free(vm->owner_writer);
		vm->owner_writer = user ? strdup(user) : NULL;
	}
	snprintf(uuid, sizeof(uuid), "%s", vm->uuid);
	name = strdup(vm->name);
	/* The host and its connection outlive a rmdir of the host under us. */
	hc = hostconn_ref(h->hc);
	h->refs++;
	inv_unlock();

	req->uuid = *uuid ? uuid : NULL;
	if (!req->name)
		req->name = name;
	rc = hostconn_call(hc, req, &msg);
	/* First: a last unref joins threads that report into h. */
	hostconn_unref(hc);

	inv_wrlock();
	vm = vm_by_id(vm_id);
	if (vm && req->op == HC_OWNER) {
		free(vm->owner_writer);
		vm->owner_writer = NULL;
	}
	if (vm && req->op == HC_DEFINE)
		vm->defining = false;
	if (rc < 0 && vm && req->op == HC_DEFINE && vm->pending)
		define_failed(vm, what, msg ? msg : strerror(-rc));
	else if (rc < 0 && vm)
		record_error(vm, what, -rc, msg);
	else if (rc < 0)
		vm_log(h->name, name, what, msg ? msg : strerror(-rc), "");
	host_put(h);
	inv_unlock();
	free(msg);
	free(name);
	return rc;
}

char *inv_history(struct vm *vm)
{
	if (!inv_store || !*vm->uuid)
		return strdup("");
	return store_history(inv_store, vm->host->name, vm->uuid);
}
