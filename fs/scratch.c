/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scratch files: what editors and cp make beside config.xml (swap files,
 * temporaries), kept in memory so that saving through a rename works.
 */
#include "inventory_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct scratch *inv_scratch(struct vm *vm, const char *name)
{
	for (struct scratch *s = vm->scratch; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

void scratch_free(struct scratch *s)
{
	drop_node(&s->node);
	free(s->name);
	free(s->data);
	free(s);
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
