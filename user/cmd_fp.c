// SPDX-License-Identifier: BSD-2-Clause
/*
 * edgeward fp: TLS fingerprint rules (ew_fprules), the ports whose hellos are
 * examined (ew_tls_ports), and the fingerprint of a hello given as hex.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward fp add ja4|ja3 VALUE... [--action drop|flag|allow] [--label TEXT]\n"
	"       edgeward fp del ja4|ja3 VALUE...\n"
	"       edgeward fp add|del tcp SIG... | os LABEL... [--action drop|flag|allow] [--label TEXT]\n"
	"       edgeward fp list [-j]\n"
	"       edgeward fp ports add|del PORT...\n"
	"       edgeward fp ports list [-j]\n"
	"       edgeward fp hello [FILE] [-j]\n"
	"\n"
	"SYN rules: tcp SIG is an exact p0f signature (raw_sig '4:57+7:0:1460:...' or\n"
	"'4:64:0:1460:...' as edgeward flows and fingerprints print them); os LABEL is\n"
	"a p0f OS label as edgeward osdb list prints it ('Linux 2.2.x-3.x').\n"
	"Rules on the TLS ClientHello fingerprint of each TCP connection. A ja4 VALUE\n"
	"is a full JA4 (t13d1516h2_8daaf6152771_e5627efa2ab1) or its a_b part\n"
	"(t13d1516h2_8daaf6152771), which matches any extension hash; a ja3 VALUE is\n"
	"the 32-digit MD5. allow wins over drop, drop over flag. A drop sticks to the\n"
	"flow: the hello and every later client packet of the connection are dropped\n"
	"(counted as would_drop under --monitor). Rules apply to new hellos and, after\n"
	"every change, to the connections already fingerprinted. Bad input changes\n"
	"nothing.\n"
	"\n"
	"`ports` restricts which server ports' first client data is examined; with no\n"
	"port listed, every port is. `hello` prints the JA4 and JA3 of a TLS record\n"
	"(hex, whitespace ignored) read from FILE or standard input, computed in user\n"
	"space; it needs no privileges.\n"
	"\n"
	"  --action drop|flag|allow  what a match does (default drop)\n"
	"  --label TEXT              note kept with the rule (up to 31 bytes)\n";

struct rule {
	struct ew_fp_key k;
	struct ew_fp_val old;
	bool had_old;
};

static const char *kind_name(int kind)
{
	return kind == EW_FR_JA3 ? "ja3" : "ja4";
}

/* Parse every value first: one bad value fails the whole command. */
static struct rule *parse_rules(const char *kind, int n, char **vals)
{
	struct rule *rs = calloc(n, sizeof(*rs));
	int bad = 0;

	if (!rs)
		return NULL;
	for (int i = 0; i < n; i++) {
		char err[256];

		if (ew_fp_key_parse(kind, vals[i], &rs[i].k, err, sizeof(err))) {
			ew_err("%s", err);
			bad++;
		}
	}
	if (bad) {
		ew_err("%d bad fingerprint%s: nothing changed", bad, bad > 1 ? "s" : "");
		free(rs);
		return NULL;
	}
	return rs;
}

static int fp_add(int fd, const char *kind, int n, char **vals, int action, const char *label)
{
	struct rule *rs = parse_rules(kind, n, vals);
	int i, ret = 0;

	if (!rs)
		return 1;
	for (i = 0; i < n; i++) {
		struct ew_fp_val v = { .action = action };

		rs[i].had_old = bpf_map_lookup_elem(fd, &rs[i].k, &rs[i].old) == 0;
		if (rs[i].had_old)
			v.hits = rs[i].old.hits;
		snprintf(v.label, sizeof(v.label), "%s", label ? label : "");
		if (bpf_map_update_elem(fd, &rs[i].k, &v, BPF_ANY)) {
			ew_err("adding %s %s: %s; undoing the %d added before it", kind, vals[i], strerror(errno), i);
			ret = 1;
			break;
		}
	}
	if (ret) {
		while (i-- > 0) {
			if (rs[i].had_old)
				bpf_map_update_elem(fd, &rs[i].k, &rs[i].old, BPF_ANY);
			else
				bpf_map_delete_elem(fd, &rs[i].k);
		}
	}
	free(rs);
	if (ew_rules_changed())
		return 1;
	if (!ret && !ew_g.json)
		printf("%d %s rule%s added (%s)\n", n, kind, n > 1 ? "s" : "", ew_action_name(action));
	return ret;
}

