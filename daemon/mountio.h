/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_MOUNTIO_H
#define CK_MOUNTIO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Mount I/O off the event loop: a FUSE write may wait on a remote host for
 * seconds, so every request that touches the mount runs as a job on a small
 * pool of worker threads, and the loop is woken when one is done.
 */
struct mjob {
	void (*run)(struct mjob *j); /* on a worker thread */
	struct mjob *next;
};

int mountio_start(const char *mount, int workers, void (*wake)(void *), void *arg);
void mountio_stop(void);
void mountio_submit(struct mjob *j);
/* Loop side: the next finished job, or NULL. */
struct mjob *mountio_done(void);

const char *mountio_root(void);
/* A host or VM directory name that stays inside its parent. */
int mount_name_ok(const char *name);
/*
 * MOUNT/host[/vm[/file]] into dst, after checking every name and that the
 * directory resolves inside the mount (no symlink escape). -errno on failure.
 */
int mount_path(char *dst, size_t n, const char *host, const char *vm, const char *file);
/* Whole small file, NUL-terminated; returns its length or -errno. */
ssize_t mount_read(const char *path, char *buf, size_t cap);
/* Whole-file write; returns 0 or -errno, including what close() reports. */
int mount_write(const char *path, const char *data, size_t len);

#endif
