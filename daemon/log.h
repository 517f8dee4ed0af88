/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_LOG_H
#define CK_LOG_H

/* One line on stderr with the time: the daemon's action log and its errors. */
void ck_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
