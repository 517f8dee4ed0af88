/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt's default event loop, on a thread of its own: it delivers domain
 * events, keepalives and close callbacks for every host.
 */
#include "host.h"
#include "log.h"

#include <libvirt/virterror.h>
#include <libxml/parser.h>

static pthread_t event_thread;
static volatile int event_quit;
static bool event_running;

static void silence(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* Set when hostconn_free() leaves a thread blocked in libvirt. */
static bool threads_left;

void virtloop_thread_left(void)
{
	threads_left = true;
}

static void *event_loop(void *arg)
{
	(void)arg;
	while (!event_quit)
		if (virEventRunDefaultImpl() < 0)
			log_msg("libvirt event loop: %s", virGetLastErrorMessage());
	return NULL;
}

int hostconn_global_init(void)
{
	/*
	 * libxml2 initialises itself on first use, but not safely: two hosts
	 * connecting at once on their own threads each made its global mutex
	 * and one leaked. Do it here, before any thread exists.
	 */
	xmlInitParser();
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
		return -1;
	/* Errors are reported where they happen, with their context. */
	virSetErrorFunc(NULL, silence);
	if (pthread_create(&event_thread, NULL, event_loop, NULL))
		return -1;
	pthread_setname_np(event_thread, "ck-virt-events");
	event_running = true;
	return 0;
}

/*
 * A closed connection is freed by the event loop itself, once it has dropped
 * the connection's socket watch and timers: let it turn a little longer.
 */
#define LAST_TURNS_MS 200

static void last_turn(int timer, void *opaque)
{
	(void)opaque;
	virEventRemoveTimeout(timer);
	event_quit = 1;
}

bool hostconn_global_shutdown(void)
{
	if (!event_running)
		return threads_left;
	virEventAddTimeout(LAST_TURNS_MS, last_turn, NULL, NULL);
	pthread_join(event_thread, NULL);
	event_running = false;
	return threads_left;
}
