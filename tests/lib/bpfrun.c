// SPDX-License-Identifier: BSD-2-Clause
/* Loading edgeward's BPF object privately and running frames through it (see bpfrun.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"
#include "edgeward.skel.h"
#include "bpfrun.h"
#include "pkt.h"

#define BPFRUN_FLOWS_MAX 4096
#define BPFRUN_SHARED_MAX 4

static int fail(const char *what, int err)
{
	fprintf(stderr, "bpfrun: %s: %s\n", what, strerror(-err));
	return err;
}

/* Per-CPU value stride, as the kernel copies it. */
static size_t pcpu_stride(size_t size)
{
	return (size + 7) & ~(size_t)7;
}

int bpfrun_open(struct bpfrun *r, const struct bpfrun_opts *o)
{
	static const struct bpfrun_opts none;
	struct edgeward_bpf *skel;
	struct bpf_map *m;
	__u32 flows;
	int err;

	memset(r, 0, sizeof(*r));
	if (!o)
		o = &none;
	if (!o->any_cpu) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(sched_getcpu(), &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return fail("binding to one CPU", -errno);
	}
	r->ncpus = libbpf_num_possible_cpus();
	if (r->ncpus <= 0)
		return fail("counting CPUs", r->ncpus ? r->ncpus : -EINVAL);
	skel = edgeward_bpf__open();
	if (!skel)
		return fail("opening the skeleton", -errno);
	/* Private maps: live pins must never be opened, reused or created. */
	bpf_object__for_each_map(m, skel->obj) {
		err = bpf_map__set_pin_path(m, NULL);
		if (err) {
			fail("clearing a pin path", err);
			goto out;
		}
	}
	flows = o->flows_max ? o->flows_max : BPFRUN_FLOWS_MAX;
	bpf_map__set_max_entries(skel->maps.ew_flows, flows);
	bpf_map__set_max_entries(skel->maps.ew_conns, flows);
	if (o->pfx_max) {
		bpf_map__set_max_entries(skel->maps.ew_pfx4, o->pfx_max);
		bpf_map__set_max_entries(skel->maps.ew_pfx6, o->pfx_max);
	}
	skel->rodata->ew_monitor = o->monitor;
	skel->rodata->ew_replay = o->replay;
	skel->rodata->ew_nr_cpus = libbpf_num_possible_cpus();
	err = edgeward_bpf__load(skel);
	if (err) {
		fail("loading the BPF object (verifier log above)", err);
		goto out;
	}
	r->skel = skel;
	r->xdp_fd = bpf_program__fd(skel->progs.ew_xdp);
	r->tc_fd = bpf_program__fd(skel->progs.ew_tc_egress);
	r->stats_fd = bpf_map__fd(skel->maps.ew_stats);
	r->counters_fd = bpf_map__fd(skel->maps.ew_counters);
	r->config_fd = bpf_map__fd(skel->maps.ew_config);
	r->pfx4_fd = bpf_map__fd(skel->maps.ew_pfx4);
	r->pfx6_fd = bpf_map__fd(skel->maps.ew_pfx6);
	r->flows_fd = bpf_map__fd(skel->maps.ew_flows);
	r->conns_fd = bpf_map__fd(skel->maps.ew_conns);
	/* As `edgeward attach` does: ABI version and a first rule generation. */
	if (ew_config_bump(r->config_fd)) {
		err = fail("writing ew_config", -errno);
		bpfrun_close(r);
		return err;
	}
	return 0;
out:
	edgeward_bpf__destroy(skel);
	return err;
}

void bpfrun_close(struct bpfrun *r)
{
	edgeward_bpf__destroy(r->skel);
	memset(r, 0, sizeof(*r));
}

static bool same_opts(const struct bpfrun_opts *a, const struct bpfrun_opts *b)
{
	return a->monitor == b->monitor && a->replay == b->replay && a->flows_max == b->flows_max &&
	       a->pfx_max == b->pfx_max && a->any_cpu == b->any_cpu;
}

struct bpfrun *bpfrun_shared(const struct bpfrun_opts *o)
{
	static const struct bpfrun_opts none;
	static struct {
		struct bpfrun r;
		struct bpfrun_opts o;
		bool open;
	} cache[BPFRUN_SHARED_MAX];
	int i;

