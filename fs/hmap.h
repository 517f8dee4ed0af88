/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_HMAP_H
#define CK_HMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * A chained hash map with caller-owned keys: entries point at a key that lives
 * inside the value (a VM's name, an inode number), so nothing is copied.
 */
struct hmap_entry {
	struct hmap_entry *next;
	uint64_t hash;
	void *value;
};

struct hmap {
	struct hmap_entry **buckets;
	size_t nbuckets;
	size_t count;
	int (*match)(const void *value, const void *key);
};

uint64_t hmap_hash_str(const char *s);
uint64_t hmap_hash_u64(uint64_t v);

void hmap_init(struct hmap *m, int (*match)(const void *value, const void *key));
void hmap_destroy(struct hmap *m);
int hmap_put(struct hmap *m, uint64_t hash, void *value);
void *hmap_get(const struct hmap *m, uint64_t hash, const void *key);
void *hmap_del(struct hmap *m, uint64_t hash, const void *key);

#endif
