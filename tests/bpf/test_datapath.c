// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF tests of the data path: frames from the packet builder run through the
 * compiled ew_xdp / ew_tc_egress with BPF_PROG_TEST_RUN against private maps.
 * Each table row is one frame on fresh maps: its rules, the expected return
 * code, the one (hook, reason, action) counter it must move by exactly one
 * packet and its length in bytes, the prefix lookups and entry hits, and the
 * flow entry it leaves. The flow_* tests run sequences on shared state.
 */
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "edgeward.h"

#define TC_ACT_OK 0

/* A block-list entry loaded for a row, and its hit count after the row. */
struct rule {
	const char *pfx;
	int action;
	__u64 hits;
};

enum flow_want {
	FLOW_NONE = 0, /* the frame leaves no flow entry */
	FLOW_NEW,      /* one entry, holding the row's verdict, this frame counted */
};

struct dp_case {
	const char *name;
	struct pkt_spec pkt;
	struct rule rules[4];
	int hook; /* EW_HOOK_XDP (default) or EW_HOOK_TC */
	__u32 ret;
	int reason;
	int action;
	enum flow_want flow;
};

/* Readable expectations for rows. */
#define XPASS .ret = XDP_PASS
#define XDROP .ret = XDP_DROP
#define TC .hook = EW_HOOK_TC, .ret = TC_ACT_OK

#define V4 "198.18.0.1"
#define V6 "2001:db8::1"

/* Fresh maps on the shared instance of this mode (loading once is what takes time). */
static struct bpfrun *fresh(bool monitor)
{
	struct bpfrun *r = bpfrun_shared(&(struct bpfrun_opts){ .monitor = monitor });

	ASSERT_TRUE(r != NULL);
	return r;
}

/* Counters after minus before must be exactly one packet of len bytes in one slot. */
static bool one_count(const struct bpfrun_stats *b, const struct bpfrun_stats *a, int hook,
		      int reason, int action, size_t len)
{
	__u64 total = 0;
	bool ok = true;

	for (int i = 0; i < EW_STATS_MAX; i++) {
		__u64 dp = a->stats[i].packets - b->stats[i].packets;
		int h = i / (EW_REASON_MAX * EW_ACTION_MAX);
		int rs = i / EW_ACTION_MAX % EW_REASON_MAX, ac = i % EW_ACTION_MAX;

		total += dp;
		if (dp && i != EW_STAT_IDX(hook, reason, action)) {
			EW_FAILF("counted in %s/%s/%s, want %s/%s/%s", ew_hook_name(h), ew_reason_name(rs),
				 ew_action_name(ac), ew_hook_name(hook), ew_reason_name(reason),
				 ew_action_name(action));
			ok = false;
		}
	}
	ok &= ASSERT_EQ(total, 1);
	ok &= ASSERT_EQ(bpfrun_stat(a, hook, reason, action).packets -
				bpfrun_stat(b, hook, reason, action).packets, 1);
	ok &= ASSERT_EQ(bpfrun_stat(a, hook, reason, action).bytes -
				bpfrun_stat(b, hook, reason, action).bytes, len);
	return ok;
}

static __u64 counter_delta(const struct bpfrun_stats *b, const struct bpfrun_stats *a, int c)
{
	return a->counters[c] - b->counters[c];
}

/* A source prefix was looked up: XDP, and the parser found addresses. */
static bool looks_up(const struct dp_case *c)
{
	static const bool addrs[EW_REASON_MAX] = {
		[EW_R_NONE] = true,   [EW_R_FRAGMENT] = true,  [EW_R_NO_L4] = true,
		[EW_R_PREFIX] = true, [EW_R_FLOW_FULL] = true,
	};

	return c->hook == EW_HOOK_XDP && addrs[c->reason];
}

static bool load_rules(struct bpfrun *r, const struct rule *rules)
{
	for (int i = 0; i < 4 && rules[i].pfx; i++)
		CHECK(ASSERT_EQ(bpfrun_prefix_add(r, rules[i].pfx, rules[i].action, "test"), 0));
	return ASSERT_EQ(bpfrun_rules_changed(r), 0);
}

static bool rule_hits(struct bpfrun *r, const struct rule *rules)
{
	bool ok = true;

	for (int i = 0; i < 4 && rules[i].pfx; i++) {
		struct ew_pfx_val v = {};

		ok &= ASSERT_EQ(bpfrun_prefix_get(r, rules[i].pfx, &v), 0);
		if (!ASSERT_EQ(v.hits, rules[i].hits)) {
			EW_FAILF("hits of %s", rules[i].pfx);
			ok = false;
		}
	}
	return ok;
}

/* The flow entry of a frame seen once on XDP with the given verdict. */
static bool flow_is_new(struct bpfrun *r, const struct dp_case *c, const uint8_t *f,
			const struct pkt_info *in)
{
	struct ew_flow_key k;
	struct ew_flow fl = {};
	__u8 flags = in->proto == IPPROTO_TCP ? f[in->off[PKT_L_L4] + 13] : 0;

	bpfrun_flow_key(&k, in, false);
	CHECK(ASSERT_EQ(bpfrun_flow_count(r), 1));
	CHECK(ASSERT_EQ(bpfrun_flow_get(r, &k, &fl), 0));
	return ASSERT_EQ(fl.verdict, c->action) & ASSERT_EQ(fl.reason, c->reason) &
	       ASSERT_EQ(fl.gen, bpfrun_gen(r)) & ASSERT_EQ(fl.packets[0], 1) &
	       ASSERT_EQ(fl.bytes[0], in->len) & ASSERT_EQ(fl.packets[1], 0) &
	       ASSERT_EQ(fl.tcp_flags[0], flags) & ASSERT_TRUE(fl.first_ns != 0) &
	       ASSERT_TRUE(fl.last_ns >= fl.first_ns);
}