	if (!o)
		o = &none;
	for (i = 0; i < BPFRUN_SHARED_MAX && cache[i].open; i++)
		if (same_opts(&cache[i].o, o))
			return bpfrun_reset(&cache[i].r) ? NULL : &cache[i].r;
	if (i == BPFRUN_SHARED_MAX) {
		fprintf(stderr, "bpfrun: more than %d shared option sets\n", BPFRUN_SHARED_MAX);
		return NULL;
	}
	if (bpfrun_open(&cache[i].r, o))
		return NULL;
	cache[i].o = *o;
	cache[i].open = true;
	return &cache[i].r;
}

/* Delete every key of a hash or trie map. */
static int map_empty(const struct bpf_map *m)
{
	void *key = malloc(bpf_map__key_size(m));
	int fd = bpf_map__fd(m), err = 0;

	if (!key)
		return -ENOMEM;
	while (!err && bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key))
			err = -errno;
	free(key);
	return err;
}

/* Zero every slot of a per-CPU array, in one batch. */
static int pcpu_array_zero(const struct bpf_map *m, int ncpus)
{
	__u32 n = bpf_map__max_entries(m);
	__u32 *keys = malloc(n * sizeof(*keys));
	void *zero = calloc((size_t)n * ncpus, pcpu_stride(bpf_map__value_size(m)));
	int err = 0;

	if (!keys || !zero) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 i = 0; i < n; i++)
		keys[i] = i;
	if (bpf_map_update_batch(bpf_map__fd(m), keys, zero, &n, NULL))
		err = -errno;
out:
	free(keys);
	free(zero);
	return err;
}

int bpfrun_reset(struct bpfrun *r)
{
	struct bpf_map *m;
	int err = 0;

	bpf_object__for_each_map(m, r->skel->obj) {
		switch (bpf_map__type(m)) {
		case BPF_MAP_TYPE_HASH:
		case BPF_MAP_TYPE_PERCPU_HASH:
		case BPF_MAP_TYPE_LRU_HASH:
		case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		case BPF_MAP_TYPE_LPM_TRIE:
			err = map_empty(m);
			break;
		case BPF_MAP_TYPE_PERCPU_ARRAY:
			err = pcpu_array_zero(m, r->ncpus);
			break;
		default:
			break; /* plain arrays hold settings (ew_config, .rodata...): kept */
		}
		if (err) {
			fprintf(stderr, "bpfrun: resetting %s: %s\n", bpf_map__name(m), strerror(-err));
			return err;
		}
	}
	return 0;
}

static int run(int prog_fd, bool xdp, const void *frame, size_t len, __u32 repeat,
	       __u32 *retval, __u32 *ns_per_run)
{
	struct __sk_buff sctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = len, .repeat = repeat);

	if (!xdp) {
		t.ctx_in = &sctx;
		t.ctx_size_in = sizeof(sctx);
	}
	if (bpf_prog_test_run_opts(prog_fd, &t))
		return fail(xdp ? "running ew_xdp" : "running ew_tc_egress", -errno);
	if (retval)
		*retval = t.retval;
	if (ns_per_run)
		*ns_per_run = t.duration;
	return 0;
}

int bpfrun_xdp(struct bpfrun *r, const void *frame, size_t len, __u32 *retval)
{
	return run(r->xdp_fd, true, frame, len, 1, retval, NULL);
}

int bpfrun_tc(struct bpfrun *r, const void *frame, size_t len, __u32 *retval)
{
	return run(r->tc_fd, false, frame, len, 1, retval, NULL);
}

int bpfrun_xdp_repeat(struct bpfrun *r, const void *frame, size_t len, __u32 repeat,
		      __u32 *retval, __u32 *ns_per_run)
{
	return run(r->xdp_fd, true, frame, len, repeat, retval, ns_per_run);
}

int bpfrun_tc_repeat(struct bpfrun *r, const void *frame, size_t len, __u32 repeat,
		     __u32 *retval, __u32 *ns_per_run)
{
	return run(r->tc_fd, false, frame, len, repeat, retval, ns_per_run);
}

