/* SPDX-License-Identifier: BSD-2-Clause */
/* Source-prefix block lists: longest-prefix lookup for IPv4 and IPv6. BPF only. */
#ifndef EW_PREFIX_H
#define EW_PREFIX_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

/*
 * Returns the matched entry's action, or EW_A_PASS when no entry matches.
 * The barrier keeps the two lookups apart: clang otherwise merges them into
 * one call whose map is ew_pfx4 or ew_pfx6, and the verifier, seeing two maps
 * at one call, leaves it to the generic helper, an indirect call (a retpoline
 * where that mitigation is on) instead of a direct call into the trie.
 */
static __always_inline __u8 ew_prefix_lookup(const struct ew_pkt *p)
{
	struct ew_pfx_val *v;

	ew_count_event(EW_C_PFX_LOOKUP);
	if (p->family == 4) {
		struct ew_pfx4_key k = { .prefixlen = 32, .addr = p->saddr[3] };

		v = bpf_map_lookup_elem(&ew_pfx4, &k);
	} else {
		struct ew_pfx6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, p->saddr, 16);
		v = bpf_map_lookup_elem(&ew_pfx6, &k);
		barrier_var(v);
	}
	if (!v)
		return EW_A_PASS;
	__sync_fetch_and_add(&v->hits, 1);
	return v->action;
}

#endif
