/* SPDX-License-Identifier: GPL-2.0-or-later */
/* catkeeperfs: every libvirt host and VM as a directory. See catkeeperfs(1). */
#include "face.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
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
		"  -o OPT[,OPT...]    FUSE mount options (allow_other, ...)\n"
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
	char *path;
	int rc;

	if (state && *state)
		rc = asprintf(&path, "%s/catkeeper/catkeeper.db", state);
	else
		rc = asprintf(&path, "%s/.local/state/catkeeper/catkeeper.db",
			      home ? home : "/root");
	return rc < 0 ? NULL : path;
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
};

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
			if (fuse_opt_add_arg(&o->fuse, "-o") || fuse_opt_add_arg(&o->fuse, optarg))
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
			o->refresh = atoi(optarg);
			if (o->refresh < 1) {
				fprintf(stderr,
					"catkeeperfs: --refresh wants seconds, at least 1\n");
				return -1;
			}
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

int main(int argc, char **argv)
{
	struct options o = {.refresh = DEFAULT_REFRESH, .fuse = FUSE_ARGS_INIT(0, NULL)};
	struct fuse_loop_config *loop = NULL;
	struct fuse_session *se = NULL;
	struct store *st = NULL;
	char *db = NULL, *err = NULL;
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
	if (inventory_init(st, o.refresh) < 0) {
		fprintf(stderr, "catkeeperfs: cannot start libvirt's event loop\n");
		goto out;
	}
	if (add_hosts(&o, st) < 0)
		goto out_inventory;

	se = fuse_session_new(&o.fuse, &catkeeper_ops, sizeof(catkeeper_ops), NULL);
	if (!se)
		goto out_inventory;
	if (fuse_set_signal_handlers(se) < 0)
		goto out_session;
	if (fuse_session_mount(se, o.mountpoint) < 0)
		goto out_signals;
	uring_attach(se);
	if (fuse_daemonize(o.foreground) < 0)
		goto out_unmount;
	face_session = se;
	if (notifier_start(se) < 0)
		goto out_unmount;
	log_msg("catkeeperfs %s mounted on %s (database %s, refresh every %d s)", CATKEEPER_VERSION,
		o.mountpoint, db, o.refresh);
	inventory_start();
	/*
	 * Writes wait on their host (bounded); reads never do. Enough workers
	 * that writes stuck on a dying host leave plenty for everyone else.
	 */
	loop = fuse_loop_cfg_create();
	if (!loop)
		goto out_unmount;
	fuse_loop_cfg_set_max_threads(loop, MAX_WORKERS);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	rc = fuse_session_loop_mt(se, loop) ? 1 : 0;
	fuse_loop_cfg_destroy(loop);
	log_msg("unmounting %s", o.mountpoint);
	left = inventory_shutdown();
	notifier_stop();
	fuse_session_unmount(se);
	uring_detach();
	goto out_signals;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_inventory:
	if (rc)
		left = inventory_shutdown();
out:
	store_close(st);
	free(db);
	free(err);
	free(o.hosts);
	fuse_opt_free_args(&o.fuse);
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
