// SPDX-License-Identifier: BSD-2-Clause
/* edgeward flows: the flow table, largest first. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward flows [--top N] [-j]\n"
	"\n"
	"The flow table (client -> server), largest by bytes first: packets and bytes\n"
	"each way, TCP flags seen each way, age, idle time, verdict and its reason.\n"
	"\n"
	"  --top N   show only the N largest flows (default: all)\n";

static int by_bytes(const void *a, const void *b)
{
	const struct ew_flow_row *x = a, *y = b;
	__u64 bx = x->val.bytes[0] + x->val.bytes[1], by = y->val.bytes[0] + y->val.bytes[1];

	return bx < by ? 1 : bx > by ? -1 : 0;
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

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "top", required_argument, NULL, 't' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct ew_flow_row *rows = NULL;
	struct timespec ts;
	json_object *arr;
	long n, top = -1;
	__u64 now;
	char *end;
	int c, fd;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (c == 't') {
			top = strtol(optarg, &end, 10);
			if (*end || top < 0)
				ew_usage_error(usage, "--top must be a number >= 0, not '%s'", optarg);
			continue;
		}
		ew_usage_error(usage, "bad option");
	}
	if (optind < argc)
		ew_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	fd = ew_map_open("ew_flows");
	if (fd < 0)
		return 1;
	n = ew_flows_read(fd, &rows);
	close(fd);
	if (n < 0)
		return 1;
	qsort(rows, n, sizeof(*rows), by_bytes);
	if (top >= 0 && top < n)
		n = top;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;

	arr = json_object_new_array();
	for (long i = 0; i < n; i++) {
		const struct ew_flow_key *k = &rows[i].key;
		const struct ew_flow *f = &rows[i].val;
		char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], fl[2][10];
		json_object *o = json_object_new_object();

		ew_fmt_addr(src, sizeof(src), k->saddr, k->family);
		ew_fmt_addr(dst, sizeof(dst), k->daddr, k->family);
		flags_str(fl[0], f->tcp_flags[0]);
		flags_str(fl[1], f->tcp_flags[1]);
		json_object_object_add(o, "src", json_object_new_string(src));
		json_object_object_add(o, "sport", json_object_new_int(ntohs(k->sport)));
		json_object_object_add(o, "dst", json_object_new_string(dst));
		json_object_object_add(o, "dport", json_object_new_int(ntohs(k->dport)));
		json_object_object_add(o, "proto", json_object_new_string(k->proto == 6 ? "tcp" : k->proto == 17 ? "udp" : "other"));
		json_object_object_add(o, "packets_in", json_object_new_int64(f->packets[0]));
		json_object_object_add(o, "bytes_in", json_object_new_int64(f->bytes[0]));
		json_object_object_add(o, "packets_out", json_object_new_int64(f->packets[1]));
		json_object_object_add(o, "bytes_out", json_object_new_int64(f->bytes[1]));
		json_object_object_add(o, "tcp_flags_in", json_object_new_string(fl[0]));
		json_object_object_add(o, "tcp_flags_out", json_object_new_string(fl[1]));
		json_object_object_add(o, "age_ms", json_object_new_int64(f->first_ns && now > f->first_ns ? (now - f->first_ns) / 1000000 : 0));
		json_object_object_add(o, "idle_ms", json_object_new_int64(f->last_ns && now > f->last_ns ? (now - f->last_ns) / 1000000 : 0));
		json_object_object_add(o, "verdict", json_object_new_string(ew_action_name(f->verdict)));
		json_object_object_add(o, "reason", json_object_new_string(ew_reason_name(f->reason)));
		json_object_array_add(arr, o);
	}
	free(rows);
	if (ew_g.json) {
		ew_json_print(arr);
		return 0;
	}
	printf("%-22s %-28s %-5s %8s %10s %8s %10s %-7s %-7s %-10s %s\n", "SRC", "DST", "PROTO", "PKT_IN",
	       "BYTES_IN", "PKT_OUT", "BYTES_OUT", "FL_IN", "FL_OUT", "VERDICT", "REASON");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *f[] = { "src", "sport", "dst", "dport", "proto", "packets_in", "bytes_in",
				    "packets_out", "bytes_out", "tcp_flags_in", "tcp_flags_out", "verdict", "reason" };
		json_object *v[13];
		char s[80], d[80];

		for (int j = 0; j < 13; j++)
			json_object_object_get_ex(o, f[j], &v[j]);
		snprintf(s, sizeof(s), "%s:%d", json_object_get_string(v[0]), json_object_get_int(v[1]));
		snprintf(d, sizeof(d), "%s:%d", json_object_get_string(v[2]), json_object_get_int(v[3]));
		printf("%-22s %-28s %-5s %8ld %10ld %8ld %10ld %-7s %-7s %-10s %s\n", s, d,
		       json_object_get_string(v[4]), (long)json_object_get_int64(v[5]),
		       (long)json_object_get_int64(v[6]), (long)json_object_get_int64(v[7]),
		       (long)json_object_get_int64(v[8]), json_object_get_string(v[9]),
		       json_object_get_string(v[10]), json_object_get_string(v[11]),
		       json_object_get_string(v[12]));
	}
	json_object_put(arr);
	return 0;
}
