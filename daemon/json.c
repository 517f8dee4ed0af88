// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void sb_init(struct sbuf *b, size_t pre)
{
	memset(b, 0, sizeof(*b));
	b->pre = pre;
}

void sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int sb_reserve(struct sbuf *b, size_t more)
{
	size_t need = b->pre + b->len + more + 1, cap = b->cap ? b->cap : 256;
	char *p;

	if (b->oom)
		return -1;
	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (sb_reserve(b, n))
		return;
	memcpy(b->p + b->pre + b->len, s, n);
	b->len += n;
	b->p[b->pre + b->len] = '\0';
}

void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->pre + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0xff >> (len + 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Invalid UTF-8 (a description written by any tool) becomes U+FFFD: a browser
 * drops a websocket whose text frame is not UTF-8.
 */
void sb_json_str(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0, len;

	sb_add(b, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		/* DEL is valid JSON, but the page would show nothing for it */
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80 && (len = utf8_len(u + i, n - i))) {
			i += len;
			continue;
		}
		sb_add(b, s + start, i - start);
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			sb_add(b, esc, 2);
		} else if (c == '\n') {
			sb_add(b, "\\n", 2);
		} else if (c >= 0x80) {
			sb_add(b, "\\ufffd", 6);
		} else {
			sb_add(b, esc, 6);
		}
		start = ++i;
	}
	sb_add(b, s + start, n - start);
	sb_add(b, "\"", 1);
}

void sb_json_kv(struct sbuf *b, int first, const char *key, const char *val, size_t n)
{
	if (!first)
		sb_add(b, ",", 1);
	sb_json_str(b, key, strlen(key));
	sb_add(b, ":", 1);
	sb_json_str(b, val, n);
}
