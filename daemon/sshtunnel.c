// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One SSH session per remote host, shared by all its consoles, driven by the
 * lws event loop: the session's socket is adopted as a raw descriptor and
 * libssh2 runs non-blocking; libssh2_session_block_directions() says which
 * readiness to wait for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>

#include "link.h"
#include "log.h"
#include "sshtunnel.h"

#define SETUP_TIMEOUT 15 /* seconds from connect() to an authenticated session */

enum state { S_CONNECT, S_HANDSHAKE, S_AUTH, S_READY };

struct ssh_chan {
	struct link link; /* first: the user holds a pointer to it; link.user NULL once gone */
	struct ssh_host *h;
	LIBSSH2_CHANNEL *ch;
	char addr[64];
	int port;
	struct ssh_chan *next;
};

struct ssh_host {
	struct console_target t; /* ssh_* fields say how to reach the host */
	int fd;
	struct lws *wsi; /* NULL once lws has closed it (then lws owns fd) */
	int adopted;
	LIBSSH2_SESSION *s;
	enum state state;
	int lost; /* the connection broke; lws has yet to report the hang-up */
	int auth_step;
	const char *auth_tried;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *ident;
	struct ssh_chan *chans;
	struct ssh_host *next;
};

static struct ssh_host *hosts;

int sshtunnel_init(void)
{
	int rc = libssh2_init(0);

	if (rc)
		ck_log("ssh: libssh2_init failed (%d)", rc);
	return rc ? -1 : 0;
}

void sshtunnel_exit(void)
{
	libssh2_exit();
}

