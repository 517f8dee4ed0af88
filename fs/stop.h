/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef CK_STOP_H
#define CK_STOP_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

/*
 * Before any thread is made (after fuse_daemonize()): SIGINT, SIGTERM and
 * SIGHUP are blocked, so that every later thread inherits the mask and only
 * stop's own thread takes them.
 */
int stop_block_signals(void);
/*
 * Starts the thread that ends the mount on a signal; hosts() stops the
 * hosts. mountpoint is absolute (resolved before mounting: resolving it now
 * would ask this process, whose loop is not serving yet).
 */
int stop_start(struct fuse_session *se, const char *mountpoint, void (*hosts)(void));
/*
 * After the session loop: ends that thread. True when a signal ended the
 * mount (an asked-for end: the loop's errors on the cut connection are not
 * failures).
 */
bool stop_end(void);

#endif
