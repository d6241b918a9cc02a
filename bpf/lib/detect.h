/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Detectors of connection patterns that relays cannot hide, and the policy
 * that turns their evidence into an action. BPF only. They run on SYNs, on
 * SYN-ACKs and on a flow's first EW_HS_PKTS packets per direction (the
 * handshakes), never on mid-flow packets:
 *
 *   relay_rtt      TLS round trip minus TCP round trip, both measured at
 *                  the server (ew_now()), above a gap and a ratio
 *   tunnel_mss     MSS + IP/TCP headers equal to a tunnel's MTU (ew_tunmtu)
 *   stack_mismatch the JA4's OS family (ew_tlsos) vs the SYN's initial TTL
 *                  and p0f label
 *   conn_rate      token bucket of new connections per source prefix
 *   fanout         HyperLogLog of source addresses per JA4 / TCP signature
 */
#ifndef EW_DETECT_H
#define EW_DETECT_H

#include "maps.h"
#include "parse.h"
#include "clock.h"
#include "stats.h"
#include "tcpsig.h"

#define EW_HS_PKTS 16 /* per-direction packets a flow's handshakes may span */


/* Zero values to create entries from (.bss: too big for the stack). */
static struct ew_conn ew_conn_zero;
static struct ew_fanout ew_fan_zero;

/*
 * Thresholds and policy; the defaults until the CLI writes them. NULL only
 * if the array lookup fails, which it cannot.
 */
static __always_inline const struct ew_detect_cfg *ew_detcfg_get(void)
{
	__u32 zero = 0;
	struct ew_detect_cfg *c = bpf_map_lookup_elem(&ew_detcfg, &zero);

	if (c && !c->set)
		ew_detect_cfg_init(c);
	return c;
}

