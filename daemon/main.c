// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * catkeeper-web: the page and the noVNC consoles of a catkeeperfs mount.
 * It never talks to libvirt: everything it shows or does goes through the
 * mounted tree.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "events.h"
#include "http.h"
#include "linkdirect.h"
#include "listen.h"
#include "log.h"
#include "mountio.h"
#include "sshtunnel.h"
#include "vncproxy.h"

static struct lws_context *context;
static volatile sig_atomic_t stopping;
static struct listeners listeners;

/* A listening socket of ours (listen.c): its connections become lws's HTTP ones. */
static int listener_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			     void *in, size_t len)
{
	int fd;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		fd = accept4(lws_get_socket_fd(wsi), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				ck_log("accept: %s", strerror(errno));
			return 0;
		}
		/* on failure lws closes fd itself */
		if (!lws_adopt_socket_vhost(lws_get_vhost(wsi), fd))
			ck_log("cannot take a new connection");
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		return -1;
	default:
		return 0;
	}
}

/*
 * The raw protocols carry sockets the daemon opens itself (consoles, ssh,
 * listeners); no client may upgrade to them, whatever subprotocol it names.
 */
static int raw_only(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	const struct lws_protocols *p = lws_get_protocol(wsi);

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
	case LWS_CALLBACK_HTTP:
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
		ck_log("refused a client's upgrade to the internal protocol %s", p ? p->name : "?");
		return -1;
	default:
		break;
	}
	if (p && !strcmp(p->name, "ck-vnc"))
		return linkdirect_raw_callback(wsi, reason, user, in, len);
	if (p && !strcmp(p->name, "ck-ssh"))
		return sshtunnel_raw_callback(wsi, reason, user, in, len);
	return listener_callback(wsi, reason, user, in, len);
}

/*
 * lws cuts every send to tx_packet_size and copies the rest aside: a console
 * frame (up to 1 MiB, and lws lets its header ride beyond) must go out in one
 * send.
 */
#define TX_PACKET (1024 * 1024)

