// SPDX-License-Identifier: BSD-2-Clause
/*
 * Loading, attaching, replacing and detaching the data path. Maps are pinned
 * by name and reused by every load, so all interfaces share one set. XDP goes
 * through a pinned bpf_link (replaced in place with bpf_link_update), TC
 * egress through a clsact cls_bpf filter (replaced in place with
 * BPF_TC_F_REPLACE): an interface is never unfiltered during a re-attach.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"
#include "edgeward.skel.h"

#define EW_TC_HANDLE 1
#define EW_TC_PRIO 0xe7

static void xdp_link_path(char *buf, size_t len, const char *ifname)
{
	snprintf(buf, len, "%s/link_xdp_%s", ew_g.pin_dir, ifname);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	return info.max_entries;
}

static bool ifaces_empty(int ifaces_fd)
{
	__u32 key;

	return bpf_map_get_next_key(ifaces_fd, NULL, &key) != 0;
}

/* Open and configure the skeleton so that load reuses or creates the pins. */
static struct edgeward_bpf *open_skel(const struct ew_attach_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = ew_g.pin_dir);
	struct edgeward_bpf *skel;
	int fd, max;

	skel = edgeward_bpf__open_opts(&oo);
	if (!skel) {
		ew_err("opening the BPF object: %s", strerror(errno));
		return NULL;
	}
	skel->rodata->ew_monitor = o->monitor;
	skel->rodata->ew_nr_cpus = libbpf_num_possible_cpus();
	if (ew_pins_exist()) {
		fd = ew_map_open("ew_flows");
		if (fd < 0)
			goto fail;
		max = map_max_entries(fd);
		close(fd);
		if (o->flows_max && (int)o->flows_max != max) {
			ew_err("the flow table holds %d entries; detach every interface to resize it", max);
			goto fail;
		}
		bpf_map__set_max_entries(skel->maps.ew_flows, max);
	} else if (o->flows_max) {
		bpf_map__set_max_entries(skel->maps.ew_flows, o->flows_max);
	}
	return skel;
fail:
	edgeward_bpf__destroy(skel);
	return NULL;
}

/*
 * Set ew_dropmark's bit of every key in ew_dropped: pins made by an edgeward
 * without ew_dropmark hold drops the data path would otherwise never look
 * up (bpf/lib/drops.h). Atomic ORs on the mapped array, as the data path's.
 */
int ew_dropmark_rebuild(int dropped_fd, int mark_fd)
{
	size_t len = EW_DROPMARK_WORDS * sizeof(__u64);
	struct ew_flow_key k, next;
	__u64 *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mark_fd, 0);
	void *prev = NULL;
	int err = 0;

	if (m == MAP_FAILED) {
		ew_err("mapping ew_dropmark: %s", strerror(errno));
		return -1;
	}
	while (!bpf_map_get_next_key(dropped_fd, prev, &next)) {
		__u32 bit = ew_dropmark_bit(&next);

		__atomic_fetch_or(&m[bit / 64], 1ull << (bit % 64), __ATOMIC_SEQ_CST);
		k = next;
		prev = &k;
	}
	if (errno != ENOENT) {
		ew_err("reading ew_dropped: %s", strerror(errno));
		err = -1;
	}
	munmap(m, len);
	return err;
}

