/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running edgeward's compiled BPF programs on test frames, for the BPF tests
 * and the benchmarks. User space only.
 *
 * bpfrun_open() loads the skeleton with private maps: every pin path is
 * cleared before load, so live pins are never opened, reused or created. It
 * initialises ew_config like `edgeward attach` (ABI version, gen 1), so flows
 * cache their verdict. Frames go through ew_xdp or ew_tc_egress with
 * BPF_PROG_TEST_RUN; counters and flows are read summed over CPUs. Flow
 * entries are per CPU (a copy made on another CPU reads as undecided), so
 * bpfrun_open() also binds the calling thread to the CPU it runs on, which
 * makes consecutive runs see the same copy; .any_cpu turns that off.
 *
 *	struct bpfrun r;
 *	struct bpfrun_stats before, after;
 *	__u32 ret;
 *
 *	if (bpfrun_open(&r, &(struct bpfrun_opts){ .monitor = false }))
 *		return false;
 *	bpfrun_prefix_add(&r, "198.18.0.0/24", EW_A_DROP, "test");
 *	bpfrun_stats_read(&r, &before);
 *	bpfrun_xdp(&r, frame, len, &ret);
 *	bpfrun_stats_read(&r, &after);
 *	... bpfrun_stat(&after, EW_HOOK_XDP, EW_R_PREFIX, EW_A_DROP).packets ...
 *	bpfrun_close(&r);
 *
 * Functions return 0 or a negative errno, with a message on stderr.
 */
#ifndef EW_TEST_BPFRUN_H
#define EW_TEST_BPFRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "edgeward/abi.h"

struct edgeward_bpf;
struct pkt_info;

struct bpfrun_opts {
	bool monitor;	   /* ew_monitor: drops become would-drops */
	bool replay;	   /* ew_replay: the clock reads bpfrun_set_now() */
	__u32 flows_max;   /* ew_flows / ew_conns size; 0: 4096 (tests need few) */
	__u32 pfx_max;	   /* ew_pfx4 / ew_pfx6 size; 0: the object's */
	bool any_cpu;	   /* don't pin the calling thread to its current CPU */
};

struct bpfrun {
	struct edgeward_bpf *skel;
	int ncpus;
	int xdp_fd, tc_fd; /* program fds */
	int stats_fd, counters_fd, config_fd, pfx4_fd, pfx6_fd, flows_fd, conns_fd;
};

/* Counters summed over CPUs. */
struct bpfrun_stats {
	struct ew_ctr stats[EW_STATS_MAX]; /* by EW_STAT_IDX(hook, reason, action) */
	__u64 counters[EW_COUNTER_MAX];	   /* by enum ew_counter */
};

int bpfrun_open(struct bpfrun *r, const struct bpfrun_opts *o);
void bpfrun_close(struct bpfrun *r);
/*
 * A process-wide instance per option set, loaded on first use and reset
 * (bpfrun_reset) on every call; never close it. Loading the object costs
 * about a second of verifier time, so tests that need fresh maps but not a
 * fresh load use this. NULL (after a message) on failure.
 */
struct bpfrun *bpfrun_shared(const struct bpfrun_opts *o);
/*
 * Fresh state between cases: empty every hash and trie map (flows,
 * connections, prefixes, ...) and zero every per-CPU array (counters,
 * scratch). Plain arrays hold settings (ew_config and its gen): kept.
 */
int bpfrun_reset(struct bpfrun *r);

/*
 * Run one frame through ew_xdp (retval XDP_*) or ew_tc_egress (retval
 * TC_ACT_*). The kernel refuses (-EINVAL) frames shorter than an Ethernet
 * header, even behind XDP metadata, and TC frames whose IPv4 header is
 * shorter than 20 bytes.
 */
int bpfrun_xdp(struct bpfrun *r, const void *frame, size_t len, __u32 *retval);
int bpfrun_tc(struct bpfrun *r, const void *frame, size_t len, __u32 *retval);
/* Run a frame `repeat` times; *ns_per_run gets the kernel's average. For benchmarks. */
int bpfrun_xdp_repeat(struct bpfrun *r, const void *frame, size_t len, __u32 repeat,
		      __u32 *retval, __u32 *ns_per_run);
int bpfrun_tc_repeat(struct bpfrun *r, const void *frame, size_t len, __u32 repeat,
		     __u32 *retval, __u32 *ns_per_run);

int bpfrun_stats_read(struct bpfrun *r, struct bpfrun_stats *st);
static inline struct ew_ctr bpfrun_stat(const struct bpfrun_stats *st, int hook, int reason,
					int action)
{
	return st->stats[EW_STAT_IDX(hook, reason, action)];
}

/* Flow key of a built frame; reverse for a server -> client frame (TC egress). */
void bpfrun_flow_key(struct ew_flow_key *k, const struct pkt_info *in, bool reverse);
/* One flow summed over CPUs (ew_flow_sum). -ENOENT when absent. */
int bpfrun_flow_get(struct bpfrun *r, const struct ew_flow_key *k, struct ew_flow *out);
long bpfrun_flow_count(struct bpfrun *r);

/*
 * Add (or replace, keeping its hits, as `edgeward block add` does) a
 * block-list entry "ADDR[/LEN]" with an EW_A_* action, or delete one; read an
 * entry's value (hits). None of these bumps the rule
 * generation: call bpfrun_rules_changed() as the CLI does after a change.
 */
int bpfrun_prefix_add(struct bpfrun *r, const char *prefix, int action, const char *label);
int bpfrun_prefix_del(struct bpfrun *r, const char *prefix);
int bpfrun_prefix_get(struct bpfrun *r, const char *prefix, struct ew_pfx_val *out);
/* Bump ew_config.gen, as the CLI does after every rule change. */
int bpfrun_rules_changed(struct bpfrun *r);
__u32 bpfrun_gen(struct bpfrun *r);

/* The time the data path reads when opened with .replay. */
void bpfrun_set_now(struct bpfrun *r, __u64 ns);

#endif
