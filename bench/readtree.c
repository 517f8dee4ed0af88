/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reads the given files of every VM under a catkeeperfs mount, as a script
 * would: readtree MOUNT FILE... Prints the VM count and the seconds taken.
 * readtree -n N FILE: opens, reads and closes one file N times; prints the
 * microseconds each took, the floor under a full read.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_file(int dirfd, const char *name)
{
	char buf[4096];
	int fd = openat(dirfd, name, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	double t0 = now();
	long vms = 0, errors = 0;
	DIR *root;
	struct dirent *h;

	if (argc < 3) {
		fprintf(stderr, "usage: readtree MOUNT FILE... | readtree -n N FILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "-n") && argc == 4) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++)
			if (read_file(AT_FDCWD, argv[3]) < 0) {
				perror(argv[3]);
				return 1;
			}
		printf("%.2f\n", (now() - t0) / n * 1e6);
		return 0;
	}
	root = opendir(argv[1]);
	if (!root) {
		perror(argv[1]);
		return 1;
	}
	while ((h = readdir(root))) {
		int hfd;
		DIR *hd;
		struct dirent *v;

		/* Hosts only: not the table (.vms) nor the views. */
		if (h->d_name[0] == '.' || !strcmp(h->d_name, "by-owner") ||
		    !strcmp(h->d_name, "by-state") || !strcmp(h->d_name, "by-ip") ||
		    !strcmp(h->d_name, "free"))
			continue;
		hfd = openat(dirfd(root), h->d_name, O_RDONLY | O_DIRECTORY);
		hd = hfd < 0 ? NULL : fdopendir(hfd);
		if (!hd)
			continue;
		while ((v = readdir(hd))) {
			int vfd;

			if (v->d_name[0] == '.')
				continue;
			vfd = openat(hfd, v->d_name, O_RDONLY | O_DIRECTORY);
			if (vfd < 0) {
				errors++;
				continue;
			}
			for (int i = 2; i < argc; i++)
				errors += read_file(vfd, argv[i]) < 0;
			close(vfd);
			vms++;
		}
		closedir(hd);
	}
	closedir(root);
	printf("%ld %.6f %ld\n", vms, now() - t0, errors);
	return errors ? 1 : 0;
}