static bool run_case(struct bpfrun *r, const struct dp_case *c)
{
	uint8_t f[PKT_MAX];
	struct pkt_info in;
	struct bpfrun_stats b, a;
	__u32 ret = ~0u;
	bool ok = true;
	int len;

	len = pkt_build(&c->pkt, f, sizeof(f), &in);
	if (!ASSERT_EQ(bpfrun_reset(r), 0) || !load_rules(r, c->rules) || !ASSERT_TRUE(len >= 0) ||
	    !ASSERT_EQ(bpfrun_stats_read(r, &b), 0) ||
	    !ASSERT_EQ(c->hook == EW_HOOK_TC ? bpfrun_tc(r, f, len, &ret) : bpfrun_xdp(r, f, len, &ret), 0) ||
	    !ASSERT_EQ(bpfrun_stats_read(r, &a), 0)) {
		EW_FAILF("^ in row \"%s\"", c->name);
		return false;
	}
	ok &= ASSERT_EQ(ret, c->ret);
	ok &= one_count(&b, &a, c->hook, c->reason, c->action, len);
	ok &= ASSERT_EQ(counter_delta(&b, &a, EW_C_PFX_LOOKUP), looks_up(c));
	ok &= rule_hits(r, c->rules);
	if (c->flow == FLOW_NEW) {
		ok &= ASSERT_EQ(counter_delta(&b, &a, EW_C_FLOW_NEW), 1);
		ok &= flow_is_new(r, c, f, &in);
	} else {
		ok &= ASSERT_EQ(counter_delta(&b, &a, EW_C_FLOW_NEW), 0);
		ok &= ASSERT_EQ(bpfrun_flow_count(r), 0);
	}
	if (!ok)
		EW_FAILF("^ in row \"%s\" (%d bytes)", c->name, len);
	return ok;
}

static bool run_table(const struct dp_case *rows, size_t n, bool monitor)
{
	struct bpfrun *r;
	int failed = 0;

	r = fresh(monitor);
	CHECK(r);
	for (size_t i = 0; i < n; i++)
		failed += !run_case(r, &rows[i]);
	if (failed)
		EW_FAILF("%d of %zu rows failed", failed, n);
	return !failed;
}

#define RUN_TABLE(rows, monitor) run_table(rows, sizeof(rows) / sizeof(rows[0]), monitor)

