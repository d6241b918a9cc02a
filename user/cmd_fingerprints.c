// SPDX-License-Identifier: BSD-2-Clause
/* edgeward fingerprints [--top N]: JA4 and TCP fingerprints by distinct sources. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward fingerprints [--top N]\n"
	"\n"
	"JA4 and TCP SYN (p0f signature) fingerprints seen on new connections, by the\n"
	"number of distinct source addresses (a HyperLogLog estimate kept in the\n"
	"kernel, about 6.5% standard error), with connections and the share of them\n"
	"that got any detector reason. A fingerprint past `policy threshold\n"
	"fanout-sources` gets reason fanout.\n"
	"  --top N   only the N fingerprints with the most sources\n";

struct fp_row {
	struct ew_fan_key k;
	struct ew_fanout v;
};

static int by_sources(const void *a, const void *b)
{
	const struct fp_row *x = a, *y = b;

	if (x->v.estimate != y->v.estimate)
		return x->v.estimate < y->v.estimate ? 1 : -1;
	return x->v.conns < y->v.conns ? 1 : x->v.conns > y->v.conns ? -1 : 0;
}

static void ew_fan_key_fmt(const struct ew_fan_key *k, char *buf, size_t len)
{
	if (k->kind == EW_FK_TCP) {
		struct ew_tcp_sig s;

		memcpy(&s, k->fp, sizeof(s));
		if (ew_tcp_sig_fmt(&s, buf, len))
			snprintf(buf, len, "?");
	} else {
		snprintf(buf, len, "%.*s", (int)sizeof(k->fp), (const char *)k->fp);
	}
}

int cmd_fingerprints(int argc, char **argv)
{
	static const struct option opts[] = { EW_COMMON_LONGOPTS, { "top", required_argument, NULL, 't' }, {} };
	struct fp_row *rows = NULL;
	struct ew_fan_key k, cur, *prev = NULL;
	size_t n = 0, cap = 0;
	long top = -1;
	char *end, text[160];
	int c, fd;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS "t:", opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (c != 't')
			ew_usage_error(usage, "bad option");
		top = strtol(optarg, &end, 10);
		if (*end || top < 0)
			ew_usage_error(usage, "bad --top '%s'", optarg);
	}
	if (optind != argc)
		ew_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	fd = ew_map_open("ew_fanout");
	if (fd < 0)
		return 1;
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			rows = realloc(rows, cap * sizeof(*rows));
			if (!rows) {
				ew_err("out of memory");
				close(fd);
				return 1;
			}
		}
		cur = k;
		prev = &cur;
		rows[n].k = k;
		if (bpf_map_lookup_elem(fd, &k, &rows[n].v) == 0)
			n++;
	}
	close(fd);
	qsort(rows, n, sizeof(*rows), by_sources);
	if (top >= 0 && (size_t)top < n)
		n = top;
	if (ew_g.json) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_new_object();

			ew_fan_key_fmt(&rows[i].k, text, sizeof(text));
			json_object_object_add(o, "kind", json_object_new_string(rows[i].k.kind == EW_FK_TCP ? "tcp" : "ja4"));
			json_object_object_add(o, "fingerprint", json_object_new_string(text));
			json_object_object_add(o, "sources", json_object_new_uint64(rows[i].v.estimate));
			json_object_object_add(o, "connections", json_object_new_uint64(rows[i].v.conns));
			json_object_object_add(o, "flagged", json_object_new_uint64(rows[i].v.flagged));
			json_object_object_add(o, "flagged_share",
					       json_object_new_double(rows[i].v.conns ? (double)rows[i].v.flagged / rows[i].v.conns : 0));
			json_object_array_add(arr, o);
		}
		ew_json_print(arr);
	} else {
		printf("%-4s %8s %8s %8s  %s\n", "kind", "sources", "conns", "flagged", "fingerprint");
		for (size_t i = 0; i < n; i++) {
			ew_fan_key_fmt(&rows[i].k, text, sizeof(text));
			printf("%-4s %8u %8llu %7.1f%%  %s\n", rows[i].k.kind == EW_FK_TCP ? "tcp" : "ja4",
			       rows[i].v.estimate, (unsigned long long)rows[i].v.conns,
			       rows[i].v.conns ? 100.0 * rows[i].v.flagged / rows[i].v.conns : 0.0, text);
		}
	}
	free(rows);
	return 0;
}
