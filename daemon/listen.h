/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_LISTEN_H
#define CK_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#define LISTEN_MAX 8

struct listeners {
	int n;
	int fd[LISTEN_MAX];
	struct sockaddr_storage addr[LISTEN_MAX];
	int all_loopback; /* every address is a loopback one */
};

/*
 * Binds and listens on every address SPEC (a name or a literal, "[v6]" too)
 * resolves to, each checked with getsockname(); -1 with err set when one
 * cannot be had exactly, and then none is kept.
 */
int listen_open(const char *spec, int port, struct listeners *l, char *err, size_t errlen);
void listen_close(struct listeners *l);

#endif
