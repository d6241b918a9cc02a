/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-CPU packet/byte counters by hook, reason and action, and event counters. BPF only. */
#ifndef EW_STATS_H
#define EW_STATS_H

#include "maps.h"

static __always_inline void ew_count_pkt(__u32 hook, __u32 reason, __u32 action, __u32 len)
{
	__u32 idx;
	struct ew_ctr *c;

	if (reason >= EW_REASON_MAX || action >= EW_ACTION_MAX)
		return;
	idx = EW_STAT_IDX(hook, reason, action);
	c = bpf_map_lookup_elem(&ew_stats, &idx);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void ew_count_event(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&ew_counters, &counter);

	if (v)
		(*v)++;
}

#endif
