// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The part of a request the daemon reads itself (lws parses the rest, forms
 * too): the names in an API path. No lws here, so that tests/fuzz can feed
 * it anything.
 */
#include <string.h>

#include "evparse.h"
#include "reqparse.h"

/* Splits "a/b/c" in place into at most max parts; returns how many. */
int split_path(char *path, char **parts, int max)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		parts[n++] = tok;
	}
	return n;
}

/*
 * split_path(), then each part unescaped as .events writes names ("\012"):
 * lws cannot carry a newline or carriage return through a URL's %0A.
 */
int split_names(char *path, char **parts, int max)
{
	int n = split_path(path, parts, max), i;

	for (i = 0; i < n; i++)
		if (evparse_unescape(parts[i], strlen(parts[i]), parts[i], strlen(parts[i]) + 1))
			return -1;
	return n;
}
