// SPDX-License-Identifier: BSD-2-Clause
/* edgeward stats: every counter (user/counters.c) as a table, JSON or Prometheus text. */
#include <stdlib.h>
#include <string.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward stats [-j | --prometheus] [--per-cpu]\n"
	"\n"
	"Packets and bytes by hook (xdp ingress, tc egress), reason and action;\n"
	"data-path events (flow table, prefix lookups, event ring); block-list\n"
	"prefixes and hits by label; and, as they are loaded, per feed, rule and\n"
	"detector counters. Summed over CPUs; only non-zero packet rows are shown.\n"
	"\n"
	"  --prometheus   the Prometheus text exposition format (what the daemon serves)\n"
	"  --per-cpu      also each CPU's share, apart\n";

/* total_xdp / total_tc: packets and bytes per hook over every reason and action. */
static void add_totals(json_object *root, const struct ew_counters *c)
{
	uint64_t tot[EW_HOOK_MAX][2] = {};

	for (size_t i = 0; i < c->n; i++) {
		const struct ew_row *r = &c->rows[i];

		if (strcmp(r->g->json, "counters"))
			continue;
		for (int h = 0; h < EW_HOOK_MAX; h++) {
			if (strcmp(r->lv[0], ew_hook_name(h)))
				continue;
			tot[h][0] += r->v[0];
			tot[h][1] += r->v[1];
		}
	}
	for (int h = 0; h < EW_HOOK_MAX; h++) {
		char name[32];
		json_object *t = json_object_new_object();

		json_object_object_add(t, "packets", json_object_new_int64(tot[h][0]));
		json_object_object_add(t, "bytes", json_object_new_int64(tot[h][1]));
		snprintf(name, sizeof(name), "total_%s", ew_hook_name(h));
		json_object_object_add(root, name, t);
	}
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prometheus", no_argument, NULL, 'm' },
		{ "per-cpu", no_argument, NULL, 'c' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct ew_counters cs;
	bool prom = false, per_cpu = false;
	json_object *root;
	int c;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (c == 'm')
			prom = true;
		else if (c == 'c')
			per_cpu = true;
		else
			ew_usage_error(usage, "bad option");
	}
	if (optind < argc)
		ew_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (prom && ew_g.json)
		ew_usage_error(usage, "--prometheus and --json exclude each other");
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	if (ew_counters_read(&cs, per_cpu))
		return 1;
	if (prom) {
		ew_counters_prometheus(&cs, stdout);
	} else if (ew_g.json) {
		root = ew_counters_json(&cs);
		if (!json_object_object_get_ex(root, "counters", NULL))
			json_object_object_add(root, "counters", json_object_new_array());
		add_totals(root, &cs);
		ew_json_print(root);
	} else {
		ew_counters_table(&cs, stdout);
	}
	ew_counters_free(&cs);
	return 0;
}
