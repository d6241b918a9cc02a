// SPDX-License-Identifier: BSD-2-Clause
/* edgeward block add|del|list: the source-prefix block list (ew_pfx4, ew_pfx6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward block add PREFIX... [--action drop|flag|allow] [--label TEXT]\n"
	"       edgeward block del PREFIX...\n"
	"       edgeward block list [-j]\n"
	"\n"
	"Source-prefix block list, IPv4 and IPv6. A bare address is a /32 or /128;\n"
	"host bits are cleared with a warning. The longest matching prefix decides;\n"
	"`allow` passes, `drop` drops (counted as would_drop under --monitor), `flag`\n"
	"passes and marks the flow. Bad input changes nothing.\n"
	"\n"
	"  --action drop|flag|allow  what a match does (default drop)\n"
	"  --label TEXT              note kept with the entry (up to 31 bytes)\n";

struct entry {
	struct ew_prefix p;
	int fd;
	void *key;
	struct ew_pfx4_key k4;
	struct ew_pfx6_key k6;
	struct ew_pfx_val old;
	bool had_old;
};

static void make_key(struct entry *e, int fd4, int fd6)
{
	e->key = ew_pfx_key(&e->p, &e->k4, &e->k6);
	e->fd = e->p.family == 4 ? fd4 : fd6;
}

/* Parse every argument first: any bad one fails the whole command. */
static struct entry *parse_all(int n, char **args, int fd4, int fd6)
{
	struct entry *es = calloc(n, sizeof(*es));
	char err[256], buf[64];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		bool cleared;

		if (ew_prefix_parse(args[i], &es[i].p, &cleared, err, sizeof(err))) {
			ew_err("%s", err);
			bad++;
			continue;
		}
		if (cleared) {
			ew_prefix_fmt(&es[i].p, buf, sizeof(buf));
			ew_warn("'%s' has host bits set: using %s", args[i], buf);
		}
		make_key(&es[i], fd4, fd6);
	}
	if (bad) {
		ew_err("%d bad prefix%s: nothing changed", bad, bad > 1 ? "es" : "");
		free(es);
		return NULL;
	}
	return es;
}

static int block_add(int n, char **args, int action, const char *label, int fd4, int fd6)
{
	struct entry *es = parse_all(n, args, fd4, fd6);
	int i, ret = 0;

	if (!es)
		return 1;
	for (i = 0; i < n; i++) {
		struct ew_pfx_val v = { .action = action };

		es[i].had_old = bpf_map_lookup_elem(es[i].fd, es[i].key, &es[i].old) == 0;
		if (es[i].had_old)
			v.hits = es[i].old.hits;
		snprintf(v.label, sizeof(v.label), "%s", label ? label : "");
		if (bpf_map_update_elem(es[i].fd, es[i].key, &v, BPF_ANY)) {
			ew_err("adding %s: %s; undoing the %d added before it", args[i], strerror(errno), i);
			ret = 1;
			break;
		}
	}
	if (ret) {
		while (i-- > 0) {
			if (es[i].had_old)
				bpf_map_update_elem(es[i].fd, es[i].key, &es[i].old, BPF_ANY);
			else
				bpf_map_delete_elem(es[i].fd, es[i].key);
		}
	}
	free(es);
	if (ew_rules_changed())
		return 1;
	if (!ret && !ew_g.json)
		printf("%d prefix%s added (%s)\n", n, n > 1 ? "es" : "", ew_action_name(action));
	return ret;
}

static int block_del(int n, char **args, int fd4, int fd6)
{
	struct entry *es = parse_all(n, args, fd4, fd6);
	int missing = 0;

	if (!es)
		return 1;
	for (int i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(es[i].fd, es[i].key, &es[i].old)) {
			char buf[64];

			ew_prefix_fmt(&es[i].p, buf, sizeof(buf));
			ew_err("%s is not in the block list", buf);
			missing++;
		}
	}
	if (missing) {
		ew_err("nothing deleted");
		free(es);
		return 1;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(es[i].fd, es[i].key);
	free(es);
	if (ew_rules_changed())
		return 1;
	if (!ew_g.json)
		printf("%d prefix%s deleted\n", n, n > 1 ? "es" : "");
	return 0;
}

static void list_one(json_object *arr, int fd, int family)
{
	union {
		struct ew_pfx4_key k4;
		struct ew_pfx6_key k6;
	} k, next;
	struct ew_pfx_val v;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct ew_prefix p = { .family = family };
		json_object *o;
		char buf[64];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (family == 4) {
			p.len = k.k4.prefixlen;
			memcpy(p.addr, &k.k4.addr, 4);
		} else {
			p.len = k.k6.prefixlen;
			memcpy(p.addr, k.k6.addr, 16);
		}
		ew_prefix_fmt(&p, buf, sizeof(buf));
		o = json_object_new_object();
		json_object_object_add(o, "prefix", json_object_new_string(buf));
		json_object_object_add(o, "action", json_object_new_string(ew_action_name(v.action)));
		json_object_object_add(o, "hits", json_object_new_int64(v.hits));
		v.label[EW_LABEL_LEN - 1] = 0;
		json_object_object_add(o, "label", json_object_new_string(v.label));
		json_object_array_add(arr, o);
	}
}

static int block_list(int fd4, int fd6)
{
	json_object *arr = json_object_new_array();

	list_one(arr, fd4, 4);
	list_one(arr, fd6, 6);
	if (ew_g.json) {
		ew_json_print(arr);
		return 0;
	}
	printf("%-44s %-6s %12s  %s\n", "PREFIX", "ACTION", "HITS", "LABEL");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *p, *a, *h, *l;

		json_object_object_get_ex(o, "prefix", &p);
		json_object_object_get_ex(o, "action", &a);
		json_object_object_get_ex(o, "hits", &h);
		json_object_object_get_ex(o, "label", &l);
		printf("%-44s %-6s %12ld  %s\n", json_object_get_string(p), json_object_get_string(a),
		       (long)json_object_get_int64(h), json_object_get_string(l));
	}
	json_object_put(arr);
	return 0;
}

int cmd_block(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "action", required_argument, NULL, 'a' },
		{ "label", required_argument, NULL, 'l' },
		EW_COMMON_LONGOPTS,
		{},
	};
	const char *sub, *label = NULL;
	int c, action = EW_A_DROP, fd4 = -1, fd6 = -1, ret;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (!ew_rule_opt(c, usage, &action, &label))
			ew_usage_error(usage, "bad option");
	}
	sub = ew_rule_sub(usage, argc, argv, "prefixes");
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	fd4 = ew_map_open("ew_pfx4");
	fd6 = fd4 < 0 ? -1 : ew_map_open("ew_pfx6");
	if (fd4 < 0 || fd6 < 0)
		return 1;
	if (!strcmp(sub, "add"))
		ret = block_add(argc - optind, argv + optind, action, label, fd4, fd6);
	else if (!strcmp(sub, "del"))
		ret = block_del(argc - optind, argv + optind, fd4, fd6);
	else
		ret = block_list(fd4, fd6);
	close(fd4);
	close(fd6);
	return ret;
}
