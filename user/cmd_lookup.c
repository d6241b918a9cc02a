// SPDX-License-Identifier: BSD-2-Clause
/* edgeward lookup CLIENT SERVER: one connection, through libedgeward as a server would. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "edgeward.h"
#include "edgeward/lookup.h"

static const char usage[] =
	"usage: edgeward lookup CLIENT:PORT SERVER:PORT [--proto tcp|udp] [-j]\n"
	"\n"
	"What edgeward knows about one connection: the flow's packets and bytes each\n"
	"way, first and last seen, verdict and reasons, the TLS fingerprints and the\n"
	"detectors' evidence. Addresses are a.b.c.d:port or [v6]:port, the client\n"
	"first. Servers ask the same question of their own sockets with libedgeward\n"
	"(include/edgeward/lookup.h). Exits 1 when edgeward has no such connection.\n"
	"\n"
	"  --proto P   tcp (default) or udp\n";

/* "a.b.c.d:port" or "[v6]:port" into a sockaddr. */
static int parse_endpoint(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = rb - h;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = colon - s;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1 && *s != '[') {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		return 0;
	}
	return -1;
}

int cmd_lookup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "proto", required_argument, NULL, 'o' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct sockaddr_storage cl, sv;
	struct ew_lookup_result r;
	struct ew_flow_row row;
	struct ew_lookup *h;
	json_object *o;
	int c, err, proto = 6;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (c != 'o')
			ew_usage_error(usage, "bad option");
		if (!strcmp(optarg, "tcp"))
			proto = 6;
		else if (!strcmp(optarg, "udp"))
			proto = 17;
		else
			ew_usage_error(usage, "--proto must be tcp or udp, not '%s'", optarg);
	}
	if (argc - optind != 2)
		ew_usage_error(usage, "need the client and the server, ADDR:PORT each");
	if (parse_endpoint(argv[optind], &cl))
		ew_usage_error(usage, "client '%s' is not ADDR:PORT or [ADDR]:PORT", argv[optind]);
	if (parse_endpoint(argv[optind + 1], &sv))
		ew_usage_error(usage, "server '%s' is not ADDR:PORT or [ADDR]:PORT", argv[optind + 1]);
	if (cl.ss_family != sv.ss_family)
		ew_usage_error(usage, "client and server must both be IPv4 or both IPv6");
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	err = ew_lookup_open(&h, ew_g.pin_dir);
	if (err) {
		ew_err("opening the maps in %s: %s", ew_g.pin_dir, strerror(-err));
		return 1;
	}
	err = ew_lookup_addr(h, (struct sockaddr *)&cl, (struct sockaddr *)&sv, proto, &r);
	ew_lookup_close(h);
	if (err == -ENOENT) {
		ew_err("no connection %s -> %s in the flow table or the evidence", argv[optind], argv[optind + 1]);
		return 1;
	}
	if (err) {
		ew_err("lookup failed: %s", strerror(-err));
		return 1;
	}
	row.key = r.key;
	row.val = r.flow;
	o = ew_flow_json(&row, r.has_conn ? &r.conn : NULL);
	json_object_object_add(o, "in_flow_table", json_object_new_boolean(r.has_flow));
	json_object_object_add(o, "has_evidence", json_object_new_boolean(r.has_conn));
	json_object_object_add(o, "verdict", json_object_new_string(ew_action_name(r.verdict)));
	if (ew_g.json) {
		ew_json_print(o);
		return 0;
	}
	json_object_object_foreach(o, k, v) printf("%-20s %s\n", k, v ? json_object_get_string(v) : "-");
	json_object_put(o);
	return 0;
}
