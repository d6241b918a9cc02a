// SPDX-License-Identifier: BSD-2-Clause
/* edgeward attach IFACE... */
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward attach IFACE... [--mode native|generic] [--monitor] [--flows N]\n"
	"\n"
	"Attach the XDP ingress and TC egress programs to each IFACE. Maps and links are\n"
	"pinned, so the data path keeps running after the command exits; all interfaces\n"
	"share one set of maps. Attaching an attached interface again replaces its\n"
	"programs in place (to switch --monitor on or off) with no unfiltered moment.\n"
	"\n"
	"  --mode native|generic  XDP mode (default native)\n"
	"  --monitor              count drops as would_drop and pass them\n"
	"  --flows N              flow table size at the first attach (default 262144)\n";

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "monitor", no_argument, NULL, 'M' },
		{ "flows", required_argument, NULL, 'F' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct ew_attach_opts o = { .xdp_mode = 1 };
	char *end;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "native"))
				o.xdp_mode = 1;
			else if (!strcmp(optarg, "generic"))
				o.xdp_mode = 2;
			else
				ew_usage_error(usage, "--mode must be native or generic, not '%s'", optarg);
			break;
		case 'M':
			o.monitor = true;
			break;
		case 'F':
			o.flows_max = strtoul(optarg, &end, 10);
			if (*end || !o.flows_max || o.flows_max > (1u << 26))
				ew_usage_error(usage, "--flows must be 1..%u, not '%s'", 1u << 26, optarg);
			break;
		default:
			ew_usage_error(usage, "bad option");
		}
	}
	if (optind >= argc)
		ew_usage_error(usage, "which interface?");
	if (ew_require_caps(EW_NEED_BPF | EW_NEED_NET))
		return 1;
	/* A misspelt name must not leave the interfaces before it attached. */
	for (int i = optind; i < argc; i++) {
		if (!if_nametoindex(argv[i])) {
			ew_err("no interface named '%s': nothing attached", argv[i]);
			return 1;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (ew_attach(argv[i], &o)) {
			ret = 1;
			break;
		}
		if (!ew_g.json)
			printf("attached to %s (%s%s)\n", argv[i], o.xdp_mode == 2 ? "generic" : "native",
			       o.monitor ? ", monitor" : "");
	}
	return ret;
}