static struct lws_protocols protocols[] = {
    /* upgrades without a subprotocol (noVNC, the page) land on the first */
    {"http", http_callback, 0, 16384, 0, NULL, TX_PACKET},
    {"binary", http_callback, 0, 16384, 0, NULL, TX_PACKET},
    {"ck-vnc", raw_only, 0, 0, 0, NULL, 0},
    {"ck-ssh", raw_only, 0, 0, 0, NULL, 0},
    {"ck-listen", raw_only, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static void wake(void *arg)
{
	lws_cancel_service(arg);
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
	if (context)
		lws_cancel_service(context);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: catkeeper-web --mount MOUNT [options]\n"
		   "  --listen ADDR          address to listen on (default 127.0.0.1)\n"
		   "  --port N               port (default 8080)\n"
		   "  --web DIR              the page's files (default " CK_WEB_DIR ")\n"
		   "  --novnc DIR            noVNC (default /usr/share/novnc)\n"
		   "  --cert FILE --key FILE serve TLS\n"
		   "  --passwd FILE          accounts: lines user:crypt(3) hash\n"
		   "  --trust-user-header H  take the user from a reverse proxy's header H\n"
		   "  --trusted-proxy ADDR   the proxy's address (repeatable; default loopback)\n"
		   "  --name NAME            also answer to this Host name (repeatable)\n"
		   "  --admin USER           this account may add hosts (repeatable; the token\n"
		   "                         holder always may)\n"
		   "  --config FILE          per-host ssh overrides\n"
		   "  --console-ttl SECONDS  lifetime of a console token (default 30)\n"
		   "  --token-ttl SECONDS    lifetime of a one-time login URL (default 600)\n"
		   "  --workers N            threads for mount I/O (default 4)\n");
}

static const char *default_web_root(void)
{
	struct stat st;

	/* run from a build directory, the source tree's page is the one to serve */
	if (stat(CK_WEB_DIR "/index.html", &st) && !stat(CK_SRC_WEB_DIR "/index.html", &st))
		return CK_SRC_WEB_DIR;
	return CK_WEB_DIR;
}

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int parse_args(int argc, char **argv, struct ck_config *cfg)
{
	enum {
		O_LISTEN = 256,
		O_PORT,
		O_WEB,
		O_NOVNC,
		O_CERT,
		O_KEY,
		O_PASSWD,
		O_HEADER,
		O_NAME,
		O_CONFIG,
		O_TTL,
		O_WORKERS,
		O_ADMIN,
		O_PROXY,
		O_TOKEN_TTL,
		O_VERSION,
		O_LAST
	};
	static const struct option opts[] = {
	    {"mount", required_argument, NULL, 'm'},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"port", required_argument, NULL, O_PORT},
	    {"web", required_argument, NULL, O_WEB},
	    {"novnc", required_argument, NULL, O_NOVNC},
	    {"cert", required_argument, NULL, O_CERT},
	    {"key", required_argument, NULL, O_KEY},
	    {"passwd", required_argument, NULL, O_PASSWD},
	    {"trust-user-header", required_argument, NULL, O_HEADER},
	    {"name", required_argument, NULL, O_NAME},
	    {"config", required_argument, NULL, O_CONFIG},
	    {"console-ttl", required_argument, NULL, O_TTL},
	    {"workers", required_argument, NULL, O_WORKERS},
	    {"admin", required_argument, NULL, O_ADMIN},
	    {"trusted-proxy", required_argument, NULL, O_PROXY},
	    {"token-ttl", required_argument, NULL, O_TOKEN_TTL},
	    {"version", no_argument, NULL, O_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	cfg->listen = "127.0.0.1";
	cfg->port = 8080;
	cfg->web_root = default_web_root();
	cfg->novnc_root = "/usr/share/novnc";
	cfg->console_ttl = 30;
	cfg->workers = 4;
	/* options that set one string or one number */
	const char **strings[O_LAST - O_LISTEN] = {
	    [O_LISTEN - O_LISTEN] = &cfg->listen,
	    [O_WEB - O_LISTEN] = &cfg->web_root,
	    [O_NOVNC - O_LISTEN] = &cfg->novnc_root,
	    [O_CERT - O_LISTEN] = &cfg->cert,
	    [O_KEY - O_LISTEN] = &cfg->key,
	    [O_PASSWD - O_LISTEN] = &cfg->passwd_file,
	    [O_HEADER - O_LISTEN] = &cfg->user_header,
	    [O_CONFIG - O_LISTEN] = &cfg->config_file,
	};
	int *numbers[O_LAST - O_LISTEN] = {
	    [O_PORT - O_LISTEN] = &cfg->port,
	    [O_TTL - O_LISTEN] = &cfg->console_ttl,
	    [O_WORKERS - O_LISTEN] = &cfg->workers,
	    [O_TOKEN_TTL - O_LISTEN] = &cfg->token_ttl,
	};
	/* options given once per value */
	struct repeated {
		const char **list;
		int *n, max;
		const char *opt;
	} repeated[] = {
	    {cfg->names, &cfg->n_names, ARRAY_LEN(cfg->names), "name"},
	    {cfg->admins, &cfg->n_admins, ARRAY_LEN(cfg->admins), "admin"},
	    {cfg->proxies, &cfg->n_proxies, ARRAY_LEN(cfg->proxies), "trusted-proxy"},
	};
	while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
		if (c >= O_LISTEN && c < O_LAST && strings[c - O_LISTEN]) {
			*strings[c - O_LISTEN] = optarg;
			continue;
		}
		if (c >= O_LISTEN && c < O_LAST && numbers[c - O_LISTEN]) {
			*numbers[c - O_LISTEN] = atoi(optarg);
			continue;
		}
		if (c == O_NAME || c == O_ADMIN || c == O_PROXY) {
			struct repeated *r = &repeated[c == O_NAME ? 0 : c == O_ADMIN ? 1 : 2];

			if (*r->n == r->max) {
				fprintf(stderr, "catkeeper-web: too many --%s\n", r->opt);
				return -1;
			}
			r->list[(*r->n)++] = optarg;
			continue;
		}
		switch (c) {
		case 'm':
			cfg->mount = optarg;
			break;
		case O_VERSION:
			printf("catkeeper-web " CATKEEPER_VERSION "\n");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!cfg->mount || optind != argc) {
		usage(stderr);
		return -1;
	}
	if (cfg->port < 1 || cfg->port > 65535) {
		fprintf(stderr, "catkeeper-web: bad --port\n");
		return -1;
	}
	return 0;
}

/* Anywhere but loopback, a token in a URL is not enough. */
static int check_exposure(const struct ck_config *cfg)
{
	if ((cfg->cert == NULL) != (cfg->key == NULL)) {
		fprintf(stderr, "catkeeper-web: --cert and --key go together\n");
		return -1;
	}
	if (cfg->passwd_file && cfg->user_header) {
		fprintf(stderr, "catkeeper-web: choose --passwd or --trust-user-header\n");
		return -1;
	}
	if (listeners.all_loopback)
		return 0;
	if (!cfg->cert || (!cfg->passwd_file && !cfg->user_header)) {
		fprintf(stderr,
			"catkeeper-web: refusing to listen on %s: outside loopback it "
			"needs TLS (--cert/--key) and accounts (--passwd) or a trusted "
			"proxy header (--trust-user-header)\n",
			cfg->listen);
		return -1;
	}
	return 0;
}

static struct lws_context *make_context(const struct ck_config *cfg)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	/* listen.c binds the sockets; lws adopts what they accept */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.vhost_name = "catkeeper";
	/* no h2: websockets and raw descriptors stay plain HTTP/1.1 */
	info.alpn = "http/1.1";
	info.max_http_header_data = 8192;
	info.pt_serv_buf_size = 32768;
	info.timeout_secs = 30;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (cfg->cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->cert;
		info.ssl_private_key_filepath = cfg->key;
	}
	return lws_create_context(&info);
}

/* From here on lws owns the listening sockets (and closes them). */
static int adopt_listeners(void)
{
	lws_sock_file_fd_type fd;
	int i;

	for (i = 0; i < listeners.n; i++) {
		fd.filefd = listeners.fd[i];
		if (!lws_adopt_descriptor_vhost(lws_get_vhost_by_name(context, "catkeeper"),
						LWS_ADOPT_RAW_FILE_DESC, fd, "ck-listen", NULL)) {
			ck_log("cannot watch a listening socket");
			return -1;
		}
		listeners.fd[i] = -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ck_config cfg;
	struct sigaction sa;
	struct mjob *mj;
	char err[300];
	int rc = 1, brackets;

	memset(&cfg, 0, sizeof(cfg));
	if (parse_args(argc, argv, &cfg))
		return 2;
	if (listen_open(cfg.listen, cfg.port, &listeners, err, sizeof(err))) {
		fprintf(stderr, "catkeeper-web: cannot listen on %s port %d: %s\n", cfg.listen,
			cfg.port, err);
		return 2;
	}
	cfg.loopback = listeners.all_loopback;
	if (check_exposure(&cfg)) {
		listen_close(&listeners);
		return 2;
	}
	if (cfg.config_file && config_load_file(&cfg, cfg.config_file)) {
		rc = 2;
		goto out_cfg;
	}
	if (auth_init(&cfg, cfg.cert != NULL))
		goto out_cfg;
	protocols[0].per_session_data_size = http_pss_size();
	protocols[1].per_session_data_size = http_pss_size();
	api_set_config(&cfg);
	http_set_config(&cfg);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (sshtunnel_init())
		goto out_cfg;
	context = make_context(&cfg);
	if (!context) {
		ck_log("cannot listen on %s port %d", cfg.listen, cfg.port);
		goto out_ssh;
	}
	if (adopt_listeners())
		goto out_context;
	if (mountio_start(cfg.mount, cfg.workers, wake, context))
		goto out_context;
	if (events_start(wake, context))
		goto out_mountio;

	/* an IPv6 literal is bracketed in a URL */
	brackets = strchr(cfg.listen, ':') && cfg.listen[0] != '[';
	printf("catkeeper-web: serving %s at %s://%s%s%s:%d/%s%s\n", cfg.mount,
	       cfg.cert ? "https" : "http", brackets ? "[" : "", cfg.listen, brackets ? "]" : "",
	       cfg.port, auth_mode() == AUTH_TOKEN ? "login?token=" : "",
	       auth_mode() == AUTH_TOKEN ? auth_token() : "");
	fflush(stdout);

	while (!stopping && lws_service(context, 0) >= 0)
		;
	ck_log("stopping");
	rc = 0;
	events_stop();
out_mountio:
	mountio_stop();
out_context:
	lws_context_destroy(context);
	context = NULL;
	/* after the connections are gone, nobody waits for these */
	while ((mj = mountio_done()))
		api_job_free((struct api_job *)mj);
out_ssh:
	sshtunnel_exit();
out_cfg:
	listen_close(&listeners);
	config_free(&cfg);
	return rc;
}
