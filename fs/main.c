/* SPDX-License-Identifier: GPL-2.0-or-later */
/* catkeeperfs: every libvirt host and VM as a directory. See catkeeperfs(1). */
#include "face.h"
#include "log.h"
#include "stop.h"
#include "store.h"

#include <errno.h>
#include <glib.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_REFRESH 5
#define MAX_WORKERS 128

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: catkeeperfs [options] [DATABASE] MOUNTPOINT\n"
		"  -f                 stay in the foreground\n"
		"  -d                 FUSE debug output (implies -f)\n"
		"  -o OPT[,OPT...]    FUSE mount options (allow_other, ...), and db=PATH,\n"
		"                     log=FILE, refresh=SECONDS as the options below\n"
		"  --db PATH          host list and history (default "
		"~/.local/state/catkeeper/catkeeper.db)\n"
		"  --host NAME=URI    serve this host too, for this mount only (repeatable)\n"
		"  --refresh SECONDS  period of the bulk refresh (default %d)\n"
		"  --log FILE         log here instead of stderr\n"
		"With no host configured, serves libvirt's test:///default as 'default'.\n",
		DEFAULT_REFRESH);
}

static char *default_db(void)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (state && *state)
		return g_strdup_printf("%s/catkeeper/catkeeper.db", state);
	return g_strdup_printf("%s/.local/state/catkeeper/catkeeper.db", home ? home : "/root");
}

static void add_stored(void *opaque, const char *name, const char *uri)
{
	int *count = opaque;

	if (inventory_add_host(name, uri, true) == 0)
		(*count)++;
	else
		log_msg("ignoring stored host '%s': bad or repeated name", name);
}

struct options {
	bool foreground, debug;
	const char *mountpoint, *db, *log;
	int refresh;
	char **hosts;
	int nhosts;
	struct fuse_args fuse;
	GStringChunk *strings; /* what -o gave */
};

static int set_refresh(struct options *o, const char *secs)
{
	o->refresh = atoi(secs);
	if (o->refresh >= 1)
		return 0;
	fprintf(stderr, "catkeeperfs: refresh wants seconds, at least 1\n");
	return -1;
}

/*
 * -o as mount(8) and fstab pass it: db=, log= and refresh= are ours (the
 * long options' equivalents), the rest goes to FUSE.
 */
static int mount_options(struct options *o, const char *arg)
{
	char *copy = g_strdup(arg), *save = NULL;
	GString *rest = g_string_new(NULL);
	int rc = 0;

	for (char *opt = strtok_r(copy, ",", &save); opt && !rc; opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "db=", 3))
			o->db = g_string_chunk_insert(o->strings, opt + 3);
		else if (!strncmp(opt, "log=", 4))
			o->log = g_string_chunk_insert(o->strings, opt + 4);
		else if (!strncmp(opt, "refresh=", 8))
			rc = set_refresh(o, opt + 8);
		else
			g_string_append_printf(rest, "%s%s", rest->len ? "," : "", opt);
	}
	if (!rc && rest->len &&
	    (fuse_opt_add_arg(&o->fuse, "-o") || fuse_opt_add_arg(&o->fuse, rest->str)))
		rc = -1;
	g_string_free(rest, TRUE);
	g_free(copy);
	return rc;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"host", required_argument, NULL, 'H'},
	    {"refresh", required_argument, NULL, 'R'},
	    {"log", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "fdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->debug = o->foreground = true;
			break;
		case 'o':
			if (mount_options(o, optarg) < 0)
				return -1;
			break;
		case 'D':
			o->db = optarg;
			break;
		case 'H':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "catkeeperfs: --host wants NAME=URI\n");
				return -1;
			}
			o->hosts[o->nhosts++] = optarg;
			break;
		case 'R':
			if (set_refresh(o, optarg) < 0)
				return -1;
			break;
		case 'L':
			o->log = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("catkeeperfs %s\n", CATKEEPER_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	/* mount.fuse3 (fstab) passes a source first: there, the database. */
	if (optind == argc - 2 && !o->db)
		o->db = argv[optind++];
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	o->mountpoint = argv[optind];
	if (o->debug && fuse_opt_add_arg(&o->fuse, "-d"))
		return -1;
	return 0;
}

static int add_hosts(struct options *o, struct store *st)
{
	int count = 0;

	for (int i = 0; i < o->nhosts; i++) {
		char *eq = strchr(o->hosts[i], '=');

		*eq = '\0';
		if (inventory_add_host(o->hosts[i], eq + 1, false) < 0) {
			fprintf(stderr, "catkeeperfs: bad or repeated host name '%s'\n",
				o->hosts[i]);
			return -1;
		}
		count++;
	}
	if (store_each_host(st, add_stored, &count) < 0)
		return -1;
	if (!count)
		return inventory_add_host("default", "test:///default", false);
	return 0;
}

