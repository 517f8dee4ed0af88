/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_JSON_H
#define CK_JSON_H

#include <stddef.h>

/*
 * A growing byte buffer whose first `pre` bytes are reserved, so the text can
 * go to lws_write() without another copy (lws wants LWS_PRE bytes in front).
 */
struct sbuf {
	char *p;
	size_t pre, len, cap; /* len counts the text only, after pre */
	int oom;
};

void sb_init(struct sbuf *b, size_t pre);
void sb_free(struct sbuf *b);
/* Room for `more` bytes of text after what is there; -1 when out of memory. */
int sb_reserve(struct sbuf *b, size_t more);
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string. */
void sb_json_str(struct sbuf *b, const char *s, size_t n);
/* Appends "key":"value" with a leading comma unless first. */
void sb_json_kv(struct sbuf *b, int first, const char *key, const char *val, size_t n);
static inline char *sb_text(struct sbuf *b)
{
	return b->p + b->pre;
}

#endif
