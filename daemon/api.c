// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "netaddr.h"
#include "uri.h"
#include "vmxml.h"

#define VALUE_MAX 65536
#define CONFIG_MAX (1024 * 1024 + 1)

static const struct ck_config *cfg;

/* What the page's table shows; the rest is read when asked for. */
static const char *const vm_files[] = {"state", "owner", "description", "ip", "vnc"};

void api_set_config(const struct ck_config *c)
{
	cfg = c;
}

static void api_run(struct mjob *mj);

struct api_job *api_job_new(enum api_op op, const char *user, size_t pre)
{
	struct api_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->base.run = api_run;
	j->op = op;
	snprintf(j->user, sizeof(j->user), "%s", user);
	sb_init(&j->out, pre);
	return j;
}

void api_job_free(struct api_job *j)
{
	if (!j)
		return;
	free(j->body);
	sb_free(&j->out);
	free(j);
}

/* A value file without its trailing newline; "" when it cannot be read. */
static size_t read_value(const char *path, char *buf, size_t cap)
{
	ssize_t n = mount_read(path, buf, cap);

	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return (size_t)n;
}

/* A host's directory has its .uri; a view at the mount's root has none. */
static int is_host(const char *host)
{
	char path[PATH_MAX];

	return !mount_path(path, sizeof(path), host, NULL, ".uri") && !access(path, F_OK);
}

void api_vm_json(struct sbuf *b, const char *host, const char *vm)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], *val;
	struct stat st;
	size_t i, n;

	sb_puts(b, "{");
	sb_json_kv(b, 1, "host", host, strlen(host));
	sb_json_kv(b, 0, "name", vm, strlen(vm));
	if (!is_host(host) || mount_path(dir, sizeof(dir), host, vm, NULL) || stat(dir, &st) ||
	    !S_ISDIR(st.st_mode)) {
		sb_puts(b, ",\"gone\":true}");
		return;
	}
	val = malloc(VALUE_MAX);
	if (!val) {
		b->oom = 1;
		return;
	}
	/* the directory is checked once; the files are fixed names in it */
	for (i = 0; i < sizeof(vm_files) / sizeof(vm_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, vm_files[i]);
		n = read_value(path, val, VALUE_MAX);
		sb_json_kv(b, 0, vm_files[i], val, n);
	}
	free(val);
	sb_puts(b, "}");
}

void api_host_json(struct sbuf *b, const char *host)
{
	char path[PATH_MAX], val[1024];
	size_t n;

	sb_puts(b, "{");
	sb_json_kv(b, 1, "name", host, strlen(host));
	if (!is_host(host) || mount_path(path, sizeof(path), host, NULL, NULL)) {
		sb_puts(b, ",\"gone\":true}");
		return;
	}
	mount_path(path, sizeof(path), host, NULL, ".uri");
	n = read_value(path, val, sizeof(val));
	sb_json_kv(b, 0, "uri", val, n);
	mount_path(path, sizeof(path), host, NULL, ".status");
	n = read_value(path, val, sizeof(val));
	sb_json_kv(b, 0, "status", val, n);
	sb_puts(b, "}");
}

static int is_dir_entry(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_name[0] == '.')
		return 0;
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return !fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode);
}

static int has_inside(int dfd, const struct dirent *de, const char *inside)
{
	char rel[NAME_MAX + 32];

	if (!inside)
		return 1;
	snprintf(rel, sizeof(rel), "%s/%s", de->d_name, inside);
	return !faccessat(dfd, rel, F_OK, AT_SYMLINK_NOFOLLOW);
}

/* Names of the subdirectories of path (holding the file inside, if named), sorted, NULL-terminated.
 */
