// SPDX-License-Identifier: BSD-2-Clause
/*
 * edgeward flows: the flow table joined with the per-connection evidence
 * (ew_conns), filtered, sorted, largest first. The flow table is read in
 * batches (user/flows.c); evidence is looked up only for the flows a filter
 * or the output needs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward flows [--top N] [--sort bytes|packets|age] [-j]\n"
	"                      [--addr PREFIX] [--src PREFIX] [--dst PREFIX] [--port N]\n"
	"                      [--fp FINGERPRINT] [--reason NAME] [--verdict NAME]\n"
	"\n"
	"The flow table (client -> server): packets and bytes each way, TCP flags\n"
	"each way, first and last seen, verdict, every reason (the flow's and the\n"
	"detectors' evidence), the TLS fingerprints (JA4, JA3, SNI, ALPN) and round\n"
	"trips the data path recorded for the connection.\n"
	"\n"
	"  --top N          only the first N flows after sorting (default: all)\n"
	"  --sort KEY       bytes (default, both ways), packets (both ways), or age\n"
	"                   (oldest first)\n"
	"  --addr PREFIX    either end inside PREFIX (a bare address is a host prefix)\n"
	"  --src PREFIX     client inside PREFIX\n"
	"  --dst PREFIX     server inside PREFIX\n"
	"  --port N         either port is N\n"
	"  --fp FP          JA4 or JA3 equal to FP, or starting with it (t13d...)\n"
	"  --reason NAME    the flow's reason (prefix, none...) or a detector's\n"
	"                   evidence (fp_rule, relay_rtt, tunnel_mss, ...)\n"
	"  --verdict NAME   pass, flag, allow, would_drop or drop\n"
	"Filters combine with AND.\n";

enum sort_key { SORT_BYTES, SORT_PACKETS, SORT_AGE };

struct filter {
	struct ew_prefix addr, src, dst;
	bool has_addr, has_src, has_dst;
	int port;	  /* -1: any */
	const char *fp;	  /* NULL: any */
	int reason;	  /* enum ew_reason, -1: any */
	int evidence;	  /* bit number, -1: any */
	int verdict;	  /* enum ew_action, -1: any */
};

static enum sort_key sort_key;

static __u64 total(const struct ew_flow_row *r)
{
	const struct ew_flow *f = &r->val;

	if (sort_key == SORT_PACKETS)
		return f->packets[0] + f->packets[1];
	return f->bytes[0] + f->bytes[1];
}

static int cmp_rows(const void *a, const void *b)
{
	const struct ew_flow_row *x = a, *y = b;
	__u64 vx, vy;

	if (sort_key == SORT_AGE) {
		/* Oldest first; flows never seen (first_ns 0) last. */
		vx = x->val.first_ns ? x->val.first_ns : ~0ull;
		vy = y->val.first_ns ? y->val.first_ns : ~0ull;
		return vx < vy ? -1 : vx > vy ? 1 : 0;
	}
	vx = total(x);
	vy = total(y);
	return vx < vy ? 1 : vx > vy ? -1 : 0;
}

static void swap_rows(struct ew_flow_row *a, struct ew_flow_row *b)
{
	struct ew_flow_row t = *a;

	*a = *b;
	*b = t;
}

/* Restore the heap below i: every parent sorts after its children (cmp_rows). */
static void sift_down(struct ew_flow_row *h, long n, long i)
{
	for (;;) {
		long l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && cmp_rows(&h[l], &h[m]) > 0)
			m = l;
		if (r < n && cmp_rows(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		swap_rows(&h[i], &h[m]);
		i = m;
	}
}

/*
 * The first n of rows in sort order, sorted, at the front: a heap of the best
 * n so far whose root is the worst of them. O(rows log n): --top 10 of a
 * million flows sorts in milliseconds instead of seconds.
 */
static void sort_top(struct ew_flow_row *rows, long nrows, long n)
{
	if (n < 0 || n >= nrows) {
		qsort(rows, nrows, sizeof(*rows), cmp_rows);
		return;
	}
	for (long i = n / 2 - 1; i >= 0; i--)
		sift_down(rows, n, i);
	for (long i = n; n && i < nrows; i++) {
		if (cmp_rows(&rows[i], &rows[0]) < 0) {
			swap_rows(&rows[0], &rows[i]);
			sift_down(rows, n, 0);
		}
	}
	qsort(rows, n, sizeof(*rows), cmp_rows);
}

static void flags_str(char *buf, __u8 f)
{
	static const char names[] = "FSRPAUEC";
	int n = 0;

	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			buf[n++] = names[i];
	if (!n)
		buf[n++] = '-';
	buf[n] = 0;
}

/* Does the flow's key address (client or server side) fall inside p? */
static bool in_prefix(const struct ew_prefix *p, const __u8 addr[16], int family)
{
	const __u8 *a = family == 4 ? addr + 12 : addr;
	unsigned int bits = p->len;

	if (p->family != family)
		return false;
	for (unsigned int i = 0; bits; i++) {
		__u8 mask = bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));

		if ((a[i] & mask) != (p->addr[i] & mask))
			return false;
		bits = bits >= 8 ? bits - 8 : 0;
	}
	return true;
}

