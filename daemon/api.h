/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_API_H
#define CK_API_H

#include "auth.h"
#include "json.h"
#include "mountio.h"

enum api_op {
	API_LIST,     /* every host and VM with its values */
	API_READ,     /* one VM file: config.xml, error, history */
	API_WRITE,    /* one VM file: state, description, config.xml, autostart */
	API_OWNER,    /* reserve, release, takeover */
	API_ADD_HOST, /* mkdir MOUNT/NAME, then its .uri */
	API_CONSOLE,  /* find where a VM's console is */
	API_LOGIN,    /* check user's password (body): crypt() is slow on purpose */
};

struct api_job {
	struct mjob base;
	void *wsi; /* the asking connection; NULL once it has gone (loop side only) */
	enum api_op op;
	char user[AUTH_USER_MAX + 1];
	char host[256], vm[256], what[32];
	char *body;
	size_t body_len;
	/* result */
	int status;
	const char *ctype;
	struct sbuf out;
	struct console_target target;
};

/* pre: bytes reserved in front of the reply for the transport (LWS_PRE) */
struct api_job *api_job_new(enum api_op op, const char *user, size_t pre);
void api_job_free(struct api_job *j);
void api_set_config(const struct ck_config *cfg);

/* One VM's values as a JSON object, or {"host":..,"name":..,"gone":true}. */
void api_vm_json(struct sbuf *b, const char *host, const char *vm);
void api_host_json(struct sbuf *b, const char *host);

#endif