/* Every header combination the parser knows, no rules loaded. */
static const struct dp_case headers[] = {
	{ "tcp4", { 0 }, XPASS, .flow = FLOW_NEW },
	{ "tcp6", { .family = 6 }, XPASS, .flow = FLOW_NEW },
	{ "udp4", { .proto = IPPROTO_UDP, .dport = 53, .fill = 30 }, XPASS, .flow = FLOW_NEW },
	{ "udp6", { .family = 6, .proto = IPPROTO_UDP, .fill = 100 }, XPASS, .flow = FLOW_NEW },
	{ "tcp4 options+payload", { .tcp_opts = PKT_OPTS_LINUX_SYN, .tcp_flags = PKT_PSH | PKT_ACK, .fill = 500 },
	  XPASS, .flow = FLOW_NEW },
	{ "tcp4 no flags", { .tcp_flags = PKT_NOFLAGS }, XPASS, .flow = FLOW_NEW },
	{ "vlan 8100", { .vlans = 1 }, XPASS, .flow = FLOW_NEW },
	{ "vlan 88a8", { .vlans = 1, .vlan_tpid = { 0x88a8 } }, XPASS, .flow = FLOW_NEW },
	{ "vlan 88a8+8100", { .vlans = 2, .vlan_tpid = { 0x88a8, 0x8100 } }, XPASS, .flow = FLOW_NEW },
	{ "vlan 8100+8100", { .vlans = 2 }, XPASS, .flow = FLOW_NEW },
	{ "vlan 88a8+88a8 v6", { .family = 6, .vlans = 2, .vlan_tpid = { 0x88a8, 0x88a8 } }, XPASS,
	  .flow = FLOW_NEW },
	{ "vlan 8100+88a8 udp", { .vlans = 2, .vlan_tpid = { 0x8100, 0x88a8 }, .proto = IPPROTO_UDP },
	  XPASS, .flow = FLOW_NEW },
	{ "3 vlans", { .vlans = 3 }, XPASS, .reason = EW_R_VLAN_DEPTH },
	{ "3 vlans 88a8", { .vlans = 3, .vlan_tpid = { 0x88a8, 0x88a8, 0x88a8 } }, XPASS,
	  .reason = EW_R_VLAN_DEPTH },
	{ "ip4 options 4", { .ip4_opts_len = 4 }, XPASS, .flow = FLOW_NEW },
	{ "ip4 options 40", { .ip4_opts_len = 40, .proto = IPPROTO_UDP }, XPASS, .flow = FLOW_NEW },
	{ "ip4 first fragment", { .mf = true, .fill = 64 }, XPASS, .flow = FLOW_NEW },
	{ "ip4 non-first fragment", { .frag_off = 185, .fill = 64 }, XPASS, .reason = EW_R_FRAGMENT },
	{ "ip4 middle fragment", { .frag_off = 1, .mf = true, .fill = 8 }, XPASS, .reason = EW_R_FRAGMENT },
	{ "ip4 last fragment udp", { .proto = IPPROTO_UDP, .frag_off = 3 }, XPASS, .reason = EW_R_FRAGMENT },
	{ "ip4 ihl 4", { .ip4_ihl = 4 }, XPASS, .reason = EW_R_BAD_IP4 },
	{ "ip4 ihl 1", { .ip4_ihl = 1 }, XPASS, .reason = EW_R_BAD_IP4 },
	{ "ip4 version 6", { .ip_version = 6 }, XPASS, .reason = EW_R_BAD_IP4 },
	{ "ip4 version 15", { .ip_version = 15 }, XPASS, .reason = EW_R_BAD_IP4 },
	{ "ip4 ihl 15 past end", { .ip4_ihl = 15 }, XPASS, .reason = EW_R_TRUNC_IP4 },
	/* No reason for a bad IPv6 version: the parser counts it as a short header. */
	{ "ip6 version 4", { .family = 6, .ip_version = 4 }, XPASS, .reason = EW_R_TRUNC_IP6 },
	{ "ip6 hop-by-hop", { .family = 6, .ip6_ext = { { PKT_X_HOP } } }, XPASS, .flow = FLOW_NEW },
	{ "ip6 routing", { .family = 6, .ip6_ext = { { PKT_X_RT, .len = 24 } } }, XPASS, .flow = FLOW_NEW },
	{ "ip6 dest opts udp", { .family = 6, .proto = IPPROTO_UDP, .ip6_ext = { { PKT_X_DST } } }, XPASS,
	  .flow = FLOW_NEW },
	{ "ip6 first fragment", { .family = 6, .ip6_ext = { { PKT_X_FRAG, .mf = true } } }, XPASS,
	  .flow = FLOW_NEW },
	{ "ip6 AH", { .family = 6, .ip6_ext = { { PKT_X_AH, .len = 24 } } }, XPASS, .flow = FLOW_NEW },
	{ "ip6 hop-by-hop 2048", { .family = 6, .ip6_ext = { { PKT_X_HOP, .len = 2048 } } }, XPASS,
	  .flow = FLOW_NEW },
	{ "ip6 chain of 5", { .family = 6, .ip6_ext = { { PKT_X_HOP }, { PKT_X_DST }, { PKT_X_RT },
						     { PKT_X_AH }, { PKT_X_DST } } },
	  XPASS, .flow = FLOW_NEW },
	{ "ip6 chain of 6 (the walk limit)",
	  { .family = 6, .ip6_ext = { { PKT_X_HOP }, { PKT_X_DST }, { PKT_X_RT }, { PKT_X_FRAG },
				      { PKT_X_AH }, { PKT_X_DST } } },
	  XPASS, .flow = FLOW_NEW },
	{ "ip6 chain of 7",
	  { .family = 6, .ip6_ext = { { PKT_X_HOP }, { PKT_X_DST }, { PKT_X_RT }, { PKT_X_FRAG },
				      { PKT_X_AH }, { PKT_X_DST }, { PKT_X_DST } } },
	  XPASS, .reason = EW_R_IP6_EXT },
	{ "ip6 non-first fragment", { .family = 6, .ip6_ext = { { PKT_X_FRAG, .frag_off = 1 } }, .fill = 8 },
	  XPASS, .reason = EW_R_FRAGMENT },
	{ "ip6 dest opts + non-first fragment",
	  { .family = 6, .ip6_ext = { { PKT_X_DST }, { PKT_X_FRAG, .frag_off = 100, .mf = true } } }, XPASS,
	  .reason = EW_R_FRAGMENT },
	{ "icmp4", { .proto = IPPROTO_ICMP }, XPASS, .reason = EW_R_NO_L4 },
	{ "icmp6", { .family = 6, .proto = IPPROTO_ICMPV6 }, XPASS, .reason = EW_R_NO_L4 },
	{ "gre", { .proto = 47, .fill = 20 }, XPASS, .reason = EW_R_NO_L4 },
	{ "ip6 no next header", { .family = 6, .proto = 59 }, XPASS, .reason = EW_R_NO_L4 },
	{ "arp", { .ethertype = 0x0806, .fill = 28 }, XPASS, .reason = EW_R_NOT_IP },
	{ "vlan arp", { .vlans = 1, .ethertype = 0x0806, .fill = 28 }, XPASS, .reason = EW_R_NOT_IP },
	{ "vlan 2 lldp", { .vlans = 2, .ethertype = 0x88cc, .fill = 40 }, XPASS, .reason = EW_R_NOT_IP },
	{ "tcp doff 4", { .tcp_doff = 4 }, XPASS, .reason = EW_R_TRUNC_L4 },
	{ "tcp doff 15 past end", { .tcp_doff = 15, .fill = 20 }, XPASS, .reason = EW_R_TRUNC_L4 },
};

EW_TEST(datapath_headers)
{
	return RUN_TABLE(headers, false);
}

/*
 * Frames cut one byte short of the end of each layer, and at other lengths.
 * Not here: frames shorter than an Ethernet header (EW_R_TRUNC_ETH), which
 * BPF_PROG_TEST_RUN refuses to run.
 */
