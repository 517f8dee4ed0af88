// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The listening sockets, bound here rather than by lws: Debian's lws 4.1
 * takes its iface option for an interface name and, given an address,
 * listens on every address instead. Each address the --listen name resolves
 * to gets its own socket, checked with getsockname() after bind; lws only
 * adopts the connections accepted from them.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "netaddr.h"

/* "[::1]" is how a URL writes ::1 */
static void strip_brackets(const char *spec, char *out, size_t cap)
{
	size_t n = strlen(spec);

	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
		snprintf(out, cap, "%.*s", (int)(n - 2), spec + 1);
	else
		snprintf(out, cap, "%s", spec);
}

/* The socket is bound to exactly the address and port asked for. */
static int bound_as_asked(int fd, const struct addrinfo *ai, char *err, size_t errlen)
{
	struct sockaddr_storage got;
	socklen_t gl = sizeof(got);
	char want_s[NETADDR_STRLEN], got_s[NETADDR_STRLEN];

	if (getsockname(fd, (struct sockaddr *)&got, &gl)) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		return 0;
	}
	if (netaddr_same((struct sockaddr *)&got, ai->ai_addr) &&
	    netaddr_port((struct sockaddr *)&got) == netaddr_port(ai->ai_addr))
		return 1;
	netaddr_format(ai->ai_addr, want_s, sizeof(want_s));
	netaddr_format((struct sockaddr *)&got, got_s, sizeof(got_s));
	snprintf(err, errlen, "asked for %s, bound %s", want_s, got_s);
	return 0;
}

static int open_one(const struct addrinfo *ai, char *err, size_t errlen)
{
	int fd, one = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* ::1 means ::1, not every IPv4 address as well */
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) {
		snprintf(err, errlen, "IPV6_V6ONLY: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen)) {
		snprintf(err, errlen, "bind: %s", strerror(errno));
		goto fail;
	}
	if (!bound_as_asked(fd, ai, err, errlen))
		goto fail;
	if (listen(fd, 128)) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int listen_open(const char *spec, int port, struct listeners *l, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res, *ai;
	char host[256], service[8], where[NETADDR_STRLEN], why[200];
	int rc, i;

	l->n = 0;
	l->all_loopback = 1;
	strip_brackets(spec, host, sizeof(host));
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		for (i = 0; i < l->n; i++)
			if (netaddr_same((struct sockaddr *)&l->addr[i], ai->ai_addr))
				break;
		if (i < l->n)
			continue;
		if (l->n == LISTEN_MAX) {
			snprintf(err, errlen, "%s names more than %d addresses", spec, LISTEN_MAX);
			goto fail;
		}
		l->fd[l->n] = open_one(ai, why, sizeof(why));
		if (l->fd[l->n] < 0) {
			netaddr_format(ai->ai_addr, where, sizeof(where));
			snprintf(err, errlen, "%s: %s", where, why);
			goto fail;
		}
		memcpy(&l->addr[l->n], ai->ai_addr, ai->ai_addrlen);
		if (!netaddr_is_loopback(ai->ai_addr))
			l->all_loopback = 0;
		l->n++;
	}
	freeaddrinfo(res);
	if (!l->n) {
		snprintf(err, errlen, "%s names no IPv4 or IPv6 address", spec);
		return -1;
	}
	return 0;
fail:
	freeaddrinfo(res);
	listen_close(l);
	return -1;
}

void listen_close(struct listeners *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	l->n = 0;
}
