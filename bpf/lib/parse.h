/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Packet parsing shared by XDP and TC: a cursor walks Ethernet, up to two VLAN
 * tags, IPv4 (options, fragments) or IPv6 (extension headers, bounded), then
 * TCP or UDP. Each step checks bounds and either advances or returns the
 * ew_reason that stops it. BPF only.
 */
#ifndef EW_PARSE_H
#define EW_PARSE_H

#include "compat.h"
#include "edgeward/abi.h"

/* What the parser learnt about one packet. Addresses are IPv4-mapped for v4. */
struct ew_pkt {
	__u32 saddr[4];
	__u32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 family;	/* 4 or 6 */
	__u8 proto;	/* IPPROTO_* of the transport */
	__u8 tcp_flags; /* byte 13 of the TCP header */
	__u8 ttl;	/* IPv4 TTL or IPv6 hop limit */
	__u16 l4_off;	/* offset of the transport header from the frame start */
	__u16 payload_off; /* offset of the transport payload */
	__u32 len;	/* frame length */
	__u16 l3_off;	/* offset of the IP header */
};

struct ew_cursor {
	void *pos;
	void *end;
};

#define EW_MAPPED_PREFIX 0x0000ffff /* ::ffff:0:0/96, third word, host order */

static __always_inline int ew_parse_eth(struct ew_cursor *c, __u16 *proto)
{
	struct ethhdr *eth = c->pos;
	struct vlan_hdr *vh;
	__u16 type;

	if ((void *)(eth + 1) > c->end)
		return EW_R_TRUNC_ETH;
	type = bpf_ntohs(eth->h_proto);
	c->pos = eth + 1;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (type != ETH_P_8021Q && type != ETH_P_8021AD)
			break;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return EW_R_TRUNC_VLAN;
		type = bpf_ntohs(vh->h_vlan_encapsulated_proto);
		c->pos = vh + 1;
	}
	if (type == ETH_P_8021Q || type == ETH_P_8021AD)
		return EW_R_VLAN_DEPTH;
	*proto = type;
	return EW_R_NONE;
}

/* Returns EW_R_NONE with the transport header next, EW_R_FRAGMENT, or an error. */
static __always_inline int ew_parse_ip4(struct ew_cursor *c, struct ew_pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 hlen;
	__u8 vihl;

	if ((void *)(ip + 1) > c->end)
		return EW_R_TRUNC_IP4;
	vihl = *(__u8 *)ip;
	hlen = (vihl & 0x0f) * 4;
	if ((vihl >> 4) != 4 || hlen < sizeof(*ip))
		return EW_R_BAD_IP4;
	if (c->pos + hlen > c->end)
		return EW_R_TRUNC_IP4;

	p->family = 4;
	p->saddr[2] = bpf_htonl(EW_MAPPED_PREFIX);
	p->daddr[2] = bpf_htonl(EW_MAPPED_PREFIX);
	p->saddr[3] = ip->saddr;
	p->daddr[3] = ip->daddr;
	p->proto = ip->protocol;
	p->ttl = ip->ttl;
	c->pos += hlen;
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return EW_R_FRAGMENT;
	return EW_R_NONE;
}

static __always_inline int ew_parse_ip6(struct ew_cursor *c, struct ew_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return EW_R_TRUNC_IP6;
	if ((*(__u8 *)ip6 >> 4) != 6)
		return EW_R_TRUNC_IP6;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	p->ttl = ip6->hop_limit;
	next = ip6->nexthdr;
	c->pos = ip6 + 1;

#pragma unroll
	for (int i = 0; i < EW_IP6_EXT_MAX; i++) {
		struct ipv6_opt_hdr *oh = c->pos;
		struct frag_hdr *fh;

		switch (next) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if ((void *)(oh + 1) > c->end)
				return EW_R_TRUNC_IP6;
			next = oh->nexthdr;
			c->pos += ((__u32)oh->hdrlen + 1) * 8;
			break;
		case NEXTHDR_AUTH:
			if ((void *)(oh + 1) > c->end)
				return EW_R_TRUNC_IP6;
			next = oh->nexthdr;
			c->pos += ((__u32)oh->hdrlen + 2) * 4;
			break;
		case NEXTHDR_FRAGMENT:
			fh = c->pos;
			if ((void *)(fh + 1) > c->end)
				return EW_R_TRUNC_IP6;
			next = fh->nexthdr;
			c->pos = fh + 1;
			if (fh->frag_off & bpf_htons(0xfff8)) {
				p->proto = next;
				return EW_R_FRAGMENT;
			}
			break;
		default:
			p->proto = next;
			return EW_R_NONE;
		}
		/* A header that ends past the frame is cut short, not its successor. */
		if (c->pos > c->end)
			return EW_R_TRUNC_IP6;
	}
	/* EW_IP6_EXT_MAX headers walked: too long only if yet another follows. */
	switch (next) {
	case NEXTHDR_HOP:
	case NEXTHDR_ROUTING:
	case NEXTHDR_DEST:
	case NEXTHDR_AUTH:
	case NEXTHDR_FRAGMENT:
		return EW_R_IP6_EXT;
	}
	p->proto = next;
	return EW_R_NONE;
}

static __always_inline int ew_parse_l4(struct ew_cursor *c, struct ew_pkt *p, void *start)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;
		__u32 doff;

		if ((void *)(th + 1) > c->end)
			return EW_R_TRUNC_L4;
		doff = th->doff * 4;
		if (doff < sizeof(*th) || c->pos + doff > c->end)
			return EW_R_TRUNC_L4;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->l4_off = c->pos - start;
		p->payload_off = c->pos + doff - start;
		return EW_R_NONE;
	}
	if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if ((void *)(uh + 1) > c->end)
			return EW_R_TRUNC_L4;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4_off = c->pos - start;
		p->payload_off = (void *)(uh + 1) - start;
		return EW_R_NONE;
	}
	return EW_R_NO_L4;
}

/*
 * Parse a frame. Returns EW_R_NONE when addresses and ports are known,
 * EW_R_FRAGMENT or EW_R_NO_L4 when only addresses are, or the reason that
 * stopped it; p->family is non-zero whenever addresses are known.
 */
static __always_inline int ew_parse(struct ew_pkt *p, void *data, void *data_end)
{
	struct ew_cursor c = { .pos = data, .end = data_end };
	__u16 proto = 0;
	int r;

	p->len = data_end - data;
	r = ew_parse_eth(&c, &proto);
	if (r != EW_R_NONE)
		return r;
	p->l3_off = c.pos - data;
	if (proto == ETH_P_IP)
		r = ew_parse_ip4(&c, p);
	else if (proto == ETH_P_IPV6)
		r = ew_parse_ip6(&c, p);
	else
		return EW_R_NOT_IP;
	if (r != EW_R_NONE)
		return r;
	return ew_parse_l4(&c, p, data);
}

/* Addresses known: a prefix lookup can decide this packet. */
static __always_inline int ew_parse_has_addrs(int reason)
{
	return reason == EW_R_NONE || reason == EW_R_FRAGMENT || reason == EW_R_NO_L4;
}

#endif
