/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    /* History is worth less than a sync per reservation: WAL needs none per commit. */
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS hosts(name TEXT PRIMARY KEY, uri TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS history(id INTEGER PRIMARY KEY, host TEXT NOT NULL,"
    " uuid TEXT NOT NULL, owner TEXT NOT NULL, local_user TEXT NOT NULL,"
    " taken INTEGER NOT NULL, released INTEGER);"
    "CREATE INDEX IF NOT EXISTS history_vm ON history(host, uuid);"
    /*
     * One open reservation per VM, whatever number of mounts share the file.
     * Databases from before the index may hold several: the newest stays open.
     */
    "UPDATE history SET released = taken WHERE released IS NULL AND id NOT IN"
    " (SELECT MAX(id) FROM history WHERE released IS NULL GROUP BY host, uuid);"
    "CREATE UNIQUE INDEX IF NOT EXISTS history_open ON history(host, uuid)"
    " WHERE released IS NULL;"
    "CREATE TABLE IF NOT EXISTS last_ips(host TEXT NOT NULL, uuid TEXT NOT NULL,"
    " ips TEXT NOT NULL, seen INTEGER NOT NULL, PRIMARY KEY(host, uuid));";

static int mkdir_parents(const char *path)
{
	char *dir = strdup(path), *p;

	if (!dir)
		return -1;
	for (p = dir + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			free(dir);
			return -1;
		}
		*p = '/';
	}
	free(dir);
	return 0;
}

struct store *store_open(const char *path, char **err)
{
	struct store *st = calloc(1, sizeof(*st));
	char *msg = NULL;

	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	if (mkdir_parents(path) < 0) {
		if (asprintf(err, "cannot create the folder of %s: %s", path, strerror(errno)) < 0)
			*err = NULL;
		goto fail;
	}
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		if (asprintf(err, "cannot open %s: %s", path, sqlite3_errmsg(st->db)) < 0)
			*err = NULL;
		goto fail;
	}
	/* Two mounts may share one database: wait for the other's lock. */
	sqlite3_busy_timeout(st->db, 5000);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		if (asprintf(err, "cannot set up %s: %s", path, msg) < 0)
			*err = NULL;
		sqlite3_free(msg);
		goto fail;
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* Prepares SQL and binds the NULL-terminated text arguments in order. */
static sqlite3_stmt *prepare(struct store *st, const char *sql, const char *const *args)
{
	sqlite3_stmt *stmt;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		log_msg("store: %s: %s", sql, sqlite3_errmsg(st->db));
		return NULL;
	}
	for (int i = 0; args && args[i]; i++)
		sqlite3_bind_text(stmt, i + 1, args[i], -1, SQLITE_STATIC);
	return stmt;
}

