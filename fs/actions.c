/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The writes asked of a host, run one at a time on its actor thread. */
#include "domxml.h"
#include "host.h"
#include "log.h"
#include "reservation.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

/* How long a write waits for its host before it gives up with ETIMEDOUT. */
#define CALL_TIMEOUT_SECS 60

/*
 * Drivers differ in how they refuse an action that does not fit the state
 * (qemu: operation invalid, test: internal error): check it here, so a
 * refusal is EBUSY everywhere.
 */
static int lifecycle_fits(virDomainPtr dom, const char *word, char **errmsg)
{
	int active = virDomainIsActive(dom);

	if (active < 0)
		return -1;
	if (!strcmp(word, "start") && active)
		return set_err(errmsg, -EBUSY, "%s is running already", virDomainGetName(dom));
	if (strcmp(word, "start") && !active)
		return set_err(errmsg, -EBUSY, "%s is not running", virDomainGetName(dom));
	return 0;
}

static int reboot(virDomainPtr dom)
{
	return virDomainReboot(dom, 0);
}

static int reset(virDomainPtr dom)
{
	return virDomainReset(dom, 0);
}

/* The words a state file takes, and what each does. */
static const struct {
	const char *word;
	int (*act)(virDomainPtr dom);
} lifecycle_words[] = {
    {"start", virDomainCreate},
    {"shutdown", virDomainShutdown},
    {"reboot", reboot},
    {"reset", reset},
    {"destroy", virDomainDestroy},
    {"suspend", virDomainSuspend},
    {"resume", virDomainResume},
};

static int lifecycle(virDomainPtr dom, const char *word)
{
	for (size_t i = 0; i < G_N_ELEMENTS(lifecycle_words); i++)
		if (!strcmp(word, lifecycle_words[i].word))
			return lifecycle_words[i].act(dom);
	return -2;
}

bool hostconn_lifecycle_word(const char *word)
{
	for (size_t i = 0; i < G_N_ELEMENTS(lifecycle_words); i++)
		if (!strcmp(word, lifecycle_words[i].word))
			return true;
	return false;
}

static bool dom_active(virDomainPtr dom)
{
	return virDomainIsActive(dom) == 1;
}

static int set_owner(virConnectPtr conn, virDomainPtr dom, struct job *job)
{
	const char *want = job->arg;
	bool takeover = *want == '!';
	bool persistent = virDomainIsPersistent(dom) == 1;
	uint64_t token;
	char *cur;
	int rc;

	if (takeover)
		want++;
	rc = reslock_acquire(conn, job->uuid, &token, &job->errmsg);
	if (rc < 0)
		return rc;
	cur = owner_fetch(dom, persistent);
	if (!cur) {
		rc = virt_err(conn, &job->errmsg);
		goto out;
	}
	job->req.result = strdup(cur);
	if (!strcmp(cur, want))
		goto out;
	if (*cur && *want && !takeover) {
		rc = set_err(&job->errmsg, -EBUSY, "reserved by %s (write !%s to take it over)",
			     cur, want);
		goto out;
	}
	if (owner_store(dom, want, dom_active(dom), persistent) < 0)
		rc = virt_err(conn, &job->errmsg);
out:
	free(cur);
	reslock_release(conn, job->uuid, token);
	return rc;
}

/*
 * A new domain (a pending directory's first config.xml) may not take an
 * existing domain's name or uuid: libvirt would redefine that domain.
 */
static int define_fresh(virConnectPtr conn, struct job *job)
{
	char *name = NULL, *uuid = NULL;
	virDomainPtr other = NULL;
	const char *clash = NULL;
	int rc = domxml_ids(job->arg, job->req.arglen, &name, &uuid);

	if (rc < 0)
		return 0; /* domxml_prepare says why */
	if ((other = virDomainLookupByName(conn, job->name)))
		clash = "name";
	else if (*name && (other = virDomainLookupByName(conn, name)))
		clash = "<name> in config.xml";
	else if (*uuid && (other = virDomainLookupByUUIDString(conn, uuid)))
		clash = "<uuid> in config.xml";
	if (other) {
		rc = set_err(&job->errmsg, -EEXIST, "the %s belongs to the existing VM %s", clash,
			     virDomainGetName(other));
		virDomainFree(other);
	}
	free(name);
	free(uuid);
	return rc;
}

