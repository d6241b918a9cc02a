// SPDX-License-Identifier: BSD-2-Clause
/* edgeward osdb load [FILE...] | tls-os FILE | list */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward osdb load [--no-p0f] [FILE...]\n"
	"       edgeward osdb tls-os FILE\n"
	"       edgeward osdb list\n"
	"\n"
	"load: compile p0f [tcp:request] signatures into the kernel, which labels each\n"
	"SYN with p0f's matching rules: Debian's " EW_P0F_FP " first (unless --no-p0f),\n"
	"then each FILE (the operator's signatures, same format). Replaces what was\n"
	"loaded; a bad line names FILE:LINE and nothing changes.\n"
	"tls-os: add 'JA4 FAMILY' lines (FAMILY: windows, linux, macos, bsd, other):\n"
	"the OS family a TLS fingerprint implies, for reason stack_mismatch; FAMILY\n"
	"none removes the JA4. Attach loads a small default table (Safari and Apple's\n"
	"TLS stack: macos; SChannel via WinHTTP/WinINet: windows).\n"
	"list: the OS labels and the JA4 -> family table.\n";

static int osdb_list(void)
{
	int lfd = ew_map_open("ew_oslabel"), tfd = ew_map_open("ew_tlsos");
	struct ew_ja4_key k, *prev = NULL;
	json_object *arr = NULL, *tarr = NULL;
	int ret = 1;

	if (lfd < 0 || tfd < 0)
		goto out;
	if (ew_g.json) {
		arr = json_object_new_array();
		tarr = json_object_new_array();
	}
	for (uint32_t i = 1; i < EW_OS_LABELS_MAX; i++) {
		struct ew_os_label l;

		if (bpf_map_lookup_elem(lfd, &i, &l) || !l.name[0])
			continue;
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "id", json_object_new_int(i));
			json_object_object_add(o, "label", json_object_new_string(l.name));
			json_object_object_add(o, "family", json_object_new_string(ew_os_family_name(l.family)));
			json_object_object_add(o, "generic", json_object_new_boolean(l.flags & EW_OSS_GENERIC));
			json_object_array_add(arr, o);
		} else {
			printf("os  %-8s %s%s\n", ew_os_family_name(l.family), l.name,
			       l.flags & EW_OSS_GENERIC ? " (generic)" : "");
		}
	}
	while (!bpf_map_get_next_key(tfd, prev, &k)) {
		struct ew_tls_os v;
		static struct ew_ja4_key keep;

		if (bpf_map_lookup_elem(tfd, &k, &v) == 0) {
			if (tarr) {
				json_object *o = json_object_new_object();

				json_object_object_add(o, "ja4", json_object_new_string(k.ja4));
				json_object_object_add(o, "family", json_object_new_string(ew_os_family_name(v.family)));
				json_object_array_add(tarr, o);
			} else {
				printf("ja4 %-8s %s\n", ew_os_family_name(v.family), k.ja4);
			}
		}
		keep = k;
		prev = &keep;
	}
	if (arr) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "os_labels", arr);
		json_object_object_add(o, "tls_os", tarr);
		ew_json_print(o);
	}
	ret = 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (tfd >= 0)
		close(tfd);
	return ret;
}

int cmd_osdb(int argc, char **argv)
{
	static const struct option opts[] = { EW_COMMON_LONGOPTS, { "no-p0f", no_argument, NULL, 'n' }, {} };
	const char *files[64];
	bool no_p0f = false;
	const char *sub;
	int c, n = 0;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		if (c != 'n')
			ew_usage_error(usage, "bad option");
		no_p0f = true;
	}
	if (optind >= argc)
		ew_usage_error(usage, "which subcommand?");
	sub = argv[optind++];
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	if (!strcmp(sub, "list"))
		return osdb_list();
	if (!strcmp(sub, "tls-os")) {
		int fd, r;

		if (argc - optind != 1)
			ew_usage_error(usage, "tls-os FILE");
		fd = ew_map_open("ew_tlsos");
		if (fd < 0)
			return 1;
		r = ew_tlsos_load(fd, argv[optind]);
		close(fd);
		if (r < 0)
			return 1;
		if (!ew_g.json)
			printf("%d TLS fingerprints mapped to OS families\n", r);
		return ew_rules_changed() ? 1 : 0;
	}
	if (!strcmp(sub, "load")) {
		int r;

		if (!no_p0f)
			files[n++] = EW_P0F_FP;
		for (int i = optind; i < argc && n < 64; i++)
			files[n++] = argv[i];
		if (!n)
			ew_usage_error(usage, "no signature file");
		r = ew_osdb_load_files(files, n);
		if (r < 0)
			return 1;
		if (!ew_g.json)
			printf("%d OS signatures loaded\n", r);
		return 0;
	}
	ew_usage_error(usage, "unknown subcommand '%s'", sub);
	return 1;
}