static char **list_dirs(const char *path, const char *inside)
{
	struct dirent **ents;
	char **names;
	int n, i, k = 0;
	DIR *d = opendir(path);

	if (!d)
		return NULL;
	n = scandir(path, &ents, NULL, alphasort);
	names = n >= 0 ? calloc((size_t)n + 1, sizeof(*names)) : NULL;
	for (i = 0; i < n; i++) {
		if (names && is_dir_entry(dirfd(d), ents[i]) &&
		    has_inside(dirfd(d), ents[i], inside))
			names[k++] = strdup(ents[i]->d_name);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	closedir(d);
	return names;
}

static void free_list(char **names)
{
	char **p;

	for (p = names; p && *p; p++)
		free(*p);
	free(names);
}

static void do_list(struct api_job *j)
{
	char **hosts, **vms, path[PATH_MAX];
	int h, v, first = 1;

	/* hosts have a .uri: the root's views (by-owner/, free/ ...) have none */
	hosts = list_dirs(mountio_root(), ".uri");
	if (!hosts) {
		j->status = 500;
		sb_printf(&j->out, "{\"error\":\"cannot list the mount: %s\"}", strerror(errno));
		return;
	}
	sb_puts(&j->out, "{\"user\":");
	sb_json_str(&j->out, j->user, strlen(j->user));
	sb_puts(&j->out, ",\"hosts\":[");
	for (h = 0; hosts[h]; h++) {
		if (h)
			sb_puts(&j->out, ",");
		api_host_json(&j->out, hosts[h]);
	}
	sb_puts(&j->out, "],\"vms\":[");
	for (h = 0; hosts[h]; h++) {
		if (mount_path(path, sizeof(path), hosts[h], NULL, NULL))
			continue;
		vms = list_dirs(path, NULL);
		for (v = 0; vms && vms[v]; v++) {
			if (!first)
				sb_puts(&j->out, ",");
			first = 0;
			api_vm_json(&j->out, hosts[h], vms[v]);
		}
		free_list(vms);
	}
	sb_puts(&j->out, "]}");
	free_list(hosts);
	j->status = 200;
}

static int errno_status(int err)
{
	switch (err) {
	case EINVAL:
	case ENAMETOOLONG:
		return 400;
	case EACCES:
	case EPERM:
	case EXDEV:
		return 403;
	case ENOENT:
		return 404;
	case EBUSY:
	case EEXIST:
		return 409;
	case EFBIG:
		return 413;
	case EHOSTUNREACH:
		return 502;
	default:
		return 500;
	}
}

/* Sets an error reply; detail is the VM's own error file when there is one. */
static void fail(struct api_job *j, int status, const char *msg)
{
	char path[PATH_MAX], detail[4096] = "";
	size_t n = 0;

	j->status = status;
	j->out.len = 0;
	j->out.oom = 0;
	if (j->vm[0] && !mount_path(path, sizeof(path), j->host, j->vm, "error"))
		n = read_value(path, detail, sizeof(detail));
	sb_puts(&j->out, "{");
	sb_json_kv(&j->out, 1, "error", msg, strlen(msg));
	sb_json_kv(&j->out, 0, "detail", detail, n);
	sb_puts(&j->out, "}");
}

static void fail_errno(struct api_job *j, int err)
{
	fail(j, errno_status(err), strerror(err));
}

static void ok(struct api_job *j)
{
	j->status = 200;
	sb_puts(&j->out, "{\"ok\":true}");
}

static int one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && !memcmp(s, *words, n))
			return 1;
	return 0;
}

/* The body without one trailing newline, checked for this file. */
static int body_ok(struct api_job *j)
{
	static const char *const states[] = {"start",	"shutdown", "reboot", "reset",
					     "destroy", "suspend",  "resume", NULL};
	static const char *const bools[] = {"0", "1", NULL};
	size_t n = j->body_len;

	if (n && j->body[n - 1] == '\n')
		n--;
	if (!strcmp(j->what, "state"))
		return one_of(j->body, n, states);
	if (!strcmp(j->what, "autostart"))
		return one_of(j->body, n, bools);
	if (!strcmp(j->what, "description"))
		return n <= VALUE_MAX - 2;
	return !strcmp(j->what, "config.xml") && n < CONFIG_MAX;
}

static void do_write(struct api_job *j)
{
	char path[PATH_MAX];
	int rc;

	if (!body_ok(j)) {
		fail(j, 400, "this value cannot be written there");
		return;
	}
	rc = mount_path(path, sizeof(path), j->host, j->vm, j->what);
	if (!rc)
		rc = mount_write(path, j->body ? j->body : "", j->body_len);
	if (!strcmp(j->what, "state"))
		ck_log("user=%s vm=%s/%s state %.*s: %s", j->user, j->host, j->vm,
		       (int)strcspn(j->body, "\n"), j->body, rc ? strerror(-rc) : "ok");
	else
		ck_log("user=%s vm=%s/%s write %s (%zu bytes): %s", j->user, j->host, j->vm,
		       j->what, j->body_len, rc ? strerror(-rc) : "ok");
	if (rc)
		fail_errno(j, -rc);
	else
		ok(j);
}

static void do_owner(struct api_job *j)
{
	char path[PATH_MAX], cur[AUTH_USER_MAX + 8], val[AUTH_USER_MAX + 2];
	int rc;

	rc = mount_path(path, sizeof(path), j->host, j->vm, "owner");
	if (rc) {
		fail_errno(j, -rc);
		return;
	}
	if (!strcmp(j->what, "release")) {
		read_value(path, cur, sizeof(cur));
		/* releasing another's reservation is a take-over, asked as such */
		if (cur[0] && strcmp(cur, j->user)) {
			fail(j, 409, "reserved by someone else: take it over instead");
			return;
		}
		/* an empty line: a write the mount sees, unlike truncation alone */
		strcpy(val, "\n");
	} else {
		snprintf(val, sizeof(val), "%s%s", strcmp(j->what, "takeover") ? "" : "!", j->user);
	}
	rc = mount_write(path, val, strlen(val));
	ck_log("user=%s vm=%s/%s %s: %s", j->user, j->host, j->vm, j->what,
	       rc ? strerror(-rc) : "ok");
	if (rc == -EBUSY)
		fail(j, 409, "reserved by someone else");
	else if (rc)
		fail_errno(j, -rc);
	else
		ok(j);
}