static int define(virConnectPtr conn, virDomainPtr dom, struct job *job)
{
	struct dom_info cur = {0};
	char *xml = NULL, *prepared = NULL;
	uint64_t token = 0;
	virDomainPtr made;
	int rc;

	if (dom) {
		rc = reslock_acquire(conn, job->uuid, &token, &job->errmsg);
		if (rc < 0)
			return rc;
		xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
		if (!xml || domxml_definition(xml, &cur) < 0) {
			rc = virt_err(conn, &job->errmsg);
			goto out;
		}
	} else if ((rc = define_fresh(conn, job)) < 0) {
		return rc;
	}
	rc = domxml_prepare(job->arg, job->req.arglen, job->name, dom ? job->uuid : NULL, cur.owner,
			    &prepared, &job->errmsg);
	if (rc < 0)
		goto out;
	made = virDomainDefineXML(conn, prepared);
	if (!made) {
		rc = virt_err(conn, &job->errmsg);
		/* Drivers report many a bad definition as an internal error. */
		if (rc == -EIO)
			rc = -EINVAL;
		goto out;
	}
	virDomainGetUUIDString(made, job->req.uuid_out);
	virDomainFree(made);
out:
	if (dom)
		reslock_release(conn, job->uuid, token);
	dom_info_clear(&cur);
	free(xml);
	free(prepared);
	return rc;
}

static int act(struct hostconn *hc, virConnectPtr conn, struct job *job)
{
	virDomainPtr dom = NULL;
	int rc = 0;

	if (job->uuid && *job->uuid) {
		dom = virDomainLookupByUUIDString(conn, job->uuid);
		if (!dom)
			return virt_err(conn, &job->errmsg);
	}
	switch (job->req.op) {
	case HC_LIFECYCLE:
		rc = lifecycle_fits(dom, job->arg, &job->errmsg);
		if (rc < -1)
			goto done;
		if (rc == 0)
			rc = lifecycle(dom, job->arg);
		break;
	case HC_OWNER:
		rc = set_owner(conn, dom, job);
		goto done;
	case HC_DESCRIPTION:
		rc = virDomainSetMetadata(
		    dom, VIR_DOMAIN_METADATA_DESCRIPTION, job->arg, NULL, NULL,
		    VIR_DOMAIN_AFFECT_CURRENT |
			(virDomainIsPersistent(dom) == 1 && dom_active(dom)
			     ? VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_AFFECT_LIVE
			     : 0));
		break;
	case HC_AUTOSTART:
		rc = virDomainSetAutostart(dom, !strcmp(job->arg, "1"));
		break;
	case HC_DEFINE:
		rc = define(conn, dom, job);
		goto done;
	case HC_UNDEFINE:
		if (dom_active(dom)) {
			rc = set_err(&job->errmsg, -EBUSY, "%s is running: shut it down first",
				     virDomainGetName(dom));
			goto done;
		}
		rc = virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
						     VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
		break;
	case HC_RENAME: {
		virDomainPtr other;

		if (dom_active(dom)) {
			rc = set_err(&job->errmsg, -EBUSY, "%s is running: shut it down first",
				     virDomainGetName(dom));
			goto done;
		}
		if ((other = virDomainLookupByName(conn, job->arg))) {
			virDomainFree(other);
			rc = set_err(&job->errmsg, -EEXIST, "a VM named %s exists already",
				     job->arg);
			goto done;
		}
		rc = virDomainRename(dom, job->arg, 0);
		break;
	}
	case HC_GET_XML:
		job->req.result =
		    virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
		rc = job->req.result ? 0 : -1;
		break;
	}
	if (rc == -2)
		rc = set_err(&job->errmsg, -EINVAL, "unknown action '%s'", job->arg);
	else if (rc < 0)
		rc = virt_err(conn, &job->errmsg);
done:
	if (rc == 0 && job->req.op != HC_GET_XML) {
		/* The cache shows the effect before the write returns. */
		resync_one(hc, conn, *job->req.uuid_out ? job->req.uuid_out : job->uuid);
	}
	if (dom)
		virDomainFree(dom);
	return rc;
}