static bool fp_match(const char *have, size_t max, const char *want)
{
	size_t n = strlen(want);

	return n && strnlen(have, max) >= n && !strncmp(have, want, n);
}

static bool conn_lookup(int conns_fd, const struct ew_flow_key *k, struct ew_conn *conn)
{
	return bpf_map_lookup_elem(conns_fd, k, conn) == 0;
}

/* Filters on the flow table first; the evidence is looked up only if needed. */
static bool keep(const struct filter *fl, int conns_fd, const struct ew_flow_row *r)
{
	const struct ew_flow_key *k = &r->key;
	struct ew_conn conn;

	if (fl->has_addr && !in_prefix(&fl->addr, k->saddr, k->family) && !in_prefix(&fl->addr, k->daddr, k->family))
		return false;
	if (fl->has_src && !in_prefix(&fl->src, k->saddr, k->family))
		return false;
	if (fl->has_dst && !in_prefix(&fl->dst, k->daddr, k->family))
		return false;
	if (fl->port >= 0 && ntohs(k->sport) != fl->port && ntohs(k->dport) != fl->port)
		return false;
	if (fl->reason >= 0 && r->val.reason != fl->reason)
		return false;
	if (fl->verdict >= 0 && r->val.verdict != fl->verdict)
		return false;
	if (!fl->fp && fl->evidence < 0)
		return true;
	if (!conn_lookup(conns_fd, k, &conn))
		return false;
	if (fl->evidence >= 0 && !(conn.reasons & (1u << fl->evidence)))
		return false;
	if (fl->fp && !fp_match(conn.tls.ja4, sizeof(conn.tls.ja4), fl->fp) &&
	    !fp_match(conn.tls.ja3, sizeof(conn.tls.ja3), fl->fp))
		return false;
	return true;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The connection's evidence (NULL: none): fingerprints and its own verdict. */
static void conn_json(json_object *o, const struct ew_conn *c)
{
	const struct ew_tls_fp *t = c ? &c->tls : NULL;

	json_object_object_add(o, "ja4", t ? ew_json_strn(t->ja4, sizeof(t->ja4)) : NULL);
	json_object_object_add(o, "ja3", t ? ew_json_strn(t->ja3, sizeof(t->ja3)) : NULL);
	json_object_object_add(o, "sni", t ? ew_json_strn(t->sni, sizeof(t->sni)) : NULL);
	json_object_object_add(o, "alpn", t ? ew_json_strn(t->alpn, sizeof(t->alpn)) : NULL);
	json_object_object_add(o, "conn_verdict", c ? json_object_new_string(ew_action_name(c->verdict)) : NULL);
	ew_conn_detect_json(o, c);
}

json_object *ew_flow_json(const struct ew_flow_row *fr, const struct ew_conn *conn)
{
	const struct ew_flow_key *k = &fr->key;
	const struct ew_flow *f = &fr->val;
	__u64 mono = clock_ns(CLOCK_MONOTONIC), real = clock_ns(CLOCK_REALTIME);
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], fl[2][10];
	json_object *o = json_object_new_object(), *reasons = json_object_new_array();

	ew_fmt_addr(src, sizeof(src), k->saddr, k->family);
	ew_fmt_addr(dst, sizeof(dst), k->daddr, k->family);
	flags_str(fl[0], f->tcp_flags[0]);
	flags_str(fl[1], f->tcp_flags[1]);
	json_object_object_add(o, "src", json_object_new_string(src));
	json_object_object_add(o, "sport", json_object_new_int(ntohs(k->sport)));
	json_object_object_add(o, "dst", json_object_new_string(dst));
	json_object_object_add(o, "dport", json_object_new_int(ntohs(k->dport)));
	json_object_object_add(o, "proto", json_object_new_string(k->proto == 6 ? "tcp" : k->proto == 17 ? "udp" : "other"));
	json_object_object_add(o, "family", json_object_new_int(k->family));
	json_object_object_add(o, "packets_in", json_object_new_int64(f->packets[0]));
	json_object_object_add(o, "bytes_in", json_object_new_int64(f->bytes[0]));
	json_object_object_add(o, "packets_out", json_object_new_int64(f->packets[1]));
	json_object_object_add(o, "bytes_out", json_object_new_int64(f->bytes[1]));
	json_object_object_add(o, "tcp_flags_in", json_object_new_string(fl[0]));
	json_object_object_add(o, "tcp_flags_out", json_object_new_string(fl[1]));
	json_object_object_add(o, "age_ms", json_object_new_int64(f->first_ns && mono > f->first_ns ? (mono - f->first_ns) / 1000000 : 0));
	json_object_object_add(o, "idle_ms", json_object_new_int64(f->last_ns && mono > f->last_ns ? (mono - f->last_ns) / 1000000 : 0));
	/* Monotonic stamps as wall-clock milliseconds since the epoch. */
	json_object_object_add(o, "first_seen_unix_ms", f->first_ns ? json_object_new_int64((real - (mono - f->first_ns)) / 1000000) : NULL);
	json_object_object_add(o, "last_seen_unix_ms", f->last_ns ? json_object_new_int64((real - (mono - f->last_ns)) / 1000000) : NULL);
	json_object_object_add(o, "verdict", json_object_new_string(ew_action_name(f->verdict)));
	json_object_object_add(o, "reason", json_object_new_string(ew_reason_name(f->reason)));
	if (f->reason != EW_R_NONE)
		json_object_array_add(reasons, json_object_new_string(ew_reason_name(f->reason)));
	for (unsigned int b = 0; conn && ew_evidence_name(b); b++)
		if (conn->reasons & (1u << b))
			json_object_array_add(reasons, json_object_new_string(ew_evidence_name(b)));
	json_object_object_add(o, "reasons", reasons);
	conn_json(o, conn);
	return o;
}

