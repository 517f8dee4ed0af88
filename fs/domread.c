/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading one domain: its state, definition, live parts and addresses. */
#include "domxml.h"
#include "host.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

const char *vm_state_name(enum vm_state st)
{
	static const char *const names[] = {
	    [VM_NOSTATE] = "nostate", [VM_RUNNING] = "running",		[VM_BLOCKED] = "blocked",
	    [VM_PAUSED] = "paused",   [VM_SHUTDOWN] = "shutdown",	[VM_SHUTOFF] = "shutoff",
	    [VM_CRASHED] = "crashed", [VM_PMSUSPENDED] = "pmsuspended",
	};

	return st <= VM_PMSUSPENDED ? names[st] : "nostate";
}

static enum vm_state map_state(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:
		return VM_RUNNING;
	case VIR_DOMAIN_BLOCKED:
		return VM_BLOCKED;
	case VIR_DOMAIN_PAUSED:
		return VM_PAUSED;
	case VIR_DOMAIN_SHUTDOWN:
		return VM_SHUTDOWN;
	case VIR_DOMAIN_SHUTOFF:
		return VM_SHUTOFF;
	case VIR_DOMAIN_CRASHED:
		return VM_CRASHED;
	case VIR_DOMAIN_PMSUSPENDED:
		return VM_PMSUSPENDED;
	default:
		return VM_NOSTATE;
	}
}

bool is_active(enum vm_state st)
{
	return st != VM_SHUTOFF && st != VM_NOSTATE;
}

char *lease_addresses(virDomainPtr dom)
{
	virDomainInterfacePtr *ifaces = NULL;
	int n =
	    virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	if (n < 0)
		return NULL;
	out = open_memstream(&buf, &len);
	for (int i = 0; i < n; i++) {
		for (unsigned j = 0; out && j < ifaces[i]->naddrs; j++)
			fprintf(out, "%s\n", ifaces[i]->addrs[j].addr);
		virDomainInterfaceFree(ifaces[i]);
	}
	free(ifaces);
	if (out)
		fclose(out);
	return buf;
}

/* The definition (and, when running, the live parts) of one domain. */
int fetch_detail(virDomainPtr dom, struct dom_info *di)
{
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);

	if (!xml)
		return -1;
	if (domxml_definition(xml, di) == 0)
		di->fields |= DI_DEFINITION;
	free(xml);
	if (!is_active(di->state)) {
		di->vnc = strdup("");
		di->ips = strdup("");
		di->fields |= DI_LIVE | DI_IPS;
		return 0;
	}
	xml = virDomainGetXMLDesc(dom, 0);
	if (xml) {
		di->vnc = domxml_vnc(xml);
		di->fields |= DI_LIVE;
		free(xml);
	}
	di->ips = lease_addresses(dom);
	if (di->ips)
		di->fields |= DI_IPS;
	return 0;
}

/* Everything about one domain, for a domain an event named. */
static int fetch_domain(virDomainPtr dom, struct dom_info *di)
{
	int st, reason, autostart;

	di->name = strdup(virDomainGetName(dom));
	virDomainGetUUIDString(dom, di->uuid);
	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return -1;
	di->state = map_state(st);
	di->fields |= DI_STATE;
	di->persistent = virDomainIsPersistent(dom) == 1;
	di->fields |= DI_PERSISTENT;
	if (di->persistent && virDomainGetAutostart(dom, &autostart) == 0) {
		di->autostart = autostart;
		di->fields |= DI_AUTOSTART;
	} else if (!di->persistent) {
		di->autostart = false;
		di->fields |= DI_AUTOSTART;
	}
	if (fetch_detail(dom, di) < 0)
		return -1;
	if (is_active(di->state)) {
		/* A running domain's sizes are the live ones. */
		virDomainInfo info;

		if (virDomainGetInfo(dom, &info) == 0) {
			di->vcpus = info.nrVirtCpu;
			di->memory_kib = info.memory;
			di->fields |= DI_SIZES;
		}
	}
	return 0;
}

/* Whether a domain's details must be fetched: new to us, or it started or stopped. */
bool seen_changed(struct hostconn *hc, const char *uuid, bool active)
{
	struct seen *s;
	bool changed;

	pthread_mutex_lock(&hc->lock);
	s = g_hash_table_lookup(hc->seen, uuid);
	changed = !s || s->active != active;
	pthread_mutex_unlock(&hc->lock);
	return changed;
}

void seen_remember(struct hostconn *hc, const char *uuid, bool active)
{
	struct seen *s = g_hash_table_lookup(hc->seen, uuid);

	if (!s) {
		s = g_new0(struct seen, 1);
		g_strlcpy(s->uuid, uuid, sizeof(s->uuid));
		g_hash_table_insert(hc->seen, s->uuid, s);
	}
	s->active = active;
}

uint64_t take_ticket(struct hostconn *hc)
{
	uint64_t t;

	pthread_mutex_lock(&hc->lock);
	t = ++hc->tickets;
	pthread_mutex_unlock(&hc->lock);
	return t;
}

/* Reads a domain again and reports it; the refresher and actor both use it. */
void resync_one(struct hostconn *hc, virConnectPtr conn, const char *uuid)
{
	uint64_t ticket = take_ticket(hc);
	virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
	struct dom_info di = {.ticket = ticket};

	if (!dom) {
		virErrorPtr e = virGetLastError();

		if (e && e->code == VIR_ERR_NO_DOMAIN) {
			pthread_mutex_lock(&hc->lock);
			g_hash_table_remove(hc->seen, uuid);
			pthread_mutex_unlock(&hc->lock);
			hc->cb->domain_gone(hc->opaque, uuid, ticket);
		}
		return;
	}
	if (fetch_domain(dom, &di) == 0) {
		pthread_mutex_lock(&hc->lock);
		seen_remember(hc, di.uuid, is_active(di.state));
		pthread_mutex_unlock(&hc->lock);
		hc->cb->domain(hc->opaque, &di);
	} else {
		log_msg("%s: cannot read domain %s: %s", hc->name, uuid, virGetLastErrorMessage());
	}
	dom_info_clear(&di);
	virDomainFree(dom);
}

/* The state, and a running domain's live sizes when the driver gives both. */
void stat_values(virDomainStatsRecordPtr rec, struct dom_info *di)
{
	bool vcpus = false, memory = false;

	for (int i = 0; i < rec->nparams; i++) {
		virTypedParameterPtr p = &rec->params[i];

		if (!strcmp(p->field, "state.state"))
			di->state = map_state(p->value.i);
	}
	if (!is_active(di->state))
		return;
	for (int i = 0; i < rec->nparams; i++) {
		virTypedParameterPtr p = &rec->params[i];

		if (!strcmp(p->field, "vcpu.current")) {
			di->vcpus = p->value.ui;
			vcpus = true;
		} else if (!strcmp(p->field, "balloon.current")) {
			di->memory_kib = p->value.ul;
			memory = true;
		}
	}
	if (vcpus && memory)
		di->fields |= DI_SIZES;
}
