// SPDX-License-Identifier: GPL-2.0-or-later
/* The request parts the daemon parses itself: API path names and login forms. */
#include "fuzz.h"
#include "reqparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), *parts[5], user[65], pw[256];
	int n, i;

	if (form_value(s, "user", user, sizeof(user)) == 0 && strlen(user) >= sizeof(user))
		abort();
	if (form_value(s, "password", pw, sizeof(pw)) == 0 && strlen(pw) >= sizeof(pw))
		abort();
	n = split_names(s, parts, 5);
	if (n > 5)
		abort();
	for (i = 0; i < n; i++)
		if (!parts[i][0] || strchr(parts[i], '/'))
			abort(); /* a part is never empty and never holds a separator */
	free(s);
	return 0;
}
