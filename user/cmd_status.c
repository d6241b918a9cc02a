// SPDX-License-Identifier: BSD-2-Clause
/* edgeward status */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"
#include "feeds.h"

static const char usage[] =
	"usage: edgeward status [-j]\n"
	"\n"
	"Show the pin directory, ABI version, rule generation, attached interfaces\n"
	"(XDP mode, monitor, program ids) and the size of each pinned map.\n";

static json_object *map_info(const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	json_object *o;
	int fd = ew_map_open(name);

	if (fd < 0)
		return NULL;
	o = json_object_new_object();
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
		json_object_object_add(o, "id", json_object_new_int64(info.id));
		json_object_object_add(o, "max_entries", json_object_new_int64(info.max_entries));
		json_object_object_add(o, "key_size", json_object_new_int64(info.key_size));
		json_object_object_add(o, "value_size", json_object_new_int64(info.value_size));
	}
	/* Arrays always hold max_entries; walking the big feed tables' keys takes seconds. */
	if (info.type != BPF_MAP_TYPE_ARRAY && info.type != BPF_MAP_TYPE_PERCPU_ARRAY &&
	    strcmp(name, "ew_stats") && strcmp(name, "ew_counters") && strcmp(name, "ew_config"))
		json_object_object_add(o, "entries", json_object_new_int64(ew_map_count(fd)));
	close(fd);
	return o;
}

static __u32 xdp_prog_id(const char *ifname)
{
	char path[600];
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%s/link_xdp_%s", ew_g.pin_dir, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.prog_id = 0;
	close(fd);
	return info.prog_id;
}

static __u32 tc_prog_id(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = 1, .priority = 0xe7);

	if (bpf_tc_query(&hook, &o))
		return 0;
	return o.prog_id;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = { EW_COMMON_LONGOPTS, {} };
	json_object *root, *ifs, *maps;
	struct ew_config cfg = {};
	struct ew_iface rec;
	__u32 k, next, zero = 0;
	int c, fd, err;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1)
		if (!ew_common_opt(c, usage))
			ew_usage_error(usage, "bad option");
	if (ew_require_caps(EW_NEED_BPF))
		return 1;
	root = json_object_new_object();
	json_object_object_add(root, "pin_dir", json_object_new_string(ew_g.pin_dir));
	if (!ew_pins_exist()) {
		json_object_object_add(root, "attached", json_object_new_boolean(0));
		if (ew_g.json)
			ew_json_print(root);
		else {
			printf("edgeward is not attached (no pins in %s)\n", ew_g.pin_dir);
			json_object_put(root);
		}
		return 0;
	}
	if (ew_abi_check()) {
		json_object_put(root);
		return 1;
	}
	fd = ew_map_open("ew_config");
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &cfg)) {
		json_object_put(root);
		return 1;
	}
	close(fd);
	json_object_object_add(root, "attached", json_object_new_boolean(1));
	json_object_object_add(root, "abi_version", json_object_new_int(cfg.abi_version));
	json_object_object_add(root, "rule_gen", json_object_new_int64(cfg.gen));

	ifs = json_object_new_array();
	fd = ew_map_open("ew_ifaces");
	if (fd < 0) {
		json_object_put(root);
		json_object_put(ifs);
		return 1;
	}
	for (err = bpf_map_get_next_key(fd, NULL, &next); !err; err = bpf_map_get_next_key(fd, &k, &next)) {
		json_object *i = json_object_new_object();

		k = next;
		if (bpf_map_lookup_elem(fd, &k, &rec))
			continue;
		json_object_object_add(i, "name", json_object_new_string(rec.name));
		json_object_object_add(i, "ifindex", json_object_new_int64(k));
		json_object_object_add(i, "present", json_object_new_boolean(if_nametoindex(rec.name) == k));
		json_object_object_add(i, "xdp_mode", json_object_new_string(rec.xdp_mode == 2 ? "generic" : "native"));
		json_object_object_add(i, "monitor", json_object_new_boolean(rec.monitor));
		json_object_object_add(i, "xdp_prog_id", json_object_new_int64(xdp_prog_id(rec.name)));
		json_object_object_add(i, "tc_prog_id", json_object_new_int64(tc_prog_id(k)));
		json_object_object_add(i, "attached_unix_ns", json_object_new_int64(rec.attached_ns));
		json_object_array_add(ifs, i);
	}
	close(fd);
	json_object_object_add(root, "interfaces", ifs);
	maps = json_object_new_object();
	for (int i = 0; ew_pinned_maps[i]; i++) {
		json_object *m = map_info(ew_pinned_maps[i]);

		if (m)
			json_object_object_add(maps, ew_pinned_maps[i], m);
	}
	json_object_object_add(root, "maps", maps);
	{
		struct ew_fd_maps fm;

		if (ew_fd_maps_open(&fm) == 0) {
			json_object *feeds = ew_feed_tables_json(&fm), *list = ew_feeds_json(&fm);

			json_object_object_add(feeds, "loaded", json_object_new_int64(json_object_array_length(list)));
			json_object_put(list);
			json_object_object_add(root, "feeds", feeds);
			ew_fd_maps_close(&fm);
		}
	}

	if (ew_g.json) {
		ew_json_print(root);
		return 0;
	}
	printf("pin dir     %s (ABI %u, rule generation %u)\n", ew_g.pin_dir, cfg.abi_version, cfg.gen);
	printf("interfaces\n");
	for (size_t i = 0; i < json_object_array_length(ifs); i++) {
		json_object *o = json_object_array_get_idx(ifs, i), *v;

		json_object_object_get_ex(o, "name", &v);
		printf("  %-12s", json_object_get_string(v));
		json_object_object_get_ex(o, "xdp_mode", &v);
		printf(" xdp %-7s", json_object_get_string(v));
		json_object_object_get_ex(o, "xdp_prog_id", &v);
		printf(" prog %-5d", json_object_get_int(v));
		json_object_object_get_ex(o, "tc_prog_id", &v);
		printf(" tc prog %-5d", json_object_get_int(v));
		json_object_object_get_ex(o, "monitor", &v);
		printf("%s", json_object_get_boolean(v) ? " monitor" : " enforce");
		json_object_object_get_ex(o, "present", &v);
		printf("%s\n", json_object_get_boolean(v) ? "" : " (interface gone)");
	}
	printf("maps\n");
	json_object_object_foreach(maps, name, m)
	{
		json_object *v;

		printf("  %-12s", name);
		if (json_object_object_get_ex(m, "entries", &v))
			printf(" %ld entries", (long)json_object_get_int64(v));
		if (json_object_object_get_ex(m, "max_entries", &v))
			printf(" (max %ld)", (long)json_object_get_int64(v));
		printf("\n");
	}
	{
		json_object *f, *v;

		if (json_object_object_get_ex(root, "feeds", &f)) {
			json_object_object_get_ex(f, "loaded", &v);
			printf("feeds       %ld loaded", (long)json_object_get_int64(v));
			json_object_object_get_ex(f, "memory_bytes", &v);
			printf(", tables %.1f MiB", json_object_get_int64(v) / 1048576.0);
			json_object_object_get_ex(f, "ipv4_addresses", &v);
			printf(" (%ld IPv4 /25../32 addresses", (long)json_object_get_int64(v));
			json_object_object_get_ex(f, "ipv6_prefixes", &v);
			printf(", %ld IPv6 prefixes)\n", (long)json_object_get_int64(v));
		}
	}
	json_object_put(root);
	return 0;
}
