// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF tests of ew_dropped (bpf/lib/drops.h): a flow's drop verdict outlives
 * its ew_flows entry, whether the entry is deleted or pushed out of a small
 * LRU table by a flood of new flows, and is forgotten once the rules change
 * and the flow re-decides to pass.
 */
#include <stdio.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "edgeward.skel.h"
#include "edgeward.h"

#define SRC "198.18.0.1"

static bool xdp_ret(struct bpfrun *r, const struct pkt_spec *s, __u32 want, struct pkt_info *in)
{
	uint8_t f[PKT_MAX];
	__u32 ret = ~0u;
	int len = pkt_build(s, f, sizeof(f), in);

	CHECK(ASSERT_TRUE(len > 0));
	CHECK(ASSERT_EQ(bpfrun_xdp(r, f, len, &ret), 0));
	return ASSERT_EQ(ret, want);
}

static bool dropped_has(struct bpfrun *r, const struct pkt_info *in)
{
	struct ew_flow_key k;
	struct ew_drop d;

	bpfrun_flow_key(&k, in, false);
	return bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.ew_dropped), &k, &d) == 0;
}

/*
 * A flow dropped by a rule change (its source blocked), then the block entry
 * removed without a generation bump: the flow keeps its cached drop, and
 * nothing but its own verdict can drop it any more.
 */
static bool flow_dropped_by_verdict_only(struct bpfrun *r, const struct pkt_spec *p, struct pkt_info *in)
{
	return xdp_ret(r, &(struct pkt_spec){ .saddr = p->saddr, .sport = p->sport }, XDP_PASS, in) &&
	       ASSERT_EQ(bpfrun_prefix_add(r, SRC, EW_A_DROP, NULL), 0) && ASSERT_EQ(bpfrun_rules_changed(r), 0) &&
	       xdp_ret(r, p, XDP_DROP, in) && ASSERT_TRUE(dropped_has(r, in)) &&
	       ASSERT_EQ(bpfrun_prefix_del(r, SRC), 0) && xdp_ret(r, p, XDP_DROP, in);
}

EW_TEST(dropped_flow_outlives_its_entry)
{
	const struct pkt_spec p = { .saddr = SRC, .sport = 41000, .tcp_flags = PKT_ACK, .fill = 100 };
	struct bpfrun *r = bpfrun_shared(&(struct bpfrun_opts){ 0 });
	struct pkt_info in;
	struct ew_flow_key k;

	CHECK(ASSERT_TRUE(r != NULL));
	CHECK(flow_dropped_by_verdict_only(r, &p, &in));
	bpfrun_flow_key(&k, &in, false);
	CHECK(ASSERT_EQ(bpf_map_delete_elem(r->flows_fd, &k), 0));
	/* Evicted: still dropped, and no flow state is made for it. */
	CHECK(xdp_ret(r, &p, XDP_DROP, &in) && xdp_ret(r, &p, XDP_DROP, &in) &&
	      ASSERT_EQ(bpfrun_flow_count(r), 0));
	/* New rules that pass it: re-decided, forgotten, passed from then on. */
	return ASSERT_EQ(bpfrun_rules_changed(r), 0) && xdp_ret(r, &p, XDP_PASS, &in) &&
	       ASSERT_TRUE(!dropped_has(r, &in)) && xdp_ret(r, &p, XDP_PASS, &in) &&
	       ASSERT_EQ(bpfrun_flow_count(r), 1);
}

EW_TEST(dropped_flow_survives_a_flood)
{
	const struct pkt_spec p = { .saddr = SRC, .sport = 41001, .tcp_flags = PKT_ACK, .fill = 100 };
	struct bpfrun *r = bpfrun_shared(&(struct bpfrun_opts){ .flows_max = 256 });
	struct pkt_info in, fin;
	struct ew_flow_key k;
	struct ew_flow fl;
	char src[32];

	CHECK(ASSERT_TRUE(r != NULL));
	CHECK(flow_dropped_by_verdict_only(r, &p, &in));
	/* 8192 SYNs from distinct sources through a 256-entry table. */
	for (int i = 0; i < 8192; i++) {
		snprintf(src, sizeof(src), "198.19.%d.%d", i >> 8 & 0xff, (i & 0xff) | 1);
		CHECK(xdp_ret(r, &(struct pkt_spec){ .saddr = src, .sport = 1024 + i }, XDP_PASS, &fin));
	}
	bpfrun_flow_key(&k, &in, false);
	CHECK(ASSERT_TRUE(bpfrun_flow_get(r, &k, &fl) != 0)); /* evicted */
	return xdp_ret(r, &p, XDP_DROP, &in) && xdp_ret(r, &p, XDP_DROP, &in);
}

/*
 * ew_dropmark: a key in ew_dropped whose bit is clear is never looked up (a
 * live drop written behind the data path's back is not seen), and
 * ew_dropmark_rebuild(), run by attach on pins made before ew_dropmark,
 * marks every key there, after which the drop holds.
 */
EW_TEST(dropmark_guards_the_lookup)
{
	const struct pkt_spec p = { .saddr = SRC, .sport = 41002, .tcp_flags = PKT_ACK, .fill = 100 };
	struct ew_config cfg;
	struct ew_flow_key k;
	struct ew_drop d = { .reason = EW_R_PREFIX };
	struct pkt_info in;
	struct bpfrun r;
	__u32 zero = 0;
	bool ok;

	CHECK(ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){ 0 }), 0));
	ok = ASSERT_EQ(pkt_build(&p, (uint8_t[PKT_MAX]){ 0 }, PKT_MAX, &in) > 0, 1) &&
	     ASSERT_EQ(bpf_map_lookup_elem(r.config_fd, &zero, &cfg), 0);
	bpfrun_flow_key(&k, &in, false);
	d.gen = cfg.gen;
	ok = ok && ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(r.skel->maps.ew_dropped), &k, &d, BPF_ANY), 0) &&
	     xdp_ret(&r, &p, XDP_PASS, &in) && ASSERT_EQ(bpf_map_delete_elem(r.flows_fd, &k), 0) &&
	     ASSERT_EQ(ew_dropmark_rebuild(bpf_map__fd(r.skel->maps.ew_dropped),
					   bpf_map__fd(r.skel->maps.ew_dropmark)), 0) &&
	     xdp_ret(&r, &p, XDP_DROP, &in);
	bpfrun_close(&r);
	return ok;
}