static const char *ssh_error(struct ssh_host *h)
{
	char *msg = NULL;

	libssh2_session_last_error(h->s, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}

static int same_host(const struct ssh_host *h, const struct console_target *t)
{
	return !strcmp(h->t.host, t->host) && !strcmp(h->t.ssh_addr, t->ssh_addr) &&
	       h->t.ssh_port == t->ssh_port && !strcmp(h->t.ssh_user, t->ssh_user) &&
	       !strcmp(h->t.ssh_key, t->ssh_key) &&
	       !strcmp(h->t.ssh_known_hosts, t->ssh_known_hosts);
}

static void unlink_host(struct ssh_host *h)
{
	struct ssh_host **pp;

	for (pp = &hosts; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			return;
		}
}

/*
 * Ends the session. The socket is shut down first so that libssh2, freeing
 * its channels, meets an error instead of waiting for a dead peer; lws closes
 * the descriptor afterwards.
 */
static void host_drop(struct ssh_host *h, const char *why)
{
	struct ssh_chan *ch;

	unlink_host(h);
	while ((ch = h->chans)) {
		h->chans = ch->next;
		if (ch->link.user)
			ch->link.ev->gone(ch->link.user, why, 0);
		free(ch);
	}
	if (h->fd >= 0)
		shutdown(h->fd, SHUT_RDWR);
	if (h->agent) {
		libssh2_agent_disconnect(h->agent);
		libssh2_agent_free(h->agent);
	}
	if (h->s)
		libssh2_session_free(h->s);
	if (h->wsi) {
		lws_set_opaque_user_data(h->wsi, NULL);
		lws_set_timeout(h->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	} else if (!h->adopted && h->fd >= 0) {
		close(h->fd);
	}
	free(h);
}

static void host_fail(struct ssh_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void host_fail(struct ssh_host *h, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ck_log("ssh %s (%s@%s:%d): %s", h->t.host, h->t.ssh_user, h->t.ssh_host, h->t.ssh_port,
	       why);
	host_drop(h, why);
}

static void wait_io(struct ssh_host *h)
{
	int dirs = libssh2_session_block_directions(h->s);

	if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		lws_callback_on_writable(h->wsi);
	if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
		lws_rx_flow_control(h->wsi, 1);
}

static int knownhost_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* 0 when known_hosts has exactly this key for the host; fails the host otherwise. */
static int check_host_key(struct ssh_host *h)
{
	struct libssh2_knownhost *found;
	LIBSSH2_KNOWNHOSTS *kh;
	const char *key;
	size_t len;
	int type, rc;

	key = libssh2_session_hostkey(h->s, &len, &type);
	kh = libssh2_knownhost_init(h->s);
	if (!key || !kh) {
		if (kh)
			libssh2_knownhost_free(kh);
		host_fail(h, "no host key from the server");
		return -1;
	}
	if (libssh2_knownhost_readfile(kh, h->t.ssh_known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) <
	    0) {
		libssh2_knownhost_free(kh);
		host_fail(h, "host key refused: cannot read known_hosts file %s",
			  h->t.ssh_known_hosts);
		return -1;
	}
	rc = libssh2_knownhost_checkp(kh, h->t.ssh_host, h->t.ssh_port, key, len,
				      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
					  knownhost_type(type),
				      &found);
	libssh2_knownhost_free(kh);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return 0;
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		host_fail(h, "host key refused: the key of %s CHANGED (not the one in %s)",
			  h->t.ssh_host, h->t.ssh_known_hosts);
	else
		host_fail(h, "host key refused: %s is unknown (not in %s)", h->t.ssh_host,
			  h->t.ssh_known_hosts);
	return -1;
}

/*
 * Tries, in order: the URI's or config's key file; the agent's identities;
 * without a key file, ~/.ssh/id_ed25519, id_ecdsa and id_rsa.
 * Returns 0 when authenticated, LIBSSH2_ERROR_EAGAIN, or -1 when all failed.
 */
static int authenticate(struct ssh_host *h)
{
	static const char *const defaults[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
	const char *user = h->t.ssh_user, *home = getenv("HOME");
	char path[512];
	int rc;

	for (;;) {
		int step = h->auth_step;

		if (step == 0 && h->t.ssh_key[0]) {
			h->auth_tried = "its key file";
			rc = libssh2_userauth_publickey_fromfile_ex(
			    h->s, user, (unsigned int)strlen(user), NULL, h->t.ssh_key, NULL);
		} else if (step == 1 && getenv("SSH_AUTH_SOCK")) {
			h->auth_tried = "the ssh agent";
			if (!h->agent) {
				h->agent = libssh2_agent_init(h->s);
				if (!h->agent || libssh2_agent_connect(h->agent) ||
				    libssh2_agent_list_identities(h->agent)) {
					h->auth_step++;
					continue;
				}
				h->ident = NULL;
				if (libssh2_agent_get_identity(h->agent, &h->ident, NULL)) {
					h->auth_step++;
					continue;
				}
			}
			rc = libssh2_agent_userauth(h->agent, user, h->ident);
			if (rc && rc != LIBSSH2_ERROR_EAGAIN) {
				/* the next identity, if any */
				if (!libssh2_agent_get_identity(h->agent, &h->ident, h->ident))
					continue;
			}
		} else if (step >= 2 && step < 5 && !h->t.ssh_key[0]) {
			snprintf(path, sizeof(path), "%s/.ssh/%s", home ? home : "/root",
				 defaults[step - 2]);
			if (access(path, R_OK)) {
				h->auth_step++;
				continue;
			}
			h->auth_tried = "the default keys";
			rc = libssh2_userauth_publickey_fromfile_ex(
			    h->s, user, (unsigned int)strlen(user), NULL, path, NULL);
		} else if (step >= 5) {
			return -1;
		} else {
			h->auth_step++;
			continue;
		}
		if (rc != LIBSSH2_ERROR_EAGAIN && rc)
			h->auth_step++;
		else
			return rc;
	}
}

/* Opens the channels asked for, one at a time as libssh2 wants. */
static void open_channels(struct ssh_host *h)
{
	struct ssh_chan *ch;

	for (ch = h->chans; ch; ch = ch->next) {
		if (ch->ch || !ch->link.user)
			continue;
		ch->ch = libssh2_channel_direct_tcpip_ex(h->s, ch->addr, ch->port, "127.0.0.1", 0);
		if (ch->ch) {
			ch->link.ev->ready(ch->link.user);
			continue;
		}
		if (libssh2_session_last_errno(h->s) == LIBSSH2_ERROR_EAGAIN) {
			wait_io(h);
			return;
		}
		ck_log("ssh %s: the tunnel to %s:%d was refused: %s", h->t.host, ch->addr, ch->port,
		       ssh_error(h));
		ch->link.ev->gone(ch->link.user, "the host's sshd refused a tunnel to the console",
				  0);
		ch->link.user = NULL;
	}
}

/* Frees the channels whose consoles have gone, as far as libssh2 lets us now. */
static void reap_channels(struct ssh_host *h)
{
	struct ssh_chan **pp = &h->chans, *ch;

	while ((ch = *pp)) {
		if (ch->link.user ||
		    (ch->ch && libssh2_channel_free(ch->ch) == LIBSSH2_ERROR_EAGAIN)) {
			pp = &ch->next;
			continue;
		}
		*pp = ch->next;
		free(ch);
	}
	/* the session lives as long as it has consoles */
	if (!h->chans && h->state == S_READY)
		host_drop(h, "no more consoles");
}

static void host_step(struct ssh_host *h)
{
	int rc;

	switch (h->state) {
	case S_CONNECT:
		return;
	case S_HANDSHAKE:
		rc = libssh2_session_handshake(h->s, h->fd);
		if (rc == LIBSSH2_ERROR_EAGAIN) {
			wait_io(h);
			return;
		}
		if (rc) {
			host_fail(h, "ssh handshake failed: %s", ssh_error(h));
			return;
		}
		if (check_host_key(h))
			return;
		h->state = S_AUTH;
		/* fallthrough */
	case S_AUTH:
		rc = authenticate(h);
		if (rc == LIBSSH2_ERROR_EAGAIN) {
			wait_io(h);
			return;
		}
		if (rc) {
			host_fail(h, "ssh authentication as %s failed (tried %s)", h->t.ssh_user,
				  h->auth_tried ? h->auth_tried : "no key: none found");
			return;
		}
		ck_log("ssh %s: session to %s@%s:%d ready", h->t.host, h->t.ssh_user, h->t.ssh_host,
		       h->t.ssh_port);
		h->state = S_READY;
		lws_set_timeout(h->wsi, NO_PENDING_TIMEOUT, 0);
		/* fallthrough */
	case S_READY:
		open_channels(h);
		return;
	}
}

static int start_connect(struct ssh_host *h, struct lws_vhost *vh)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
			*ai;
	char port[8];
	int one = 1, idle = 15, intvl = 5, cnt = 3, rc;

	snprintf(port, sizeof(port), "%d", h->t.ssh_port);
	rc = getaddrinfo(h->t.ssh_addr, port, &hints, &ai);
	if (rc) {
		ck_log("ssh %s: bad address %s: %s", h->t.host, h->t.ssh_addr, gai_strerror(rc));
		return -1;
	}
	h->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0 || (connect(h->fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)) {
		ck_log("ssh %s: cannot connect to %s:%d: %s", h->t.host, h->t.ssh_host,
		       h->t.ssh_port, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a host that vanishes is noticed in about 30 s even when idle */
	setsockopt(h->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(h->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(h->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(h->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	h->wsi = link_adopt_fd(vh, h->fd, "ck-ssh", h);
	if (!h->wsi) {
		ck_log("ssh %s: cannot watch the socket", h->t.host);
		return -1;
	}
	h->adopted = 1;
	lws_set_timeout(h->wsi, PENDING_TIMEOUT_AWAITING_CONNECT_RESPONSE, SETUP_TIMEOUT);
	lws_callback_on_writable(h->wsi);
	return 0;
}

static struct ssh_host *host_get(struct lws_vhost *vh, const struct console_target *t)
{
	struct ssh_host *h;

	for (h = hosts; h; h = h->next)
		if (same_host(h, t))
			return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->t = *t;
	h->fd = -1;
	h->s = libssh2_session_init();
	if (!h->s) {
		free(h);
		return NULL;
	}
	libssh2_session_set_blocking(h->s, 0);
	h->next = hosts;
	hosts = h;
	if (start_connect(h, vh)) {
		host_drop(h, "cannot connect");
		return NULL;
	}
	return h;
}

static const struct link_ops chan_ops;

struct link *sshtunnel_open(struct lws_vhost *vh, const struct console_target *t,
			    const struct link_events *ev, void *user)
{
	struct ssh_host *h = host_get(vh, t);
	struct ssh_chan *ch;

	if (!h)
		return NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->link = (struct link){&chan_ops, ev, user};
	ch->h = h;
	snprintf(ch->addr, sizeof(ch->addr), "%s", t->addr);
	ch->port = t->port;
	ch->next = h->chans;
	h->chans = ch;
	if (h->state == S_READY)
		lws_callback_on_writable(h->wsi);
	return &ch->link;
}

static int fatal(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	       rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	       rc == LIBSSH2_ERROR_SOCKET_NONE;
}

static ssize_t chan_result(struct ssh_chan *ch, ssize_t rc)
{
	if (rc >= 0)
		return rc;
	if (rc == LIBSSH2_ERROR_EAGAIN) {
		wait_io(ch->h);
		return -EAGAIN;
	}
	if (ch->h->lost || fatal((int)rc)) {
		/* lws sees the hang-up and drops the session outside this call */
		ch->h->lost = 1;
		shutdown(ch->h->fd, SHUT_RDWR);
		return -ENOTCONN;
	}
	ck_log("ssh %s: channel to %s:%d failed (%d): %s", ch->h->t.host, ch->addr, ch->port,
	       (int)rc, ssh_error(ch->h));
	return -EIO;
}

static ssize_t chan_read(struct link *l, void *buf, size_t n)
{
	struct ssh_chan *ch = (struct ssh_chan *)l;
	ssize_t rc;

	if (!ch->ch)
		return -EAGAIN;
	rc = libssh2_channel_read(ch->ch, buf, n);
	if (rc == 0 && !libssh2_channel_eof(ch->ch))
		rc = LIBSSH2_ERROR_EAGAIN;
	return chan_result(ch, rc);
}

static ssize_t chan_write(struct link *l, const void *buf, size_t n)
{
	struct ssh_chan *ch = (struct ssh_chan *)l;

	if (!ch->ch)
		return -EAGAIN;
	return chan_result(ch, libssh2_channel_write(ch->ch, buf, n));
}

static void chan_want_read(struct link *l)
{
	lws_rx_flow_control(((struct ssh_chan *)l)->h->wsi, 1);
}

static void chan_want_write(struct link *l)
{
	lws_callback_on_writable(((struct ssh_chan *)l)->h->wsi);
}

static void chan_close(struct link *l)
{
	struct ssh_chan *ch = (struct ssh_chan *)l;

	ch->link.user = NULL;
	reap_channels(ch->h);
}

static const struct link_ops chan_ops = {chan_read, chan_write, chan_want_read, chan_want_write,
					 chan_close};

/* Something moved on the session: every console may read or write again. */
static void kick_all(struct ssh_host *h)
{
	struct ssh_chan *ch, *next;

	for (ch = h->chans; ch; ch = next) {
		next = ch->next;
		if (ch->link.user && ch->ch)
			ch->link.ev->kick(ch->link.user);
	}
}

int sshtunnel_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			   size_t len)
{
	struct ssh_host *h = lws_get_opaque_user_data(wsi);
	socklen_t sl = sizeof(int);
	int err = 0;

	switch (reason) {
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!h)
			return -1;
		if (h->state == S_CONNECT) {
			if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
				host_fail(h, "cannot connect to sshd at %s:%d: %s", h->t.ssh_host,
					  h->t.ssh_port, strerror(err ? err : errno));
				return 0;
			}
			h->state = S_HANDSHAKE;
		}
		host_step(h);
		if (lws_get_opaque_user_data(wsi) == h && h->state == S_READY) {
			reap_channels(h);
			if (lws_get_opaque_user_data(wsi) == h)
				kick_all(h);
		}
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!h)
			return -1;
		if (h->state != S_READY) {
			host_step(h);
			return 0;
		}
		/* the consoles read it; until one finds the socket empty, stop polling */
		lws_rx_flow_control(wsi, 0);
		open_channels(h);
		reap_channels(h);
		if (lws_get_opaque_user_data(wsi) == h)
			kick_all(h);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (h) {
			h->wsi = NULL;
			host_fail(h, h->state == S_READY ? "lost the ssh connection to the host"
							 : "ssh connection timed out");
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
