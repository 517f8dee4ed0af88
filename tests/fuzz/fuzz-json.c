// SPDX-License-Identifier: GPL-2.0-or-later
/* JSON strings from any bytes: always one valid, printable-ASCII-or-UTF-8 string literal. */
#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf b;
	const unsigned char *p;
	size_t i;

	sb_init(&b, 16);
	sb_json_kv(&b, 1, "k", (const char *)data, size);
	if (b.oom)
		return 0;
	p = (const unsigned char *)sb_text(&b);
	if (b.len < 6 || p[0] != '"' || p[b.len - 1] != '"')
		abort();
	for (i = 0; i < b.len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			abort(); /* control bytes are always escaped */
	for (i = 5; i < b.len - 1; i++) {
		if (p[i] == '"')
			abort(); /* an unescaped quote would end the string */
		if (p[i] == '\\')
			i++;
	}
	sb_free(&b);
	return 0;
}