static const struct dp_case truncated[] = {


	{ "vlan", { .vlans = 1, .cut = PKT_L_VLAN }, XPASS, .reason = EW_R_TRUNC_VLAN },
	{ "vlan second tag", { .vlans = 2, .cut = PKT_L_VLAN }, XPASS, .reason = EW_R_TRUNC_VLAN },
	{ "vlan 88a8 at tci", { .vlans = 1, .vlan_tpid = { 0x88a8 }, .cut_len = 15 }, XPASS,
	  .reason = EW_R_TRUNC_VLAN },
	{ "ip4", { .cut = PKT_L_IP }, XPASS, .reason = EW_R_TRUNC_IP4 },
	{ "ip4 after vlans", { .vlans = 2, .cut = PKT_L_IP }, XPASS, .reason = EW_R_TRUNC_IP4 },
	{ "ip4 options", { .ip4_opts_len = 12, .cut = PKT_L_IP_OPTS }, XPASS, .reason = EW_R_TRUNC_IP4 },
	{ "ip4 nothing after eth", { .cut_len = 14 }, XPASS, .reason = EW_R_TRUNC_IP4 },
	{ "ip6", { .family = 6, .cut = PKT_L_IP }, XPASS, .reason = EW_R_TRUNC_IP6 },
	{ "ip6 ext first bytes", { .family = 6, .ip6_ext = { { PKT_X_HOP } }, .cut_len = 55 }, XPASS,
	  .reason = EW_R_TRUNC_IP6 },
	{ "ip6 ext body", { .family = 6, .ip6_ext = { { PKT_X_HOP, .len = 16 } }, .cut = PKT_L_IP_OPTS },
	  XPASS, .reason = EW_R_TRUNC_IP6 },
	{ "ip6 second ext", { .family = 6, .ip6_ext = { { PKT_X_DST }, { PKT_X_RT } }, .cut = PKT_L_IP_OPTS },
	  XPASS, .reason = EW_R_TRUNC_IP6 },
	{ "ip6 fragment header", { .family = 6, .ip6_ext = { { PKT_X_FRAG } }, .cut = PKT_L_IP_OPTS }, XPASS,
	  .reason = EW_R_TRUNC_IP6 },
	{ "ip6 AH", { .family = 6, .ip6_ext = { { PKT_X_AH } }, .cut = PKT_L_IP_OPTS }, XPASS,
	  .reason = EW_R_TRUNC_IP6 },
	{ "tcp4 header", { .cut = PKT_L_L4 }, XPASS, .reason = EW_R_TRUNC_L4 },
	{ "tcp6 header", { .family = 6, .cut = PKT_L_L4 }, XPASS, .reason = EW_R_TRUNC_L4 },
	{ "tcp options (doff past end)", { .tcp_opts = PKT_OPTS_LINUX_SYN, .cut = PKT_L_L4_OPTS }, XPASS,
	  .reason = EW_R_TRUNC_L4 },
	{ "tcp nothing after ip", { .cut_len = 34 }, XPASS, .reason = EW_R_TRUNC_L4 },
	{ "udp4", { .proto = IPPROTO_UDP, .cut = PKT_L_L4 }, XPASS, .reason = EW_R_TRUNC_L4 },
	{ "udp6 after ext", { .family = 6, .proto = IPPROTO_UDP, .ip6_ext = { { PKT_X_HOP } }, .cut = PKT_L_L4 },
	  XPASS, .reason = EW_R_TRUNC_L4 },
	/* A short payload is not an error: the headers are whole. */
	{ "payload", { .fill = 10, .cut = PKT_L_PAYLOAD }, XPASS, .flow = FLOW_NEW },
	/* Unparseable frames pass even when their source is on the block list. */
	{ "tcp header, source blocked", { .cut = PKT_L_L4 }, { { "0.0.0.0/0", EW_A_DROP, 0 } }, XPASS,
	  .reason = EW_R_TRUNC_L4 },
	{ "ip6 ext, source blocked", { .family = 6, .ip6_ext = { { PKT_X_RT } }, .cut = PKT_L_IP_OPTS },
	  { { "::/0", EW_A_DROP, 0 } }, XPASS, .reason = EW_R_TRUNC_IP6 },
};

EW_TEST(datapath_truncated)
{
	return RUN_TABLE(truncated, false);
}