static int fp_del(int fd, const char *kind, int n, char **vals)
{
	struct rule *rs = parse_rules(kind, n, vals);
	int missing = 0;

	if (!rs)
		return 1;
	for (int i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &rs[i].k, &rs[i].old)) {
			ew_err("no %s rule for '%s'", kind, vals[i]);
			missing++;
		}
	}
	if (missing) {
		ew_err("nothing deleted");
		free(rs);
		return 1;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &rs[i].k);
	free(rs);
	if (ew_rules_changed())
		return 1;
	if (!ew_g.json)
		printf("%d %s rule%s deleted\n", n, kind, n > 1 ? "s" : "");
	return 0;
}

static int fp_list(int fd)
{
	json_object *arr = json_object_new_array();
	struct ew_fp_key k, next;
	struct ew_fp_val v;
	void *prev = NULL;
	int plane = ew_fp_plane();

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		char val[sizeof(k.val) + 1];

		k = next;
		prev = &k;
		/* A feed's rule as the data path sees it: mid-reload, in the plane in force. */
		if (bpf_map_lookup_elem(fd, &k, &v) || !ew_fp_val_in_force(&v, plane, &v.action))
			continue;
		snprintf(val, sizeof(val), "%.*s", (int)sizeof(k.val), k.val);
		json_object_array_add(arr, ew_fp_rule_json(kind_name(k.kind), k.kind == EW_FR_JA4_AB ? "a_b" : "full", val, &v));
	}
	ew_tcprule_list_json(arr);
	if (ew_g.json) {
		ew_json_print(arr);
		return 0;
	}
	printf("%-4s %-37s %-6s %12s  %s\n", "KIND", "FINGERPRINT", "ACTION", "HITS", "LABEL");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		printf("%-4s %-37s %-6s %12s  %s\n", ew_json_field(o, "kind"), ew_json_field(o, "value"),
		       ew_json_field(o, "action"), ew_json_field(o, "hits"), ew_json_field(o, "label"));
	}
	json_object_put(arr);
	return 0;
}

static int parse_ports(int n, char **args, __u16 *ports)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		char *end;
		long p = strtol(args[i], &end, 10);

		if (*end || end == args[i] || p < 1 || p > 65535) {
			ew_err("'%s' is not a port (1-65535)", args[i]);
			bad++;
		}
		ports[i] = p;
	}
	if (bad)
		ew_err("nothing changed");
	return bad ? -1 : 0;
}

