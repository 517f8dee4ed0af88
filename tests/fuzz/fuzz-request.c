// SPDX-License-Identifier: GPL-2.0-or-later
/* The request part the daemon parses itself: the names of an API path. */
#include "fuzz.h"
#include "reqparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), *parts[5];
	int n, i;

	n = split_names(s, parts, 5);
	if (n > 5)
		abort();
	for (i = 0; i < n; i++)
		if (!parts[i][0] || strchr(parts[i], '/'))
			abort(); /* a part is never empty and never holds a separator */
	free(s);
	return 0;
}
