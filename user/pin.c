// SPDX-License-Identifier: BSD-2-Clause
/* The pin directory: bpffs mount, pinned maps, ABI check, removal. */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "edgeward.h"

/* Every map edgeward pins (bpf/lib/maps.h). */
const char *const ew_pinned_maps[] = {
	"ew_stats", "ew_counters", "ew_events", "ew_evstate", "ew_config", "ew_pfx4", "ew_pfx6", "ew_flows", "ew_dropped", "ew_dropmark", "ew_conns", "ew_ifaces", "ew_fprules", "ew_tls_ports", "ew_detcfg", "ew_evcount", "ew_oskey", "ew_ossig", "ew_oslabel", "ew_tunmtu", "ew_tlsos", "ew_rate", "ew_fanout", "ew_tcprules",
	"ew_fd_state", "ew_fd4_24", "ew_fd4_32", "ew_fd6_l1", "ew_fd6", "ew_fd_cls", "ew_fd_hits", "ew_feeds",
	NULL,
};

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int ew_pin_dir_prepare(void)
{
	char parent[512];
	char *slash;

	if (strlen(ew_g.pin_dir) >= sizeof(parent)) {
		ew_err("pin dir path too long");
		return -1;
	}
	strcpy(parent, ew_g.pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	if (!is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf")) {
			ew_err("%s is not on a bpf filesystem (mount one with: mount -t bpf bpf %s)",
			       ew_g.pin_dir, parent);
			return -1;
		}
		if (ew_require_caps(EW_NEED_SYS))
			return -1;
		if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
			ew_err("mounting bpffs on %s: %s", parent, strerror(errno));
			return -1;
		}
	}
	if (mkdir(ew_g.pin_dir, 0700) && errno != EEXIST) {
		ew_err("creating %s: %s", ew_g.pin_dir, strerror(errno));
		return -1;
	}
	return 0;
}

bool ew_pins_exist(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/ew_config", ew_g.pin_dir);
	return access(path, F_OK) == 0;
}

int ew_map_open(const char *name)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ew_g.pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (errno == EACCES) {
		/* A reader given read access to the pins: a read-only fd is enough. */
		LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

		fd = bpf_obj_get_opts(path, &ro);
		if (fd >= 0)
			return fd;
	}
	if (errno == ENOENT)
		ew_err("%s not found: edgeward is not attached (run `edgeward attach IFACE`)", path);
	else if (errno == EPERM || errno == EACCES)
		ew_err("opening %s: %s (needs CAP_BPF, or read access to the pins)", path, strerror(errno));
	else
		ew_err("opening %s: %s", path, strerror(errno));
	return -1;
}

int ew_abi_check(void)
{
	struct ew_config cfg = {};
	__u32 zero = 0;
	int fd, ret = 0;

	if (!ew_pins_exist())
		return 0;
	fd = ew_map_open("ew_config");
	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, &cfg)) {
		ew_err("reading %s/ew_config: %s", ew_g.pin_dir, strerror(errno));
		ret = -1;
	} else if (cfg.abi_version != EW_ABI_VERSION) {
		ew_err("pins in %s have ABI version %u, this edgeward speaks %u: detach with the "
		       "edgeward that made them, or use another --pin-dir",
		       ew_g.pin_dir, cfg.abi_version, EW_ABI_VERSION);
		ret = -1;
	}
	close(fd);
	return ret;
}

int ew_config_bump(int cfg_fd)
{
	struct ew_config cfg = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		return -1;
	if (!cfg.abi_version)
		cfg.abi_version = EW_ABI_VERSION;
	cfg.gen++;
	if (!cfg.gen)
		cfg.gen = 1;
	return bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY);
}

int ew_rules_changed(void)
{
	int fd = ew_map_open("ew_config");

	if (fd < 0)
		return -1;
	ew_config_bump(fd);
	close(fd);
	return 0;
}

int ew_pins_remove(void)
{
	char path[600];
	int ret = 0;

	for (int i = 0; ew_pinned_maps[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", ew_g.pin_dir, ew_pinned_maps[i]);
		if (unlink(path) && errno != ENOENT) {
			ew_err("removing %s: %s", path, strerror(errno));
			ret = -1;
		}
	}
	if (rmdir(ew_g.pin_dir) && errno != ENOENT) {
		ew_err("removing %s: %s (left in place)", ew_g.pin_dir, strerror(errno));
		ret = -1;
	}
	return ret;
}

long ew_map_count(int fd)
{
	uint8_t key[64], next[64];
	long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}