/* Who may write the VM: anyone while it is free, else its owner. */
static int may_edit(struct api_job *j)
{
	char path[PATH_MAX], owner[AUTH_USER_MAX + 8];

	if (mount_path(path, sizeof(path), j->host, j->vm, "owner"))
		return 0;
	read_value(path, owner, sizeof(owner));
	return !owner[0] || !strcmp(owner, j->user);
}

/* The VNC passwords stay with those who may change them. */
static void redact(struct api_job *j)
{
	char *xml;
	size_t n;

	if (vmxml_redact(sb_text(&j->out), j->out.len, &xml, &n)) {
		fail(j, 502, "config.xml cannot be parsed, and may hold a console password");
		return;
	}
	j->out.len = 0;
	sb_add(&j->out, xml, n);
	free(xml);
}

static void do_read(struct api_job *j)
{
	char path[PATH_MAX];
	ssize_t n;
	int rc;

	rc = mount_path(path, sizeof(path), j->host, j->vm, j->what);
	if (rc) {
		fail_errno(j, -rc);
		return;
	}
	if (sb_reserve(&j->out, CONFIG_MAX + 1)) {
		fail_errno(j, ENOMEM);
		return;
	}
	n = mount_read(path, sb_text(&j->out), CONFIG_MAX + 1);
	if (n < 0) {
		fail_errno(j, (int)-n);
		return;
	}
	j->out.len = (size_t)n;
	j->status = 200;
	j->ctype = !strcmp(j->what, "config.xml") ? "application/xml" : "text/plain";
	if (!strcmp(j->what, "config.xml") && !may_edit(j))
		redact(j);
}

static int uri_text_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 1024)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && !(s[i] == '\n' && i == n - 1))
			return 0;
	return 1;
}

static void do_add_host(struct api_job *j)
{
	char path[PATH_MAX];
	const char *why;
	int rc;

	if (!mount_name_ok(j->host) || strpbrk(j->host, ":\\ \t\n") ||
	    !uri_text_ok(j->host, strlen(j->host)) || !uri_text_ok(j->body, j->body_len)) {
		fail(j, 400,
		     "a host needs a name (no '/', ':', '\\', spaces, control characters or "
		     "leading dot) and a URI");
		return;
	}
	if (j->body_len && j->body[j->body_len - 1] == '\n')
		j->body[--j->body_len] = '\0';
	why = uri_refusal(j->body);
	if (why) {
		ck_log("user=%s refused host %s: %s", j->user, j->host, why);
		fail(j, 400, why);
		return;
	}
	rc = snprintf(path, sizeof(path), "%s/%s", mountio_root(), j->host);
	if (rc < 0 || (size_t)rc >= sizeof(path)) {
		fail_errno(j, ENAMETOOLONG);
		return;
	}
	if (mkdir(path, 0755)) {
		rc = -errno;
	} else {
		rc = mount_path(path, sizeof(path), j->host, NULL, ".uri");
		if (!rc)
			rc = mount_write(path, j->body, j->body_len);
		if (rc && !mount_path(path, sizeof(path), j->host, NULL, NULL) && rmdir(path))
			ck_log("cannot remove the half-added host %s: %s", j->host,
			       strerror(errno));
	}
	ck_log("user=%s add host %s %.*s: %s", j->user, j->host, (int)strcspn(j->body, "\n"),
	       j->body, rc ? strerror(-rc) : "ok");
	if (rc)
		fail_errno(j, -rc);
	else
		ok(j);
}

/* "127.0.0.1:5901" or "[::1]:5901" */
static int parse_vnc(const char *s, struct console_target *t)
{
	const char *colon = strrchr(s, ':'), *a = s;
	size_t alen;
	char *end;
	long port;

	if (!colon)
		return -1;
	alen = (size_t)(colon - s);
	if (*s == '[') {
		if (alen < 2 || colon[-1] != ']')
			return -1;
		a = s + 1;
		alen -= 2;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || !alen || alen >= sizeof(t->addr))
		return -1;
	memcpy(t->addr, a, alen);
	t->addr[alen] = '\0';
	t->port = (int)port;
	return 0;
}

