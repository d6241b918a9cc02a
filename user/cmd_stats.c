// SPDX-License-Identifier: BSD-2-Clause
/* edgeward stats: counters by hook, reason and action, summed over CPUs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward stats [-j]\n"
	"\n"
	"Packets and bytes by hook (xdp ingress, tc egress), reason and action, summed\n"
	"over CPUs; flow-table events. Only non-zero rows are shown.\n";

static const char *const counter_names[EW_COUNTER_MAX] = {
	[EW_C_FLOW_NEW] = "flows_created",
	[EW_C_FLOW_RACE] = "flow_create_races",
	[EW_C_PFX_LOOKUP] = "prefix_lookups",
};

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = { EW_COMMON_LONGOPTS, {} };
	int ncpus = libbpf_num_possible_cpus();
	struct ew_ctr *pc = calloc(ncpus, sizeof(*pc));
	__u64 *pv = calloc(ncpus, sizeof(*pv));
	json_object *root, *rows, *ctrs;
	struct ew_ctr tot[EW_HOOK_MAX] = {};
	int c, fd, fdc, fdf;
	long flows, created = 0;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if (!ew_common_opt(c, usage))
			ew_usage_error(usage, "bad option");
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	fd = ew_map_open("ew_stats");
	fdc = fd < 0 ? -1 : ew_map_open("ew_counters");
	fdf = fdc < 0 ? -1 : ew_map_open("ew_flows");
	if (fd < 0 || fdc < 0 || fdf < 0)
		return 1;

	root = json_object_new_object();
	rows = json_object_new_array();
	for (__u32 h = 0; h < EW_HOOK_MAX; h++) {
		for (__u32 r = 0; r < EW_REASON_MAX; r++) {
			for (__u32 a = 0; a < EW_ACTION_MAX; a++) {
				__u32 idx = EW_STAT_IDX(h, r, a);
				struct ew_ctr s = {};
				json_object *o;

				if (bpf_map_lookup_elem(fd, &idx, pc))
					continue;
				for (int i = 0; i < ncpus; i++) {
					s.packets += pc[i].packets;
					s.bytes += pc[i].bytes;
				}
				if (!s.packets)
					continue;
				tot[h].packets += s.packets;
				tot[h].bytes += s.bytes;
				o = json_object_new_object();
				json_object_object_add(o, "hook", json_object_new_string(ew_hook_name(h)));
				json_object_object_add(o, "reason", json_object_new_string(ew_reason_name(r)));
				json_object_object_add(o, "action", json_object_new_string(ew_action_name(a)));
				json_object_object_add(o, "packets", json_object_new_int64(s.packets));
				json_object_object_add(o, "bytes", json_object_new_int64(s.bytes));
				json_object_array_add(rows, o);
			}
		}
	}
	json_object_object_add(root, "counters", rows);
	for (int h = 0; h < EW_HOOK_MAX; h++) {
		char name[32];
		json_object *t = json_object_new_object();

		json_object_object_add(t, "packets", json_object_new_int64(tot[h].packets));
		json_object_object_add(t, "bytes", json_object_new_int64(tot[h].bytes));
		snprintf(name, sizeof(name), "total_%s", ew_hook_name(h));
		json_object_object_add(root, name, t);
	}
	ctrs = json_object_new_object();
	for (__u32 i = 0; i < EW_COUNTER_MAX; i++) {
		__u64 s = 0;

		if (!counter_names[i] || bpf_map_lookup_elem(fdc, &i, pv))
			continue;
		for (int cpu = 0; cpu < ncpus; cpu++)
			s += pv[cpu];
		if (i == EW_C_FLOW_NEW)
			created = s;
		json_object_object_add(ctrs, counter_names[i], json_object_new_int64(s));
	}
	flows = ew_map_count(fdf);
	json_object_object_add(ctrs, "flows_live", json_object_new_int64(flows));
	/* Entries are never deleted but by LRU eviction: created = live + evicted. */
	json_object_object_add(ctrs, "flows_evicted", json_object_new_int64(created > flows ? created - flows : 0));
	json_object_object_add(root, "events", ctrs);
	close(fd);
	close(fdc);
	close(fdf);
	free(pc);
	free(pv);

	if (ew_g.json) {
		ew_json_print(root);
		return 0;
	}
	printf("%-5s %-16s %-10s %14s %16s\n", "HOOK", "REASON", "ACTION", "PACKETS", "BYTES");
	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		json_object *o = json_object_array_get_idx(rows, i), *v[5];
		static const char *const f[] = { "hook", "reason", "action", "packets", "bytes" };

		for (int j = 0; j < 5; j++)
			json_object_object_get_ex(o, f[j], &v[j]);
		printf("%-5s %-16s %-10s %14ld %16ld\n", json_object_get_string(v[0]),
		       json_object_get_string(v[1]), json_object_get_string(v[2]),
		       (long)json_object_get_int64(v[3]), (long)json_object_get_int64(v[4]));
	}
	printf("\n");
	json_object_object_foreach(ctrs, k, v) printf("%-20s %ld\n", k, (long)json_object_get_int64(v));
	json_object_put(root);
	return 0;
}