/* Actions, prefixes of both families, longest-prefix match, hit counters. */
static const struct dp_case actions[] = {
	{ "v4 drop", { 0 }, { { "198.18.0.0/24", EW_A_DROP, 1 } }, XDROP, EW_R_PREFIX, EW_A_DROP },
	{ "v4 flag", { 0 }, { { "198.18.0.0/24", EW_A_FLAG, 1 } }, XPASS, EW_R_PREFIX, EW_A_FLAG, FLOW_NEW },
	{ "v4 allow", { 0 }, { { "198.18.0.0/24", EW_A_ALLOW, 1 } }, XPASS, EW_R_PREFIX, EW_A_ALLOW,
	  FLOW_NEW },
	{ "v4 other source", { .saddr = "198.18.1.1" }, { { "198.18.0.0/24", EW_A_DROP, 0 } }, XPASS,
	  .flow = FLOW_NEW },
	{ "v4 destination is not matched", { 0 }, { { "198.18.0.2", EW_A_DROP, 0 } }, XPASS,
	  .flow = FLOW_NEW },
	{ "v4 host entry", { 0 }, { { V4, EW_A_DROP, 1 }, { "198.18.0.3", EW_A_DROP, 0 } }, XDROP,
	  EW_R_PREFIX, EW_A_DROP },
	{ "v4 /0", { .saddr = "198.19.200.7" }, { { "0.0.0.0/0", EW_A_DROP, 1 } }, XDROP, EW_R_PREFIX,
	  EW_A_DROP },
	{ "v4 rule, v6 source", { .family = 6 }, { { "0.0.0.0/0", EW_A_DROP, 0 } }, XPASS, .flow = FLOW_NEW },
	{ "v6 drop", { .family = 6 }, { { "2001:db8::/32", EW_A_DROP, 1 } }, XDROP, EW_R_PREFIX, EW_A_DROP },
	{ "v6 flag", { .family = 6 }, { { "2001:db8::/32", EW_A_FLAG, 1 } }, XPASS, EW_R_PREFIX, EW_A_FLAG,
	  FLOW_NEW },
	{ "v6 allow udp", { .family = 6, .proto = IPPROTO_UDP }, { { "2001:db8::/32", EW_A_ALLOW, 1 } }, XPASS,
	  EW_R_PREFIX, EW_A_ALLOW, FLOW_NEW },
	{ "v6 host entry", { .family = 6 }, { { V6, EW_A_DROP, 1 }, { "2001:db8::2", EW_A_DROP, 0 } }, XDROP,
	  EW_R_PREFIX, EW_A_DROP },
	{ "v6 other source", { .saddr = "2001:db8:1::1" }, { { "2001:db8::/48", EW_A_DROP, 0 } }, XPASS,
	  .flow = FLOW_NEW },
	{ "v6 rule, v4 source", { 0 }, { { "::/0", EW_A_DROP, 0 } }, XPASS, .flow = FLOW_NEW },
	{ "lpm /8 drop, /24 allow", { 0 },
	  { { "198.0.0.0/8", EW_A_DROP, 0 }, { "198.18.0.0/24", EW_A_ALLOW, 1 } }, XPASS, EW_R_PREFIX,
	  EW_A_ALLOW, FLOW_NEW },
	{ "lpm /8 allow, /24 drop", { 0 },
	  { { "198.0.0.0/8", EW_A_ALLOW, 0 }, { "198.18.0.0/24", EW_A_DROP, 1 } }, XDROP, EW_R_PREFIX,
	  EW_A_DROP },
	{ "lpm /8 drop, /24 allow, outside /24", { .saddr = "198.19.0.1" },
	  { { "198.0.0.0/8", EW_A_DROP, 1 }, { "198.18.0.0/24", EW_A_ALLOW, 0 } }, XDROP, EW_R_PREFIX,
	  EW_A_DROP },
	{ "lpm /24 flag, /32 allow, /16 drop", { 0 },
	  { { "198.18.0.0/24", EW_A_FLAG, 0 }, { V4, EW_A_ALLOW, 1 }, { "198.18.0.0/16", EW_A_DROP, 0 } },
	  XPASS, EW_R_PREFIX, EW_A_ALLOW, FLOW_NEW },
	{ "lpm v6 /32 drop, /64 allow", { .family = 6 },
	  { { "2001:db8::/32", EW_A_DROP, 0 }, { "2001:db8::/64", EW_A_ALLOW, 1 } }, XPASS, EW_R_PREFIX,
	  EW_A_ALLOW, FLOW_NEW },
	{ "lpm v6 /32 allow, /127 drop", { .family = 6 },
	  { { "2001:db8::/32", EW_A_ALLOW, 0 }, { "2001:db8::/127", EW_A_DROP, 1 } }, XDROP, EW_R_PREFIX,
	  EW_A_DROP },
	/* Portless packets get the prefix decision, and no flow. */
	{ "v4 non-first fragment drop", { .frag_off = 10 }, { { "198.18.0.0/15", EW_A_DROP, 1 } }, XDROP,
	  EW_R_PREFIX, EW_A_DROP },
	{ "v6 non-first fragment flag", { .family = 6, .ip6_ext = { { PKT_X_FRAG, .frag_off = 2 } } },
	  { { "2001:db8::/32", EW_A_FLAG, 1 } }, XPASS, EW_R_PREFIX, EW_A_FLAG },
	{ "icmp4 drop", { .proto = IPPROTO_ICMP }, { { V4, EW_A_DROP, 1 } }, XDROP, EW_R_PREFIX, EW_A_DROP },
	{ "icmp6 allow", { .family = 6, .proto = IPPROTO_ICMPV6 }, { { V6, EW_A_ALLOW, 1 } }, XPASS,
	  EW_R_PREFIX, EW_A_ALLOW },
	{ "vlan + ip4 options drop", { .vlans = 2, .ip4_opts_len = 8 }, { { V4, EW_A_DROP, 1 } }, XDROP,
	  EW_R_PREFIX, EW_A_DROP },
};

EW_TEST(datapath_actions)
{
	return RUN_TABLE(actions, false);
}

/* Monitor mode: drops become counted would-drops that pass; the rest is unchanged. */
static const struct dp_case monitor[] = {
	{ "v4 drop", { 0 }, { { "198.18.0.0/24", EW_A_DROP, 1 } }, XPASS, EW_R_PREFIX, EW_A_WOULD_DROP,
	  FLOW_NEW },
	{ "v6 drop", { .family = 6 }, { { V6, EW_A_DROP, 1 } }, XPASS, EW_R_PREFIX, EW_A_WOULD_DROP, FLOW_NEW },
	{ "v4 flag", { 0 }, { { V4, EW_A_FLAG, 1 } }, XPASS, EW_R_PREFIX, EW_A_FLAG, FLOW_NEW },
	{ "v4 allow over drop", { 0 }, { { "198.18.0.0/24", EW_A_DROP, 0 }, { V4, EW_A_ALLOW, 1 } }, XPASS,
	  EW_R_PREFIX, EW_A_ALLOW, FLOW_NEW },
	{ "no match", { 0 }, { { "198.19.0.0/16", EW_A_DROP, 0 } }, XPASS, .flow = FLOW_NEW },
	{ "fragment drop", { .frag_off = 1 }, { { V4, EW_A_DROP, 1 } }, XPASS, EW_R_PREFIX, EW_A_WOULD_DROP },
	{ "truncated", { .cut = PKT_L_IP }, { { V4, EW_A_DROP, 0 } }, XPASS, .reason = EW_R_TRUNC_IP4 },
};

EW_TEST(datapath_monitor)
{
	return RUN_TABLE(monitor, true);
}

