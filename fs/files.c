/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The value files of a VM and a host: what they show, what a write does. */
#include "face.h"
#include "log.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define OWNER_MAX 64

const char *file_name(enum file_kind kind)
{
	return inv_file_name(kind);
}

enum file_kind file_kind_of(const char *name)
{
	for (enum file_kind k = F_STATE; k <= F_VMS; k++)
		if (inv_file_name(k) && !strcmp(inv_file_name(k), name))
			return k;
	return F_DIR;
}

bool file_writable(enum file_kind kind)
{
	return kind == F_STATE || kind == F_CONFIG || kind == F_OWNER || kind == F_DESCRIPTION ||
	       kind == F_AUTOSTART || kind == F_URI;
}

/* A line of text, or nothing when the value is empty. */
static char *line(const char *s)
{
	char *r;

	if (!*s)
		return strdup("");
	return asprintf(&r, "%s\n", s) < 0 ? NULL : r;
}

static char *status_text(struct host *h)
{
	char since[21], *r;

	switch (h->status) {
	case HOST_CONNECTED:
		return strdup("connected\n");
	case HOST_CONNECTING:
		return strdup("connecting\n");
	default:
		iso_time(h->stale_since ? h->stale_since : time(NULL), since);
		if (asprintf(&r, "unreachable: %s, stale since %s\n",
			     h->reason ? h->reason : "unknown", since) < 0)
			return NULL;
		return r;
	}
}

static char *vm_text(struct vm *vm, enum file_kind kind)
{
	char *r = NULL;
	int rc = 0;

	if (vm->pending)
		return strdup("");
	switch (kind) {
	case F_STATE:
		rc = asprintf(&r, "%s\n", vm_state_name(vm->state));
		break;
	case F_OWNER:
		return line(vm->owner);
	case F_DESCRIPTION:
		return line(vm->description);
	case F_IP:
		return strdup(vm->ips);
	case F_IP_LAST:
		return strdup(vm->ip_last);
	case F_VNC:
		return line(vm->vnc);
	case F_UUID:
		return line(vm->uuid);
	case F_VCPUS:
		rc = asprintf(&r, "%u\n", vm->vcpus);
		break;
	case F_MEMORY:
		rc = asprintf(&r, "%llu\n", vm->memory_kib);
		break;
	case F_AUTOSTART:
		rc = asprintf(&r, "%d\n", vm->autostart);
		break;
	case F_HISTORY:
		return inv_history(vm);
	case F_ERROR:
		return strdup(vm->error);
	default:
		return strdup("");
	}
	return rc < 0 ? NULL : r;
}

char *file_render(struct node *n, enum file_kind kind, size_t *len)
{
	char *r = NULL;

	if (n->type == N_HOST) {
		struct host *h = (struct host *)n;

		r = kind == F_URI ? line(h->uri ? h->uri : "") : status_text(h);
	} else if (n->type == N_VM) {
		r = vm_text((struct vm *)n, kind);
	}
	*len = r ? strlen(r) : 0;
	return r;
}

/*
 * The stored text a VM's file shows (and whether a newline follows it):
 * served as it is, since a description may be MBs read 4 KiB at a time.
 */
static bool text_ref(struct node *n, enum file_kind kind, const char **s, size_t *len, bool *nl)
{
	struct vm *vm = (struct vm *)n;

	if (n->type != N_VM || vm->pending)
		return false;
	*nl = true;
	switch (kind) {
	case F_DESCRIPTION:
		*s = vm->description;
		*len = vm->description_len;
		*nl = *len > 0;
		return true;
	case F_OWNER:
		*s = vm->owner;
		break;
	case F_ERROR:
		*s = vm->error;
		*nl = false;
		break;
	default:
		return false;
	}
	*len = strlen(*s);
	*nl = *nl && *len;
	return true;
}

size_t file_size(struct node *n, enum file_kind kind)
{
	const char *s;
	size_t len;
	bool nl;
	char *text;

	if (text_ref(n, kind, &s, &len, &nl))
		return len + nl;
	text = file_render(n, kind, &len);
	free(text);
	return len;
}

