// SPDX-License-Identifier: BSD-2-Clause
/* edgeward: the command table and dispatch. One cmd_<name>.c per command. */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <bpf/libbpf.h>
#include "edgeward.h"



static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "attach", cmd_attach, "attach IFACE [--mode native|generic] [--monitor]: XDP ingress + TC egress" },
	{ "detach", cmd_detach, "detach IFACE: remove edgeward from IFACE (the last one removes all pins)" },
	{ "status", cmd_status, "status: attached interfaces, pins, ABI, table sizes" },
	{ "block", cmd_block, "block add|del|list [PREFIX...]: source-prefix block list" },
	{ "stats", cmd_stats, "stats: packets and bytes by hook, reason and action" },
	{ "fp", cmd_fp, "fp add|del|list ja4|ja3 VALUE, fp ports, fp hello: TLS fingerprint rules" },
	{ "flows", cmd_flows, "flows [--top N]: the flow table" },
	{ "policy", cmd_policy, "policy list|set REASON drop|flag|off|threshold NAME VALUE: detector policy" },
	{ "fingerprints", cmd_fingerprints, "fingerprints [--top N]: JA4 / TCP fingerprints by distinct sources" },
	{ "osdb", cmd_osdb, "osdb load [FILE...]|tls-os FILE|list: p0f OS signatures, JA4 -> OS family" },
	{ "feed", cmd_feed, "feed load|list|del: threat feeds (Spamhaus, FireHOL, Tor, ipsum, AWS, GCP...)" },
	{ "watch", cmd_watch, "watch [--type T]: data-path events (hellos, verdicts, detector hits) as lines" },
	{ "lookup", cmd_lookup, "lookup CLIENT:PORT SERVER:PORT: one connection's counters, fingerprints, verdict" },
	{ "daemon", cmd_daemon, "daemon --config FILE: attach, load rules, serve /metrics, log events, reload on change" },
	{ "replay", cmd_replay, "replay FILE [--block P] [--fp R]: a capture through the data path, per flow" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: edgeward COMMAND [OPTIONS]\n\n"
		   "Classifies traffic on API front-end NICs with XDP and TC eBPF programs.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\ncommon options (every command):\n"
		   "  -j, --json         machine-readable JSON output\n"
		   "  -p, --pretty       pretty-printed JSON (implies --json)\n"
		   "  --pin-dir DIR      pin directory (default " EW_DEFAULT_PIN_DIR ")\n"
		   "  -h, --help         help for the command\n\n"
		   "`edgeward COMMAND --help` describes each command.\n");
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("EW_DEBUG"))
		return 0;
	if (level == LIBBPF_INFO && !getenv("EW_DEBUG"))
		return 0;
	/* bpf_tc_hook_create() on an existing clsact: expected, handled. */
	if (!getenv("EW_DEBUG") && strstr(fmt, "Kernel error message"))
		return 0;
	/* The verifier's log runs to megabytes: the caller's error says EW_DEBUG=1 shows it. */
	if (!getenv("EW_DEBUG") && strstr(fmt, "PROG LOAD LOG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	const char *name;

	libbpf_set_print(libbpf_print);
	if (getenv("EDGEWARD_PIN_DIR"))
		ew_g.pin_dir = getenv("EDGEWARD_PIN_DIR");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	name = argv[1];
	if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name))
			continue;
		ew_g.cmd = commands[i].name;
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "edgeward: unknown command '%s'\n\n", name);
	usage(stderr);
	return 2;
}
