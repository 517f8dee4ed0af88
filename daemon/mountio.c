// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mountio.h"

#define MAX_WORKERS 16

static struct {
	char root[PATH_MAX]; /* realpath of the mount */
	size_t root_len;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mjob *todo, **todo_tail, *done;
	pthread_t threads[MAX_WORKERS];
	int n_threads, stopping;
	void (*wake)(void *);
	void *wake_arg;
} m = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m.lock);
	for (;;) {
		struct mjob *j;

		while (!m.todo && !m.stopping)
			pthread_cond_wait(&m.cond, &m.lock);
		if (m.stopping)
			break;
		j = m.todo;
		m.todo = j->next;
		if (!m.todo)
			m.todo_tail = &m.todo;
		pthread_mutex_unlock(&m.lock);

		j->run(j);

		pthread_mutex_lock(&m.lock);
		j->next = m.done;
		m.done = j;
		pthread_mutex_unlock(&m.lock);
		m.wake(m.wake_arg);
		pthread_mutex_lock(&m.lock);
	}
	pthread_mutex_unlock(&m.lock);
	return NULL;
}

int mountio_start(const char *mount, int workers, void (*wake)(void *), void *arg)
{
	int i, rc;

	if (!realpath(mount, m.root)) {
		fprintf(stderr, "catkeeper-web: mount %s: %s\n", mount, strerror(errno));
		return -1;
	}
	m.root_len = strlen(m.root);
	m.todo_tail = &m.todo;
	m.wake = wake;
	m.wake_arg = arg;
	if (workers < 1 || workers > MAX_WORKERS)
		workers = 4;
	for (i = 0; i < workers; i++) {
		rc = pthread_create(&m.threads[i], NULL, worker, NULL);
		if (rc) {
			fprintf(stderr, "catkeeper-web: cannot start a mount worker: %s\n",
				strerror(rc));
			mountio_stop();
			return -1;
		}
		m.n_threads++;
	}
	return 0;
}

void mountio_stop(void)
{
	int i;

	pthread_mutex_lock(&m.lock);
	m.stopping = 1;
	pthread_cond_broadcast(&m.cond);
	pthread_mutex_unlock(&m.lock);
	for (i = 0; i < m.n_threads; i++)
		pthread_join(m.threads[i], NULL);
	m.n_threads = 0;
	/* jobs never run are handed back like finished ones, to be freed */
	pthread_mutex_lock(&m.lock);
	while (m.todo) {
		struct mjob *j = m.todo;

		m.todo = j->next;
		j->next = m.done;
		m.done = j;
	}
	m.todo_tail = &m.todo;
	pthread_mutex_unlock(&m.lock);
}

void mountio_submit(struct mjob *j)
{
	pthread_mutex_lock(&m.lock);
	j->next = NULL;
	*m.todo_tail = j;
	m.todo_tail = &j->next;
	pthread_cond_signal(&m.cond);
	pthread_mutex_unlock(&m.lock);
}

struct mjob *mountio_done(void)
{
	struct mjob *j;

	pthread_mutex_lock(&m.lock);
	j = m.done;
	if (j)
		m.done = j->next;
	pthread_mutex_unlock(&m.lock);
	return j;
}

const char *mountio_root(void)
{
	return m.root;
}

int mount_name_ok(const char *name)
{
	const unsigned char *p;

	if (!name[0] || name[0] == '.' || strlen(name) > 255)
		return 0;
	/* any other byte may be in a libvirt name: tab, newline and space too */
	for (p = (const unsigned char *)name; *p; p++)
		if (*p == '/')
			return 0;
	return 1;
}

int mount_path(char *dst, size_t n, const char *host, const char *vm, const char *file)
{
	char real[PATH_MAX];
	int len;

	if (!mount_name_ok(host) || (vm && !mount_name_ok(vm)))
		return -EINVAL;
	len = snprintf(dst, n, "%s/%s%s%s", m.root, host, vm ? "/" : "", vm ? vm : "");
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	if (!realpath(dst, real))
		return -errno;
	if (strncmp(real, m.root, m.root_len) || real[m.root_len] != '/')
		return -EXDEV;
	if (file) {
		/* control files may start with a dot (.uri), but never climb */
		if (!file[0] || strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, ".."))
			return -EINVAL;
		len = snprintf(dst, n, "%s/%s", real, file);
		if (len < 0 || (size_t)len >= n)
			return -ENAMETOOLONG;
	}
	return 0;
}

ssize_t mount_read(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len + 1 < cap) {
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (!r)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int mount_write(const char *path, const char *data, size_t len)
{
	size_t off = 0;
	ssize_t r;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len) {
		r = write(fd, data + off, len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		off += (size_t)r;
	}
	/* catkeeperfs reports a refused config.xml only here */
	if (close(fd) && !err)
		err = -errno;
	return err;
}