/* TC egress alone (no flow seen on XDP): parse reasons and untracked. */
static const struct dp_case egress[] = {
	{ "unknown tcp4", { .tcp_flags = PKT_SYN | PKT_ACK }, TC, .reason = EW_R_UNTRACKED },
	{ "unknown udp6", { .family = 6, .proto = IPPROTO_UDP }, TC, .reason = EW_R_UNTRACKED },
	{ "unknown, source blocked", { 0 }, { { V4, EW_A_DROP, 0 } }, TC, .reason = EW_R_UNTRACKED },
	{ "icmp4", { .proto = IPPROTO_ICMP }, TC, .reason = EW_R_NO_L4 },
	{ "fragment", { .frag_off = 4 }, TC, .reason = EW_R_FRAGMENT },
	{ "arp", { .ethertype = 0x0806, .fill = 28 }, TC, .reason = EW_R_NOT_IP },
	{ "3 vlans", { .vlans = 3 }, TC, .reason = EW_R_VLAN_DEPTH },
	/* (the kernel refuses test skbs whose IPv4 header is shorter than 20 bytes) */
	{ "ip4 options cut", { .ip4_opts_len = 8, .cut = PKT_L_IP_OPTS }, TC, .reason = EW_R_TRUNC_IP4 },
	{ "ip6 ext cut", { .family = 6, .ip6_ext = { { PKT_X_DST } }, .cut = PKT_L_IP_OPTS }, TC,
	  .reason = EW_R_TRUNC_IP6 },
	{ "tcp cut", { .cut = PKT_L_L4 }, TC, .reason = EW_R_TRUNC_L4 },
	{ "ip6 chain of 7", { .family = 6, .ip6_ext = { { PKT_X_HOP }, { PKT_X_DST }, { PKT_X_DST }, { PKT_X_DST },
						      { PKT_X_DST }, { PKT_X_DST }, { PKT_X_DST } } },
	  TC, .reason = EW_R_IP6_EXT },
};

EW_TEST(datapath_tc_egress)
{
	return RUN_TABLE(egress, false);
}

/* --- flow sequences ---------------------------------------------------------- */

/* One frame on shared state: return code and its one counter; lookup and flow-new deltas. */
struct step {
	int hook;
	__u32 ret;
	int reason, action;
	int lookups, flows_new;
};

static bool send_frame(struct bpfrun *r, const struct pkt_spec *s, const struct step *want, struct pkt_info *in)
{
	uint8_t f[PKT_MAX];
	struct bpfrun_stats b, a;
	__u32 ret = ~0u;
	int len = pkt_build(s, f, sizeof(f), in);

	CHECK(ASSERT_TRUE(len > 0));
	CHECK(ASSERT_EQ(bpfrun_stats_read(r, &b), 0));
	if (want->hook == EW_HOOK_TC)
		CHECK(ASSERT_EQ(bpfrun_tc(r, f, len, &ret), 0));
	else
		CHECK(ASSERT_EQ(bpfrun_xdp(r, f, len, &ret), 0));
	CHECK(ASSERT_EQ(bpfrun_stats_read(r, &a), 0));
	return ASSERT_EQ(ret, want->ret) & one_count(&b, &a, want->hook, want->reason, want->action, len) &
	       ASSERT_EQ(counter_delta(&b, &a, EW_C_PFX_LOOKUP), want->lookups) &
	       ASSERT_EQ(counter_delta(&b, &a, EW_C_FLOW_NEW), want->flows_new);
}

static bool flow_of(struct bpfrun *r, const struct pkt_info *in, struct ew_flow *fl)
{
	struct ew_flow_key k;

	bpfrun_flow_key(&k, in, false);
	return ASSERT_EQ(bpfrun_flow_get(r, &k, fl), 0);
}

EW_TEST(flow_second_packet_uses_cached_verdict)
{
	const struct pkt_spec syn = { 0 }, ack = { .tcp_flags = PKT_ACK, .fill = 100 };
	struct bpfrun *r;
	struct pkt_info i1, i2;
	struct ew_flow fl;
	struct ew_pfx_val pv;
	bool ok;

	r = fresh(false);
	CHECK(r);
	ok = ASSERT_EQ(bpfrun_prefix_add(r, "198.18.0.0/24", EW_A_FLAG, NULL), 0) &&
	     ASSERT_EQ(bpfrun_rules_changed(r), 0) &&
	     send_frame(r, &syn, &(struct step){ .ret = XDP_PASS, EW_R_PREFIX, EW_A_FLAG, 1, 1 }, &i1) &&
	     send_frame(r, &ack, &(struct step){ .ret = XDP_PASS, EW_R_PREFIX, EW_A_FLAG, 0, 0 }, &i2) &&
	     flow_of(r, &i1, &fl) && ASSERT_EQ(fl.packets[0], 2) &&
	     ASSERT_EQ(fl.bytes[0], i1.len + i2.len) && ASSERT_EQ(fl.tcp_flags[0], PKT_SYN | PKT_ACK) &&
	     ASSERT_EQ(fl.verdict, EW_A_FLAG) && ASSERT_EQ(bpfrun_flow_count(r), 1) &&
	     ASSERT_EQ(bpfrun_prefix_get(r, "198.18.0.0/24", &pv), 0) && ASSERT_EQ(pv.hits, 1);
	return ok;
}

