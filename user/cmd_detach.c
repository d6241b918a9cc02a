// SPDX-License-Identifier: BSD-2-Clause
/* edgeward detach IFACE... */
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward detach IFACE...\n"
	"\n"
	"Remove edgeward's XDP link and TC filter from each IFACE (and the clsact qdisc\n"
	"if edgeward created it). Detaching the last interface removes every pin\n"
	"edgeward created, and the pin directory.\n";

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = { EW_COMMON_LONGOPTS, {} };
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if (!ew_common_opt(c, usage))
			ew_usage_error(usage, "bad option");
	if (optind >= argc)
		ew_usage_error(usage, "which interface?");
	if (ew_require_caps(EW_NEED_BPF | EW_NEED_NET))
		return 1;
	for (int i = optind; i < argc; i++) {
		if (ew_detach(argv[i])) {
			ret = 1;
			continue;
		}
		if (!ew_g.json)
			printf("detached from %s\n", argv[i]);
	}
	return ret;
}