void job_free(struct job *job)
{
	free(job->uuid);
	free(job->name);
	free(job->arg);
	free(job->errmsg);
	free(job->req.result);
	free(job);
}

void *actor_main(void *arg)
{
	struct hostconn *hc = arg;

	pthread_mutex_lock(&hc->lock);
	for (;;) {
		struct job *job;
		virConnectPtr conn;

		while (!hc->stop && !hc->jobs)
			pthread_cond_wait(&hc->work, &hc->lock);
		if (!hc->jobs)
			break;
		job = hc->jobs;
		hc->jobs = job->next;
		if (!hc->jobs)
			hc->jobs_tail = &hc->jobs;
		conn = hc->conn && !hc->closed && !hc->stop ? hc->conn : NULL;
		if (conn)
			virConnectRef(conn);
		pthread_mutex_unlock(&hc->lock);

		if (conn) {
			pthread_mutex_lock(&hc->call_lock);
			job->rc = act(hc, conn, job);
			pthread_mutex_unlock(&hc->call_lock);
			virConnectClose(conn);
		} else {
			job->rc = set_err(&job->errmsg, -EHOSTUNREACH, "host %s is unreachable",
					  hc->name);
		}

		pthread_mutex_lock(&hc->lock);
		job->done = true;
		if (job->abandoned)
			job_free(job);
		else
			pthread_cond_broadcast(&hc->done);
	}
	pthread_mutex_unlock(&hc->lock);
	return NULL;
}

int hostconn_call(struct hostconn *hc, struct hc_request *req, char **errmsg)
{
	struct job *job;
	struct timespec deadline;
	int rc = 0;

	*errmsg = NULL;
	pthread_mutex_lock(&hc->lock);
	if (!hc->conn || hc->closed) {
		pthread_mutex_unlock(&hc->lock);
		return set_err(errmsg, -EHOSTUNREACH, "host %s is unreachable", hc->name);
	}
	pthread_mutex_unlock(&hc->lock);

	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->req = *req;
	job->uuid = req->uuid ? strdup(req->uuid) : NULL;
	job->name = req->name ? strdup(req->name) : NULL;
	job->arg = malloc(req->arglen + 1);
	if (job->arg) {
		memcpy(job->arg, req->arg ? req->arg : "", req->arglen);
		job->arg[req->arglen] = '\0';
	}
	if ((req->uuid && !job->uuid) || (req->name && !job->name) || !job->arg) {
		job_free(job);
		return -ENOMEM;
	}

	deadline = deadline_in(CALL_TIMEOUT_SECS);
	pthread_mutex_lock(&hc->lock);
	*hc->jobs_tail = job;
	hc->jobs_tail = &job->next;
	pthread_cond_signal(&hc->work);
	while (!job->done && !hc->stop && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&hc->done, &hc->lock, &deadline);
	if (!job->done) {
		/* The actor frees it when it is done with it. */
		job->abandoned = true;
		pthread_mutex_unlock(&hc->lock);
		if (hc->stop)
			return set_err(errmsg, -ECONNABORTED,
				       "catkeeperfs is stopping: the host's answer is lost");
		return set_err(errmsg, -ETIMEDOUT, "host %s did not answer within %d s", hc->name,
			       CALL_TIMEOUT_SECS);
	}
	pthread_mutex_unlock(&hc->lock);
	rc = job->rc;
	*errmsg = job->errmsg;
	job->errmsg = NULL;
	req->result = job->req.result;
	job->req.result = NULL;
	memcpy(req->uuid_out, job->req.uuid_out, sizeof(req->uuid_out));
	job_free(job);
	return rc;
}
