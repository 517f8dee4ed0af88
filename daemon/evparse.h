/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_EVPARSE_H
#define CK_EVPARSE_H

#include <stddef.h>

/*
 * One line of MOUNT/.events, "changed|created|deleted<TAB>HOST[/VM[/FILE]]",
 * into the host and VM it concerns (vm "" for the host itself and its
 * control files). Each name is unescaped: catkeeperfs writes a byte below
 * 0x20, 0x7f, a backslash or a space as a backslash and three octal digits
 * ("\011" for a tab), as /proc/mounts does; any other backslash is taken as
 * it is, so lines of an older mount still parse. -1 for a line that names
 * nothing or a name that does not fit.
 */
int evparse_line(const char *line, char *host, size_t host_cap, char *vm, size_t vm_cap);
/* Unescapes src[0..n) into dst (NUL-terminated); -1 when it does not fit. */
int evparse_unescape(const char *src, size_t n, char *dst, size_t cap);

#endif
