// SPDX-License-Identifier: BSD-2-Clause
/*
 * Prometheus exposition for the daemon: GET /metrics over HTTP
 * (libmicrohttpd, its own thread) and the node_exporter textfile (written
 * to FILE.tmp, then renamed over FILE). Both render every counter source
 * (user/counters.c) and the daemon's own series.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include "edgeward.h"

struct ew_metrics_srv {
	struct MHD_Daemon *mhd;
	ew_metrics_extra_fn extra;
	void *ctx;
};

/* Everything, in the text exposition format, into a malloc'd buffer. */
static char *render(ew_metrics_extra_fn extra, void *ctx, size_t *len)
{
	struct ew_counters cs;
	char *buf = NULL;
	FILE *f;

	if (ew_counters_read(&cs, false))
		return NULL;
	f = open_memstream(&buf, len);
	if (!f) {
		ew_counters_free(&cs);
		return NULL;
	}
	ew_counters_prometheus(&cs, f);
	if (extra)
		extra(ctx, f);
	ew_counters_free(&cs);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	static const char not_found[] = "edgeward serves /metrics\n";
	static const char failed[] = "edgeward: reading the pinned maps failed\n";
	struct ew_metrics_srv *s = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned int code = MHD_HTTP_OK;
	size_t len = 0;
	char *body = NULL;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		code = MHD_HTTP_NOT_FOUND;
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1, (void *)not_found, MHD_RESPMEM_PERSISTENT);
	} else if (!(body = render(s->extra, s->ctx, &len))) {
		code = MHD_HTTP_SERVICE_UNAVAILABLE;
		r = MHD_create_response_from_buffer(sizeof(failed) - 1, (void *)failed, MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	}
	if (!r) {
		free(body);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

struct ew_metrics_srv *ew_metrics_start(const struct sockaddr *addr, socklen_t len, ew_metrics_extra_fn extra,
					void *ctx)
{
	struct ew_metrics_srv *s = calloc(1, sizeof(*s));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!s)
		return NULL;
	s->extra = extra;
	s->ctx = ctx;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
				  MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	(void)len;
	if (!s->mhd) {
		free(s);
		return NULL;
	}
	return s;
}

void ew_metrics_stop(struct ew_metrics_srv *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}

int ew_metrics_textfile(const char *path, ew_metrics_extra_fn extra, void *ctx)
{
	char tmp[4200];
	size_t len;
	char *body = render(extra, ctx, &len);
	FILE *f;
	int ok;

	if (!body)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		ew_err("writing %s: %s", tmp, strerror(errno));
		free(body);
		return -1;
	}
	ok = fwrite(body, 1, len, f) == len;
	ok = !fclose(f) && ok;
	free(body);
	if (!ok || rename(tmp, path)) {
		ew_err("writing %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
