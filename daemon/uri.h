/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_URI_H
#define CK_URI_H

/* What a libvirt URI says about reaching its host's sshd. */
struct ck_uri {
	char transport[32]; /* "" (local), ssh, libssh2, libssh, tcp, tls, unix, ... */
	char user[64];
	char host[256]; /* empty for a local hypervisor */
	int port;	/* 0 when the URI names none */
	char keyfile[512];
	char known_hosts[512];
};

/* Percent-decodes src[0..n) (and '+' as space when plus); -1 when it does not fit. */
int uri_decode(char *dst, size_t cap, const char *src, size_t n, int plus);
int uri_parse(const char *text, struct ck_uri *u);
/* 1 when the hypervisor runs on this machine, so its consoles are local. */
int uri_is_local(const struct ck_uri *u);
int uri_is_ssh(const struct ck_uri *u);
/*
 * Why a user may not add a host with this URI (a transport or parameter
 * not listed: command=, keyfile=, known_hosts= ... run or read files as
 * the daemon's user), or NULL when it may.
 */
const char *uri_refusal(const char *text);

#endif
