// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include "evparse.h"

static int octal(char c)
{
	return c >= '0' && c <= '7';
}

int evparse_unescape(const char *src, size_t n, char *dst, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\\' && n - i > 3 && src[i + 1] >= '0' && src[i + 1] <= '3' &&
		    octal(src[i + 2]) && octal(src[i + 3])) {
			c = (unsigned char)((src[i + 1] - '0') << 6 | (src[i + 2] - '0') << 3 |
					    (src[i + 3] - '0'));
			i += 3;
		}
		/* a name holds neither NUL nor '/', escaped or not */
		if (!c || c == '/' || o + 1 >= cap)
			return -1;
		dst[o++] = (char)c;
	}
	if (o >= cap)
		return -1;
	dst[o] = '\0';
	return 0;
}

int evparse_line(const char *line, char *host, size_t host_cap, char *vm, size_t vm_cap)
{
	const char *path = strchr(line, '\t'), *slash, *v, *vend;

	if (!path || !path[1] || !vm_cap)
		return -1;
	path++;
	slash = strchr(path, '/');
	if (evparse_unescape(path, slash ? (size_t)(slash - path) : strlen(path), host, host_cap) ||
	    !host[0])
		return -1;
	vm[0] = '\0';
	if (!slash)
		return 0;
	v = slash + 1;
	vend = strchrnul(v, '/');
	/* host control files (.uri, .status) change the host's row */
	if (v[0] == '.' || vend == v)
		return 0;
	return evparse_unescape(v, (size_t)(vend - v), vm, vm_cap);
}