/* The flow's evidence entry; created on request (a SYN). */
static __always_inline struct ew_conn *ew_conn_get(const struct ew_flow_key *k, bool create)
{
	struct ew_conn *c = bpf_map_lookup_elem(&ew_conns, k);

	if (c || !create)
		return c;
	if (bpf_map_update_elem(&ew_conns, k, &ew_conn_zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&ew_conns, k)) {
		ew_count_event(EW_C_CONN_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&ew_conns, k);
}

/* Transport payload length from the IP header (frames may be padded). */
static __always_inline __u32 ew_l4_payload(const struct ew_pkt *p, void *data, void *data_end)
{
	__u8 *ip = data + (p->l3_off & 0x3f);
	__u32 end;

	if (ip + 6 > (__u8 *)data_end)
		return 0;
	if (p->family == 4)
		end = p->l3_off + ((__u32)ip[2] << 8 | ip[3]);
	else
		end = p->l3_off + 40 + ((__u32)ip[4] << 8 | ip[5]);
	return end > p->payload_off ? end - p->payload_off : 0;
}

/* --- fan-out: HyperLogLog of sources per fingerprint ------------------- */

/* round(256 * ln(256 / z)): linear counting for z zero registers. */
static const __u16 ew_hll_lc[EW_HLL_M + 1] = {
	0, 1420, 1242, 1138, 1065, 1008, 961, 921, 887, 857, 830, 806, 783, 763, 744, 726, 710,
	694, 680, 666, 653, 640, 628, 617, 606, 596, 585, 576, 567, 558, 549, 540, 532, 524, 517,
	509, 502, 495, 488, 482, 475, 469, 463, 457, 451, 445, 439, 434, 429, 423, 418, 413, 408,
	403, 398, 394, 389, 385, 380, 376, 371, 367, 363, 359, 355, 351, 347, 343, 339, 336, 332,
	328, 325, 321, 318, 314, 311, 308, 304, 301, 298, 295, 291, 288, 285, 282, 279, 276, 273,
	270, 268, 265, 262, 259, 256, 254, 251, 248, 246, 243, 241, 238, 236, 233, 231, 228, 226,
	223, 221, 219, 216, 214, 212, 209, 207, 205, 203, 200, 198, 196, 194, 192, 190, 188, 186,
	184, 181, 179, 177, 175, 173, 172, 170, 168, 166, 164, 162, 160, 158, 156, 155, 153, 151,
	149, 147, 146, 144, 142, 140, 139, 137, 135, 133, 132, 130, 128, 127, 125, 124, 122, 120,
	119, 117, 116, 114, 112, 111, 109, 108, 106, 105, 103, 102, 100, 99, 97, 96, 94, 93, 92,
	90, 89, 87, 86, 85, 83, 82, 80, 79, 78, 76, 75, 74, 72, 71, 70, 68, 67, 66, 64, 63, 62,
	61, 59, 58, 57, 56, 54, 53, 52, 51, 49, 48, 47, 46, 45, 43, 42, 41, 40, 39, 38, 36, 35,
	34, 33, 32, 31, 30, 29, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 15, 14, 13, 12, 11,
	10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
};

static __always_inline __u64 ew_mix64(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static __always_inline __u64 ew_addr_hash(const __u32 a[4])
{
	__u64 h = ((__u64)a[0] << 32 | a[1]) ^ 0x9e3779b97f4a7c15ULL;

	h = ew_mix64(h) ^ ((__u64)a[2] << 32 | a[3]);
	return ew_mix64(h);
}

/* Number of leading zero bits of a non-zero value (no clz in BPF). */
static __always_inline __u32 ew_clz64(__u64 x)
{
	__u32 n = 0;

	if (!(x >> 32)) { n += 32; x <<= 32; }
	if (!(x >> 48)) { n += 16; x <<= 16; }
	if (!(x >> 56)) { n += 8; x <<= 8; }
	if (!(x >> 60)) { n += 4; x <<= 4; }
	if (!(x >> 62)) { n += 2; x <<= 2; }
	if (!(x >> 63)) n += 1;
	return n;
}

/*
 * Count a connection from saddr for fingerprint k. Returns the estimate of
 * distinct sources. Registers and sums are updated without locks: two CPUs
 * racing on one register can skew the estimate slightly, never corrupt it.
 */
static __always_inline __u32 ew_fanout_add(const struct ew_fan_key *k, const __u32 saddr[4],
					   bool flagged)
{
	struct ew_fanout *f = bpf_map_lookup_elem(&ew_fanout, k);
	__u64 h, def, est;
	__u32 idx, nz;
	__u8 rank, old;

	if (!f) {
		bpf_map_update_elem(&ew_fanout, k, &ew_fan_zero, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&ew_fanout, k);
		if (!f)
			return 0;
	}
	__sync_fetch_and_add(&f->conns, 1);
	if (flagged)
		__sync_fetch_and_add(&f->flagged, 1);
	h = ew_addr_hash(saddr);
	idx = h >> (64 - EW_HLL_P);
	rank = ew_clz64((h << EW_HLL_P) | (1ULL << (EW_HLL_P - 1))) + 1;
	old = f->reg[idx & (EW_HLL_M - 1)];
	if (rank > old) {
		f->reg[idx & (EW_HLL_M - 1)] = rank;
		/* inv_sum counts 1 - 2^-reg per register, in units of 2^-32 */
		__sync_fetch_and_add(&f->inv_sum, (1ULL << (32 - old)) - (1ULL << (32 - rank)));
		if (!old)
			__sync_fetch_and_add(&f->nonzero, 1);
	}
	nz = EW_HLL_M - f->nonzero; /* registers still zero */
	def = ((__u64)EW_HLL_M << 32) - f->inv_sum; /* sum of 2^-reg, units of 2^-32 */
	if (!def)
		def = 1;
	/* alpha_256 * 256^2 = 47073 */
	est = (47073ULL << 32) / def;
	if (est <= 5 * EW_HLL_M / 2 && nz > 0 && nz <= EW_HLL_M)
		est = ew_hll_lc[nz];
	f->estimate = est;
	return est;
}

static __always_inline void ew_fan_key_tcp(struct ew_fan_key *k, const struct ew_tcp_sig *s)
{
	k->kind = EW_FK_TCP;
	__builtin_memcpy(k->fp, s, sizeof(*s));
}

static __always_inline void ew_fan_key_ja4(struct ew_fan_key *k, const char *ja4)
{
	k->kind = EW_FK_JA4;
	__builtin_memcpy(k->fp, ja4, 40);
	k->fp[39] = 0;
}

/* --- evidence and policy ---------------------------------------------- */

static __always_inline void ew_evcount_inc(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&ew_evcount, &i);

	if (v)
		(*v)++;
}

/*
 * Record evidence bits on a connection: bits whose policy is `off` are
 * dropped, new bits are counted per reason, a connection's first bit counts
 * it as flagged on its fingerprints. Returns the connection's bits.
 */
static __always_inline __u32 ew_evidence_add(struct ew_conn *c, __u32 bits,
					     const struct ew_detect_cfg *cfg)
{
	__u32 fresh, had = c->reasons;
	struct ew_fan_key fk = {};
	struct ew_fanout *fo;

#pragma unroll
	for (int i = 0; i < EW_EV_MAX; i++)
		if (cfg->policy[i] == EW_P_OFF)
			bits &= ~(1u << i);
	fresh = bits & ~had;
	if (!fresh)
		return had;
	c->reasons = had | fresh;
#pragma unroll
	for (__u32 i = 0; i < EW_EV_MAX; i++)
		if (fresh & (1u << i))
			ew_evcount_inc(i);
	if (had)
		return c->reasons;
	ew_evcount_inc(EW_EV_MAX);
	if (c->tcp.os_flags & EW_OSM_SEEN) {
		ew_fan_key_tcp(&fk, &c->tcp.sig);
		fo = bpf_map_lookup_elem(&ew_fanout, &fk);
		if (fo)
			__sync_fetch_and_add(&fo->flagged, 1);
	}
	if (c->tls.ja4[0]) {
		__builtin_memset(&fk, 0, sizeof(fk));
		ew_fan_key_ja4(&fk, c->tls.ja4);
		fo = bpf_map_lookup_elem(&ew_fanout, &fk);
		if (fo)
			__sync_fetch_and_add(&fo->flagged, 1);
	}
	return c->reasons;
}

/* enum ew_reason of an evidence bit index. */
static __always_inline __u8 ew_evidence_reason(__u32 i)
{
	switch (i) {
	case 1: return EW_R_RELAY_RTT;
	case 2: return EW_R_TUNNEL_MSS;
	case 3: return EW_R_STACK_MISMATCH;
	case 4: return EW_R_CONN_RATE;
	case 5: return EW_R_FANOUT;
	default: return EW_R_NONE;
	}
}

/*
 * The policy's answer for a connection's detector bits (EW_E_FP_RULE is the
 * fingerprint rules' business and is skipped): EW_A_DROP if any bit's policy
 * is drop, EW_A_FLAG if any bit is set, else EW_A_PASS; *reason names the
 * first deciding bit.
 */
static __always_inline __u8 ew_policy_action(__u32 bits, const struct ew_detect_cfg *cfg, __u8 *reason)
{
	__u8 act = EW_A_PASS;

#pragma unroll
	for (__u32 i = 1; i < EW_EV_MAX; i++) {
		if (!(bits & (1u << i)))
			continue;
		if (cfg->policy[i] == EW_P_DROP) {
			*reason = ew_evidence_reason(i);
			return EW_A_DROP;
		}
		if (act == EW_A_PASS) {
			act = EW_A_FLAG;
			*reason = ew_evidence_reason(i);
		}
	}
	return act;
}

/* --- per-connection detectors ------------------------------------------ */

/* conn_rate: one token per new connection from the source's prefix. */
static __always_inline bool ew_rate_exceeded(const struct ew_pkt *p, const struct ew_detect_cfg *cfg, __u64 now)
{
	struct ew_rate_key k = { .family = p->family };
	struct ew_bucket *b, nb;
	__u32 plen = p->family == 4 ? 96 + cfg->pfx4_len : cfg->pfx6_len;
	__u64 cap = (__u64)cfg->rate_burst * 1000, tok;
	__u8 *a = (__u8 *)p->saddr;

	if (plen > 128)
		plen = 128;
	k.plen = plen;
#pragma unroll
	for (int i = 0; i < 16; i++) {
		__u32 bits = plen > i * 8 ? plen - i * 8 : 0;

		k.addr[i] = bits >= 8 ? a[i] : bits ? a[i] & (__u8)(0xff00 >> bits) : 0;
	}
	b = bpf_map_lookup_elem(&ew_rate, &k);
	if (!b) {
		/* a full bucket, less this connection */
		nb.tokens_m = cap >= 1000 ? cap - 1000 : 0;
		nb.last_ns = now;
		bpf_map_update_elem(&ew_rate, &k, &nb, BPF_ANY);
		return cap < 1000;
	}
	/* refill: rate_per_s tokens per second = rate_per_s milli-tokens per ms */
	tok = b->tokens_m;
	if (now > b->last_ns)
		tok += (now - b->last_ns) / 1000000 * cfg->rate_per_s +
		       ((now - b->last_ns) % 1000000) * cfg->rate_per_s / 1000000;
	if (tok > cap)
		tok = cap;
	b->last_ns = now;
	if (tok < 1000) {
		b->tokens_m = tok;
		return true;
	}
	b->tokens_m = tok - 1000;
	return false;
}

/* Initial TTL a family's stacks use. */
static __always_inline __u8 ew_family_ittl(__u8 fam)
{
	return fam == EW_OS_WINDOWS ? 128 : 64;
}

/*
 * stack_mismatch: the TLS fingerprint's OS family against the SYN seen.
 * Disagreement is a different initial TTL, or a p0f label of another family.
 */
static __always_inline bool ew_stack_mismatch(const struct ew_conn *c)
{
	struct ew_ja4_key k = {};
	struct ew_tls_os *o;

	if (!(c->tcp.os_flags & EW_OSM_SEEN) || !c->tls.ja4[0])
		return false;
	__builtin_memcpy(k.ja4, c->tls.ja4, sizeof(k.ja4));
	k.ja4[sizeof(k.ja4) - 1] = 0;
	o = bpf_map_lookup_elem(&ew_tlsos, &k);
	if (!o || o->family == EW_OS_UNKNOWN)
		return false;
	if (c->tcp.sig.ittl != ew_family_ittl(o->family))
		return true;
	return c->tcp.os_id && !(c->tcp.os_flags & EW_OSM_APP) &&
	       c->tcp.os_family != EW_OS_UNKNOWN && c->tcp.os_family != EW_OS_OTHER &&
	       c->tcp.os_family != o->family;
}

/*
 * A client SYN: fingerprint, label, tunnel MSS, prefix rate, fan-out by TCP
 * signature, and the start of the timing. Returns the evidence found.
 */
static __always_inline __u32 ew_detect_syn(struct xdp_md *ctx, const struct ew_pkt *p,
					   struct ew_conn *c, const struct ew_detect_cfg *cfg, __u64 now)
{
	struct ew_fan_key fk = {};
	__u32 ev = 0, mtu, zero = 0;
	struct ew_tunnel *tn;
	struct ew_optwalk *w;

	__builtin_memset(&c->t, 0, sizeof(c->t));
	c->t.syn_ns = now;
	if (cfg->policy[4] != EW_P_OFF && ew_rate_exceeded(p, cfg, now))
		ev |= EW_E_CONN_RATE;
	w = bpf_map_lookup_elem(&ew_det_scr, &zero);
	if (!w || ew_tcp_syn_fp(ctx, p, w, &c->tcp))
		return ev;
	ew_count_event(EW_C_SYN_FP);
	ew_tcp_os_match(&c->tcp);
	if (c->tcp.os_id)
		ew_count_event(EW_C_OS_MATCH);
	if (c->tcp.sig.mss) {
		mtu = c->tcp.sig.mss + (p->family == 4 ? 40 : 60);
		tn = bpf_map_lookup_elem(&ew_tunmtu, &mtu);
		if (tn) {
			c->tcp.tunnel_mtu = mtu;
			ev |= EW_E_TUNNEL_MSS;
		}
	}
	ew_fan_key_tcp(&fk, &c->tcp.sig);
	if (ew_fanout_add(&fk, p->saddr, c->reasons != 0) >= cfg->fanout_sources)
		ev |= EW_E_FANOUT;
	return ev;
}

/* SYN rules: the exact signature, else the OS label. Returns the rule's action or EW_A_PASS. */
static __always_inline __u8 ew_tcp_rule(const struct ew_tcp_fp *fp)
{
	struct ew_tcp_rule_key k = { .kind = EW_TR_SIG };
	struct ew_os_label *l;
	struct ew_fp_val *v;
	__u32 id = fp->os_id;

	if (!(fp->os_flags & EW_OSM_SEEN))
		return EW_A_PASS;
	__builtin_memcpy(k.val, &fp->sig, sizeof(fp->sig));
	v = bpf_map_lookup_elem(&ew_tcprules, &k);
	if (!v && id && (l = bpf_map_lookup_elem(&ew_oslabel, &id))) {
		__builtin_memset(&k, 0, sizeof(k));
		k.kind = EW_TR_OS;
		__builtin_memcpy(k.val, l->name, sizeof(k.val));
		k.val[sizeof(k.val) - 1] = 0;
		v = bpf_map_lookup_elem(&ew_tcprules, &k);
	}
	if (!v)
		return EW_A_PASS;
	__sync_fetch_and_add(&v->hits, 1);
	return v->action;
}

/* relay_rtt: the TLS round trip exceeds the TCP one by gap and ratio. */
static __always_inline bool ew_relay_rtt(const struct ew_timing *t, const struct ew_detect_cfg *cfg)
{
	__u64 tcp = t->tcp_rtt_us, tls = t->tls_rtt_us;

	if (!(t->state & EW_T_TCP_RTT) || !(t->state & EW_T_TLS_RTT) || tls < tcp)
		return false;
	return tls - tcp >= cfg->rtt_gap_us && tls * 100 >= tcp * cfg->rtt_ratio_pct;
}

/* Once the ClientHello's JA4 is known: stack mismatch and fan-out by JA4. */
static __always_inline __u32 ew_detect_tls(const struct ew_pkt *p, struct ew_conn *c,
					   const struct ew_detect_cfg *cfg)
{
	struct ew_fan_key fk = {};
	__u32 ev = 0;

	if (!c->tls.ja4[0])
		return 0;
	if (ew_stack_mismatch(c))
		ev |= EW_E_STACK_MISMATCH;
	ew_fan_key_ja4(&fk, c->tls.ja4);
	if (ew_fanout_add(&fk, p->saddr, c->reasons != 0) >= cfg->fanout_sources)
		ev |= EW_E_FANOUT;
	return ev;
}

/* A client packet of the handshakes (not a SYN): round trips, and the JA4's detectors. */
static __always_inline __u32 ew_detect_c2s(const struct ew_pkt *p, __u32 payload, struct ew_conn *c,
					   const struct ew_detect_cfg *cfg, __u64 now)
{
	struct ew_timing *t = &c->t;
	__u32 ev = 0;

	/* the hello was fingerprinted (tls.h runs first on this packet) */
	if (c->tls.ja4[0] && !(t->state & EW_T_JA4)) {
		t->state |= EW_T_JA4;
		ev = ew_detect_tls(p, c, cfg);
	}
	if ((p->tcp_flags & EW_TCPF_ACK) && (t->state & (EW_T_SYNACK | EW_T_TCP_RTT)) == EW_T_SYNACK) {
		t->tcp_rtt_us = (now - t->synack_ns) / 1000;
		t->state |= EW_T_TCP_RTT;
	}
	if (!payload)
		return ev;
	if (!(t->state & EW_T_HELLO)) {
		t->hello_ns = now;
		t->state |= EW_T_HELLO;
		return ev;
	}
	if ((t->state & (EW_T_SFLIGHT | EW_T_TLS_RTT)) != EW_T_SFLIGHT)
		return ev;
	t->tls_rtt_us = (now - t->sflight_ns) / 1000;
	t->state |= EW_T_TLS_RTT;
	return ev | (ew_relay_rtt(t, cfg) ? EW_E_RELAY_RTT : 0);
}

/* A server packet of the handshakes: SYN-ACK and server flight departures. */
static __always_inline void ew_detect_s2c(const struct ew_pkt *p, __u32 payload, struct ew_conn *c, __u64 now)
{
	struct ew_timing *t = &c->t;

	if ((p->tcp_flags & (EW_TCPF_SYN | EW_TCPF_ACK)) == (EW_TCPF_SYN | EW_TCPF_ACK)) {
		t->synack_ns = now;
		t->state |= EW_T_SYNACK;
		return;
	}
	if (payload && (t->state & (EW_T_HELLO | EW_T_TLS_RTT)) == EW_T_HELLO) {
		t->sflight_ns = now;
		t->state |= EW_T_SFLIGHT;
	}
}

#endif