/* Where to reach the host's sshd: the URI, then the config file's override. */
static int ssh_params(struct console_target *t, const struct ck_uri *u)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	const struct ck_ssh_override *o = config_override(cfg, t->host);
	const char *home = getenv("HOME");

	t->ssh = 1;
	snprintf(t->ssh_host, sizeof(t->ssh_host), "%s", o && o->host ? o->host : u->host);
	snprintf(t->ssh_user, sizeof(t->ssh_user), "%s",
		 o && o->user ? o->user
		 : u->user[0] ? u->user
			      : "root");
	t->ssh_port = o && o->port ? o->port : u->port ? u->port : 22;
	snprintf(t->ssh_key, sizeof(t->ssh_key), "%s", o && o->key ? o->key : u->keyfile);
	if (o && o->known_hosts)
		snprintf(t->ssh_known_hosts, sizeof(t->ssh_known_hosts), "%s", o->known_hosts);
	else if (u->known_hosts[0])
		snprintf(t->ssh_known_hosts, sizeof(t->ssh_known_hosts), "%s", u->known_hosts);
	else
		snprintf(t->ssh_known_hosts, sizeof(t->ssh_known_hosts), "%s/.ssh/known_hosts",
			 home ? home : "/root");
	/* a name lookup may take seconds: here, not in the event loop */
	if (getaddrinfo(t->ssh_host, NULL, &hints, &ai))
		return -1;
	getnameinfo(ai->ai_addr, ai->ai_addrlen, t->ssh_addr, sizeof(t->ssh_addr), NULL, 0,
		    NI_NUMERICHOST);
	freeaddrinfo(ai);
	return 0;
}

/* The console may only lead to a VNC display the VM's definition has. */
static int vnc_in_xml(struct api_job *j, int port)
{
	char path[PATH_MAX], *xml;
	ssize_t n;
	int ok;

	if (mount_path(path, sizeof(path), j->host, j->vm, "config.xml"))
		return 0;
	xml = malloc(CONFIG_MAX);
	if (!xml)
		return 0;
	n = mount_read(path, xml, CONFIG_MAX);
	ok = n > 0 && vmxml_vnc_port_ok(xml, (size_t)n, port);
	free(xml);
	return ok;
}

static void do_console(struct api_job *j)
{
	struct console_target *t = &j->target;
	char path[PATH_MAX], val[1024];
	struct sockaddr_storage sa;
	socklen_t sl;
	struct ck_uri u;
	int rc;

	rc = mount_path(path, sizeof(path), j->host, j->vm, "vnc");
	if (rc) {
		fail_errno(j, -rc);
		return;
	}
	read_value(path, val, sizeof(val));
	if (!val[0]) {
		fail(j, 409,
		     "no console: the VM is not running or has no VNC display "
		     "(the embedded test host runs none)");
		return;
	}
	snprintf(t->host, sizeof(t->host), "%s", j->host);
	snprintf(t->vm, sizeof(t->vm), "%s", j->vm);
	if (parse_vnc(val, t) || netaddr_parse_numeric(t->addr, t->port, &sa, &sl)) {
		fail(j, 502, "the VM's vnc file names no numeric address:port");
		return;
	}
	if (!vnc_in_xml(j, t->port)) {
		fail(j, 502, "the VM's config.xml has no VNC display on that port");
		return;
	}
	mount_path(path, sizeof(path), j->host, NULL, ".uri");
	read_value(path, val, sizeof(val));
	if (uri_parse(val, &u)) {
		fail(j, 502, "cannot parse the host's URI");
		return;
	}
	if (uri_is_ssh(&u) || config_override(cfg, j->host)) {
		if (ssh_params(t, &u)) {
			fail(j, 502, "cannot resolve the host's ssh address");
			return;
		}
	} else if (!uri_is_local(&u) && netaddr_is_loopback((struct sockaddr *)&sa)) {
		fail(j, 502,
		     "the console listens on the host's loopback and the host has no "
		     "ssh transport: add an ssh override to the config file");
		return;
	}
	j->status = 200;
}

static void api_run(struct mjob *mj)
{
	struct api_job *j = (struct api_job *)mj;

	j->ctype = "application/json";
	switch (j->op) {
	case API_LIST:
		do_list(j);
		break;
	case API_READ:
		do_read(j);
		break;
	case API_WRITE:
		do_write(j);
		break;
	case API_OWNER:
		do_owner(j);
		break;
	case API_ADD_HOST:
		do_add_host(j);
		break;
	case API_CONSOLE:
		do_console(j);
		break;
	case API_LOGIN:
		j->status = auth_password_ok(j->user, j->body) ? 200 : 403;
		explicit_bzero(j->body, j->body_len);
		break;
	}
	if (j->out.oom)
		fail_errno(j, ENOMEM);
}
