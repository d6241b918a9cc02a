// SPDX-License-Identifier: BSD-2-Clause
/* edgeward replay FILE: a capture through the data path, one result per flow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward replay FILE [-j] [--monitor] [--block PREFIX[=ACTION]]...\n"
	"                            [--block-file FILE] [--fp ja4|ja3:VALUE=ACTION]...\n"
	"\n"
	"Runs every packet of a pcap or pcapng capture, in capture order, through the\n"
	"same compiled data path that `attach` loads, with private maps (live pins are\n"
	"never touched) and the capture's timestamps as the clock: client -> server\n"
	"packets through XDP, server -> client packets through TC egress. The side that\n"
	"sent a flow's first SYN is its client (the receiver of a SYN-ACK if the SYN is\n"
	"missing); without either, the side not on a well-known server port (443, 80,\n"
	"8443, 8080, 853, 4433, ...), else the side with the higher port. Prints one\n"
	"result per flow: JA4, JA3, SNI, ALPN, verdict and reasons as the kernel found\n"
	"them, and packets/bytes each way as captured. Link types: Ethernet, Linux\n"
	"cooked (SLL, SLL2), raw IP, null/loopback. Needs BPF privileges, no interface.\n"
	"\n"
	"  -j, --json               one JSON object per flow and line (null: not seen)\n"
	"  --monitor                drops become would_drop, as `attach --monitor`\n"
	"  --block PREFIX[=ACTION]  source-prefix entry (ACTION drop|flag|allow, default drop)\n"
	"  --block-file FILE        entries one per line, PREFIX[=ACTION], # comments\n"
	"  --fp ja4|ja3:VALUE[=ACTION]  fingerprint rule, as `edgeward fp add` (JA4, its a_b\n"
	"                           part, or JA3; ACTION default drop)\n";

/* Rules from the command line and files, parsed before anything is loaded. */
struct rule {
	bool fp;	     /* a fingerprint rule (k), else a prefix (p) */
	struct ew_prefix p;
	struct ew_fp_key k;
	int action;
};
struct rules {
	struct rule *v;
	int n;
};

