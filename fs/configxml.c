/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.xml: too large to keep for every VM, so it is read from the host
 * by the open file that needs it, and held by it; a write builds the whole
 * file in memory and the first flush after a change redefines the VM with
 * it. A writer that truncates first (cp, shell redirections) never has the
 * host's XML fetched: writing works while the host cannot serve it.
 */
#include "face.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fetch(struct handle *hd, uint64_t vm_id)
{
	struct hc_request r = {.op = HC_GET_XML};
	int rc = inv_request(vm_id, &r, "config.xml: read", NULL);

	if (rc < 0)
		return rc;
	free(hd->buf);
	hd->buf = r.result;
	hd->len = strlen(r.result);
	return 0;
}

int config_open(struct handle *hd, uint64_t vm_id, bool writing)
{
	struct node *n;
	bool pending;

	inv_rdlock();
	n = inv_node(vm_id);
	pending = n && n->type == N_VM && ((struct vm *)n)->pending;
	inv_unlock();
	if (!n)
		return -ENOENT;
	if (pending)
		return 0;
	if (writing) {
		hd->unfetched = true;
		return 0;
	}
	return fetch(hd, vm_id);
}

int config_loaded(struct handle *hd)
{
	int rc;

	if (!hd->unfetched)
		return 0;
	rc = fetch(hd, ID_OF(hd->ino));
	if (rc == 0)
		hd->unfetched = false;
	return rc;
}

static int reserve(struct handle *hd, size_t size)
{
	char *p;

	if (size > MAX_XML)
		return -EFBIG;
	p = realloc(hd->buf, size + 1);
	if (!p)
		return -ENOMEM;
	hd->buf = p;
	return 0;
}

int handle_write(struct handle *hd, const char *buf, size_t len, off_t off)
{
	size_t end = (size_t)off + len;
	int rc;

	if (off < 0 || end > MAX_XML)
		return -EFBIG;
	rc = config_loaded(hd);
	if (rc == 0)
		rc = reserve(hd, end > hd->len ? end : hd->len);
	if (rc < 0)
		return rc;
	if ((size_t)off > hd->len)
		memset(hd->buf + hd->len, ' ', off - hd->len);
	memcpy(hd->buf + off, buf, len);
	if (end > hd->len)
		hd->len = end;
	hd->buf[hd->len] = '\0';
	hd->dirty = true;
	return 0;
}

int handle_truncate(struct handle *hd, off_t size)
{
	int rc;

	if (size < 0)
		return -EINVAL;
	if (size == 0)
		hd->unfetched = false;
	rc = config_loaded(hd);
	if (rc == 0)
		rc = reserve(hd, (size_t)size);
	if (rc < 0)
		return rc;
	if ((size_t)size > hd->len)
		memset(hd->buf + hd->len, ' ', size - hd->len);
	hd->len = size;
	hd->buf[hd->len] = '\0';
	hd->dirty = true;
	return 0;
}

int config_commit(fuse_req_t req, uint64_t vm_id, const char *xml, size_t len)
{
	struct hc_request r = {.op = HC_DEFINE, .arg = xml, .arglen = len};
	char what[64];
	int rc;

	(void)req;
	snprintf(what, sizeof(what), "config.xml: %zu bytes", len);
	if (len > MAX_XML) {
		inv_vm_error(vm_id, what, EFBIG, "config.xml is larger than 1 MiB");
		return -EFBIG;
	}
	rc = inv_request(vm_id, &r, what, NULL);
	free(r.result);
	return rc;
}
