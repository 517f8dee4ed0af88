/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Views: read-only directories of relative symlinks that filter the tree,
 * by-owner/OWNER/HOST:VM, by-state/STATE/HOST:VM, by-ip/ADDRESS/HOST:VM and
 * free/HOST:VM (VMs nobody reserved). They hold no state of their own: each
 * lookup and listing is computed from the cache under its read lock, and
 * every entry has a timeout of 0, so they are as current as the cache.
 *
 * Inodes: a view is 4 + its number; a key directory (by-owner/alice) is
 * KEY_BIT, the view and 48 bits of a digest of the key; a link is its VM's
 * node id with the kind F_LINK + view (the same VM's links share it: they
 * point at the same directory).
 */
#include "face.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#define KEY_BIT (1ULL << 62)
#define KEY_VIEW_SHIFT 56
#define KEY_HASH_MASK ((1ULL << 48) - 1)
#define OFF_FIRST 3 /* after the dots */

/* The key of each key directory inode seen, for getattr and listings. */
struct keydir {
	fuse_ino_t ino;
	enum view view;
	char *key;
};

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *keys; /* ino -> struct keydir */

static void keydir_free(void *p)
{
	struct keydir *k = p;

	g_free(k->key);
	g_free(k);
}

static fuse_ino_t key_ino(enum view v, const char *key)
{
	char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
	fuse_ino_t ino;
	struct keydir *k;

	sum[12] = '\0'; /* 48 bits */
	ino = KEY_BIT | ((uint64_t)v << KEY_VIEW_SHIFT) | g_ascii_strtoull(sum, NULL, 16);
	g_free(sum);
	pthread_mutex_lock(&keys_lock);
	if (!keys)
		keys = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, keydir_free);
	k = g_hash_table_lookup(keys, &ino);
	if (!k) {
		k = g_new0(struct keydir, 1);
		k->ino = ino;
		k->view = v;
		k->key = g_strdup(key);
		g_hash_table_insert(keys, &k->ino, k);
	} else if (k->view != v || strcmp(k->key, key)) {
		ino = 0; /* a digest collision: that key stays out of the view */
	}
	pthread_mutex_unlock(&keys_lock);
	return ino;
}

/* The key of a key directory, or NULL (a copy). */
static char *key_of(fuse_ino_t ino, enum view *v)
{
	struct keydir *k;
	char *key = NULL;

	pthread_mutex_lock(&keys_lock);
	k = keys ? g_hash_table_lookup(keys, &ino) : NULL;
	if (k) {
		key = g_strdup(k->key);
		*v = k->view;
	}
	pthread_mutex_unlock(&keys_lock);
	return key;
}

void views_free(void)
{
	pthread_mutex_lock(&keys_lock);
	if (keys)
		g_hash_table_destroy(keys);
	keys = NULL;
	pthread_mutex_unlock(&keys_lock);
}

