// SPDX-License-Identifier: GPL-2.0-or-later
/* A VM's config.xml as users may write it: the console check and the password redaction. */
#include "fuzz.h"
#include "vmxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL, *again = NULL;
	size_t n = 0, n2 = 0;

	vmxml_vnc_port_ok((const char *)data, size, 5900);
	if (vmxml_redact((const char *)data, size, &out, &n))
		return 0;
	/* what comes out parses again, and nothing is left to hide in it */
	if (vmxml_redact(out, n, &again, &n2) || n2 != n || memcmp(out, again, n))
		abort();
	free(again);
	free(out);
	return 0;
}