/* Port 0 is the marker that the set is in use: without it every port is examined. */
static int ports_cmd(int fd, const char *sub, int n, char **args)
{
	__u16 *ports = calloc(n + 1, sizeof(*ports)), k, next, zero = 0;
	__u8 one = 1;
	void *prev = NULL;
	int ret = 0, count = 0;

	if (!ports)
		return 1;
	if (!strcmp(sub, "list")) {
		json_object *arr = json_object_new_array();

		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			k = next;
			prev = &k;
			if (k)
				json_object_array_add(arr, json_object_new_int(k));
		}
		free(ports);
		if (ew_g.json) {
			ew_json_print(arr);
			return 0;
		}
		if (!json_object_array_length(arr))
			printf("all ports\n");
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			printf("%d\n", json_object_get_int(json_object_array_get_idx(arr, i)));
		json_object_put(arr);
		return 0;
	}
	if (parse_ports(n, args, ports)) {
		free(ports);
		return 1;
	}
	if (!strcmp(sub, "add")) {
		for (int i = 0; i < n && !ret; i++)
			if (bpf_map_update_elem(fd, &ports[i], &one, BPF_ANY)) {
				ew_err("adding port %u: %s", ports[i], strerror(errno));
				ret = 1;
			}
		if (!ret && bpf_map_update_elem(fd, &zero, &one, BPF_ANY)) {
			ew_err("enabling the port set: %s", strerror(errno));
			ret = 1;
		}
	} else {
		for (int i = 0; i < n; i++)
			if (bpf_map_lookup_elem(fd, &ports[i], &one)) {
				ew_err("port %u is not in the set", ports[i]);
				ret = 1;
			}
		for (int i = 0; i < n && !ret; i++)
			bpf_map_delete_elem(fd, &ports[i]);
	}
	/* The last port gone: drop the marker, every port is examined again. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		count += k != 0;
	}
	if (!count)
		bpf_map_delete_elem(fd, &zero);
	free(ports);
	if (!ret && !ew_g.json)
		printf("%d port%s %s\n", n, n > 1 ? "s" : "", !strcmp(sub, "add") ? "added" : "deleted");
	return ret;
}

static int fp_hello(const char *path)
{
	FILE *f = path ? fopen(path, "r") : stdin;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	struct ew_ja4 o;
	int c, hi = -1, line = 1, st;
	json_object *j;

	if (!f) {
		ew_err("%s: %s", path, strerror(errno));
		return 1;
	}
	while ((c = fgetc(f)) != EOF) {
		int v;

		if (c == '\n')
			line++;
		if (isspace(c) || c == ':')
			continue;
		if (!isxdigit(c)) {
			ew_err("%s:%d: '%c' is not a hex digit", path ? path : "stdin", line, c);
			goto fail;
		}
		v = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!nb)
				goto fail;
			buf = nb;
		}
		buf[n++] = hi << 4 | v;
		hi = -1;
	}
	if (hi >= 0) {
		ew_err("%s: odd number of hex digits", path ? path : "stdin");
		goto fail;
	}
	st = ew_ja4_compute(buf, n, &o);
	if (st != EW_TLS_OK) {
		ew_err("%s: %s", path ? path : "stdin",
		       st == EW_TLS_NONE ? "not a TLS handshake record holding a ClientHello"
					 : "malformed ClientHello (a length overruns its container)");
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	free(buf);
	if (!ew_g.json) {
		printf("ja4   %s\nja4_r %s\nja3   %s\nja3_r %s\nsni   %s\nalpn  %s\n", o.ja4, o.ja4_r, o.ja3,
		       o.ja3_r, o.sni, o.alpn);
		return 0;
	}
	j = json_object_new_object();
	json_object_object_add(j, "ja4", json_object_new_string(o.ja4));
	json_object_object_add(j, "ja4_r", json_object_new_string(o.ja4_r));
	json_object_object_add(j, "ja3", json_object_new_string(o.ja3));
	json_object_object_add(j, "ja3_r", json_object_new_string(o.ja3_r));
	json_object_object_add(j, "sni", ew_json_strn(o.sni, sizeof(o.sni)));
	json_object_object_add(j, "alpn", ew_json_strn(o.alpn, sizeof(o.alpn)));
	ew_json_print(j);
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return 1;
}

int cmd_fp(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "action", required_argument, NULL, 'a' },
		{ "label", required_argument, NULL, 'l' },
		EW_COMMON_LONGOPTS,
		{},
	};
	const char *sub, *kind = NULL, *label = NULL;
	int c, fd, ret, action = EW_A_DROP;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (!ew_rule_opt(c, usage, &action, &label))
			ew_usage_error(usage, "bad option");
	}
	if (optind >= argc)
		ew_usage_error(usage, "add, del, list, ports or hello?");
	sub = argv[optind++];
	if (!strcmp(sub, "hello")) {
		if (argc - optind > 1)
			ew_usage_error(usage, "hello takes at most one FILE");
		return fp_hello(optind < argc && strcmp(argv[optind], "-") ? argv[optind] : NULL);
	}
	if (!strcmp(sub, "ports")) {
		sub = ew_rule_sub(usage, argc, argv, "ports");
		if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
			return 1;
		fd = ew_map_open("ew_tls_ports");
		if (fd < 0)
			return 1;
		ret = ports_cmd(fd, sub, argc - optind, argv + optind);
		close(fd);
		return ret;
	}
	if (strcmp(sub, "add") && strcmp(sub, "del") && strcmp(sub, "list"))
		ew_usage_error(usage, "unknown subcommand '%s'", sub);
	if (strcmp(sub, "list")) {
		if (optind >= argc)
			ew_usage_error(usage, "ja4 or ja3?");
		kind = argv[optind++];
		if (strcmp(kind, "ja4") && strcmp(kind, "ja3") && strcmp(kind, "tcp") && strcmp(kind, "os"))
			ew_usage_error(usage, "fingerprint kind must be ja4, ja3, tcp or os, not '%s'", kind);
		if (optind >= argc)
			ew_usage_error(usage, "which %s values?", kind);
		if (!strcmp(kind, "tcp") || !strcmp(kind, "os"))
			return ew_require_caps(EW_NEED_BPF) || ew_abi_check() ? 1 :
			       ew_tcprule_cmd(sub, kind, argc - optind, argv + optind, action, label);
	} else if (optind < argc) {
		ew_usage_error(usage, "list takes no values");
	}
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	fd = ew_map_open("ew_fprules");
	if (fd < 0)
		return 1;
	if (!strcmp(sub, "add"))
		ret = fp_add(fd, kind, argc - optind, argv + optind, action, label);
	else if (!strcmp(sub, "del"))
		ret = fp_del(fd, kind, argc - optind, argv + optind);
	else
		ret = fp_list(fd);
	close(fd);
	return ret;
}
