/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_VMXML_H
#define CK_VMXML_H

#include <stddef.h>

/*
 * 1 when the domain XML has a VNC display on port: its fixed port, or a
 * port libvirt may pick (autoport, 5900 and up). 0 otherwise, and for XML
 * that cannot be parsed.
 */
int vmxml_vnc_port_ok(const char *xml, size_t len, int port);
/*
 * The domain XML without graphics passwords (passwd= becomes "********"),
 * malloc'ed into *out; -1 when it cannot be parsed (nothing is shown then).
 */
int vmxml_redact(const char *xml, size_t len, char **out, size_t *out_len);

#endif