/*
 * Ends in this order, whatever stopped the loop: the hosts stop reporting,
 * the notifier ends, the device closes and the rings' threads end, then the
 * inventory is freed.
 */
static bool teardown(struct fuse_session *se, bool mounted, int *rc)
{
	bool left;

	if (stop_end())
		*rc = 0;
	left = inventory_stop();
	/* Before the device closes: the notifier writes to it. */
	notifier_stop();
	if (mounted)
		fuse_session_unmount(se);
	uring_detach();
	handles_free_all();
	views_free();
	inventory_free();
	return left;
}

/*
 * Everything that makes a thread comes after fuse_daemonize(): its fork
 * keeps only the calling thread (a daemonized mount had no libvirt event
 * loop, so no events, no keepalive and no close callbacks).
 */
static int serve(struct fuse_session *se, const struct options *o)
{
	struct fuse_loop_config *loop;
	int rc;

	if (stop_block_signals() < 0 || stop_start(se, o->mountpoint, inventory_stop_hosts) < 0) {
		log_msg("cannot set up the signal handling thread");
		return 1;
	}
	face_session = se;
	uring_attach(se);
	if (notifier_start(se) < 0 || inventory_start() < 0) {
		log_msg("cannot start libvirt's event loop or the notifier");
		return 1;
	}
	/*
	 * Writes wait on their host (bounded); reads never do. Enough workers
	 * that writes stuck on a dying host leave plenty for everyone else.
	 */
	loop = fuse_loop_cfg_create();
	if (!loop)
		return 1;
	fuse_loop_cfg_set_max_threads(loop, MAX_WORKERS);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	rc = fuse_session_loop_mt(se, loop) ? 1 : 0;
	fuse_loop_cfg_destroy(loop);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {.refresh = DEFAULT_REFRESH,
			    .fuse = FUSE_ARGS_INIT(0, NULL),
			    .strings = g_string_chunk_new(256)};
	struct fuse_session *se = NULL;
	struct store *st = NULL;
	char *db = NULL, *err = NULL, mnt[PATH_MAX];
	bool left = false;
	int rc = 1;

	o.hosts = calloc(argc, sizeof(*o.hosts));
	if (!o.hosts || fuse_opt_add_arg(&o.fuse, argv[0]) || parse(argc, argv, &o) < 0)
		goto out;
	if (o.log && log_open(o.log) < 0)
		goto out;
	db = o.db ? strdup(o.db) : default_db();
	if (!db)
		goto out;
	st = store_open(db, &err);
	if (!st) {
		fprintf(stderr, "catkeeperfs: %s\n", err ? err : "cannot open the database");
		goto out;
	}
	if (inventory_init(st, o.refresh) < 0 || add_hosts(&o, st) < 0)
		goto out_inventory;
	se = fuse_session_new(&o.fuse, &catkeeper_ops, sizeof(catkeeper_ops), NULL);
	if (!se)
		goto out_inventory;
	if (!realpath(o.mountpoint, mnt)) {
		fprintf(stderr, "catkeeperfs: %s: %s\n", o.mountpoint, strerror(errno));
		goto out_session;
	}
	o.mountpoint = mnt;
	if (fuse_session_mount(se, o.mountpoint) < 0)
		goto out_session;
	if (fuse_daemonize(o.foreground) < 0) {
		fuse_session_unmount(se);
		goto out_session;
	}
	log_msg("catkeeperfs %s mounted on %s (database %s, refresh every %d s)", CATKEEPER_VERSION,
		o.mountpoint, db, o.refresh);
	rc = serve(se, &o);
	log_msg("unmounting %s", o.mountpoint);
	left = teardown(se, true, &rc);
	fuse_session_destroy(se);
	goto out;
out_session:
	fuse_session_destroy(se);
out_inventory:
	left = teardown(NULL, false, &rc);
out:
	store_close(st);
	free(db);
	free(err);
	free(o.hosts);
	fuse_opt_free_args(&o.fuse);
	g_string_chunk_free(o.strings);
	log_close();
	/*
	 * A thread still blocked in libvirt (an open to a host that went dark)
	 * may wake up at any time: the libraries' exit handlers (OpenSSL's frees
	 * its locks) must not run under it. Seen: a SEGV in libcrypto at exit.
	 */
	if (left)
		_exit(rc);
	return rc;
}
