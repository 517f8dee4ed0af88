/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_INVENTORY_INT_H
#define CK_INVENTORY_INT_H

/*
 * Shared by the files of the inventory: inventory.c (hosts, VMs, nodes),
 * changes.c (the change stream), hostreport.c (what hosts report) and
 * scratch.c. The rest of fs/ sees inventory.h.
 */
#include "inventory.h"

#include <pthread.h>

extern struct store *inv_store;
extern const struct hostconn_callbacks inv_host_callbacks;
/* The loaded flag of hosts. */
extern pthread_mutex_t inv_load_lock;
extern pthread_cond_t inv_load_cond;

/* Under the write lock. */
uint64_t new_node(struct node *n, enum node_type type);
void drop_node(struct node *n);
struct host *host_by_id(uint64_t id);
struct vm *vm_by_id(uint64_t id);
struct vm *vm_new(struct host *h, const char *name);
void vm_remove(struct vm *vm);
void vm_rename(struct vm *vm, const char *name);
void record_error(struct vm *vm, const char *what, int err, const char *msg);
void scratch_free(struct scratch *s);

void push_change(enum change_type type, uint64_t ino, uint64_t parent, const char *name,
		 char *path);
void dir_created(struct node *n, uint64_t parent, const char *name);
void dir_deleted(struct node *n, uint64_t parent, const char *name);
/* Ends inv_next_change() waits and drops what is queued. */
void changes_stop(void);

#endif