int bpfrun_stats_read(struct bpfrun *r, struct bpfrun_stats *st)
{
	size_t cs = pcpu_stride(sizeof(struct ew_ctr)), vs = pcpu_stride(sizeof(__u64));
	char *buf = malloc(r->ncpus * (cs > vs ? cs : vs));
	int err = 0;

	if (!buf)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	for (__u32 i = 0; i < EW_STATS_MAX && !err; i++) {
		if (bpf_map_lookup_elem(r->stats_fd, &i, buf)) {
			err = fail("reading ew_stats", -errno);
			break;
		}
		for (int c = 0; c < r->ncpus; c++) {
			const struct ew_ctr *v = (const void *)(buf + c * cs);

			st->stats[i].packets += v->packets;
			st->stats[i].bytes += v->bytes;
		}
	}
	for (__u32 i = 0; i < EW_COUNTER_MAX && !err; i++) {
		if (bpf_map_lookup_elem(r->counters_fd, &i, buf)) {
			err = fail("reading ew_counters", -errno);
			break;
		}
		for (int c = 0; c < r->ncpus; c++)
			st->counters[i] += *(const __u64 *)(buf + c * vs);
	}
	free(buf);
	return err;
}

void bpfrun_flow_key(struct ew_flow_key *k, const struct pkt_info *in, bool reverse)
{
	__u8 s[16] = {}, d[16] = {};

	if (in->family == 4) {
		/* IPv4-mapped, as the data path stores it. */
		s[10] = s[11] = d[10] = d[11] = 0xff;
		memcpy(s + 12, in->saddr, 4);
		memcpy(d + 12, in->daddr, 4);
	} else {
		memcpy(s, in->saddr, 16);
		memcpy(d, in->daddr, 16);
	}
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, reverse ? d : s, 16);
	memcpy(k->daddr, reverse ? s : d, 16);
	k->sport = htons(reverse ? in->dport : in->sport);
	k->dport = htons(reverse ? in->sport : in->dport);
	k->proto = in->proto;
	k->family = in->family;
}

int bpfrun_flow_get(struct bpfrun *r, const struct ew_flow_key *k, struct ew_flow *out)
{
	size_t stride = pcpu_stride(sizeof(struct ew_flow));
	void *buf = malloc(r->ncpus * stride);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(r->flows_fd, k, buf))
		err = -errno;
	else
		ew_flow_sum(out, buf, r->ncpus, stride);
	free(buf);
	return err;
}

long bpfrun_flow_count(struct bpfrun *r)
{
	return ew_map_count(r->flows_fd);
}

/* A textual prefix parsed, its LPM key and the map it belongs to. */
struct pfx_ref {
	struct ew_prefix p;
	struct ew_pfx4_key k4;
	struct ew_pfx6_key k6;
	void *key;
	int fd;
};

static int pfx_ref(struct bpfrun *r, const char *prefix, struct pfx_ref *ref)
{
	bool cleared;
	char err[128];

	if (ew_prefix_parse(prefix, &ref->p, &cleared, err, sizeof(err))) {
		fprintf(stderr, "bpfrun: %s\n", err);
		return -EINVAL;
	}
	ref->key = ew_pfx_key(&ref->p, &ref->k4, &ref->k6);
	ref->fd = ref->p.family == 4 ? r->pfx4_fd : r->pfx6_fd;
	return 0;
}

int bpfrun_prefix_add(struct bpfrun *r, const char *prefix, int action, const char *label)
{
	struct pfx_ref ref;
	int err = pfx_ref(r, prefix, &ref);

	if (err)
		return err;
	if (ew_pfx_put(r->pfx4_fd, r->pfx6_fd, &ref.p, action, label))
		return fail(prefix, -errno);
	return 0;
}

int bpfrun_prefix_del(struct bpfrun *r, const char *prefix)
{
	struct pfx_ref ref;
	int err = pfx_ref(r, prefix, &ref);

	if (err)
		return err;
	if (bpf_map_delete_elem(ref.fd, ref.key))
		return fail(prefix, -errno);
	return 0;
}

int bpfrun_prefix_get(struct bpfrun *r, const char *prefix, struct ew_pfx_val *out)
{
	struct pfx_ref ref;
	int err = pfx_ref(r, prefix, &ref);

	if (err)
		return err;
	if (bpf_map_lookup_elem(ref.fd, ref.key, out))
		return -errno;
	return 0;
}

int bpfrun_rules_changed(struct bpfrun *r)
{
	if (ew_config_bump(r->config_fd))
		return fail("bumping ew_config.gen", -errno);
	return 0;
}

__u32 bpfrun_gen(struct bpfrun *r)
{
	struct ew_config cfg = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(r->config_fd, &zero, &cfg);
	return cfg.gen;
}

void bpfrun_set_now(struct bpfrun *r, __u64 ns)
{
	r->skel->bss->ew_replay_now_ns = ns;
}
