// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A config.xml as a user writes it into the mount: the checks before
 * anything else reads it, then, when it passes, what catkeeperfs makes of it
 * for libvirt and what it reads back from a definition.
 */
#include "domxml.h"
#include "fuzz.h"
#include "hostconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	char *err = NULL, *name = NULL, *uuid = NULL, *out = NULL, *text;
	struct dom_info di = {0};

	if (domxml_check(xml, size, &err) < 0) {
		/* A refusal always says why. */
		if (!err)
			abort();
		free(err);
		return 0;
	}
	if (domxml_ids(xml, size, &name, &uuid) == 0 &&
	    domxml_prepare(xml, size, "fuzzed", NULL, "someone", &out, &err) == 0) {
		/* What is defined is one of ours: it reads back. */
		if (domxml_definition(out, &di) < 0)
			abort();
		dom_info_clear(&di);
	}
	text = fuzz_string(data, size);
	free(domxml_vnc(text));
	free(text);
	free(name);
	free(uuid);
	free(out);
	free(err);
	return 0;
}
