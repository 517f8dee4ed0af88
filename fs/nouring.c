/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Built without FUSE over io_uring (no liburing, or no <linux/fuse.h> that
 * has it: see fs/fuse-uapi): requests always come through /dev/fuse.
 */
#include "face.h"

void uring_attach(struct fuse_session *se, const char *mountpoint)
{
	(void)se;
	(void)mountpoint;
}

void uring_adjust_init(struct fuse_conn_info *conn)
{
	(void)conn;
}

bool uring_ring_thread(void)
{
	return false;
}

bool uring_stop(void)
{
	return false;
}
