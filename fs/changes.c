/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The change stream: every value that changes and every directory made or
 * removed, in order, for the notifier (kernel invalidations, poll, .events).
 */
#include "inventory_int.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#define SYNC_WAIT_SECS 2

static pthread_mutex_t ch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ch_cond = PTHREAD_COND_INITIALIZER;
static struct change *ch_queue;
static size_t ch_len, ch_cap, ch_head;
static uint64_t ch_seq, ch_done;
static bool ch_quit;

static const char *const file_names[F_VMS + 1] = {
    [F_STATE] = "state",     [F_CONFIG] = "config.xml",
    [F_OWNER] = "owner",     [F_DESCRIPTION] = "description",
    [F_IP] = "ip",	     [F_VNC] = "vnc",
    [F_UUID] = "uuid",	     [F_VCPUS] = "vcpus",
    [F_MEMORY] = "memory",   [F_AUTOSTART] = "autostart",
    [F_HISTORY] = "history", [F_ERROR] = "error",
    [F_IP_LAST] = "ip_last",
    [F_URI] = ".uri",	     [F_STATUS] = ".status",
    [F_VMS] = ".vms",
};

const char *inv_file_name(enum file_kind kind)
{
	return kind <= F_VMS ? file_names[kind] : NULL;
}

char *inv_path(struct node *n, enum file_kind kind)
{
	struct scratch *s = (struct scratch *)n;

	if (n->type == N_HOST) {
		struct host *h = (struct host *)n;

		if (kind == F_URI || kind == F_STATUS || kind == F_VMS)
			return g_strdup_printf("%s/%s", h->name, file_names[kind]);
		return g_strdup(h->name);
	}
	if (n->type == N_VM) {
		struct vm *vm = (struct vm *)n;

		if (kind == F_DIR)
			return g_strdup_printf("%s/%s", vm->host->name, vm->name);
		return g_strdup_printf("%s/%s/%s", vm->host->name, vm->name, file_names[kind]);
	}
	return g_strdup_printf("%s/%s/%s", s->vm->host->name, s->vm->name, s->name);
}

void push_change(enum change_type type, uint64_t ino, uint64_t parent, const char *name, char *path)
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

/* The tables (.vms) that show a VM's row: no .events line of their own. */
uint64_t inv_views_gen;

static void tables_changed(struct host *h)
{
	inv_views_gen++;
	push_change(CH_VALUE, INO_VMS, 0, NULL, NULL);
	push_change(CH_VALUE, INO_OF(h->node.id, F_VMS), 0, NULL, NULL);
}

static bool in_table(enum file_kind kind)
{
	return kind == F_STATE || kind == F_OWNER || kind == F_IP || kind == F_VNC ||
	       kind == F_UUID;
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
		if (in_table(kind))
			tables_changed(vm->host);
	} else if (n->type == N_HOST) {
		((struct host *)n)->gen[kind - F_URI]++;
	}
	push_change(CH_VALUE, ino, 0, NULL, inv_path(n, kind));
}

void dir_created(struct node *n, uint64_t parent, const char *name)
{
	if (n->type == N_VM)
		tables_changed(((struct vm *)n)->host);
	push_change(CH_CREATED, INO_OF(n->id, F_DIR), parent, name, inv_path(n, F_DIR));
}

void dir_deleted(struct node *n, uint64_t parent, const char *name)
{
	if (n->type == N_VM)
		tables_changed(((struct vm *)n)->host);
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

	deadline = deadline_in(SYNC_WAIT_SECS);
	pthread_mutex_lock(&ch_lock);
	want = ch_seq;
	while (ch_done < want && !ch_quit)
		if (pthread_cond_timedwait(&ch_cond, &ch_lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ch_lock);
}

void changes_stop(void)
{
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
}
