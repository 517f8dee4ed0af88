// SPDX-License-Identifier: GPL-2.0-or-later
/* Which transport carries a console: the one place that knows them all. */
#include "link.h"

struct link *link_open(struct lws_vhost *vh, const struct console_target *t,
		       const struct link_events *ev, void *user)
{
	return t->ssh ? sshtunnel_open(vh, t, ev, user) : linkdirect_open(vh, t, ev, user);
}