/* A directory name: no slash, not empty, not a dot or two. */
static bool dir_name_ok(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* Whether VM is listed under KEY of view V. */
static bool vm_in(struct vm *vm, enum view v, const char *key)
{
	size_t len;
	const char *p;

	if (vm->pending)
		return false;
	switch (v) {
	case V_OWNER:
		return *vm->owner && !strcmp(vm->owner, key);
	case V_STATE:
		return !strcmp(vm_state_name(vm->state), key);
	case V_IP:
		len = strlen(key);
		for (p = vm->ips; (p = strstr(p, key)); p += len)
			if ((p == vm->ips || p[-1] == '\n') && (p[len] == '\n' || !p[len]))
				return true;
		return false;
	case V_FREE:
		return !*vm->owner;
	default:
		return false;
	}
}

/* Calls fn for each key of VM in view V (none for V_FREE). */
static void vm_keys(struct vm *vm, enum view v, void (*fn)(const char *key, void *arg), void *arg)
{
	char **lines;

	if (vm->pending)
		return;
	switch (v) {
	case V_OWNER:
		if (dir_name_ok(vm->owner))
			fn(vm->owner, arg);
		break;
	case V_STATE:
		fn(vm_state_name(vm->state), arg);
		break;
	case V_IP:
		lines = g_strsplit(vm->ips, "\n", -1);
		for (char **l = lines; *l; l++)
			if (dir_name_ok(*l))
				fn(*l, arg);
		g_strfreev(lines);
		break;
	default:
		break;
	}
}

static bool is_view(fuse_ino_t ino)
{
	return ino >= INO_VIEW_FIRST && ino < INO_VIEW_FIRST + V_COUNT;
}

static bool is_link(fuse_ino_t ino)
{
	return !(ino & KEY_BIT) && KIND_OF(ino) >= F_LINK && KIND_OF(ino) < F_LINK + V_COUNT;
}

bool view_ino(fuse_ino_t ino)
{
	return is_view(ino) || (ino & KEY_BIT) || is_link(ino);
}

fuse_ino_t view_root_child(const char *name)
{
	for (enum view v = 0; v < V_COUNT; v++)
		if (!strcmp(name, inv_view_names[v]))
			return INO_VIEW_FIRST + v;
	return 0;
}

/* HOST:VM, as the links are named. */
static struct vm *vm_named(const char *name)
{
	const char *colon = strchr(name, ':');
	struct host *h;
	char *host;

	if (!colon)
		return NULL;
	host = g_strndup(name, colon - name);
	h = inv_host(host);
	g_free(host);
	return h ? inv_vm(h, colon + 1) : NULL;
}

static bool key_exists(enum view v, const char *key)
{
	for (struct host *h = inv_hosts(); h; h = h->next)
		for (size_t i = 0; i < h->nvms; i++)
			if (vm_in(h->vms[i], v, key))
				return true;
	return false;
}

fuse_ino_t view_child(fuse_ino_t parent, const char *name)
{
	enum view v;
	struct vm *vm;
	char *key;
	bool in;

	if (is_view(parent)) {
		v = parent - INO_VIEW_FIRST;
		if (v == V_FREE) {
			vm = vm_named(name);
			return vm && vm_in(vm, V_FREE, NULL) ? INO_OF(vm->node.id, F_LINK + v) : 0;
		}
		return dir_name_ok(name) && key_exists(v, name) ? key_ino(v, name) : 0;
	}
	if (!(parent & KEY_BIT) || !(key = key_of(parent, &v)))
		return 0;
	vm = vm_named(name);
	in = vm && vm_in(vm, v, key);
	g_free(key);
	return in ? INO_OF(vm->node.id, F_LINK + v) : 0;
}

static char *link_target(struct vm *vm, enum view v)
{
	return g_strdup_printf("%s%s/%s", v == V_FREE ? "../" : "../../", vm->host->name, vm->name);
}

int view_attr(fuse_ino_t ino, struct stat *st)
{
	enum view v;
	char *key;

	st->st_ino = ino;
	/* A new mtime makes the kernel drop its cached listing (no opendir: it caches). */
	st->st_mtim.tv_sec = face_started + (time_t)(inv_views_gen / 1000000000);
	st->st_mtim.tv_nsec = (long)(inv_views_gen % 1000000000);
	st->st_ctim = st->st_atim = st->st_mtim;
	if (is_view(ino)) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (ino & KEY_BIT) {
		key = key_of(ino, &v);
		if (!key || !key_exists(v, key)) {
			g_free(key);
			return -ENOENT;
		}
		g_free(key);
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (is_link(ino)) {
		struct node *n = inv_node(ID_OF(ino));
		char *target;

		if (!n || n->type != N_VM)
			return -ENOENT;
		target = link_target((struct vm *)n, KIND_OF(ino) - F_LINK);
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = strlen(target);
		g_free(target);
		return 0;
	}
	return -ENOENT;
}

char *view_readlink(fuse_ino_t ino)
{
	struct node *n = is_link(ino) ? inv_node(ID_OF(ino)) : NULL;

	if (!n || n->type != N_VM)
		return NULL;
	return link_target((struct vm *)n, KIND_OF(ino) - F_LINK);
}

struct entry {
	char *name;
	fuse_ino_t ino;
	off_t off;
	bool dir;
};

static void entry_clear(void *p)
{
	g_free(((struct entry *)p)->name);
}

static gint by_off(gconstpointer a, gconstpointer b)
{
	off_t x = ((const struct entry *)a)->off, y = ((const struct entry *)b)->off;

	return x < y ? -1 : x > y;
}

struct key_walk {
	enum view view;
	GArray *entries;
	GHashTable *seen;
};

static void add_key(const char *key, void *arg)
{
	struct key_walk *w = arg;
	struct entry e;

	if (g_hash_table_contains(w->seen, key))
		return;
	e.ino = key_ino(w->view, key);
	if (!e.ino)
		return;
	e.name = g_strdup(key);
	e.off = (off_t)(e.ino & KEY_HASH_MASK) + OFF_FIRST;
	e.dir = true;
	g_hash_table_add(w->seen, e.name);
	g_array_append_val(w->entries, e);
}

/*
 * The entries of a view or key directory, sorted by their offsets: a key
 * directory's is its digest, a link's its VM's id, so a listing continued
 * later resumes where it was even when entries came and went meanwhile.
 */
static GArray *entries_of(fuse_ino_t ino)
{
	GArray *entries = g_array_new(FALSE, FALSE, sizeof(struct entry));
	enum view v;
	char *key = NULL;

	g_array_set_clear_func(entries, entry_clear);
	if (is_view(ino) && ino - INO_VIEW_FIRST != V_FREE) {
		struct key_walk w = {.view = ino - INO_VIEW_FIRST, .entries = entries};

		w.seen = g_hash_table_new(g_str_hash, g_str_equal);
		for (struct host *h = inv_hosts(); h; h = h->next)
			for (size_t i = 0; i < h->nvms; i++)
				vm_keys(h->vms[i], w.view, add_key, &w);
		g_hash_table_destroy(w.seen);
	} else if (is_view(ino) || ((ino & KEY_BIT) && (key = key_of(ino, &v)))) {
		if (is_view(ino))
			v = V_FREE;
		for (struct host *h = inv_hosts(); h; h = h->next) {
			for (size_t i = 0; i < h->nvms; i++) {
				struct vm *vm = h->vms[i];
				struct entry e;

				if (!vm_in(vm, v, key))
					continue;
				e.name = g_strdup_printf("%s:%s", h->name, vm->name);
				e.ino = INO_OF(vm->node.id, F_LINK + v);
				e.off = (off_t)vm->node.id + OFF_FIRST;
				e.dir = false;
				g_array_append_val(entries, e);
			}
		}
		g_free(key);
	}
	g_array_sort(entries, by_off);
	return entries;
}

void view_list(fuse_ino_t ino, off_t off, view_add_fn add, void *buf)
{
	GArray *entries = entries_of(ino);

	for (guint i = 0; i < entries->len; i++) {
		struct entry *e = &g_array_index(entries, struct entry, i);

		if (e->off > off && !add(buf, e->name, e->ino, e->dir ? S_IFDIR : S_IFLNK, e->off))
			break;
	}
	g_array_free(entries, TRUE);
}
