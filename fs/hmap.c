/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hmap.h"

#include <stdlib.h>

uint64_t hmap_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

uint64_t hmap_hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return v;
}

void hmap_init(struct hmap *m, int (*match)(const void *value, const void *key))
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
	m->match = match;
}

void hmap_destroy(struct hmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

static int grow(struct hmap *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
	struct hmap_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return 0;
}

int hmap_put(struct hmap *m, uint64_t hash, void *value)
{
	struct hmap_entry *e;

	if (m->count >= m->nbuckets && grow(m) < 0)
		return -1;
	e = malloc(sizeof(*e));
	if (!e)
		return -1;
	e->hash = hash;
	e->value = value;
	e->next = m->buckets[hash & (m->nbuckets - 1)];
	m->buckets[hash & (m->nbuckets - 1)] = e;
	m->count++;
	return 0;
}

void *hmap_get(const struct hmap *m, uint64_t hash, const void *key)
{
	if (!m->nbuckets)
		return NULL;
	for (struct hmap_entry *e = m->buckets[hash & (m->nbuckets - 1)]; e; e = e->next)
		if (e->hash == hash && m->match(e->value, key))
			return e->value;
	return NULL;
}

void *hmap_del(struct hmap *m, uint64_t hash, const void *key)
{
	struct hmap_entry **pp;

	if (!m->nbuckets)
		return NULL;
	for (pp = &m->buckets[hash & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		struct hmap_entry *e = *pp;

		if (e->hash == hash && m->match(e->value, key)) {
			void *v = e->value;

			*pp = e->next;
			free(e);
			m->count--;
			return v;
		}
	}
	return NULL;
}