int ew_attach(const char *ifname, const struct ew_attach_opts *o)
{
	struct edgeward_bpf *skel = NULL;
	struct ew_iface rec = {}, prev = {};
	char path[600];
	bool had_prev = false, had_pins, had_mark, link_created = false, hook_created = false;
	int ifindex, ifaces_fd = -1, link_fd = -1, prog_fd, err, ret = -1;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco, .handle = EW_TC_HANDLE, .priority = EW_TC_PRIO);

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		ew_err("no interface named '%s'", ifname);
		return -1;
	}
	if (strlen(ifname) >= EW_IFNAME_LEN) {
		ew_err("interface name '%s' too long", ifname);
		return -1;
	}
	if (ew_pin_dir_prepare() || ew_abi_check())
		return -1;
	had_pins = ew_pins_exist();
	snprintf(path, sizeof(path), "%s/ew_dropmark", ew_g.pin_dir);
	had_mark = access(path, F_OK) == 0;
	if (had_pins) {
		__u32 k = ifindex;

		ifaces_fd = ew_map_open("ew_ifaces");
		if (ifaces_fd < 0)
			return -1;
		had_prev = bpf_map_lookup_elem(ifaces_fd, &k, &prev) == 0;
		if (had_prev && prev.xdp_mode != o->xdp_mode) {
			ew_err("%s is attached in %s mode; detach it to change the mode", ifname,
			       prev.xdp_mode == 2 ? "generic" : "native");
			goto out;
		}
	}

	skel = open_skel(o);
	if (!skel)
		goto out;
	err = edgeward_bpf__load(skel);
	if (err) {
		if (had_pins)
			ew_err("loading the data path against the pins in %s failed (%s): they were made "
			       "by an incompatible edgeward; detach with that version or use another --pin-dir",
			       ew_g.pin_dir, strerror(-err));
		else
			ew_err("loading the data path failed: %s (EW_DEBUG=1 shows the verifier log)",
			       strerror(-err));
		goto out;
	}
	if (ifaces_fd < 0)
		ifaces_fd = bpf_map__fd(skel->maps.ew_ifaces);
	else {
		close(ifaces_fd);
		ifaces_fd = bpf_map__fd(skel->maps.ew_ifaces);
	}
	ifaces_fd = dup(ifaces_fd);
	if (had_pins && !had_mark &&
	    ew_dropmark_rebuild(bpf_map__fd(skel->maps.ew_dropped), bpf_map__fd(skel->maps.ew_dropmark)))
		goto out;
	if (ew_config_bump(bpf_map__fd(skel->maps.ew_config))) {
		ew_err("writing ew_config: %s", strerror(errno));
		goto out;
	}
	if (ew_detect_setup())
		goto out;

	/* XDP: replace the program on the pinned link, or create and pin one. */
	prog_fd = bpf_program__fd(skel->progs.ew_xdp);
	xdp_link_path(path, sizeof(path), ifname);
	link_fd = had_prev ? bpf_obj_get(path) : -1;
	if (link_fd >= 0) {
		if (bpf_link_update(link_fd, prog_fd, NULL)) {
			ew_err("replacing the XDP program on %s: %s", ifname, strerror(errno));
			goto out;
		}
	} else {
		LIBBPF_OPTS(bpf_link_create_opts, lo,
			    .flags = o->xdp_mode == 2 ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
		if (link_fd < 0) {
			err = errno;
			if (err == EBUSY || err == EEXIST)
				ew_err("%s already has an XDP program that is not edgeward's", ifname);
			else if (err == EOPNOTSUPP || err == EINVAL)
				ew_err("%s does not support %s XDP (%s); try --mode generic", ifname,
				       o->xdp_mode == 2 ? "generic" : "native", strerror(err));
			else
				ew_err("attaching XDP to %s: %s", ifname, strerror(err));
			goto out;
		}
		if (bpf_obj_pin(link_fd, path)) {
			ew_err("pinning %s: %s", path, strerror(errno));
			goto rollback;
		}
		link_created = true;
	}

	/* TC egress: clsact (ours only if we make it) + a filter replaced in place. */
	hook.ifindex = ifindex;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		ew_err("creating clsact on %s: %s", ifname, strerror(-err));
		goto rollback;
	}
	hook_created = err == 0;
	tco.prog_fd = bpf_program__fd(skel->progs.ew_tc_egress);
	tco.flags = BPF_TC_F_REPLACE;
	err = bpf_tc_attach(&hook, &tco);
	if (err) {
		ew_err("attaching TC egress to %s: %s", ifname, strerror(-err));
		goto rollback;
	}

	rec = prev;
	snprintf(rec.name, sizeof(rec.name), "%s", ifname);
	if (!had_prev)
		rec.attached_ns = realtime_ns();
	rec.xdp_mode = o->xdp_mode;
	rec.monitor = o->monitor;
	rec.clsact_created = had_prev ? prev.clsact_created : hook_created;
	{
		__u32 k = ifindex;

		if (bpf_map_update_elem(ifaces_fd, &k, &rec, BPF_ANY)) {
			ew_err("recording %s in ew_ifaces: %s", ifname, strerror(errno));
			goto rollback;
		}
	}
	ret = 0;
	goto out;

rollback:
	if (link_created) {
		bpf_link_detach(link_fd);
		unlink(path);
	}
	if (hook_created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	if (!had_pins && ifaces_fd >= 0 && ifaces_empty(ifaces_fd))
		ew_pins_remove();
out:
	if (link_fd >= 0)
		close(link_fd);
	if (ifaces_fd >= 0)
		close(ifaces_fd);
	edgeward_bpf__destroy(skel);
	return ret;
}

/* Find an interface record by name: by ifindex, or by scanning if it is gone. */
static int find_iface(int fd, const char *ifname, __u32 *key, struct ew_iface *rec)
{
	__u32 k, next;
	int idx = if_nametoindex(ifname);

	if (idx) {
		k = idx;
		if (bpf_map_lookup_elem(fd, &k, rec) == 0) {
			*key = k;
			return 0;
		}
	}
	for (int err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		if (bpf_map_lookup_elem(fd, &k, rec) == 0 && !strncmp(rec->name, ifname, EW_IFNAME_LEN) &&
		    (!idx || (int)k == idx)) {
			*key = k;
			return 0;
		}
	}
	return -1;
}

int ew_detach(const char *ifname)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco, .handle = EW_TC_HANDLE, .priority = EW_TC_PRIO);
	struct ew_iface rec;
	char path[600];
	__u32 key;
	int fd, lfd, err, ret = 0;

	if (!ew_pins_exist()) {
		ew_err("edgeward is not attached anywhere (no pins in %s)", ew_g.pin_dir);
		return -1;
	}
	if (ew_abi_check())
		return -1;
	fd = ew_map_open("ew_ifaces");
	if (fd < 0)
		return -1;
	if (find_iface(fd, ifname, &key, &rec)) {
		ew_err("edgeward is not attached to '%s'", ifname);
		close(fd);
		return -1;
	}

	xdp_link_path(path, sizeof(path), rec.name);
	lfd = bpf_obj_get(path);
	if (lfd >= 0) {
		if (bpf_link_detach(lfd) && errno != ENOLINK && errno != ENODEV) {
			ew_err("detaching XDP from %s: %s", ifname, strerror(errno));
			ret = -1;
		}
		close(lfd);
		unlink(path);
	}
	if (if_nametoindex(rec.name) == key) {
		hook.ifindex = key;
		err = bpf_tc_detach(&hook, &tco);
		if (err && err != -ENOENT) {
			ew_err("removing the TC filter from %s: %s", ifname, strerror(-err));
			ret = -1;
		}
		if (rec.clsact_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	if (ret == 0)
		bpf_map_delete_elem(fd, &key);
	if (ret == 0 && ifaces_empty(fd)) {
		close(fd);
		return ew_pins_remove();
	}
	close(fd);
	return ret;
}
