// SPDX-License-Identifier: BSD-2-Clause
/*
 * Reading the ew_events ring buffer (struct ew_event) and printing events as
 * JSON objects or text lines: shared by `edgeward watch` and the daemon's
 * log. The ring has one consumer position, so one reader at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"

static const char *const type_names[EW_EVT_MAX] = {
	[EW_EVT_HELLO] = "hello",
	[EW_EVT_VERDICT] = "verdict",
	[EW_EVT_DETECT] = "detect",
};

const char *ew_event_type_name(unsigned int t)
{
	return t < EW_EVT_MAX && type_names[t] ? type_names[t] : "unknown";
}

int ew_event_type_parse(const char *s)
{
	for (int t = 0; t < EW_EVT_MAX; t++)
		if (type_names[t] && !strcmp(type_names[t], s))
			return t;
	return -1;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Monotonic event time as wall-clock nanoseconds since the epoch. */
static __u64 wall_ns(__u64 mono)
{
	__u64 now_m = clock_ns(CLOCK_MONOTONIC), now_r = clock_ns(CLOCK_REALTIME);

	return mono <= now_m ? now_r - (now_m - mono) : now_r;
}

json_object *ew_event_json(const struct ew_event *e)
{
	const struct ew_flow_key *k = &e->key;
	json_object *o = json_object_new_object(), *ev = json_object_new_array();
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	ew_fmt_addr(src, sizeof(src), k->saddr, k->family);
	ew_fmt_addr(dst, sizeof(dst), k->daddr, k->family);
	json_object_object_add(o, "type", json_object_new_string(ew_event_type_name(e->type)));
	json_object_object_add(o, "time_unix_ns", json_object_new_int64(wall_ns(e->ts_ns)));
	json_object_object_add(o, "hook", json_object_new_string(ew_hook_name(e->hook)));
	json_object_object_add(o, "src", json_object_new_string(src));
	json_object_object_add(o, "sport", json_object_new_int(ntohs(k->sport)));
	json_object_object_add(o, "dst", json_object_new_string(dst));
	json_object_object_add(o, "dport", json_object_new_int(ntohs(k->dport)));
	json_object_object_add(o, "proto", json_object_new_string(k->proto == 6 ? "tcp" : k->proto == 17 ? "udp" : "other"));
	json_object_object_add(o, "reason", json_object_new_string(ew_reason_name(e->reason)));
	json_object_object_add(o, "action", json_object_new_string(ew_action_name(e->action)));
	for (unsigned int b = 0; ew_evidence_name(b); b++)
		if (e->evidence & (1u << b))
			json_object_array_add(ev, json_object_new_string(ew_evidence_name(b)));
	json_object_object_add(o, "evidence", ev);
	if (e->type == EW_EVT_HELLO) {
		json_object_object_add(o, "ja4", ew_json_strn(e->u.tls.ja4, sizeof(e->u.tls.ja4)));
		json_object_object_add(o, "ja3", ew_json_strn(e->u.tls.ja3, sizeof(e->u.tls.ja3)));
		json_object_object_add(o, "sni", ew_json_strn(e->u.tls.sni, sizeof(e->u.tls.sni)));
		json_object_object_add(o, "alpn", ew_json_strn(e->u.tls.alpn, sizeof(e->u.tls.alpn)));
	}
	return o;
}

void ew_event_line(char *buf, size_t len, const struct ew_event *e)
{
	json_object *o = ew_event_json(e), *ev;
	char t[32], src[80], dst[80], extra[256] = "";
	time_t sec;
	struct tm tm;
	__u64 w;
	size_t n = 0;
	bool v6 = e->key.family == 6;

	json_object_object_get_ex(o, "time_unix_ns", &ev);
	w = json_object_get_int64(ev);
	sec = w / 1000000000ull;
	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	snprintf(src, sizeof(src), v6 ? "[%s]:%s" : "%s:%s", ew_json_field(o, "src"), ew_json_field(o, "sport"));
	snprintf(dst, sizeof(dst), v6 ? "[%s]:%s" : "%s:%s", ew_json_field(o, "dst"), ew_json_field(o, "dport"));
	json_object_object_get_ex(o, "evidence", &ev);
	for (size_t i = 0; i < json_object_array_length(ev) && n < sizeof(extra); i++)
		n += snprintf(extra + n, sizeof(extra) - n, "%s%s", i ? "," : " evidence=",
			      json_object_get_string(json_object_array_get_idx(ev, i)));
	if (e->type == EW_EVT_HELLO && n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - n, " ja4=%s ja3=%s sni=%s alpn=%s", ew_json_field(o, "ja4"),
			 ew_json_field(o, "ja3"), ew_json_field(o, "sni"), ew_json_field(o, "alpn"));
	snprintf(buf, len, "%s.%06llu %-7s %-3s %s -> %s %s reason=%s action=%s%s", t,
		 (unsigned long long)(w % 1000000000ull) / 1000, ew_event_type_name(e->type), ew_hook_name(e->hook),
		 src, dst, ew_json_field(o, "proto"), ew_reason_name(e->reason), ew_action_name(e->action), extra);
	json_object_put(o);
}

int ew_evstate_read(struct ew_evstate *sum)
{
	int ncpus = libbpf_num_possible_cpus(), fd, ret = -1;
	struct ew_evstate *pc;
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	fd = ew_map_open("ew_evstate");
	if (fd < 0)
		return -1;
	pc = calloc(ncpus > 0 ? ncpus : 1, sizeof(*pc));
	if (pc && ncpus > 0 && bpf_map_lookup_elem(fd, &zero, pc) == 0) {
		for (int i = 0; i < ncpus; i++) {
			sum->sent += pc[i].sent;
			sum->lost += pc[i].lost;
			sum->suppressed += pc[i].suppressed;
		}
		ret = 0;
	} else {
		ew_err("reading ew_evstate: %s", strerror(errno));
	}
	free(pc);
	close(fd);
	return ret;
}

struct ew_watch {
	struct ring_buffer *rb;
	int fd;
	ew_event_fn fn;
	void *ctx;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ew_watch *w = ctx;
	struct ew_event e = {};

	/* An older or newer data path may write a shorter or longer record. */
	memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
	return w->fn(w->ctx, &e);
}

struct ew_watch *ew_watch_open(ew_event_fn fn, void *ctx)
{
	struct ew_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fn = fn;
	w->ctx = ctx;
	w->fd = ew_map_open("ew_events");
	if (w->fd < 0) {
		free(w);
		return NULL;
	}
	w->rb = ring_buffer__new(w->fd, on_sample, w, NULL);
	if (!w->rb) {
		ew_err("opening the ew_events ring buffer: %s", strerror(errno));
		close(w->fd);
		free(w);
		return NULL;
	}
	return w;
}

int ew_watch_poll(struct ew_watch *w, int timeout_ms)
{
	int n = ring_buffer__poll(w->rb, timeout_ms);

	if (n == -EINTR)
		return 0;
	return n;
}

int ew_watch_fd(struct ew_watch *w)
{
	return ring_buffer__epoll_fd(w->rb);
}

void ew_watch_close(struct ew_watch *w)
{
	if (!w)
		return;
	ring_buffer__free(w->rb);
	close(w->fd);
	free(w);
}
