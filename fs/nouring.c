/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Built without liburing: requests always come through /dev/fuse. */
#include "face.h"

void uring_attach(struct fuse_session *se)
{
	(void)se;
}

void uring_adjust_init(struct fuse_conn_info *conn)
{
	(void)conn;
}

void uring_detach(void)
{
}
