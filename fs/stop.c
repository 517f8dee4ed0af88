/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ending the mount on SIGINT, SIGTERM or SIGHUP, as a terminal's Ctrl-C or
 * systemd sends them. libfuse's own handlers only mark the session as
 * exited: the loop's threads sleep in a read of /dev/fuse (or on their
 * rings) until a request comes, so the process stayed with the mount alive.
 *
 * Here the signals are blocked in every thread and taken by one thread with
 * sigwait(). It marks the session exited, stops the hosts (so writes
 * waiting on one return), and unmounts: the kernel then ends the connection
 * and every read of /dev/fuse (or ring) returns. A user that keeps a file
 * open makes the unmount fail: after a grace time the connection is cut
 * (MNT_FORCE, or fusectl's abort for an unprivileged mount).
 */
#include "face.h"
#include "log.h"
#include "stop.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long users of the mount get to let go before the connection is cut. */
#define GRACE_SECS 1.0
#define RETRY_SECS 0.1

extern char **environ;

static sigset_t stop_signals;
static pthread_t thread;
static bool started, ending, signalled;
static struct fuse_session *session;
static char *mountpoint;
static dev_t mount_dev;
static void (*stop_hosts)(void);
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;

int stop_block_signals(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	/* A reader of .events or a libvirt socket that goes away must not kill us. */
	sigaction(SIGPIPE, &ign, NULL);
	return pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) ? -1 : 0;
}

/* fusermount3 -u [-z]: an unprivileged mount is not ours to umount2(). */
static bool fusermount(bool lazy)
{
	char *argv[] = {"fusermount3", "-u", "-q", lazy ? "-z" : NULL, NULL, NULL};
	pid_t pid;
	int status;

	argv[lazy ? 4 : 3] = mountpoint;
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ)) {
		log_msg("cannot run fusermount3 to unmount %s", mountpoint);
		return false;
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status);
}

/* A plain unmount: it fails while a user has a file open in the mount. */
static bool unmount_idle(void)
{
	if (umount2(mountpoint, UMOUNT_NOFOLLOW) == 0)
		return true;
	return errno == EPERM && fusermount(false);
}

/* Cuts the connection: every request still waiting fails, every read returns. */
static void unmount_forced(void)
{
	char path[64];
	int fd;

	/* MNT_FORCE aborts a FUSE connection; the detach then takes the mount away. */
	if (umount2(mountpoint, MNT_FORCE | UMOUNT_NOFOLLOW) == 0 ||
	    umount2(mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) == 0 || errno != EPERM)
		return;
	fusermount(true);
	if (!mount_dev)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", minor(mount_dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		log_msg("cannot abort the FUSE connection (%s): %s; it ends when its users go",
			path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void *stop_main(void *arg)
{
	double give_up;
	bool unmounted = false;
	int sig = 0;

	(void)arg;
	while (sigwait(&stop_signals, &sig) != 0)
		;
	pthread_mutex_lock(&lock);
	if (ending) {
		/* The loop ended first (an unmount): stop_end() woke us. */
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	signalled = true;
	pthread_mutex_unlock(&lock);
	log_msg("%s: unmounting %s", strsignal(sig), mountpoint);
	fuse_session_exit(session);
	stop_hosts();
	/* Once the mount is gone, the kernel ends the connection and the loop returns. */
	give_up = now_mono() + GRACE_SECS;
	pthread_mutex_lock(&lock);
	while (!ending) {
		struct timespec retry = deadline_in(RETRY_SECS);

		pthread_mutex_unlock(&lock);
		unmounted = unmount_idle();
		pthread_mutex_lock(&lock);
		if (unmounted || now_mono() >= give_up)
			break;
		pthread_cond_timedwait(&ended, &lock, &retry);
	}
	if (!unmounted && !ending) {
		pthread_mutex_unlock(&lock);
		log_msg("the mount is still in use: cutting its connection");
		unmount_forced();
		return NULL;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		unsigned v;

		if (*s == '\\' && sscanf(s + 1, "%3o", &v) == 1) {
			*out++ = (char)v;
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The device of our mount, whose minor number names its fusectl connection.
 * Not stat(): it would ask this very process, whose loop is not serving yet.
 */
static int find_mount_dev(const char *path, dev_t *dev)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = -1;

	if (!fp)
		return -1;
	while (getline(&line, &cap, fp) > 0) {
		unsigned maj, min;
		char mnt[4096];

		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mnt) != 3)
			continue;
		unescape(mnt);
		if (!strcmp(mnt, path) && strstr(line, " - fuse")) {
			*dev = makedev(maj, min);
			found = 0; /* the last one is on top */
		}
	}
	free(line);
	fclose(fp);
	return found;
}

int stop_start(struct fuse_session *se, const char *mnt, void (*hosts)(void))
{
	session = se;
	stop_hosts = hosts;
	mountpoint = strdup(mnt);
	if (!mountpoint)
		return -1;
	if (find_mount_dev(mountpoint, &mount_dev) < 0)
		log_msg("%s is not in /proc/self/mountinfo: a mount kept busy cannot be aborted",
			mountpoint);
	if (pthread_create(&thread, NULL, stop_main, NULL))
		return -1;
	pthread_setname_np(thread, "ck-stop");
	started = true;
	return 0;
}

bool stop_end(void)
{
	if (!started)
		return false;
	pthread_mutex_lock(&lock);
	ending = true;
	pthread_cond_broadcast(&ended);
	pthread_mutex_unlock(&lock);
	/* Wakes its sigwait() when no signal came; harmless when one did. */
	pthread_kill(thread, SIGTERM);
	pthread_join(thread, NULL);
	free(mountpoint);
	mountpoint = NULL;
	started = false;
	return signalled;
}
