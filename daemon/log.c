// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

void ck_log(const char *fmt, ...)
{
	char line[2048], safe[sizeof(line) * 4], stamp[32];
	size_t i, o = 0;
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/*
	 * Names come from users: a newline in one must not forge a log line.
	 * Control bytes and backslashes are written as in .events ("\011").
	 */
	for (i = 0; line[i]; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)sprintf(safe + o, "\\%03o", c);
		else
			safe[o++] = (char)c;
	}
	safe[o] = '\0';
	/* one write per line so concurrent workers do not interleave */
	fprintf(stderr, "%s catkeeper-web: %s\n", stamp, safe);
}
