/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Drop verdicts kept apart from the flow table. ew_flows is an LRU: a flood
 * of new flows evicts a dropped flow's entry, and the flow's next packet
 * would be decided afresh from its source prefix alone, forgetting a drop
 * that came from its hello or from a detector. Every drop given to a flow is
 * also written to ew_dropped (small, shared, holding drops only, so a flood
 * of passed flows cannot push it out), which is read only when the flow
 * table misses: mid-flow packets pay nothing. A bit per key hash in
 * ew_dropmark, set before the write, lets a flow that was never dropped (a
 * new flow, each packet of a blocklisted source) skip that lookup too.
 * BPF only.
 */
#ifndef EW_DROPS_H
#define EW_DROPS_H

#include "maps.h"

#define EW_DROP_LIVE (1u << 8)	/* ew_drop_recall: a drop under the current rules, reason in the low byte */
#define EW_DROP_STALE (1u << 9) /* a drop under older rules: re-decide the flow */

/*
 * Remember that the flow k was dropped under rule generation gen. A global
 * function, checked once; its key argument is copied to the stack first:
 * Linux 6.1's verifier refuses a global function's pointer argument
 * (PTR_TO_MEM) as a map key ("R2 type=mem expected=fp, ...").
 */
__noinline int ew_drop_remember(const struct ew_flow_key *k, __u32 gen, __u8 reason)
{
	struct ew_drop d = { .gen = gen, .reason = reason };
	struct ew_flow_key key;
	__u32 bit, w;
	__u64 *m;

	if (!k)
		return 0;
	__builtin_memcpy(&key, k, sizeof(key));
	bit = ew_dropmark_bit(&key);
	w = bit / 64;
	m = bpf_map_lookup_elem(&ew_dropmark, &w);
	if (m)
		__sync_fetch_and_or(m, 1ull << (bit % 64));
	return bpf_map_update_elem(&ew_dropped, &key, &d, BPF_ANY);
}

/*
 * A flow missing from ew_flows: EW_DROP_LIVE | reason, EW_DROP_STALE or 0.
 * Inline, k on the caller's stack: every packet without a flow entry (each
 * packet of a blocklisted source among them) comes here, and a global
 * function's call and key copy cost it as much as the lookup.
 */
static __always_inline __u32 ew_drop_recall(struct ew_flow_key *k, __u32 gen)
{
	__u32 bit = ew_dropmark_bit(k), w = bit / 64;
	__u64 *m = bpf_map_lookup_elem(&ew_dropmark, &w);
	struct ew_drop *d;

	if (m && !(*m & (1ull << (bit % 64))))
		return 0; /* never dropped */
	d = bpf_map_lookup_elem(&ew_dropped, k);
	if (!d)
		return 0;
	if (d->gen == gen && gen)
		return EW_DROP_LIVE | d->reason;
	bpf_map_delete_elem(&ew_dropped, k);
	return EW_DROP_STALE;
}

#endif
