/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_NETADDR_H
#define CK_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define NETADDR_STRLEN 64

/*
 * Socket addresses compared by what they reach: an IPv4-mapped IPv6
 * address (::ffff:127.0.0.1) is the IPv4 address it maps.
 */
int netaddr_same(const struct sockaddr *a, const struct sockaddr *b);
int netaddr_port(const struct sockaddr *sa);
int netaddr_is_loopback(const struct sockaddr *sa);
/* "1.2.3.4:80" or "[::1]:80" */
void netaddr_format(const struct sockaddr *sa, char *out, size_t cap);
/* A numeric address (no name lookup) into ss; -1 when text is none. */
int netaddr_parse_numeric(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len);

#endif
