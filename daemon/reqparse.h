/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_REQPARSE_H
#define CK_REQPARSE_H

#include <stddef.h>

/* Splits "a/b/c" in place into at most max parts; returns how many, -1 for more. */
int split_path(char *path, char **parts, int max);
/* split_path(), each part then unescaped as .events writes names (evparse.h). */
int split_names(char *path, char **parts, int max);
#endif