void file_reply(fuse_req_t req, struct node *n, enum file_kind kind, size_t size, off_t off)
{
	struct iovec iov[2];
	const char *s;
	size_t len, taken = 0, o = (size_t)off;
	char *text;
	bool nl;
	int cnt = 0;

	if (!text_ref(n, kind, &s, &len, &nl)) {
		text = file_render(n, kind, &len);
		s = text;
		nl = false;
		if (!text) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	} else {
		text = NULL;
	}
	if (o < len) {
		taken = len - o < size ? len - o : size;
		iov[cnt].iov_base = (void *)(s + o);
		iov[cnt++].iov_len = taken;
	}
	if (nl && o + taken == len && taken < size) {
		iov[cnt].iov_base = (void *)"\n";
		iov[cnt++].iov_len = 1;
	}
	if (cnt)
		fuse_reply_iov(req, iov, cnt);
	else
		fuse_reply_buf(req, NULL, 0);
	free(text);
}

uint32_t file_gen(struct node *n, enum file_kind kind)
{
	if (n->type == N_VM && kind < F_NVMFILES)
		return ((struct vm *)n)->gen[kind];
	if (n->type == N_HOST && (kind == F_URI || kind == F_STATUS))
		return ((struct host *)n)->gen[kind - F_URI];
	return 0;
}

char *req_user(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct passwd pw, *res = NULL;
	char buf[1024], *r;

	if (getpwuid_r(ctx->uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		return strdup(pw.pw_name);
	return asprintf(&r, "uid %u", (unsigned)ctx->uid) < 0 ? NULL : r;
}

bool vm_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > NAME_MAX_BYTES || *name == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

static bool valid_owner(const char *s)
{
	size_t len = strlen(s);

	if (len > OWNER_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

static int refuse(uint64_t id, const char *what, const char *msg)
{
	inv_vm_error(id, what, EINVAL, msg);
	return -EINVAL;
}

static int vm_write(fuse_req_t req, uint64_t id, enum file_kind kind, const char *value, size_t len)
{
	struct hc_request r = {.arg = value, .arglen = len};
	char what[160], *user = NULL;
	int rc;

	snprintf(what, sizeof(what), "%s: %.*s", file_name(kind), (int)(len > 100 ? 100 : len),
		 value);
	if (memchr(value, '\0', len))
		return refuse(id, what, "the value holds a NUL byte");
	switch (kind) {
	case F_STATE:
		if (!hostconn_lifecycle_word(value))
			return refuse(id, what,
				      "unknown action: write start, shutdown, reboot,"
				      " reset, destroy, suspend or resume");
		r.op = HC_LIFECYCLE;
		break;
	case F_OWNER:
		if (!valid_owner(*value == '!' ? value + 1 : value))
			return refuse(id, what,
				      "an owner is at most 64 printable bytes, without"
				      " '/' and not '.' or '..'");
		r.op = HC_OWNER;
		user = req_user(req);
		break;
	case F_DESCRIPTION:
		if (len > DESCRIPTION_MAX) {
			inv_vm_error(id, "description", EFBIG,
				     "a description is at most 65536 bytes");
			return -EFBIG;
		}
		r.op = HC_DESCRIPTION;
		break;
	case F_AUTOSTART:
		if (strcmp(value, "0") && strcmp(value, "1"))
			return refuse(id, what, "autostart is 0 or 1");
		r.op = HC_AUTOSTART;
		break;
	default:
		return -EACCES;
	}
	rc = inv_request(id, &r, what, user);
	free(r.result);
	free(user);
	return rc;
}

int file_write(fuse_req_t req, uint64_t ino, const char *buf, size_t len)
{
	enum file_kind kind = KIND_OF(ino);
	char *value;
	int rc;

	/* Like sysfs, a value is written whole; one trailing newline is not part of it. */
	if (len && buf[len - 1] == '\n')
		len--;
	value = strndup(buf, len);
	if (!value)
		return -ENOMEM;
	if (kind == F_URI) {
		char *err = NULL;

		rc = inv_set_uri(ID_OF(ino), value, &err);
		if (rc < 0)
			log_msg(".uri: %s: %s", value, err ? err : strerror(-rc));
		free(err);
	} else {
		rc = vm_write(req, ID_OF(ino), kind, value, len);
	}
	free(value);
	return rc;
}
