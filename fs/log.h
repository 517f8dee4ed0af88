/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_LOG_H
#define CK_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

int log_open(const char *path);
void log_close(void);
/* A line in the log; control characters in it are written as \ooo (see name_escape). */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Names (of hosts, VMs, users) are untrusted bytes. Where one goes into a
 * line (.events, the log, history) each byte that is a control character
 * (< 0x20, 0x7f), a backslash or a space is written as a backslash and three
 * octal digits, as /proc/mounts does: "a b" is "a\040b", a tab "\011".
 * Returns a malloc'd string, NULL when out of memory.
 */
char *name_escape(const char *name);

/* ISO-8601 UTC, e.g. 2026-11-25T21:40:00Z; buf must hold 21 bytes. */
void iso_time(time_t t, char buf[static 21]);
double now_mono(void);
/* CLOCK_REALTIME secs from now, for pthread_cond_timedwait() and pthread_timedjoin_np(). */
struct timespec deadline_in(double secs);

#endif
