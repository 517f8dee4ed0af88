/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_DOMXML_H
#define CK_DOMXML_H

/*
 * Reading and rewriting libvirt domain XML (libxml2), nothing else: no
 * libvirt, no FUSE, so a fuzzer can call it with bytes (domxml_check).
 */
#include <stddef.h>

struct dom_info;

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
 * Checks XML written by a user before anything else reads it: well-formed,
 * no DTD (<!DOCTYPE>, hence no entities), a <domain> with bounded values
 * (hostconn.h: DESCRIPTION_MAX, TITLE_MAX, NAME_MAX_BYTES).
 * Returns 0 or -EINVAL/-EFBIG with *err set (malloc'd). Takes any bytes.
 */
int domxml_check(const char *xml, size_t len, char **err);
/* The <name> and <uuid> a user's config.xml gives (each "" when absent). */
int domxml_ids(const char *xml, size_t len, char **name, char **uuid);

/*
 * Rewrites a config.xml written by a user so it can be defined: the name
 * forced to NAME, the uuid checked against (or filled from) UUID when the VM
 * exists, catkeeper's metadata replaced by OWNER's. Returns 0 or -EINVAL with
 * *err set.
 */
int domxml_prepare(const char *xml, size_t len, const char *name, const char *uuid,
		   const char *owner, char **out, char **err);

#endif
