/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvirt's errors as the errno and message a writer gets. */
#include "host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libvirt/virterror.h>

int set_err(char **errmsg, int rc, const char *fmt, ...)
{
	va_list ap;

	free(*errmsg);
	va_start(ap, fmt);
	*errmsg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return rc;
}

int virt_err(virConnectPtr conn, char **errmsg)
{
	virErrorPtr e = virGetLastError();
	int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
	char *msg = strdup(e && e->message ? e->message : "libvirt error");
	int rc;

	switch (code) {
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_OPERATION_FAILED:
		rc = -EBUSY;
		break;
	case VIR_ERR_NO_DOMAIN:
		rc = -ENOENT;
		break;
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_XML_DETAIL:
	case VIR_ERR_XML_INVALID_SCHEMA:
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_CONFIG_UNSUPPORTED:
		rc = -EINVAL;
		break;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_OPERATION_UNSUPPORTED:
		rc = -EOPNOTSUPP;
		break;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
	case VIR_ERR_AUTH_FAILED:
		rc = -EPERM;
		break;
	case VIR_ERR_OPERATION_TIMEOUT:
	case VIR_ERR_AGENT_UNRESPONSIVE:
		rc = -ETIMEDOUT;
		break;
	case VIR_ERR_DOM_EXIST:
		rc = -EEXIST;
		break;
	default:
		/* A public call resets the last error: its message was copied first. */
		rc = conn && virConnectIsAlive(conn) == 0 ? -EHOSTUNREACH : -EIO;
	}
	set_err(errmsg, rc, "%s", msg ? msg : "libvirt error");
	free(msg);
	return rc;
}