void ew_flows_print_table(json_object *arr)
{
	printf("%-22s %-28s %-5s %8s %10s %8s %10s %-7s %-7s %8s %-10s %-16s %s\n", "SRC", "DST", "PROTO", "PKT_IN",
	       "BYTES_IN", "PKT_OUT", "BYTES_OUT", "FL_IN", "FL_OUT", "AGE_S", "VERDICT", "REASONS", "JA4");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *rs;
		char s[80], d[80], reasons[128] = "";
		size_t n = 0;

		bool v6 = strchr(ew_json_field(o, "src"), ':') != NULL;

		snprintf(s, sizeof(s), v6 ? "[%s]:%s" : "%s:%s", ew_json_field(o, "src"), ew_json_field(o, "sport"));
		snprintf(d, sizeof(d), v6 ? "[%s]:%s" : "%s:%s", ew_json_field(o, "dst"), ew_json_field(o, "dport"));
		json_object_object_get_ex(o, "reasons", &rs);
		for (size_t j = 0; j < json_object_array_length(rs) && n < sizeof(reasons); j++)
			n += snprintf(reasons + n, sizeof(reasons) - n, "%s%s", j ? "," : "",
				      json_object_get_string(json_object_array_get_idx(rs, j)));
		printf("%-22s %-28s %-5s %8s %10s %8s %10s %-7s %-7s %8.1f %-10s %-16s %s\n", s, d, ew_json_field(o, "proto"),
		       ew_json_field(o, "packets_in"), ew_json_field(o, "bytes_in"), ew_json_field(o, "packets_out"), ew_json_field(o, "bytes_out"),
		       ew_json_field(o, "tcp_flags_in"), ew_json_field(o, "tcp_flags_out"), atol(ew_json_field(o, "age_ms")) / 1000.0,
		       ew_json_field(o, "verdict"), n ? reasons : "-", ew_json_field(o, "ja4"));
	}
}

