/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_DOMXML_H
#define CK_DOMXML_H

/* Reading and rewriting libvirt domain XML (libxml2), nothing else. */
#include "hostconn.h"

#define OWNER_NS "https://catkeeper.dev/xmlns/owner/1"
#define OWNER_KEY "catkeeper"

/* Fills owner, description, vcpus, memory_kib from a definition. */
int domxml_definition(const char *xml, struct dom_info *di);
/* The console as ADDRESS:PORT from a running domain's XML; "" when none. */
char *domxml_vnc(const char *xml);
/* The label inside an <owner> metadata element; "" when there is none. */
char *domxml_owner_element_text(const char *elem);
/* The metadata element that stores OWNER. */
char *domxml_owner_element(const char *owner);

/*
 * Rewrites a config.xml written by a user so it can be defined: the name
 * forced to NAME, the uuid checked against (or filled from) UUID when the VM
 * exists, catkeeper's metadata replaced by OWNER's. Returns 0 or -EINVAL with
 * *err set.
 */
int domxml_prepare(const char *xml, size_t len, const char *name, const char *uuid,
		   const char *owner, char **out, char **err);

#endif
