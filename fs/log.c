/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One log for the whole program: stderr or a file, a line per message. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
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

void log_msg(const char *fmt, ...)
{
	FILE *fp = log_fp ? log_fp : stderr;
	char when[21];
	va_list ap;

	iso_time(time(NULL), when);
	pthread_mutex_lock(&log_lock);
	fprintf(fp, "%s ", when);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fputc('\n', fp);
	pthread_mutex_unlock(&log_lock);
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
