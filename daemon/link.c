// SPDX-License-Identifier: GPL-2.0-or-later
/* Which transport carries a console (the one place that knows them all), and what they share. */
#include <string.h>

#include "link.h"

struct link *link_open(struct lws_vhost *vh, const struct console_target *t,
		       const struct link_events *ev, void *user)
{
	return t->ssh ? sshtunnel_open(vh, t, ev, user) : linkdirect_open(vh, t, ev, user);
}

struct lws *link_adopt_fd(struct lws_vhost *vh, int fd, const char *protocol, void *opaque)
{
	lws_adopt_desc_t ad;

	/* a raw file descriptor: lws polls it, the transport reads and writes it */
	memset(&ad, 0, sizeof(ad));
	ad.vh = vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = protocol;
	ad.opaque = opaque;
	return lws_adopt_descriptor_vhost_via_info(&ad);
}
