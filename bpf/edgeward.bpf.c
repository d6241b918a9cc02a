// SPDX-License-Identifier: BSD-2-Clause
/*
 * edgeward's data path, top to bottom. XDP ingress parses each frame, looks
 * up its flow, decides a verdict (cached on the flow until the rules change)
 * and leaves through ew_xdp_exit(), which counts it. TC egress accounts the
 * server's side of each known flow and never drops. Every packet is counted
 * exactly once per hook; anything that cannot be parsed passes, counted with
 * its reason.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "edgeward/abi.h"
#include "lib/compat.h"
#include "lib/maps.h"
#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/prefix.h"
#include "lib/feeds.h"
#include "lib/flow.h"
#include "lib/drops.h"
#include "lib/tls.h"
#include "lib/detect.h"
#include "lib/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader per attached instance: drops become counted would-drops. */
const volatile __u8 ew_monitor = 0;

struct ew_verdict {
	__u8 reason; /* enum ew_reason */
	__u8 action; /* enum ew_action */
};

static __always_inline __u32 ew_rule_gen(void)
{
	__u32 zero = 0;
	struct ew_config *cfg = bpf_map_lookup_elem(&ew_config, &zero);

	/* gen 0 never matches a flow's cached gen: flows are decided afresh. */
	return cfg ? cfg->gen : 0;
}

/*
 * Source-prefix decision for a packet whose addresses are known: the block
 * list and the threat feeds together, allow > drop > flag; on a tie the block
 * list names the reason.
 */
static __always_inline struct ew_verdict ew_decide_prefix(const struct ew_pkt *p, int reason)
{
	struct ew_verdict v = { .reason = reason, .action = EW_A_PASS };
	__u8 a = ew_prefix_lookup(p);
	__u8 fa = ew_feeds_lookup(p);

	if (ew_action_rank(fa) > ew_action_rank(a)) {
		a = fa;
		reason = EW_R_FEED;
	} else {
		reason = EW_R_PREFIX;
	}
	if (a == EW_A_PASS)
		return v;
	v.reason = reason;
	v.action = (a == EW_A_DROP && ew_monitor) ? EW_A_WOULD_DROP : a;
	return v;
}

/* The one exit of the XDP program: count, then drop or pass. */
static __always_inline int ew_xdp_exit(const struct ew_pkt *p, struct ew_verdict v)
{
	ew_count_pkt(EW_HOOK_XDP, v.reason, v.action, p->len);
	return v.action == EW_A_DROP ? XDP_DROP : XDP_PASS;
}

/*
 * ALLOW wins over everything; otherwise the stronger of the current verdict
 * and the detectors' (drop > flag > pass).
 */
static __always_inline struct ew_verdict ew_verdict_merge(struct ew_verdict v, __u8 reason, __u8 act)
{
	if (v.action == EW_A_ALLOW || act == EW_A_PASS)
		return v;
	if (act == EW_A_ALLOW) {
		v.reason = reason;
		v.action = EW_A_ALLOW;
		return v;
	}
	if (act == EW_A_DROP && v.action != EW_A_DROP && v.action != EW_A_WOULD_DROP) {
		v.reason = reason;
		v.action = ew_monitor ? EW_A_WOULD_DROP : EW_A_DROP;
	} else if (act == EW_A_FLAG && v.action == EW_A_PASS) {
		v.reason = reason;
		v.action = EW_A_FLAG;
	}
	return v;
}

/*
 * The TLS side of a flow's verdict, in global functions: the verifier
 * checks each once, and the verdict they write comes back to ew_xdp as
 * unknown rather than as one state per outcome (which made every later
 * subprogram be verified again per state; kernel 6.18, clang 14-19).
 */

/* Merge the hello's outcome (res from bpf/lib/tls.h) into *v; a rule's verdict sticks. */
__noinline int ew_xdp_tls_verdict(const struct ew_flow_key *kp, struct ew_flow *f, struct ew_verdict *v, __u32 res)
{
	EW_KEY_ARG(kp, 0, EW_KS_XDP_TLS_VERDICT);
	__u8 reason = res >> 8, act = res & 0xff;
	__u32 zero = 0, gen = ew_rule_gen();

	if (!k || !f || !v)
		return 0;
	if (act == EW_A_PASS) {
		/* A failed hello passes; its reason goes on this packet only. */
		if (reason != EW_R_NONE && v->action == EW_A_PASS && v->reason == EW_R_NONE)
			v->reason = reason;
	} else {
		*v = ew_verdict_merge(*v, reason, act);
		f->reason = v->reason;
		f->verdict = v->action;
		ew_flow_stick(k, gen, v->action, v->reason);
	}
	if (res & EW_TLS_CLASSIFIED) {
		struct ew_tls_scratch *s = bpf_map_lookup_elem(&ew_tls_scr, &zero);

		if (s)
			ew_event_emit(EW_EVT_HELLO, EW_HOOK_XDP, k, v->reason, v->action, 0, &s->fp);
	}
	return 0;
}