static struct rule *rule_add(struct rules *ru, int action)
{
	struct rule *v = realloc(ru->v, (ru->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	ru->v = v;
	memset(&v[ru->n], 0, sizeof(*v));
	v[ru->n].action = action;
	return &v[ru->n++];
}

/* "ja4|ja3:VALUE[=ACTION]", as `edgeward fp add` takes them. */
static int add_fp(struct rules *ru, const char *spec)
{
	char kind[8], val[64], err[256];
	const char *colon = strchr(spec, ':'), *eq = strrchr(spec, '=');
	struct ew_fp_key k;
	struct rule *r;
	int action = EW_A_DROP;

	if (!colon || (size_t)(colon - spec) >= sizeof(kind) || (eq && eq < colon) ||
	    (size_t)((eq ? eq : spec + strlen(spec)) - colon - 1) >= sizeof(val)) {
		ew_err("--fp '%s': expected ja4:VALUE[=ACTION] or ja3:VALUE[=ACTION]", spec);
		return -1;
	}
	snprintf(kind, sizeof(kind), "%.*s", (int)(colon - spec), spec);
	snprintf(val, sizeof(val), "%.*s", (int)((eq ? eq : spec + strlen(spec)) - colon - 1), colon + 1);
	if (eq && (action = ew_action_parse(eq + 1)) < 0) {
		ew_err("--fp '%s': action must be drop, flag or allow, not '%s'", spec, eq + 1);
		return -1;
	}
	if (ew_fp_key_parse(kind, val, &k, err, sizeof(err))) {
		ew_err("--fp '%s': %s", spec, err);
		return -1;
	}
	if (!(r = rule_add(ru, action)))
		return -1;
	r->fp = true;
	r->k = k;
	return 0;
}

static int add_block(struct rules *ru, const char *spec, const char *where)
{
	struct ew_prefix p;
	char err[256], buf[64];
	bool cleared;
	struct rule *r;
	int action;

	if (ew_block_spec_parse(spec, &p, &action, &cleared, err, sizeof(err))) {
		ew_err("%s%s%s", where ? where : "", where ? ": " : "", err);
		return -1;
	}
	if (cleared) {
		ew_prefix_fmt(&p, buf, sizeof(buf));
		ew_warn("%s%s'%s' has host bits set: using %s", where ? where : "", where ? ": " : "", spec, buf);
	}
	if (!(r = rule_add(ru, action)))
		return -1;
	r->p = p;
	return 0;
}

/* Write the rules into the replay's private maps. */
static int load_rules(struct ew_replay *r, const struct rules *ru)
{
	int fd4 = ew_replay_map_fd(r, "ew_pfx4"), fd6 = ew_replay_map_fd(r, "ew_pfx6");
	int fdfp = ew_replay_map_fd(r, "ew_fprules");
	char buf[64];

	for (int i = 0; i < ru->n; i++) {
		const struct rule *u = &ru->v[i];
		struct ew_fp_val v = { .action = u->action, .label = "replay" };

		if (u->fp ? bpf_map_update_elem(fdfp, &u->k, &v, BPF_ANY) :
			    ew_pfx_put(fd4, fd6, &u->p, u->action, "replay")) {
			if (u->fp)
				snprintf(buf, sizeof(buf), "%.36s", u->k.val);
			else
				ew_prefix_fmt(&u->p, buf, sizeof(buf));
			ew_err("adding %s: %s", buf, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int add_block_file(struct rules *ru, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], where[600];
	int lineno = 0, bad = 0;

	if (!f) {
		ew_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *e;

		lineno++;
		if ((e = strchr(s, '#')))
			*e = 0;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		if (!*s)
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (add_block(ru, s, where))
			bad++;
	}
	fclose(f);
	return bad ? -1 : 0;
}

static json_object *flow_json(const struct ew_replay_flow *f)
{
	const struct ew_flow_key *k = &f->key;
	const struct ew_tls_fp *t = &f->conn.tls;
	json_object *o = json_object_new_object(), *reasons = json_object_new_array();
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	ew_fmt_addr(src, sizeof(src), k->saddr, k->family);
	ew_fmt_addr(dst, sizeof(dst), k->daddr, k->family);
	if (f->reason != EW_R_NONE)
		json_object_array_add(reasons, json_object_new_string(ew_reason_name(f->reason)));
	for (unsigned int b = 0; f->has_conn && ew_evidence_name(b); b++)
		if ((f->conn.reasons & (1u << b)) && strcmp(ew_evidence_name(b), ew_reason_name(f->reason)))
			json_object_array_add(reasons, json_object_new_string(ew_evidence_name(b)));
	json_object_object_add(o, "src", json_object_new_string(src));
	json_object_object_add(o, "sport", json_object_new_int(ntohs(k->sport)));
	json_object_object_add(o, "dst", json_object_new_string(dst));
	json_object_object_add(o, "dport", json_object_new_int(ntohs(k->dport)));
	json_object_object_add(o, "proto", json_object_new_string(k->proto == 6 ? "tcp" : "udp"));
	json_object_object_add(o, "client_by", json_object_new_string(f->by_syn ? "syn" : "ports"));
	json_object_object_add(o, "ja4", f->has_conn ? ew_json_strn(t->ja4, sizeof(t->ja4)) : NULL);
	json_object_object_add(o, "ja3", f->has_conn ? ew_json_strn(t->ja3, sizeof(t->ja3)) : NULL);
	json_object_object_add(o, "sni", f->has_conn ? ew_json_strn(t->sni, sizeof(t->sni)) : NULL);
	json_object_object_add(o, "alpn", f->has_conn ? ew_json_strn(t->alpn, sizeof(t->alpn)) : NULL);
	ew_conn_detect_json(o, f->has_conn ? &f->conn : NULL);
	json_object_object_add(o, "verdict", json_object_new_string(ew_action_name(f->verdict)));
	json_object_object_add(o, "reasons", reasons);
	json_object_object_add(o, "packets_in", json_object_new_int64(f->packets[EW_DIR_C2S]));
	json_object_object_add(o, "bytes_in", json_object_new_int64(f->bytes[EW_DIR_C2S]));
	json_object_object_add(o, "packets_out", json_object_new_int64(f->packets[EW_DIR_S2C]));
	json_object_object_add(o, "bytes_out", json_object_new_int64(f->bytes[EW_DIR_S2C]));
	/* The kernel's view of the flow's life, on the capture's clock. */
	json_object_object_add(o, "duration_us",
			       f->has_flow ? json_object_new_int64((f->flow.last_ns - f->flow.first_ns) / 1000) : NULL);
	return o;
}

static void print_table(json_object **rows, size_t n)
{
	printf("%-24s %-24s %-5s %11s %15s %-10s %-14s %-20s %-9s %-38s %s\n", "CLIENT", "SERVER", "PROTO",
	       "PKTS IN/OUT", "BYTES IN/OUT", "VERDICT", "REASONS", "SNI", "ALPN", "JA4", "JA3");
	for (size_t i = 0; i < n; i++) {
		json_object *o = rows[i], *rs;
		char c[64], s[64], p[32], b[48], reasons[64] = "";

		const char *v6 = strchr(ew_json_field(o, "src"), ':') ? "[" : "";

		snprintf(c, sizeof(c), "%s%s%s:%s", v6, ew_json_field(o, "src"), *v6 ? "]" : "", ew_json_field(o, "sport"));
		snprintf(s, sizeof(s), "%s%s%s:%s", v6, ew_json_field(o, "dst"), *v6 ? "]" : "", ew_json_field(o, "dport"));
		snprintf(p, sizeof(p), "%s/%s", ew_json_field(o, "packets_in"), ew_json_field(o, "packets_out"));
		snprintf(b, sizeof(b), "%s/%s", ew_json_field(o, "bytes_in"), ew_json_field(o, "bytes_out"));
		json_object_object_get_ex(o, "reasons", &rs);
		for (size_t j = 0; j < json_object_array_length(rs); j++) {
			size_t l = strlen(reasons);

			snprintf(reasons + l, sizeof(reasons) - l, "%s%s", j ? "," : "",
				 json_object_get_string(json_object_array_get_idx(rs, j)));
		}
		printf("%-24s %-24s %-5s %11s %15s %-10s %-14s %-20s %-9s %-38s %s\n", c, s, ew_json_field(o, "proto"), p,
		       b, ew_json_field(o, "verdict"), *reasons ? reasons : "-", ew_json_field(o, "sni"), ew_json_field(o, "alpn"),
		       ew_json_field(o, "ja4"), ew_json_field(o, "ja3"));
	}
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "monitor", no_argument, NULL, 'm' },
		{ "block", required_argument, NULL, 'b' },
		{ "block-file", required_argument, NULL, 'B' },
		{ "fp", required_argument, NULL, 'f' },
		EW_COMMON_LONGOPTS,
		{},
	};
	const char **blocks = calloc(argc, sizeof(char *)), **block_files = calloc(argc, sizeof(char *));
	const char **fps = calloc(argc, sizeof(char *));
	int nblocks = 0, nblock_files = 0, nfps = 0, c, ret = 1;
	struct ew_replay_flow *flows;
	struct ew_replay *r = NULL;
	struct rules ru = {};
	bool monitor = false;
	json_object **rows = NULL;
	const char *path;
	size_t n = 0;
	long npkts;

	if (!blocks || !block_files || !fps)
		return 1;
	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		switch (c) {
		case 'm':
			monitor = true;
			break;
		case 'b':
			blocks[nblocks++] = optarg;
			break;
		case 'B':
			block_files[nblock_files++] = optarg;
			break;
		case 'f':
			fps[nfps++] = optarg;
			break;
		default:
			ew_usage_error(usage, "bad option");
		}
	}
	if (optind >= argc)
		ew_usage_error(usage, "which capture file?");
	if (optind + 1 < argc)
		ew_usage_error(usage, "one capture file at a time, not '%s'", argv[optind + 1]);
	path = argv[optind];
	if (ew_require_caps(EW_NEED_BPF))
		goto out;

	{
		int bad = 0;

		for (int i = 0; i < nblocks; i++)
			bad += add_block(&ru, blocks[i], NULL) != 0;
		for (int i = 0; i < nblock_files; i++)
			bad += add_block_file(&ru, block_files[i]) != 0;
		for (int i = 0; i < nfps; i++)
			bad += add_fp(&ru, fps[i]) != 0;
		if (bad)
			goto out;
	}
	/* A bad file fails here, before the (slow) load of the data path. */
	npkts = ew_replay_scan(path);
	if (npkts < 0)
		goto out;
	r = ew_replay_new(monitor, npkts);
	if (!r || load_rules(r, &ru))
		goto out;
	if (ew_replay_file(r, path))
		goto out;

	n = ew_replay_flows(r, &flows);
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		goto out;
	for (size_t i = 0; i < n; i++)
		rows[i] = flow_json(&flows[i]);
	if (ew_g.json) {
		for (size_t i = 0; i < n; i++) {
			ew_json_print(rows[i]);
			rows[i] = NULL;
		}
	} else {
		uint64_t packets, not_flow, clipped;

		print_table(rows, n);
		ew_replay_counts(r, &packets, &not_flow, &clipped);
		printf("%s: %lu packets, %zu flows, %lu packets outside any TCP/UDP flow", path,
		       (unsigned long)packets, n, (unsigned long)not_flow);
		if (clipped)
			printf(", %lu frames clipped to fit BPF_PROG_TEST_RUN", (unsigned long)clipped);
		printf("\n");
	}
	ret = 0;
out:
	for (size_t i = 0; rows && i < n; i++)
		json_object_put(rows[i]);
	free(rows);
	ew_replay_free(r);
	free(ru.v);
	free(blocks);
	free(block_files);
	free(fps);
	return ret;
}
