// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

/* The IPv4 address sa reaches, when it reaches one. */
static int as_v4(const struct sockaddr *sa, struct in_addr *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		*out = ((const struct sockaddr_in *)sa)->sin_addr;
		return 1;
	}
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(&out->s_addr, &s6->sin6_addr.s6_addr[12], 4);
		return 1;
	}
	return 0;
}

int netaddr_same(const struct sockaddr *a, const struct sockaddr *b)
{
	struct in_addr a4, b4;
	int av4 = as_v4(a, &a4), bv4 = as_v4(b, &b4);

	if (av4 || bv4)
		return av4 && bv4 && a4.s_addr == b4.s_addr;
	return a->sa_family == AF_INET6 && b->sa_family == AF_INET6 &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

int netaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

int netaddr_is_loopback(const struct sockaddr *sa)
{
	struct in_addr a4;

	if (as_v4(sa, &a4))
		return (ntohl(a4.s_addr) >> 24) == 127;
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

void netaddr_format(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[NI_MAXHOST];
	socklen_t len =
	    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (getnameinfo(sa, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST))
		snprintf(host, sizeof(host), "?");
	snprintf(out, cap, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, netaddr_port(sa));
}

int netaddr_parse_numeric(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
			*ai;
	char service[8];

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(text, service, &hints, &ai))
		return -1;
	if (ai->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(ai);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}
