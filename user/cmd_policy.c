// SPDX-License-Identifier: BSD-2-Clause
/* edgeward policy list | set REASON drop|flag|off | threshold NAME VALUE */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward policy list\n"
	"       edgeward policy set REASON drop|flag|off\n"
	"       edgeward policy threshold NAME VALUE\n"
	"\n"
	"What each detector's evidence does to a flow: flag (default: count and mark),\n"
	"drop (the flow is dropped from then on; would_drop under --monitor) or off (the\n"
	"detector does not record it). REASON: relay_rtt, tunnel_mss, stack_mismatch,\n"
	"conn_rate, fanout. `list` shows each reason's action and how many flows got it,\n"
	"and the thresholds. Thresholds (NAME):\n"
	"  relay-gap-us       relay_rtt: TLS RTT - TCP RTT at least this many us\n"
	"  relay-ratio-pct    relay_rtt: and TLS RTT at least this % of TCP RTT\n"
	"  rate-per-s         conn_rate: new connections per second per prefix\n"
	"  rate-burst         conn_rate: bucket depth\n"
	"  rate-v4-prefix     conn_rate: IPv4 prefix length (default 24)\n"
	"  rate-v6-prefix     conn_rate: IPv6 prefix length (default 48)\n"
	"  fanout-sources     fanout: distinct sources per fingerprint\n";

static const char *const pol_names[] = { "flag", "drop", "off" };

struct thr {
	const char *name;
	size_t off, size;
	unsigned long max;
};

#define THR(n, f, m) { n, offsetof(struct ew_detect_cfg, f), sizeof(((struct ew_detect_cfg *)0)->f), m }
static const struct thr thresholds[] = {
	THR("relay-gap-us", rtt_gap_us, 60000000), THR("relay-ratio-pct", rtt_ratio_pct, 1000000),
	THR("rate-per-s", rate_per_s, 10000000),   THR("rate-burst", rate_burst, 10000000),
	THR("rate-v4-prefix", pfx4_len, 32),	    THR("rate-v6-prefix", pfx6_len, 128),
	THR("fanout-sources", fanout_sources, 100000000),
};

static unsigned long thr_get(const struct ew_detect_cfg *c, const struct thr *t)
{
	const char *p = (const char *)c + t->off;

	return t->size == 1 ? *(const uint8_t *)p : *(const uint32_t *)p;
}

static void thr_set(struct ew_detect_cfg *c, const struct thr *t, unsigned long v)
{
	char *p = (char *)c + t->off;

	if (t->size == 1)
		*(uint8_t *)p = v;
	else
		*(uint32_t *)p = v;
}

static int policy_list(void)
{
	struct ew_detect_cfg c;
	int ncpu = libbpf_num_possible_cpus(), fd;
	uint64_t *vals = calloc(ncpu, sizeof(uint64_t));
	uint64_t counts[EW_EV_MAX + 1] = {};
	json_object *o, *arr, *th;

	if (!vals || ew_detect_cfg_read(&c))
		goto fail;
	fd = ew_map_open("ew_evcount");
	if (fd < 0)
		goto fail;
	for (uint32_t i = 0; i <= EW_EV_MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int j = 0; j < ncpu; j++)
			counts[i] += vals[j];
	}
	close(fd);
	free(vals);
	if (!ew_g.json) {
		printf("%-16s %-6s %s\n", "reason", "action", "flows");
		for (int i = 1; i < EW_EV_MAX; i++)
			printf("%-16s %-6s %llu\n", ew_evidence_name(i), pol_names[c.policy[i] % 3],
			       (unsigned long long)counts[i]);
		printf("%-16s %-6s %llu\n", "any", "", (unsigned long long)counts[EW_EV_MAX]);
		printf("\n%-16s %s\n", "threshold", "value");
		for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++)
			printf("%-16s %lu\n", thresholds[i].name, thr_get(&c, &thresholds[i]));
		return 0;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (int i = 1; i < EW_EV_MAX; i++) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "reason", json_object_new_string(ew_evidence_name(i)));
		json_object_object_add(r, "action", json_object_new_string(pol_names[c.policy[i] % 3]));
		json_object_object_add(r, "flows", json_object_new_uint64(counts[i]));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "reasons", arr);
	json_object_object_add(o, "flows_flagged", json_object_new_uint64(counts[EW_EV_MAX]));
	th = json_object_new_object();
	for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++)
		json_object_object_add(th, thresholds[i].name,
				       json_object_new_uint64(thr_get(&c, &thresholds[i])));
	json_object_object_add(o, "thresholds", th);
	ew_json_print(o);
	return 0;
fail:
	free(vals);
	return 1;
}

int cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = { EW_COMMON_LONGOPTS, {} };
	struct ew_detect_cfg c;
	const char *sub;
	int ch;

	while ((ch = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if (!ew_common_opt(ch, usage))
			ew_usage_error(usage, "bad option");
	if (optind >= argc)
		ew_usage_error(usage, "which subcommand?");
	sub = argv[optind++];
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	if (!strcmp(sub, "list")) {
		if (optind != argc)
			ew_usage_error(usage, "list takes no arguments");
		return policy_list();
	}
	if (!strcmp(sub, "set")) {
		int r, p = -1;

		if (argc - optind != 2)
			ew_usage_error(usage, "set REASON drop|flag|off");
		r = ew_evidence_parse(argv[optind]);
		if (r <= 0) {
			ew_err("unknown reason '%s' (relay_rtt, tunnel_mss, stack_mismatch, conn_rate, fanout)",
			       argv[optind]);
			return 1;
		}
		for (int i = 0; i < 3; i++)
			if (!strcmp(argv[optind + 1], pol_names[i]))
				p = i;
		if (p < 0) {
			ew_err("unknown action '%s' (drop, flag, off)", argv[optind + 1]);
			return 1;
		}
		if (ew_detect_cfg_read(&c))
			return 1;
		c.policy[r] = p;
		if (ew_detect_cfg_write(&c) || ew_rules_changed())
			return 1;
		if (!ew_g.json)
			printf("%s: %s\n", argv[optind], pol_names[p]);
		return 0;
	}
	if (!strcmp(sub, "threshold")) {
		const struct thr *t = NULL;
		unsigned long v;
		char *end;

		if (argc - optind != 2)
			ew_usage_error(usage, "threshold NAME VALUE");
		for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++)
			if (!strcmp(argv[optind], thresholds[i].name))
				t = &thresholds[i];
		if (!t) {
			ew_err("unknown threshold '%s' (see --help)", argv[optind]);
			return 1;
		}
		errno = 0;
		v = strtoul(argv[optind + 1], &end, 10);
		if (errno || *end || end == argv[optind + 1] || v > t->max) {
			ew_err("bad value '%s' for %s (0..%lu)", argv[optind + 1], t->name, t->max);
			return 1;
		}
		if (ew_detect_cfg_read(&c))
			return 1;
		thr_set(&c, t, v);
		if (ew_detect_cfg_write(&c))
			return 1;
		if (!ew_g.json)
			printf("%s: %lu\n", t->name, v);
		return 0;
	}
	ew_usage_error(usage, "unknown subcommand '%s'", sub);
	return 1;
}
