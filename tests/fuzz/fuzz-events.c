// SPDX-License-Identifier: GPL-2.0-or-later
/* Lines of MOUNT/.events: names come out unescaped, bounded and without '/'. */
#include "evparse.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), host[256], vm[256];

	if (!evparse_line(s, host, sizeof(host), vm, sizeof(vm))) {
		if (!host[0] || strlen(host) >= sizeof(host) || strlen(vm) >= sizeof(vm) ||
		    strchr(host, '/') || strchr(vm, '/'))
			abort();
	}
	free(s);
	return 0;
}