static void parse_prefix_opt(const char *opt, const char *arg, struct ew_prefix *p, bool *has)
{
	char err[256];
	bool cleared;

	if (ew_prefix_parse(arg, p, &cleared, err, sizeof(err)))
		ew_usage_error(usage, "--%s: %s", opt, err);
	*has = true;
}

static int name_index(const char *(*name)(unsigned int), unsigned int max, const char *s)
{
	for (unsigned int i = 0; i < max; i++)
		if (!strcmp(name(i), s))
			return i;
	return -1;
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "sort", required_argument, NULL, 's' },
		{ "addr", required_argument, NULL, 'A' },
		{ "src", required_argument, NULL, 'S' },
		{ "dst", required_argument, NULL, 'D' },
		{ "port", required_argument, NULL, 'o' },
		{ "fp", required_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, 'r' },
		{ "verdict", required_argument, NULL, 'v' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct filter fl = { .port = -1, .reason = -1, .evidence = -1, .verdict = -1 };
	struct ew_flow_row *flows = NULL;
	json_object *arr;
	long n, kept = 0, top = -1;
	char *end;
	int c, fd, conns_fd;

	sort_key = SORT_BYTES;
	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		switch (c) {
		case 't':
			top = strtol(optarg, &end, 10);
			if (*end || top < 0)
				ew_usage_error(usage, "--top must be a number >= 0, not '%s'", optarg);
			break;
		case 's':
			if (!strcmp(optarg, "bytes"))
				sort_key = SORT_BYTES;
			else if (!strcmp(optarg, "packets"))
				sort_key = SORT_PACKETS;
			else if (!strcmp(optarg, "age"))
				sort_key = SORT_AGE;
			else
				ew_usage_error(usage, "--sort must be bytes, packets or age, not '%s'", optarg);
			break;
		case 'A':
			parse_prefix_opt("addr", optarg, &fl.addr, &fl.has_addr);
			break;
		case 'S':
			parse_prefix_opt("src", optarg, &fl.src, &fl.has_src);
			break;
		case 'D':
			parse_prefix_opt("dst", optarg, &fl.dst, &fl.has_dst);
			break;
		case 'o':
			fl.port = strtol(optarg, &end, 10);
			if (*end || fl.port < 0 || fl.port > 65535)
				ew_usage_error(usage, "--port must be 0..65535, not '%s'", optarg);
			break;
		case 'f':
			if (!*optarg || strlen(optarg) >= sizeof(((struct ew_tls_fp *)0)->ja4))
				ew_usage_error(usage, "--fp '%s' is not a JA4 or JA3 (prefix)", optarg);
			fl.fp = optarg;
			break;
		case 'r':
			fl.reason = name_index(ew_reason_name, EW_REASON_MAX, optarg);
			fl.evidence = fl.reason < 0 ? ew_evidence_parse(optarg) : -1;
			if (fl.reason < 0 && fl.evidence < 0)
				ew_usage_error(usage, "--reason: no reason or evidence named '%s'", optarg);
			break;
		case 'v':
			fl.verdict = name_index(ew_action_name, EW_ACTION_MAX, optarg);
			if (fl.verdict < 0)
				ew_usage_error(usage, "--verdict must be pass, flag, allow, would_drop or drop, not '%s'",
					       optarg);
			break;
		default:
			ew_usage_error(usage, "bad option");
		}
	}
	if (optind < argc)
		ew_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	fd = ew_map_open("ew_flows");
	if (fd < 0)
		return 1;
	conns_fd = ew_map_open("ew_conns");
	if (conns_fd < 0) {
		close(fd);
		return 1;
	}
	n = ew_flows_read(fd, &flows);
	close(fd);
	if (n < 0) {
		close(conns_fd);
		return 1;
	}
	for (long i = 0; i < n; i++)
		if (keep(&fl, conns_fd, &flows[i]))
			flows[kept++] = flows[i];
	sort_top(flows, kept, top);
	if (top >= 0 && top < kept)
		kept = top;
	arr = json_object_new_array();
	for (long i = 0; i < kept; i++) {
		struct ew_conn conn;
		bool has = conn_lookup(conns_fd, &flows[i].key, &conn);

		json_object_array_add(arr, ew_flow_json(&flows[i], has ? &conn : NULL));
	}
	close(conns_fd);
	free(flows);
	if (ew_g.json) {
		ew_json_print(arr);
		return 0;
	}
	ew_flows_print_table(arr);
	json_object_put(arr);
	return 0;
}