static int exec(struct store *st, const char *sql, const char *const *args, sqlite3_int64 t)
{
	sqlite3_stmt *stmt = prepare(st, sql, args);
	int n = 0, rc;

	if (!stmt)
		return -1;
	while (args && args[n])
		n++;
	if (t >= 0)
		sqlite3_bind_int64(stmt, n + 1, t);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		log_msg("store: %s: %s", sql, sqlite3_errmsg(st->db));
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_each_host(struct store *st, store_host_cb cb, void *opaque)
{
	sqlite3_stmt *stmt;
	int rc;

	pthread_mutex_lock(&st->lock);
	stmt = prepare(st, "SELECT name, uri FROM hosts ORDER BY name", NULL);
	if (!stmt) {
		pthread_mutex_unlock(&st->lock);
		return -1;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		cb(opaque, (const char *)sqlite3_column_text(stmt, 0),
		   (const char *)sqlite3_column_text(stmt, 1));
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&st->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_put_host(struct store *st, const char *name, const char *uri)
{
	const char *args[] = {name, uri, NULL};
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = exec(st, "INSERT OR REPLACE INTO hosts(name, uri) VALUES(?, ?)", args, -1);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int store_del_host(struct store *st, const char *name)
{
	const char *args[] = {name, NULL};
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = exec(st, "DELETE FROM hosts WHERE name = ?", args, -1);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Under st->lock: the text of the first row's first column, malloc'd; NULL for none. */
static char *select_text(struct store *st, const char *sql, const char *const *args)
{
	sqlite3_stmt *stmt = prepare(st, sql, args);
	char *text = NULL;

	if (!stmt)
		return NULL;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		text = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return text;
}

static char *open_owner(struct store *st, const char *host, const char *uuid)
{
	const char *args[] = {host, uuid, NULL};

	return select_text(st,
			   "SELECT owner FROM history WHERE host = ? AND uuid = ?"
			   " AND released IS NULL ORDER BY id DESC LIMIT 1",
			   args);
}

int store_owner_changed(struct store *st, const char *host, const char *uuid, const char *owner,
			const char *local_user, time_t when)
{
	const char *close_args[] = {host, uuid, NULL};
	const char *open_args[] = {host, uuid, owner, local_user, NULL};
	char *current;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	/*
	 * Another mount on the same database may see the same change at the
	 * same time: the check and the write are one write transaction, so the
	 * second finds the first's row.
	 */
	if (exec(st, "BEGIN IMMEDIATE", NULL, -1) < 0) {
		pthread_mutex_unlock(&st->lock);
		return -1;
	}
	current = open_owner(st, host, uuid);
	if (current && !strcmp(current, owner))
		goto out;
	if (!current && !*owner)
		goto out;
	rc = exec(st,
		  "UPDATE history SET released = ?3 WHERE host = ?1 AND uuid = ?2"
		  " AND released IS NULL",
		  close_args, when);
	if (!rc && *owner)
		rc = exec(st,
			  "INSERT INTO history(host, uuid, owner, local_user, taken)"
			  " VALUES(?, ?, ?, ?, ?)",
			  open_args, when);
out:
	if (rc || exec(st, "COMMIT", NULL, -1) < 0) {
		exec(st, "ROLLBACK", NULL, -1);
		rc = -1;
	}
	pthread_mutex_unlock(&st->lock);
	free(current);
	return rc;
}

int store_put_last_ips(struct store *st, const char *host, const char *uuid, const char *ips,
		       time_t when)
{
	const char *args[] = {host, uuid, ips, NULL};
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = exec(st, "INSERT OR REPLACE INTO last_ips(host, uuid, ips, seen) VALUES(?, ?, ?, ?)",
		  args, when);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

char *store_last_ips(struct store *st, const char *host, const char *uuid)
{
	const char *args[] = {host, uuid, NULL};
	char *ips;

	pthread_mutex_lock(&st->lock);
	ips = select_text(st, "SELECT ips FROM last_ips WHERE host = ? AND uuid = ?", args);
	pthread_mutex_unlock(&st->lock);
	return ips;
}

char *store_history(struct store *st, const char *host, const char *uuid)
{
	const char *args[] = {host, uuid, NULL};
	sqlite3_stmt *stmt;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	pthread_mutex_lock(&st->lock);
	stmt = prepare(st,
		       "SELECT owner, taken, released, local_user FROM history"
		       " WHERE host = ? AND uuid = ? ORDER BY id",
		       args);
	if (!stmt) {
		rc = SQLITE_ERROR;
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char taken[21], released[21] = "-";

		iso_time(sqlite3_column_int64(stmt, 1), taken);
		if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
			iso_time(sqlite3_column_int64(stmt, 2), released);
		char *owner = name_escape((const char *)sqlite3_column_text(stmt, 0));
		char *user = name_escape((const char *)sqlite3_column_text(stmt, 3));

		if (owner && user)
			fprintf(out, "%s\t%s\t%s\t%s\n", owner, taken, released, user);
		free(owner);
		free(user);
		if (!owner || !user) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(stmt);
out:
	pthread_mutex_unlock(&st->lock);
	fclose(out);
	if (rc != SQLITE_DONE) {
		free(buf);
		return NULL;
	}
	return buf;
}