EW_TEST(flow_rule_change_redecides)
{
	const struct pkt_spec p = { .family = 6, .tcp_flags = PKT_ACK };
	const struct step pass = { .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 0, 0 };
	struct bpfrun *r;
	struct pkt_info in;
	struct ew_flow fl;
	bool ok;

	r = fresh(false);
	CHECK(r);
	ok = send_frame(r, &p, &(struct step){ .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 1, 1 }, &in) &&
	     /* A new entry without a generation bump leaves the cached verdict. */
	     ASSERT_EQ(bpfrun_prefix_add(r, V6, EW_A_DROP, NULL), 0) && send_frame(r, &p, &pass, &in) &&
	     /* The bump makes the flow re-decide once, then the drop sticks. */
	     ASSERT_EQ(bpfrun_rules_changed(r), 0) &&
	     send_frame(r, &p, &(struct step){ .ret = XDP_DROP, EW_R_PREFIX, EW_A_DROP, 1, 0 }, &in) &&
	     send_frame(r, &p, &(struct step){ .ret = XDP_DROP, EW_R_PREFIX, EW_A_DROP, 0, 0 }, &in) &&
	     flow_of(r, &in, &fl) && ASSERT_EQ(fl.verdict, EW_A_DROP) && ASSERT_EQ(fl.reason, EW_R_PREFIX) &&
	     ASSERT_EQ(fl.gen, bpfrun_gen(r)) && ASSERT_EQ(fl.packets[0], 4) &&
	     /* Removing the entry lets the flow through again. */
	     ASSERT_EQ(bpfrun_prefix_del(r, V6), 0) && ASSERT_EQ(bpfrun_rules_changed(r), 0) &&
	     send_frame(r, &p, &(struct step){ .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 1, 0 }, &in) &&
	     send_frame(r, &p, &pass, &in) && flow_of(r, &in, &fl) && ASSERT_EQ(fl.verdict, EW_A_PASS) &&
	     ASSERT_EQ(fl.packets[0], 6);
	return ok;
}

EW_TEST(flow_dropped_source_creates_none)
{
	const struct step drop = { .ret = XDP_DROP, EW_R_PREFIX, EW_A_DROP, 1, 0 };
	struct bpfrun *r;
	struct pkt_info in;
	struct ew_pfx_val pv;
	bool ok;

	r = fresh(false);
	CHECK(r);
	ok = ASSERT_EQ(bpfrun_prefix_add(r, "198.18.0.0/15", EW_A_DROP, NULL), 0) &&
	     ASSERT_EQ(bpfrun_rules_changed(r), 0) && send_frame(r, &(struct pkt_spec){ 0 }, &drop, &in) &&
	     send_frame(r, &(struct pkt_spec){ .sport = 40001 }, &drop, &in) &&
	     send_frame(r, &(struct pkt_spec){ 0 }, &drop, &in) && ASSERT_EQ(bpfrun_flow_count(r), 0) &&
	     ASSERT_EQ(bpfrun_prefix_get(r, "198.18.0.0/15", &pv), 0) && ASSERT_EQ(pv.hits, 3);
	return ok;
}

EW_TEST(flow_monitor_would_drop_sticks)
{
	const struct pkt_spec p = { 0 };
	struct bpfrun *r;
	struct pkt_info in;
	struct ew_flow fl;
	bool ok;

	r = fresh(true);
	CHECK(r);
	ok = ASSERT_EQ(bpfrun_prefix_add(r, V4, EW_A_DROP, NULL), 0) && ASSERT_EQ(bpfrun_rules_changed(r), 0) &&
	     send_frame(r, &p, &(struct step){ .ret = XDP_PASS, EW_R_PREFIX, EW_A_WOULD_DROP, 1, 1 }, &in) &&
	     send_frame(r, &p, &(struct step){ .ret = XDP_PASS, EW_R_PREFIX, EW_A_WOULD_DROP, 0, 0 }, &in) &&
	     flow_of(r, &in, &fl) && ASSERT_EQ(fl.verdict, EW_A_WOULD_DROP) && ASSERT_EQ(fl.packets[0], 2);
	return ok;
}

/* The server's reply: addresses and ports swapped. */
static struct pkt_spec reply_of(const struct pkt_spec *c, const char *saddr, const char *daddr)
{
	struct pkt_spec s = *c;

	s.saddr = daddr;
	s.daddr = saddr;
	s.sport = c->dport ? c->dport : 443;
	s.dport = c->sport ? c->sport : 40000;
	return s;
}

static bool egress_counts_reply(int family, uint8_t proto)
{
	const char *cs = family == 4 ? V4 : V6, *sv = family == 4 ? "198.18.0.2" : "2001:db8::2";
	const struct pkt_spec c2s = { .family = family, .proto = proto, .saddr = cs, .daddr = sv, .sport = 41000,
				      .dport = 8443 };
	struct pkt_spec s2c = reply_of(&c2s, cs, sv);
	const struct step none_tc = { EW_HOOK_TC, TC_ACT_OK, EW_R_NONE, EW_A_PASS, 0, 0 };
	struct bpfrun *r;
	struct pkt_info ic, is1, is2;
	struct ew_flow fl;
	bool ok;

	s2c.tcp_flags = PKT_SYN | PKT_ACK;
	s2c.fill = 33;
	r = fresh(false);
	CHECK(r);
	ok = send_frame(r, &c2s, &(struct step){ .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 1, 1 }, &ic) &&
	     send_frame(r, &s2c, &none_tc, &is1);
	s2c.tcp_flags = PKT_ACK | PKT_FIN;
	ok = ok && send_frame(r, &s2c, &none_tc, &is2) && flow_of(r, &ic, &fl) && ASSERT_EQ(fl.packets[0], 1) &&
	     ASSERT_EQ(fl.bytes[0], ic.len) && ASSERT_EQ(fl.packets[1], 2) &&
	     ASSERT_EQ(fl.bytes[1], is1.len + is2.len) &&
	     ASSERT_EQ(fl.tcp_flags[1], proto == IPPROTO_TCP ? PKT_SYN | PKT_ACK | PKT_FIN : 0) &&
	     ASSERT_EQ(bpfrun_flow_count(r), 1) &&
	     /* The client's own direction seen on egress is not the reply. */
	     send_frame(r, &c2s, &(struct step){ EW_HOOK_TC, TC_ACT_OK, EW_R_UNTRACKED, EW_A_PASS, 0, 0 }, &ic);
	return ok;
}

