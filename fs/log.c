/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One log for the whole program: stderr or a file, a line per message. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *log_fp;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

int log_open(const char *path)
{
	FILE *fp = fopen(path, "a");

	if (!fp) {
		fprintf(stderr, "catkeeperfs: cannot open log %s: %s\n", path, strerror(errno));
		return -1;
	}
	setvbuf(fp, NULL, _IOLBF, 0);
	log_fp = fp;
	return 0;
}

void log_close(void)
{
	if (log_fp)
		fclose(log_fp);
	log_fp = NULL;
}

void iso_time(time_t t, char buf[static 21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Writes S escaped into OUT (when not NULL); returns the length. NAMES: also '\\' and ' '. */
static size_t escape(char *out, const char *s, bool names)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (control(*p) || (names && (*p == '\\' || *p == ' '))) {
			if (out)
				snprintf(out + n, 5, "\\%03o", *p);
			n += 4;
		} else {
			if (out)
				out[n] = (char)*p;
			n++;
		}
	}
	if (out)
		out[n] = '\0';
	return n;
}

char *name_escape(const char *name)
{
	char *r = malloc(escape(NULL, name, true) + 1);

	if (r)
		escape(r, name, true);
	return r;
}

void log_msg(const char *fmt, ...)
{
	FILE *fp = log_fp ? log_fp : stderr;
	char when[21], *line = NULL, *safe = NULL;
	va_list ap;
	int rc;

	iso_time(time(NULL), when);
	va_start(ap, fmt);
	rc = vasprintf(&line, fmt, ap);
	va_end(ap);
	/* A message carries names and libvirt's words: one message, one line. */
	if (rc >= 0 && (safe = malloc(escape(NULL, line, false) + 1)))
		escape(safe, line, false);
	pthread_mutex_lock(&log_lock);
	fprintf(fp, "%s %s\n", when, safe ? safe : rc >= 0 ? line : fmt);
	pthread_mutex_unlock(&log_lock);
	free(line);
	free(safe);
}

struct timespec deadline_in(double secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)secs;
	ts.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}
