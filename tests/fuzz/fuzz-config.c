// SPDX-License-Identifier: GPL-2.0-or-later
/* The daemon's config file (GKeyFile): any text loads or is refused with a reason. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ck_config cfg;
	const struct ck_ssh_override *o;
	char err[512] = "";

	memset(&cfg, 0, sizeof(cfg));
	if (config_load_data(&cfg, (const char *)data, size, err, sizeof(err)) && !err[0])
		abort(); /* a refusal always says why */
	for (o = cfg.overrides; o; o = o->next)
		if (!o->name || o->port < 0 || o->port > 65535 ||
		    config_override(&cfg, o->name) == NULL)
			abort();
	config_free(&cfg);
	return 0;
}