/* A flow re-decided after a rule change: its stored fingerprint under the rules. */
__noinline int ew_xdp_tls_redecide(const struct ew_flow_key *kp, struct ew_verdict *v)
{
	EW_KEY_ARG(kp, 0, EW_KS_XDP_TLS_REDECIDE);
	__u32 fp;

	if (!k || !v)
		return 0;
	fp = ew_tls_redecide(k);
	*v = ew_verdict_merge(*v, fp >> 8, fp & 0xff);
	return 0;
}

/*
 * The flow's first client data (bpf/lib/tls.h): its ClientHello is
 * reassembled, parsed, hashed and settled in turn (each step a global
 * function whose bpf_loop() callbacks stack on ew_xdp's frame alone), sent
 * as an event, and a matching fingerprint rule's verdict is written into
 * every CPU's copy of the flow so that it sticks.
 */
static __always_inline void ew_xdp_tls(struct xdp_md *ctx, const struct ew_pkt *p, const struct ew_flow_key *k,
				       struct ew_flow *f, struct ew_verdict *v)
{
	__u32 res;

	if (v->action == EW_A_DROP) {
		f->tls = EW_FT_DONE; /* dropped already: spend nothing on it */
		return;
	}
	res = ew_tls_data(ctx, p, k, f);
	if (res & EW_TLS_READY) {
		int st = ew_tls_parse_rec(k, res);

		if (!st)
			st = ew_tls_hash_ab();
		if (!st)
			st = ew_tls_hash_c();
		if (!st)
			st = ew_tls_hash_ja3();
		res = ew_tls_finish(k, f, st, ew_monitor);
	}
	if (res != EW_TLS_PASS)
		ew_xdp_tls_verdict(k, f, v, res);
	if (v->action == EW_A_DROP)
		ew_drop_remember(k, ew_rule_gen(), v->reason);
}

/* A client packet of a flow's handshakes: SYN or one of its first packets. */
static __always_inline bool ew_in_handshake(const struct ew_flow *f, const struct ew_pkt *p, int dir)
{
	return p->proto == IPPROTO_TCP &&
	       ((p->tcp_flags & EW_TCPF_SYN) || f->packets[dir & 1] < EW_HS_PKTS);
}

/*
 * Detectors on a client handshake packet. Returns their policy's answer,
 * fresh << 16 | reason << 8 | action (0: nothing), where fresh holds the
 * evidence bits this packet gave the connection (announced as an event). A global function: the verifier checks
 * it once, on its own, instead of once per caller state (inlined or static,
 * its paths multiply with ew_xdp's and pass the 1M-instruction limit), and
 * its stack does not count against ew_xdp's 512 bytes.
 */
__noinline __u32 ew_xdp_detect(struct xdp_md *ctx, const struct ew_pkt *p, const struct ew_flow_key *kp)
{
	EW_KEY_ARG(kp, 0, EW_KS_XDP_DETECT);
	const struct ew_detect_cfg *cfg = ew_detcfg_get();
	bool syn = p && ew_is_syn(p->tcp_flags);
	struct ew_conn *c = p && k ? ew_conn_get(k, syn) : NULL;
	__u64 now = ew_now();
	__u8 reason = EW_R_NONE, act, rule = EW_A_PASS;
	__u32 ev, had;

	if (!c || !cfg || !ctx)
		return 0;
	if (syn) {
		ev = ew_detect_syn(ctx, p, c, cfg, now);
		rule = ew_tcp_rule(&c->tcp);
		if (rule != EW_A_PASS)
			ev |= EW_E_FP_RULE;
	} else {
		ev = ew_detect_c2s(p, ew_l4_payload(p, (void *)(long)ctx->data, (void *)(long)ctx->data_end),
				   c, cfg, now);
	}
	if (!ev && !c->reasons)
		return 0;
	had = c->reasons;
	act = ew_policy_action(ew_evidence_add(c, ev, cfg), cfg, &reason);
	/* a SYN rule's own action: allow wins, drop beats the policy's flag */
	if (rule == EW_A_ALLOW || (rule == EW_A_DROP && act != EW_A_DROP) ||
	    (rule == EW_A_FLAG && act == EW_A_PASS)) {
		reason = EW_R_FP_RULE;
		act = rule;
	}
	return (c->reasons & ~had) << 16 | (__u32)reason << 8 | act;
}

/* The detectors' answer merged into the packet's verdict; the flow keeps it. */
static __always_inline void ew_xdp_detectors(struct xdp_md *ctx, const struct ew_pkt *p,
					     const struct ew_flow_key *k, struct ew_flow *f,
					     struct ew_verdict *v)
{
	__u32 d = ew_xdp_detect(ctx, p, k);

	if (!d)
		return;
	/* each piece of evidence is announced once, when the connection gets it */
	if (d >> 16)
		ew_event_emit(EW_EVT_DETECT, EW_HOOK_XDP, k, d >> 8 & 0xff, d & 0xff, d >> 16, NULL);
	*v = ew_verdict_merge(*v, d >> 8 & 0xff, d & 0xff);
	f->reason = v->reason;
	f->verdict = v->action; /* end of the detectors' glue */
	if (v->action == EW_A_DROP)
		ew_drop_remember(k, ew_rule_gen(), v->reason);
}

