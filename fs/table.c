/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * .vms: the whole inventory (or one host's) as one tab-separated table with
 * a header line, so that scripts and the page read one file instead of
 * thousands. Fields are escaped as names are in .events (\ooo), so a tab or
 * a newline in a value never breaks a row.
 */
#include "face.h"
#include "log.h"

#include <glib.h>
#include <string.h>

static const char header[] = "host\tname\tstate\towner\tip\tvnc\tuuid\n";

static void field(GString *out, const char *value, char sep)
{
	char *esc = name_escape(value);

	g_string_append(out, esc ? esc : "");
	g_string_append_c(out, sep);
	free(esc);
}

/* The addresses, one per line in the ip file, comma-separated here. */
static void addresses(GString *out, const char *ips)
{
	char **lines = g_strsplit(ips, "\n", -1);
	bool first = true;

	for (char **l = lines; *l; l++) {
		char *esc;

		if (!**l)
			continue;
		esc = name_escape(*l);
		g_string_append_printf(out, "%s%s", first ? "" : ",", esc ? esc : "");
		free(esc);
		first = false;
	}
	g_strfreev(lines);
	g_string_append_c(out, '\t');
}

static void host_rows(GString *out, struct host *h)
{
	for (size_t i = 0; i < h->nvms; i++) {
		struct vm *vm = h->vms[i];

		if (vm->pending)
			continue;
		field(out, h->name, '\t');
		field(out, vm->name, '\t');
		field(out, vm_state_name(vm->state), '\t');
		field(out, vm->owner, '\t');
		addresses(out, vm->ips);
		field(out, vm->vnc, '\t');
		field(out, vm->uuid, '\n');
	}
}

char *table_render(struct host *only, size_t *len)
{
	GString *out = g_string_new(header);

	if (only)
		host_rows(out, only);
	else
		for (struct host *h = inv_hosts(); h; h = h->next)
			host_rows(out, h);
	*len = out->len;
	return g_string_free(out, FALSE);
}
