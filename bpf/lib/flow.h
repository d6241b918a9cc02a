/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The flow table: keys oriented client -> server on both hooks, per-CPU
 * values, creation on XDP ingress only. BPF only.
 */
#ifndef EW_FLOW_H
#define EW_FLOW_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

/*
 * First statement of a global function that takes a flow key: Linux 6.1's
 * verifier refuses a global function's pointer argument (PTR_TO_MEM) as a map
 * key ("R2 type=mem expected=fp, ..."), so the key is copied to a map value
 * and `k` names the copy (kernels from 6.2 on accept either; clang 14-19
 * alike). A map, not the stack: the chain of global functions would pass 6.1's
 * 512-byte combined stack limit. Each function has its own slot.
 */
enum ew_key_slot {
	EW_KS_XDP_TLS_VERDICT,
	EW_KS_XDP_TLS_REDECIDE,
	EW_KS_XDP_DETECT,
	EW_KS_FLOW_STICK,
	EW_KS_TLS_REDECIDE,
	EW_KS_TLS_PARSE_REC,
	EW_KS_TLS_FINISH,
	EW_KS_TLS_DATA,
};

#define EW_KEY_ARG(kp, ret, slot)                                          \
	__u32 ew_key_slot_ = (slot);                                       \
	struct ew_flow_key *k = bpf_map_lookup_elem(&ew_keyscr, &ew_key_slot_); \
	if (!k || !(kp))                                                   \
		return ret;                                                \
	__builtin_memcpy(k, (kp), sizeof(*k))

/* Key of the packet's flow; dir says which way the packet goes. */
static __always_inline void ew_flow_key(struct ew_flow_key *k, const struct ew_pkt *p, int dir)
{
	if (dir == EW_DIR_C2S) {
		__builtin_memcpy(k->saddr, p->saddr, 16);
		__builtin_memcpy(k->daddr, p->daddr, 16);
		k->sport = p->sport;
		k->dport = p->dport;
	} else {
		__builtin_memcpy(k->saddr, p->daddr, 16);
		__builtin_memcpy(k->daddr, p->saddr, 16);
		k->sport = p->dport;
		k->dport = p->sport;
	}
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = 0;
	k->pad[1] = 0;
}

/*
 * This CPU's copy of the flow, created if absent. A copy another CPU created
 * reads as zero here (gen 0), so callers treat it as undecided. NULL when the
 * table refused the entry.
 */
static __always_inline struct ew_flow *ew_flow_get_or_create(const struct ew_flow_key *k)
{
	struct ew_flow *f = bpf_map_lookup_elem(&ew_flows, k);
	struct ew_flow zero = {};

	if (f)
		return f;
	if (bpf_map_update_elem(&ew_flows, k, &zero, BPF_NOEXIST) == 0)
		ew_count_event(EW_C_FLOW_NEW);
	else
		ew_count_event(EW_C_FLOW_RACE);
	return bpf_map_lookup_elem(&ew_flows, k);
}

/* Set by the loader: possible CPUs. 0: walk CPUs until a lookup fails. */
const volatile __u32 ew_nr_cpus = 0;
#define EW_CPUS_MAX 4096

struct ew_stick_ctx {
	const struct ew_flow_key *key;
	__u32 gen;
	__u8 verdict;
	__u8 reason;
};

static long ew_flow_stick_cb(__u32 cpu, void *arg)
{
	struct ew_stick_ctx *c = arg;
	struct ew_flow *f = bpf_map_lookup_percpu_elem(&ew_flows, c->key, cpu);

	if (!f)
		return 1;
	f->gen = c->gen;
	f->verdict = c->verdict;
	f->reason = c->reason;
	return 0;
}

/*
 * Write a verdict into every CPU's copy of a flow, so that it holds on
 * whichever CPU the flow's next packets land (the table is per CPU).
 * Global: its stack is not added to the caller's.
 */
__noinline int ew_flow_stick(const struct ew_flow_key *kp, __u32 gen, __u8 verdict, __u8 reason)
{
	EW_KEY_ARG(kp, 0, EW_KS_FLOW_STICK);
	struct ew_stick_ctx c = { .key = k, .gen = gen, .verdict = verdict, .reason = reason };

	if (!k)
		return 0;
	return bpf_loop(ew_nr_cpus ? ew_nr_cpus : EW_CPUS_MAX, ew_flow_stick_cb, &c, 0);
}

static __always_inline void ew_flow_account(struct ew_flow *f, const struct ew_pkt *p, int dir, __u64 now)
{
	f->packets[dir & 1]++;
	f->bytes[dir & 1] += p->len;
	f->tcp_flags[dir & 1] |= p->tcp_flags;
	if (!f->first_ns)
		f->first_ns = now;
	f->last_ns = now;
}

#endif
