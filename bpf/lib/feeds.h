/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Threat-feed lookup: the class (set of feeds, action) of a source address in
 * the active plane, and a per-CPU hit on that class. BPF only. The tables are
 * built in user space (user/feeds.c) and described in include/edgeward/abi.h:
 *  IPv4: one u16 per /24 (ew_fd4_24, direct index); EW_FD4_HOST sends the
 *        lookup on to the exact address in ew_fd4_32.
 *  IPv6: a u32 per /20 (ew_fd6_l1) says which prefix lengths occur there;
 *        ew_fd6 is probed for those lengths, longest first.
 * Classes already include every covering prefix, so the first hit decides.
 */
#ifndef EW_FEEDS_H
#define EW_FEEDS_H

#include "maps.h"
#include "parse.h"

/* Precedence across block entries and feeds: allow > drop > flag > pass. */
static __always_inline int ew_action_rank(__u8 a)
{
	return a == EW_A_ALLOW ? 3 : a == EW_A_DROP ? 2 : a == EW_A_FLAG ? 1 : 0;
}

static __always_inline __u16 ew_fd4_class(__u32 plane, __be32 saddr)
{
	__u32 slot = (plane << 24) | (bpf_ntohl(saddr) >> 8);
	__u32 elem = slot >> 2;
	struct ew_fd_slot *hs;
	__u64 *e;
	__u16 ent;

	e = bpf_map_lookup_elem(&ew_fd4_24, &elem);
	if (!e)
		return 0;
	ent = *e >> ((slot & 3) * 16);
	if (!(ent & EW_FD4_HOST))
		return ent;
	hs = bpf_map_lookup_elem(&ew_fd4_32, &saddr);
	if (hs && hs->cls[plane])
		return hs->cls[plane];
	return ent & ~EW_FD4_HOST;
}

/* Bits 32 - len .. 31 of a host-order word kept, for a length within it. */
static __always_inline __u32 ew_fd6_word_mask(int len, int word)
{
	int bits = len - word * 32;

	if (bits >= 32)
		return 0xffffffff;
	if (bits <= 0)
		return 0;
	return 0xffffffff << (32 - bits);
}

static __always_inline __u16 ew_fd6_class(struct ew_fd_state *st, __u32 plane, const __u32 *saddr)
{
	__u32 slot = (plane << EW_FD6_L1_BITS) | (bpf_ntohl(saddr[0]) >> (32 - EW_FD6_L1_BITS));
	__u32 elem = slot >> 1, mask;
	struct ew_pfx6_key k;
	struct ew_fd_slot *hs;
	__u64 *e;

	e = bpf_map_lookup_elem(&ew_fd6_l1, &elem);
	if (!e)
		return 0;
	mask = *e >> ((slot & 1) * 32);
	for (int i = 0; i < EW_FD6_LENS_MAX; i++) {
		int len;

		if (!(mask >> i))
			break;
		if (!((mask >> i) & 1))
			continue;
		len = st->lens6[plane][i];
		k.prefixlen = len;
#pragma unroll
		for (int w = 0; w < 4; w++)
			((__u32 *)k.addr)[w] = saddr[w] & bpf_htonl(ew_fd6_word_mask(len, w));
		hs = bpf_map_lookup_elem(&ew_fd6, &k);
		if (hs && hs->cls[plane])
			return hs->cls[plane];
	}
	return 0;
}

/* The feeds' action for the packet's source (EW_A_PASS if no feed holds it). */
static __always_inline __u8 ew_feeds_lookup(const struct ew_pkt *p)
{
	__u32 zero = 0, plane, idx;
	struct ew_fd_state *st = bpf_map_lookup_elem(&ew_fd_state, &zero);
	struct ew_fd_class *c;
	__u64 *hits;
	__u16 cls;

	if (!st)
		return EW_A_PASS;
	plane = st->active & 1;
	if (p->family == 4)
		cls = ew_fd4_class(plane, p->saddr[3]);
	else
		cls = ew_fd6_class(st, plane, p->saddr);
	cls &= EW_FD_CLASS_MAX - 1;
	if (!cls)
		return EW_A_PASS;
	idx = plane * EW_FD_CLASS_MAX + cls;
	hits = bpf_map_lookup_elem(&ew_fd_hits, &idx);
	if (hits)
		(*hits)++;
	c = bpf_map_lookup_elem(&ew_fd_cls, &idx);
	return c ? c->action : EW_A_PASS;
}

#endif