EW_TEST(flow_tc_egress_counts_reply)
{
	return egress_counts_reply(4, IPPROTO_TCP) && egress_counts_reply(6, IPPROTO_TCP) &&
	       egress_counts_reply(4, IPPROTO_UDP) && egress_counts_reply(6, IPPROTO_UDP);
}

EW_TEST(flow_tc_egress_of_dropped_flow)
{
	const struct pkt_spec c2s = { 0 };
	struct pkt_spec s2c = reply_of(&c2s, V4, "198.18.0.2");
	struct bpfrun *r;
	struct pkt_info in;
	bool ok;

	/* A dropped source has no flow, so its egress (if any) is untracked. */
	r = fresh(false);
	CHECK(r);
	ok = ASSERT_EQ(bpfrun_prefix_add(r, V4, EW_A_DROP, NULL), 0) && ASSERT_EQ(bpfrun_rules_changed(r), 0) &&
	     send_frame(r, &c2s, &(struct step){ .ret = XDP_DROP, EW_R_PREFIX, EW_A_DROP, 1, 0 }, &in) &&
	     send_frame(r, &s2c, &(struct step){ EW_HOOK_TC, TC_ACT_OK, EW_R_UNTRACKED, EW_A_PASS, 0, 0 }, &in);
	return ok;
}

EW_TEST(flow_distinct_tuples)
{
	const struct step newflow = { .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 1, 1 };
	struct bpfrun *r;
	struct pkt_info in;
	bool ok;

	/* Each field of the 5-tuple makes a different flow. */
	r = fresh(false);
	CHECK(r);
	ok = send_frame(r, &(struct pkt_spec){ 0 }, &newflow, &in) &&
	     send_frame(r, &(struct pkt_spec){ .sport = 1 }, &newflow, &in) &&
	     send_frame(r, &(struct pkt_spec){ .dport = 1 }, &newflow, &in) &&
	     send_frame(r, &(struct pkt_spec){ .saddr = "198.18.0.9" }, &newflow, &in) &&
	     send_frame(r, &(struct pkt_spec){ .daddr = "198.18.0.9" }, &newflow, &in) &&
	     send_frame(r, &(struct pkt_spec){ .proto = IPPROTO_UDP }, &newflow, &in) &&
	     send_frame(r, &(struct pkt_spec){ .saddr = "::ffff:198.18.0.1", .daddr = "::ffff:198.18.0.2" }, &newflow,
		  &in) &&
	     ASSERT_EQ(bpfrun_flow_count(r), 7);
	return ok;
}

EW_TEST(flow_times_from_the_replay_clock)
{
	const struct step newflow = { .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 1, 1 };
	const struct step cached = { .ret = XDP_PASS, EW_R_NONE, EW_A_PASS, 0, 0 };
	struct bpfrun *r;
	struct pkt_info in;
	struct ew_flow fl;
	bool ok;

	r = bpfrun_shared(&(struct bpfrun_opts){ .replay = true });
	CHECK(ASSERT_TRUE(r != NULL));
	bpfrun_set_now(r, 1000000);
	ok = send_frame(r, &(struct pkt_spec){ 0 }, &newflow, &in);
	bpfrun_set_now(r, 2500000);
	ok = ok && send_frame(r, &(struct pkt_spec){ .tcp_flags = PKT_ACK }, &cached, &in) &&
	     flow_of(r, &in, &fl) && ASSERT_EQ(fl.first_ns, 1000000) && ASSERT_EQ(fl.last_ns, 2500000);
	return ok;
}

static __u64 coarse_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static bool near(__u64 a, __u64 b, __u64 tol)
{
	return a > b ? a - b <= tol : b - a <= tol;
}

/* One frame through XDP, passed, and its flow's entry after it. */
static bool passed_flow(struct bpfrun *r, const struct pkt_spec *s, struct ew_flow *fl)
{
	uint8_t f[PKT_MAX];
	struct pkt_info in;
	__u32 ret = ~0u;
	int len = pkt_build(s, f, sizeof(f), &in);

	CHECK(ASSERT_TRUE(len > 0));
	CHECK(ASSERT_EQ(bpfrun_xdp(r, f, len, &ret), 0));
	return ASSERT_EQ(ret, XDP_PASS) && flow_of(r, &in, fl);
}

/*
 * A flow's last-seen time is the live coarse clock (bpf/lib/clock.h reads it
 * once a tick per CPU and reuses it within the tick): after 30 ms the next
 * packet's time has moved on with the clock, not stayed at the first.
 */
EW_TEST(flow_last_seen_follows_the_clock)
{
	const struct pkt_spec p = { .sport = 41900, .tcp_flags = PKT_ACK, .fill = 100 };
	const __u64 tol = 200000000; /* ticks at any HZ, and a slow (emulated) machine */
	struct bpfrun *r = bpfrun_shared(&(struct bpfrun_opts){ 0 });
	struct ew_flow fl1, fl2;
	__u64 t1, t2;

	CHECK(ASSERT_TRUE(r != NULL));
	CHECK(passed_flow(r, &p, &fl1));
	t1 = coarse_now_ns();
	usleep(30000);
	CHECK(passed_flow(r, &p, &fl2));
	t2 = coarse_now_ns();
	return ASSERT_TRUE(near(fl1.last_ns, t1, tol)) && ASSERT_TRUE(near(fl2.last_ns, t2, tol)) &&
	       ASSERT_TRUE(fl2.last_ns >= fl1.last_ns + 20000000);
}