SEC("xdp")
int ew_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ew_pkt pkt = {};
	struct ew_verdict v = { .action = EW_A_PASS };
	struct ew_flow_key key;
	struct ew_flow *f;
	__u32 gen, d;
	int r;

	/* 1. Parse. Frames without addresses pass, counted by reason. */
	r = ew_parse(&pkt, data, data_end);
	v.reason = r;
	if (!ew_parse_has_addrs(r))
		return ew_xdp_exit(&pkt, v);

	/* 2. Portless packets (fragments, ICMP...): prefix decision only. */
	if (r != EW_R_NONE)
		return ew_xdp_exit(&pkt, ew_decide_prefix(&pkt, r));

	/* 3. Known flow decided under the current rules: its cached verdict. */
	gen = ew_rule_gen();
	ew_flow_key(&key, &pkt, EW_DIR_C2S);
	f = bpf_map_lookup_elem(&ew_flows, &key);
	if (f && f->gen == gen && gen) {
		v.reason = f->reason;
		v.action = f->verdict;
		if (unlikely(ew_tls_pending(f, &pkt)))
			ew_xdp_tls(ctx, &pkt, &key, f, &v);
		if (unlikely(ew_in_handshake(f, &pkt, EW_DIR_C2S)))
			ew_xdp_detectors(ctx, &pkt, &key, f, &v);
		ew_flow_account(f, &pkt, EW_DIR_C2S, ew_now_coarse());
		return ew_xdp_exit(&pkt, v);
	}

	/* 4. New flow or changed rules: decide from the source prefix. */
	v = ew_decide_prefix(&pkt, EW_R_NONE);
	d = f ? 0 : ew_drop_recall(&key, gen); /* a drop that outlived its flow entry */
	if (f || (d & EW_DROP_STALE))
		ew_xdp_tls_redecide(&key, &v); /* its fingerprint under the new rules */
	else if (d)
		v = ew_verdict_merge(v, d & 0xff, EW_A_DROP);
	if (v.action != EW_A_PASS && v.action != EW_A_ALLOW && (!f || f->verdict != v.action) &&
	    !(d & EW_DROP_LIVE))
		ew_event_emit(EW_EVT_VERDICT, EW_HOOK_XDP, &key, v.reason, v.action, 0, NULL);
	if (v.action == EW_A_DROP && !f) {
		if (d & EW_DROP_STALE)
			ew_drop_remember(&key, gen, v.reason);
		return ew_xdp_exit(&pkt, v); /* no state for dropped sources */
	}

	/* 5. Record the decision on the flow. */
	if (!f)
		f = ew_flow_get_or_create(&key);
	if (!f) {
		if (v.reason == EW_R_NONE)
			v.reason = EW_R_FLOW_FULL;
		return ew_xdp_exit(&pkt, v);
	}
	f->gen = gen;
	f->reason = v.reason;
	f->verdict = v.action;
	if (v.action == EW_A_DROP)
		ew_drop_remember(&key, gen, v.reason);
	if (ew_tls_pending(f, &pkt))
		ew_xdp_tls(ctx, &pkt, &key, f, &v);
	if (ew_in_handshake(f, &pkt, EW_DIR_C2S))
		ew_xdp_detectors(ctx, &pkt, &key, f, &v);
	ew_flow_account(f, &pkt, EW_DIR_C2S, ew_now_coarse());
	return ew_xdp_exit(&pkt, v);
}

/* The one exit of the TC program: count, always pass. */
static __always_inline int ew_tc_exit(const struct ew_pkt *p, struct ew_verdict v)
{
	ew_count_pkt(EW_HOOK_TC, v.reason, v.action, p->len);
	return TC_ACT_OK;
}

SEC("tc")
int ew_tc_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ew_pkt pkt = {};
	struct ew_verdict v = { .action = EW_A_PASS };
	struct ew_flow_key key;
	struct ew_flow *f;
	int r;

	r = ew_parse(&pkt, data, data_end);
	pkt.len = skb->len;
	v.reason = r;
	if (r != EW_R_NONE)
		return ew_tc_exit(&pkt, v);

	ew_flow_key(&key, &pkt, EW_DIR_S2C);
	f = bpf_map_lookup_elem(&ew_flows, &key);
	if (!f) {
		v.reason = EW_R_UNTRACKED;
		return ew_tc_exit(&pkt, v);
	}
	if (unlikely(ew_in_handshake(f, &pkt, EW_DIR_S2C))) {
		struct ew_conn *c = ew_conn_get(&key, false);

		if (c)
			ew_detect_s2c(&pkt, pkt.len > pkt.payload_off ? pkt.len - pkt.payload_off : 0, c, ew_now());
	}
	ew_flow_account(f, &pkt, EW_DIR_S2C, ew_now_coarse());
	return ew_tc_exit(&pkt, v);
}
