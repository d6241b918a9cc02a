// SPDX-License-Identifier: BSD-2-Clause
/* Test packet builder: frames from a struct pkt_spec (see pkt.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "pkt.h"

/* A frame under construction: bytes, write offset, overflow flag. */
struct wbuf {
	uint8_t b[PKT_MAX];
	size_t off;
	bool overflow;
};

static uint8_t *put(struct wbuf *w, const void *data, size_t n)
{
	uint8_t *at = w->b + w->off;

	if (w->overflow || n > sizeof(w->b) - w->off) {
		w->overflow = true;
		return w->b; /* scratch: the build fails at the end */
	}
	if (data)
		memcpy(at, data, n);
	else
		memset(at, 0, n);
	w->off += n;
	return at;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

uint16_t pkt_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

uint32_t pkt_pseudo_sum(int family, const uint8_t *saddr, const uint8_t *daddr, uint8_t proto,
			uint32_t l4_len)
{
	int alen = family == 6 ? 16 : 4;
	uint32_t s = 0;

	for (int i = 0; i < alen; i += 2) {
		s += (uint32_t)saddr[i] << 8 | saddr[i + 1];
		s += (uint32_t)daddr[i] << 8 | daddr[i + 1];
	}
	s += proto;
	s += l4_len >> 16;
	s += l4_len & 0xffff;
	return s;
}

const char *pkt_layer_name(enum pkt_layer l)
{
	static const char *const names[PKT_L_MAX] = {
		[PKT_L_NONE] = "none",	     [PKT_L_ETH] = "eth",	  [PKT_L_VLAN] = "vlan",
		[PKT_L_IP] = "ip",	     [PKT_L_IP_OPTS] = "ip_opts", [PKT_L_L4] = "l4",
		[PKT_L_L4_OPTS] = "l4_opts", [PKT_L_PAYLOAD] = "payload",
	};

	return l < PKT_L_MAX ? names[l] : "?";
}

size_t pkt_cut_len(const struct pkt_info *info, enum pkt_layer l)
{
	if (l <= PKT_L_NONE || l >= PKT_L_MAX || info->end[l] == info->off[l])
		return 0;
	return info->end[l] - 1;
}

static uint8_t ext_nexthdr(enum pkt_ext_type t)
{
	switch (t) {
	case PKT_X_HOP: return 0;
	case PKT_X_RT: return 43;
	case PKT_X_DST: return 60;
	case PKT_X_FRAG: return 44;
	case PKT_X_AH: return 51;
	default: return 59; /* no next header */
	}
}

static int resolve_addrs(const struct pkt_spec *s, struct pkt_info *in)
{
	const char *sa = s->saddr, *da = s->daddr;
	int fam = s->family;

	if (!fam)
		fam = (sa && strchr(sa, ':')) || (da && strchr(da, ':')) ? 6 : 4;
	if (fam != 4 && fam != 6) {
		fprintf(stderr, "pkt: family %d is not 4 or 6\n", fam);
		return -1;
	}
	if (!sa)
		sa = fam == 4 ? "198.18.0.1" : "2001:db8::1";
	if (!da)
		da = fam == 4 ? "198.18.0.2" : "2001:db8::2";
	if (inet_pton(fam == 4 ? AF_INET : AF_INET6, sa, in->saddr) != 1 ||
	    inet_pton(fam == 4 ? AF_INET : AF_INET6, da, in->daddr) != 1) {
		fprintf(stderr, "pkt: bad IPv%d address pair %s -> %s\n", fam, sa, da);
		return -1;
	}
	in->family = fam;
	return 0;
}

static void build_eth(const struct pkt_spec *s, struct wbuf *w, struct pkt_info *in)
{
	static const uint8_t dmac[6] = { 2, 0, 0, 0, 0, 2 }, smac[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t zero[6];
	uint16_t type = s->ethertype ? s->ethertype : in->family == 6 ? 0x86dd : 0x0800;
	uint8_t *p;

	in->off[PKT_L_ETH] = w->off;
	put(w, memcmp(s->dmac, zero, 6) ? s->dmac : dmac, 6);
	put(w, memcmp(s->smac, zero, 6) ? s->smac : smac, 6);
	p = put(w, NULL, 2);
	in->end[PKT_L_ETH] = in->off[PKT_L_VLAN] = w->off;
	/* Each tag: this TPID in the previous type field, then TCI + next type. */
	for (int i = 0; i < s->vlans; i++) {
		uint8_t *tag;

		put16(p, s->vlan_tpid[i] ? s->vlan_tpid[i] : 0x8100);
		tag = put(w, NULL, 4);
		put16(tag, (s->vlan_id[i] ? s->vlan_id[i] : 100 + i) & 0x0fff);
		p = tag + 2;
	}
	put16(p, type);
	in->end[PKT_L_VLAN] = w->off;
}

/* Returns a pointer to the IPv4 header, to patch lengths and checksum later. */
static uint8_t *build_ip4(const struct pkt_spec *s, struct wbuf *w, struct pkt_info *in)
{
	size_t olen = (s->ip4_opts_len + 3u) & ~3u;
	uint16_t frag = (s->frag_off & 0x1fff) | (s->mf ? 0x2000 : 0) | (s->df ? 0x4000 : 0);
	uint8_t *ip, *o;

	in->off[PKT_L_IP] = w->off;
	ip = put(w, NULL, 20);
	ip[0] = (s->ip_version ? s->ip_version : 4) << 4 | (s->ip4_ihl ? s->ip4_ihl : 5 + olen / 4);
	ip[1] = s->tos;
	put16(ip + 4, s->ip_id);
	put16(ip + 6, frag);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = in->proto;
	memcpy(ip + 12, in->saddr, 4);
	memcpy(ip + 16, in->daddr, 4);
	in->end[PKT_L_IP] = in->off[PKT_L_IP_OPTS] = w->off;
	o = put(w, NULL, olen);
	if (olen) {
		memset(o, 1, olen - 1); /* NOPs, then EOL */
		o[olen - 1] = 0;
	}
	in->end[PKT_L_IP_OPTS] = w->off;
	return ip;
}

/* Returns a pointer to the IPv6 header; *l4_frag is set for a non-first fragment. */
static uint8_t *build_ip6(const struct pkt_spec *s, struct wbuf *w, struct pkt_info *in, bool *l4_frag)
{
	uint8_t *ip, *next;

	in->off[PKT_L_IP] = w->off;
	ip = put(w, NULL, 40);
	put32(ip, 6u << 28 | (uint32_t)s->tos << 20);
	if (s->ip_version)
		ip[0] = s->ip_version << 4 | (ip[0] & 0x0f);
	ip[7] = s->ttl ? s->ttl : 64;
	memcpy(ip + 8, in->saddr, 16);
	memcpy(ip + 24, in->daddr, 16);
	next = ip + 6;
	in->end[PKT_L_IP] = in->off[PKT_L_IP_OPTS] = w->off;
	for (int i = 0; i < PKT_EXT_MAX && s->ip6_ext[i].type != PKT_X_NONE; i++) {
		const struct pkt_ip6_ext *x = &s->ip6_ext[i];
		size_t len = x->len ? x->len : x->type == PKT_X_AH ? 12 : 8;
		uint8_t *h;

		*next = ext_nexthdr(x->type);
		h = put(w, NULL, len);
		next = h;
		switch (x->type) {
		case PKT_X_AH:
			h[1] = len / 4 - 2;
			put32(h + 4, 0x100); /* SPI */
			put32(h + 8, 1);     /* sequence */
			break;
		case PKT_X_FRAG:
			put16(h + 2, (uint16_t)(x->frag_off << 3) | (x->mf ? 1 : 0));
			put32(h + 4, x->id ? x->id : 0x1234);
			if (x->frag_off)
				*l4_frag = true;
			break;
		case PKT_X_RT:
			h[1] = len / 8 - 1;
			h[2] = 0; /* routing type 0, segments left 0: no address consumed */
			break;
		default: /* hop-by-hop, destination: PadN over the option space */
			h[1] = len / 8 - 1;
			h[2] = 1;
			h[3] = len - 4;
			break;
		}
	}
	*next = in->proto;
	in->end[PKT_L_IP_OPTS] = w->off;
	return ip;
}

static void build_l4(const struct pkt_spec *s, struct wbuf *w, struct pkt_info *in)
{
	uint8_t *h;

	in->off[PKT_L_L4] = w->off;
	if (in->proto == IPPROTO_TCP || in->proto == IPPROTO_UDP) {
		in->sport = s->sport ? s->sport : 40000;
		in->dport = s->dport ? s->dport : 443;
	}
	switch (in->proto) {
	case IPPROTO_TCP: {
		size_t olen = (s->tcp_opts.len + 3u) & ~3u;
		uint16_t fl = s->tcp_flags ? s->tcp_flags : PKT_SYN;

		h = put(w, NULL, 20);
		put16(h, in->sport);
		put16(h + 2, in->dport);
		put32(h + 4, s->seq ? s->seq : 1);
		put32(h + 8, s->ack);
		h[12] = (s->tcp_doff ? s->tcp_doff : 5 + olen / 4) << 4;
		h[13] = fl & 0xff; /* PKT_NOFLAGS leaves 0 */
		put16(h + 14, s->win ? s->win : 64240);
		put16(h + 18, s->urg);
		in->end[PKT_L_L4] = in->off[PKT_L_L4_OPTS] = w->off;
		put(w, s->tcp_opts.p, s->tcp_opts.len);
		put(w, NULL, olen - s->tcp_opts.len);
		in->end[PKT_L_L4_OPTS] = w->off;
		return;
	}
	case IPPROTO_UDP:
		h = put(w, NULL, 8);
		put16(h, in->sport);
		put16(h + 2, in->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		h = put(w, NULL, 8);
		h[0] = in->proto == IPPROTO_ICMP ? 8 : 128; /* echo request */
		put16(h + 4, s->icmp_id);
		put16(h + 6, s->icmp_seq);
		break;
	default:
		break; /* raw: payload follows the IP layer */
	}
	in->end[PKT_L_L4] = in->off[PKT_L_L4_OPTS] = in->end[PKT_L_L4_OPTS] = w->off;
}

static void build_payload(const struct pkt_spec *s, struct wbuf *w, struct pkt_info *in)
{
	uint8_t *p;

	in->off[PKT_L_PAYLOAD] = w->off;
	if (s->payload.len)
		put(w, s->payload.p, s->payload.len);
	p = put(w, NULL, s->fill);
	for (size_t i = 0; i < s->fill && !w->overflow; i++)
		p[i] = i;
	in->end[PKT_L_PAYLOAD] = w->off;
}

/* L4 checksum over [l4 start, frame end). */
static void l4_checksum(struct wbuf *w, struct pkt_info *in)
{
	size_t l4 = in->off[PKT_L_L4], len = w->off - l4;
	uint8_t *h = w->b + l4;
	uint32_t pseudo = pkt_pseudo_sum(in->family, in->saddr, in->daddr, in->proto, len);
	uint16_t c;

	switch (in->proto) {
	case IPPROTO_TCP:
		put16(h + 16, pkt_csum(h, len, pseudo));
		break;
	case IPPROTO_UDP:
		put16(h + 4, len);
		c = pkt_csum(h, len, pseudo);
		put16(h + 6, c ? c : 0xffff);
		break;
	case IPPROTO_ICMP:
		put16(h + 2, pkt_csum(h, len, 0));
		break;
	case IPPROTO_ICMPV6:
		put16(h + 2, pkt_csum(h, len, pseudo));
		break;
	}
}

int pkt_build(const struct pkt_spec *s, void *buf, size_t cap, struct pkt_info *info)
{
	static __thread struct wbuf w;
	struct pkt_info in = {};
	uint8_t *ip = NULL;
	bool l4_frag = false;

	w.off = 0;
	w.overflow = false;
	if (s->vlans < 0 || s->vlans > PKT_VLAN_MAX || s->ip4_opts_len > 40 || s->tcp_opts.len > 40) {
		fprintf(stderr, "pkt: vlans %d (max %d), ip4_opts_len %u or tcp_opts %zu (max 40) out of range\n",
			s->vlans, PKT_VLAN_MAX, s->ip4_opts_len, s->tcp_opts.len);
		return -1;
	}
	if (!s->ethertype && resolve_addrs(s, &in))
		return -1;
	in.proto = s->ethertype ? 0 : s->proto ? s->proto : IPPROTO_TCP;
	build_eth(s, &w, &in);
	for (int l = PKT_L_IP; l < PKT_L_MAX; l++)
		in.off[l] = in.end[l] = w.off;
	if (!s->ethertype) {
		if (in.family == 4) {
			ip = build_ip4(s, &w, &in);
			l4_frag = s->frag_off != 0;
		} else {
			ip = build_ip6(s, &w, &in, &l4_frag);
		}
		for (int l = PKT_L_L4; l < PKT_L_MAX; l++)
			in.off[l] = in.end[l] = w.off;
		if (!l4_frag)
			build_l4(s, &w, &in);
	}
	build_payload(s, &w, &in);
	if (w.overflow || w.off > cap) {
		fprintf(stderr, "pkt: frame does not fit (%zu bytes of room)\n", cap);
		return -1;
	}

	if (ip && in.family == 4) {
		size_t hlen = in.end[PKT_L_IP_OPTS] - in.off[PKT_L_IP];

		put16(ip + 2, w.off - in.off[PKT_L_IP]);
		put16(ip + 10, pkt_csum(ip, hlen, 0));
	} else if (ip) {
		put16(ip + 4, w.off - in.end[PKT_L_IP]);
	}
	if (ip && !l4_frag)
		l4_checksum(&w, &in);

	in.full_len = w.off;
	in.len = w.off;
	if (s->cut) {
		size_t c = pkt_cut_len(&in, s->cut);

		if (!c) {
			fprintf(stderr, "pkt: cannot cut at layer %s: absent\n", pkt_layer_name(s->cut));
			return -1;
		}
		in.len = c;
	}
	if (s->cut_len && s->cut_len < in.len)
		in.len = s->cut_len;
	memcpy(buf, w.b, in.len);
	if (info)
		*info = in;
	return (int)in.len;
}
