// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF tests of the ClientHello path (bpf/lib/tls.h): crafted hellos sent as
 * TCP segments through ew_xdp with BPF_PROG_TEST_RUN. Each row is a hello
 * (tests/lib/hello.h), how it is cut into segments and in what order, and
 * what must come out: the connection's JA4/JA3 equal to user/ja4.c's on the
 * same bytes (an independent implementation, itself checked against values
 * from FoxIO's python/ja4.py and tshark in tests/unit/test_ja4.c), or the
 * failure state and counter, never a fingerprint. Then fingerprint rules:
 * drop, flag, allow, a_b, JA3, stickiness, monitor, ports; and fingerprint
 * feed reloads, checked after every step to show each hello the whole old
 * set or the whole new one, also when a reload is stopped (killed) midway.
 */
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "lib/hello.h"
#include "edgeward.h"
#include "feeds.h"
#include "edgeward.skel.h"

#define ISN 1000u

/* A frame of the test flow: client 198.18.0.1:40000 -> 198.18.0.2:443 (or v6). */
struct seg {
	int family;
	int vlans;
	const char *saddr; /* NULL: the default client */
	uint16_t sport;	   /* 0: 40000 */
	uint16_t dport;
	uint16_t flags;
	uint32_t seq;
	const uint8_t *data;
	size_t len;
	size_t ip_len_cut; /* bytes cut from the frame after building (IP length then overruns) */
};

static int send_seg(struct bpfrun *r, const struct seg *s, __u32 *ret, struct ew_flow_key *k)
{
	static uint8_t buf[PKT_MAX];
	struct pkt_info info;
	struct pkt_spec p = {
		.family = s->family ? s->family : 4,
		.vlans = s->vlans,
		.saddr = s->saddr,
		.sport = s->sport,
		.dport = s->dport ? s->dport : 443,
		.tcp_flags = s->flags ? s->flags : PKT_ACK | PKT_PSH,
		.seq = s->seq,
		.ack = 1,
		.payload = { s->data, s->len },
	};
	int len = pkt_build(&p, buf, sizeof(buf), &info);

	if (len < 0)
		return -1;
	if (k)
		bpfrun_flow_key(k, &info, false);
	return bpfrun_xdp(r, buf, len - s->ip_len_cut, ret);
}

/* SYN, then the record cut at the given offsets, sent in `order` (indexes of pieces). */
static bool send_hello(struct bpfrun *r, int family, int vlans, const uint8_t *rec, size_t len,
		       const size_t *cuts, const int *order, int npieces, struct ew_flow_key *k,
		       __u32 *last_ret)
{
	struct seg syn = { .family = family, .vlans = vlans, .flags = PKT_SYN, .seq = ISN - 1 };
	__u32 ret;

	if (!ASSERT_EQ(send_seg(r, &syn, &ret, k), 0))
		return false;
	for (int i = 0; i < npieces; i++) {
		int p = order ? order[i] : i;
		size_t a = p ? cuts[p - 1] : 0, b = p < npieces - 1 ? cuts[p] : len;
		struct seg s = { .family = family, .vlans = vlans, .seq = ISN + a, .data = rec + a, .len = b - a };

		if (!ASSERT_EQ(send_seg(r, &s, &ret, NULL), 0))
			return false;
	}
	*last_ret = ret;
	return true;
}

static bool conn_get(struct bpfrun *r, const struct ew_flow_key *k, struct ew_conn *c)
{
	memset(c, 0, sizeof(*c));
	return bpf_map_lookup_elem(r->conns_fd, k, c) == 0;
}

static __u64 ctr(struct bpfrun *r, int i)
{
	struct bpfrun_stats st;

	if (bpfrun_stats_read(r, &st))
		return ~0ull;
	return st.counters[i];
}

static struct bpfrun R;
static bool R_monitor;

static struct bpfrun *rig(bool monitor)
{
	if (R.skel && R_monitor != monitor) {
		bpfrun_close(&R);
		memset(&R, 0, sizeof(R));
	}
	if (!R.skel && bpfrun_open(&R, &(struct bpfrun_opts){ .monitor = monitor }))
		return NULL;
	R_monitor = monitor;
	if (bpfrun_reset(&R))
		return NULL;
	return &R;
}

/* --- hello builders -------------------------------------------------------- */

static const uint16_t cs_basic[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f };

static size_t h_browser(uint8_t *b, size_t cap) { return hb_browser(b, cap, "www.example.com", 32); }
static size_t h_pq(uint8_t *b, size_t cap) { return hb_browser(b, cap, "pq.example.com", 1216); }
static size_t h_4k(uint8_t *b, size_t cap) { return hb_browser(b, cap, "big.example.com", 3600); }
static size_t h_nosni(uint8_t *b, size_t cap) { return hb_browser(b, cap, NULL, 32); }

static size_t h_many_ciphers(uint8_t *b, size_t cap)
{
	uint16_t cs[120];
	struct hb h = {};

	for (int i = 0; i < 120; i++)
		cs[i] = i % 17 == 0 ? HB_GREASE(i) : 0x0100 + 3 * (120 - i);
	hb_sni(&h, "many.example.com");
	return hb_record(&h, 0x0303, cs, 120, b, cap);
}

static size_t h_too_many_ciphers(uint8_t *b, size_t cap)
{
	uint16_t cs[200];
	struct hb h = {};

	for (int i = 0; i < 200; i++)
		cs[i] = 0x0100 + i;
	return hb_record(&h, 0x0303, cs, 200, b, cap);
}

static size_t h_noext(uint8_t *b, size_t cap)
{
	struct hb h = { .no_ext = true };

	return hb_record(&h, 0x0303, cs_basic, 5, b, cap);
}

static size_t alpn_one(uint8_t *b, size_t cap, const char *p, size_t n)
{
	struct hb h = {};

	hb_sni(&h, "alpn.example.com");
	hb_alpn_raw(&h, 1, p, n);
	return hb_record(&h, 0x0303, cs_basic, 5, b, cap);
}

static size_t h_alpn_1char(uint8_t *b, size_t cap) { return alpn_one(b, cap, "h", 1); }
static size_t h_alpn_space(uint8_t *b, size_t cap) { return alpn_one(b, cap, "a b ", 4); }
static size_t h_alpn_high(uint8_t *b, size_t cap) { return alpn_one(b, cap, "\xab\xcd", 2); }
static size_t h_alpn_empty(uint8_t *b, size_t cap) { return alpn_one(b, cap, "", 0); }

static size_t h_tls12(uint8_t *b, size_t cap)
{
	static const uint16_t groups[] = { 0x001d, 0x0017 }, sigs[] = { 0x0401, 0x0501 };
	struct hb h = {};

	hb_sni(&h, "old.example.com");
	hb_u16list(&h, 0x000a, 2, groups, 2);
	hb_u8list(&h, 0x000b, (const uint8_t[]){ 0, 1, 2 }, 3);
	hb_u16list(&h, 0x000d, 2, sigs, 2);
	return hb_record(&h, 0x0303, cs_basic + 3, 2, b, cap);
}

static size_t h_rec_overrun(uint8_t *b, size_t cap)
{
	struct hb h = { .hs_len_adj = 40 }; /* handshake longer than its record */

	hb_sni(&h, "x.example.com");
	return hb_record(&h, 0x0303, cs_basic, 5, b, cap);
}

static size_t h_hs_overrun(uint8_t *b, size_t cap)
{
	struct hb h = { .ext_len_adj = 9 }; /* extension block longer than the handshake */

	hb_sni(&h, "x.example.com");
	return hb_record(&h, 0x0303, cs_basic, 5, b, cap);
}

static size_t h_ext_overrun(uint8_t *b, size_t cap)
{
	struct hb h = {};
	size_t n;

	hb_sni(&h, "x.example.com");
	h.ext[3] += 20; /* the SNI extension's length runs past the block */
	n = hb_record(&h, 0x0303, cs_basic, 5, b, cap);
	return n;
}

static size_t h_too_big(uint8_t *b, size_t cap) { return hb_browser(b, cap, "huge.example.com", 8300); }

/* --- the table ------------------------------------------------------------- */

struct tls_case {
	const char *name;
	size_t (*build)(uint8_t *b, size_t cap);
	int family, vlans;
	size_t cuts[4];	 /* piece boundaries (byte offsets), 0-terminated */
	int order[5];	 /* piece order when not in sequence (all -1: in order) */
	bool retransmit_first; /* send piece 0 twice */
	size_t ip_len_cut; /* single segment, frame cut short of its IP length */
	int state;	 /* expected ew_tls_fp.state */
	int counter;	 /* counter that must move by one */
	int reason;	 /* reason of the last packet */
};

#define IN_ORDER { -1 }

static const struct tls_case cases[] = {
	{ "browser, GREASE in every list", h_browser, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "no SNI", h_nosni, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "more than 99 ciphers", h_many_ciphers, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "no extensions", h_noext, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "ALPN one character", h_alpn_1char, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "ALPN non-alphanumeric", h_alpn_space, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "ALPN non-ASCII", h_alpn_high, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "ALPN empty value", h_alpn_empty, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "TLS 1.2 only", h_tls12, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "IPv6", h_browser, .family = 6, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "VLAN tagged", h_browser, .vlans = 2, .state = EW_TLS_OK, .counter = EW_C_TLS_HELLO },
	{ "2 segments (post-quantum size)", h_pq, .cuts = { 1448 }, .state = EW_TLS_OK,
	  .counter = EW_C_TLS_REASM },
	{ "3 segments", h_pq, .cuts = { 5, 700 }, .state = EW_TLS_OK, .counter = EW_C_TLS_REASM },
	{ "4 segments, 4 KiB", h_4k, .cuts = { 1000, 2000, 3000 }, .state = EW_TLS_OK,
	  .counter = EW_C_TLS_REASM },
	{ "4 segments over IPv6 + VLAN", h_4k, .family = 6, .vlans = 1, .cuts = { 1, 1448, 2896 },
	  .state = EW_TLS_OK, .counter = EW_C_TLS_REASM },
	{ "retransmitted first segment", h_pq, .cuts = { 1448 }, .retransmit_first = true,
	  .state = EW_TLS_OK, .counter = EW_C_TLS_RETRANS },
	{ "out-of-order segments", h_4k, .cuts = { 1000, 2000 }, .order = { 0, 2, 1 },
	  .state = EW_TLS_INCOMPLETE, .counter = EW_C_TLS_INCOMPLETE, .reason = EW_R_TLS_INCOMPLETE },
	{ "handshake overruns the record", h_rec_overrun, .state = EW_TLS_MALFORMED,
	  .counter = EW_C_TLS_MALFORMED, .reason = EW_R_TLS_MALFORMED },
	{ "extensions overrun the handshake", h_hs_overrun, .state = EW_TLS_MALFORMED,
	  .counter = EW_C_TLS_MALFORMED, .reason = EW_R_TLS_MALFORMED },
	{ "extension overruns its block", h_ext_overrun, .state = EW_TLS_MALFORMED,
	  .counter = EW_C_TLS_MALFORMED, .reason = EW_R_TLS_MALFORMED },
	{ "IP length overruns the frame", h_browser, .ip_len_cut = 30, .state = EW_TLS_MALFORMED,
	  .counter = EW_C_TLS_MALFORMED, .reason = EW_R_TLS_MALFORMED },
	{ "more ciphers than kept", h_too_many_ciphers, .state = EW_TLS_UNSUPPORTED,
	  .counter = EW_C_TLS_UNSUPPORTED, .reason = EW_R_TLS_UNSUPPORTED },
	{ "record over 8 KiB", h_too_big, .cuts = { 1448 }, .state = EW_TLS_UNSUPPORTED, .counter = EW_C_TLS_UNSUPPORTED,
	  .reason = EW_R_TLS_UNSUPPORTED },
};

static uint8_t rec[16384];

static bool run_case(struct bpfrun *r, const struct tls_case *c)
{
	struct ew_flow_key k;
	struct ew_conn conn;
	struct ew_ja4 want;
	struct bpfrun_stats b, a;
	size_t len = c->build(rec, sizeof(rec));
	int n = 1, order[5];
	__u32 ret = 0;
	bool ok = true;

	if (!ASSERT_TRUE(len > 0))
		return false;
	while (n < 5 && c->cuts[n - 1])
		n++;
	for (int i = 0; i < n; i++)
		order[i] = c->order[0] == 0 && (c->order[1] || c->order[2]) ? c->order[i] : i;
	bpfrun_stats_read(r, &b);
	if (c->ip_len_cut) {
		struct seg syn = { .family = c->family, .flags = PKT_SYN, .seq = ISN - 1 };
		struct seg s = { .family = c->family, .seq = ISN, .data = rec, .len = len, .ip_len_cut = c->ip_len_cut };

		ok &= ASSERT_EQ(send_seg(r, &syn, &ret, &k), 0) && ASSERT_EQ(send_seg(r, &s, &ret, NULL), 0);
	} else if (c->retransmit_first) {
		struct seg syn = { .seq = ISN - 1, .flags = PKT_SYN };
		struct seg s0 = { .seq = ISN, .data = rec, .len = c->cuts[0] };
		struct seg s1 = { .seq = ISN + c->cuts[0], .data = rec + c->cuts[0], .len = len - c->cuts[0] };

		ok &= ASSERT_EQ(send_seg(r, &syn, &ret, &k), 0) && ASSERT_EQ(send_seg(r, &s0, &ret, NULL), 0) &&
		      ASSERT_EQ(send_seg(r, &s0, &ret, NULL), 0) && ASSERT_EQ(send_seg(r, &s1, &ret, NULL), 0);
	} else {
		ok &= send_hello(r, c->family, c->vlans, rec, len, c->cuts, order, n, &k, &ret);
	}
	bpfrun_stats_read(r, &a);
	ok &= ASSERT_EQ(ret, XDP_PASS);
	ok &= ASSERT_EQ(a.counters[c->counter] - b.counters[c->counter], 1);
	/* The last packet is counted under the failure's reason (none when fine). */
	ok &= ASSERT_EQ(bpfrun_stat(&a, EW_HOOK_XDP, c->reason, EW_A_PASS).packets -
				bpfrun_stat(&b, EW_HOOK_XDP, c->reason, EW_A_PASS).packets,
			c->reason ? 1 : n + 1 + c->retransmit_first);
	if (!ASSERT_TRUE(conn_get(r, &k, &conn)))
		return false;
	ok &= ASSERT_EQ(conn.tls.state, c->state);
	if (c->state != EW_TLS_OK) {
		ok &= ASSERT_STREQ(conn.tls.ja4, "") && ASSERT_STREQ(conn.tls.ja3, "");
		return ok;
	}
	if (!ASSERT_EQ(ew_ja4_compute(rec, len, &want), EW_TLS_OK))
		return false;
	ok &= ASSERT_STREQ(conn.tls.ja4, want.ja4);
	ok &= ASSERT_STREQ(conn.tls.ja3, want.ja3);
	ok &= ASSERT_STREQ(conn.tls.sni, want.sni);
	ok &= ASSERT_STREQ(conn.tls.alpn, want.alpn);
	ok &= ASSERT_EQ(memcmp(conn.tls.versions, want.versions, sizeof(want.versions)), 0);
	if (!ok)
		EW_FAILF("  ja4_r %s\n  ja3_r %s", want.ja4_r, want.ja3_r);
	return ok;
}

EW_TEST(tls_hellos)
{
	struct bpfrun *r = rig(false);
	int bad = 0;

	if (!ASSERT_TRUE(r))
		return false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (bpfrun_reset(r) || !run_case(r, &cases[i])) {
			EW_FAILF("^ in row \"%s\"", cases[i].name);
			bad++;
		}
	}
	return ASSERT_EQ(bad, 0);
}

/* Mid-flow packets after the hello are not examined: the hello counter stays. */
EW_TEST(tls_only_first_data)
{
	struct bpfrun *r = rig(false);
	struct ew_flow_key k;
	__u32 ret;
	size_t len = h_browser(rec, sizeof(rec));
	struct seg later = { .seq = ISN + len, .data = rec, .len = len };
	__u64 before;

	if (!ASSERT_TRUE(r) || !send_hello(r, 4, 0, rec, len, (size_t[]){ 0 }, NULL, 1, &k, &ret))
		return false;
	before = ctr(r, EW_C_TLS_HELLO);
	/* A second hello on the same flow (as after a HelloRetryRequest) is ignored. */
	return ASSERT_EQ(send_seg(r, &later, &ret, NULL), 0) && ASSERT_EQ(ctr(r, EW_C_TLS_HELLO), before) &&
	       ASSERT_EQ(before, 1);
}

/* A flow whose first data is not a hello is settled and never looked at again. */
EW_TEST(tls_not_hello)
{
	struct bpfrun *r = rig(false);
	struct seg get = { .seq = ISN, .data = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", .len = 18 };
	struct seg syn = { .seq = ISN - 1, .flags = PKT_SYN };
	size_t len = h_browser(rec, sizeof(rec));
	struct seg hello = { .seq = ISN + 18, .data = rec, .len = len };
	__u32 ret;

	return ASSERT_TRUE(r) && ASSERT_EQ(send_seg(r, &syn, &ret, NULL), 0) &&
	       ASSERT_EQ(send_seg(r, &get, &ret, NULL), 0) && ASSERT_EQ(ctr(r, EW_C_TLS_NOT_HELLO), 1) &&
	       ASSERT_EQ(send_seg(r, &hello, &ret, NULL), 0) && ASSERT_EQ(ctr(r, EW_C_TLS_HELLO), 0);
}

/* --- rules ----------------------------------------------------------------- */

static int rule_add(struct bpfrun *r, int kind, const char *val, int action)
{
	struct ew_fp_key k;
	struct ew_fp_val v = { .action = action };

	ew_fp_key_make(&k, kind, val);
	return bpf_map_update_elem(bpf_map__fd(r->skel->maps.ew_fprules), &k, &v, BPF_ANY) ||
	       bpfrun_rules_changed(r);
}

static __u64 rule_hits(struct bpfrun *r, int kind, const char *val)
{
	struct ew_fp_key k;
	struct ew_fp_val v = {};

	ew_fp_key_make(&k, kind, val);
	bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.ew_fprules), &k, &v);
	return v.hits;
}

/* The hello's value for a rule of this kind (JA4, its a_b part, JA3). */
static const char *rule_val(int kind, const struct ew_ja4 *fp)
{
	static char ab[24];

	if (kind == EW_FR_JA3)
		return fp->ja3;
	if (kind == EW_FR_JA4)
		return fp->ja4;
	snprintf(ab, sizeof(ab), "%.23s", fp->ja4);
	return ab;
}

struct rule_case {
	const char *name;
	bool monitor;
	struct {
		int kind; /* EW_FR_* ; the value is the browser hello's */
		int action;
	} rules[3];
	__u32 ret;	/* for the hello and the packet after it */
	int action;	/* counted action */
};

static const struct rule_case rule_cases[] = {
	{ "drop by full JA4", false, { { EW_FR_JA4, EW_A_DROP } }, XDP_DROP, EW_A_DROP },
	{ "drop by JA4 a_b", false, { { EW_FR_JA4_AB, EW_A_DROP } }, XDP_DROP, EW_A_DROP },
	{ "drop by JA3", false, { { EW_FR_JA3, EW_A_DROP } }, XDP_DROP, EW_A_DROP },
	{ "flag", false, { { EW_FR_JA4, EW_A_FLAG } }, XDP_PASS, EW_A_FLAG },
	{ "allow wins over drop", false, { { EW_FR_JA4, EW_A_DROP }, { EW_FR_JA3, EW_A_ALLOW } }, XDP_PASS,
	  EW_A_ALLOW },
	{ "drop wins over flag", false, { { EW_FR_JA4_AB, EW_A_FLAG }, { EW_FR_JA3, EW_A_DROP } }, XDP_DROP,
	  EW_A_DROP },
	{ "monitor: would drop", true, { { EW_FR_JA4, EW_A_DROP } }, XDP_PASS, EW_A_WOULD_DROP },
};

static bool run_rule_case(const struct rule_case *c)
{
	struct bpfrun *r = rig(c->monitor);
	struct bpfrun_stats b, a;
	struct ew_ja4 fp;
	struct ew_flow_key k;
	struct ew_flow f;
	size_t len = hb_browser(rec, sizeof(rec), "rules.example.com", 1216);
	struct seg s0 = { .seq = ISN, .data = rec, .len = 1448 };
	struct seg s1 = { .seq = ISN + 1448, .data = rec + 1448, .len = len - 1448 };
	struct seg after = { .seq = ISN + len, .data = (const uint8_t *)"application data", .len = 16 };
	struct seg syn = { .seq = ISN - 1, .flags = PKT_SYN };
	__u32 ret;
	bool ok = true;

	if (!ASSERT_TRUE(r) || !ASSERT_EQ(ew_ja4_compute(rec, len, &fp), EW_TLS_OK))
		return false;
	for (int i = 0; i < 3 && c->rules[i].kind; i++)
		ok &= ASSERT_EQ(rule_add(r, c->rules[i].kind, rule_val(c->rules[i].kind, &fp), c->rules[i].action), 0);
	ok &= ASSERT_EQ(send_seg(r, &syn, &ret, &k), 0) && ASSERT_EQ(ret, XDP_PASS);
	/* The first segment: nothing known yet. */
	ok &= ASSERT_EQ(send_seg(r, &s0, &ret, NULL), 0) && ASSERT_EQ(ret, XDP_PASS);
	bpfrun_stats_read(r, &b);
	ok &= ASSERT_EQ(send_seg(r, &s1, &ret, NULL), 0) && ASSERT_EQ(ret, c->ret);
	/* The verdict sticks: the next client packet gets it from the flow. */
	ok &= ASSERT_EQ(send_seg(r, &after, &ret, NULL), 0) && ASSERT_EQ(ret, c->ret);
	bpfrun_stats_read(r, &a);
	ok &= ASSERT_EQ(bpfrun_stat(&a, EW_HOOK_XDP, EW_R_FP_RULE, c->action).packets -
				bpfrun_stat(&b, EW_HOOK_XDP, EW_R_FP_RULE, c->action).packets, 2);
	ok &= ASSERT_EQ(bpfrun_flow_get(r, &k, &f), 0) && ASSERT_EQ(f.verdict, c->action) &&
	      ASSERT_EQ(f.reason, EW_R_FP_RULE);
	for (int i = 0; i < 3 && c->rules[i].kind; i++)
		ok &= ASSERT_EQ(rule_hits(r, c->rules[i].kind, rule_val(c->rules[i].kind, &fp)), 1);
	return ok;
}

EW_TEST(tls_rules)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		if (!run_rule_case(&rule_cases[i])) {
			EW_FAILF("^ in row \"%s\"", rule_cases[i].name);
			bad++;
		}
	}
	return ASSERT_EQ(bad, 0);
}

/* A rule added after the hello applies to the fingerprinted flow at the next rule change. */
EW_TEST(tls_rule_added_later)
{
	struct bpfrun *r = rig(false);
	struct ew_flow_key k;
	struct ew_ja4 fp;
	size_t len = h_browser(rec, sizeof(rec));
	struct seg more = { .seq = ISN + len, .data = (const uint8_t *)"x", .len = 1 };
	__u32 ret;
	bool ok;

	if (!ASSERT_TRUE(r) || !ASSERT_EQ(ew_ja4_compute(rec, len, &fp), EW_TLS_OK))
		return false;
	ok = send_hello(r, 4, 0, rec, len, (size_t[]){ 0 }, NULL, 1, &k, &ret) && ASSERT_EQ(ret, XDP_PASS);
	ok = ok && ASSERT_EQ(rule_add(r, EW_FR_JA4, fp.ja4, EW_A_DROP), 0);
	return ok && ASSERT_EQ(send_seg(r, &more, &ret, NULL), 0) && ASSERT_EQ(ret, XDP_DROP);
}

/* With a port set, only its ports are examined; without one, every port. */
EW_TEST(tls_ports)
{
	struct bpfrun *r = rig(false);
	int fd;
	__u16 p0 = 0, p8443 = 8443;
	__u8 one = 1;
	size_t len = h_browser(rec, sizeof(rec));
	struct seg syn = { .seq = ISN - 1, .flags = PKT_SYN };
	struct seg s = { .seq = ISN, .data = rec, .len = len };
	__u32 ret;

	if (!ASSERT_TRUE(r))
		return false;
	fd = bpf_map__fd(r->skel->maps.ew_tls_ports);
	if (!ASSERT_EQ(bpf_map_update_elem(fd, &p0, &one, BPF_ANY), 0) ||
	    !ASSERT_EQ(bpf_map_update_elem(fd, &p8443, &one, BPF_ANY), 0))
		return false;
	if (!(ASSERT_EQ(send_seg(r, &syn, &ret, NULL), 0) && ASSERT_EQ(send_seg(r, &s, &ret, NULL), 0) &&
	      ASSERT_EQ(ctr(r, EW_C_TLS_PORT_SKIP), 1) && ASSERT_EQ(ctr(r, EW_C_TLS_HELLO), 0)))
		return false;
	syn.dport = s.dport = 8443;
	return ASSERT_EQ(send_seg(r, &syn, &ret, NULL), 0) && ASSERT_EQ(send_seg(r, &s, &ret, NULL), 0) &&
	       ASSERT_EQ(ctr(r, EW_C_TLS_HELLO), 1);
}

/*
 * JA4's SHA-256 digests are cached by hashed string (ew_tls_digests): a
 * second connection with the same lists gets the same fingerprint from the
 * cache, and a poisoned cache shows that the digests come from there.
 */
EW_TEST(tls_digest_cache)
{
	struct bpfrun *r = rig(false);
	size_t len = h_browser(rec, sizeof(rec));
	struct seg syn = { .dport = 8443, .flags = PKT_SYN, .seq = ISN - 1 };
	struct seg s = { .dport = 8443, .seq = ISN, .data = rec, .len = len };
	struct ew_flow_key k;
	struct ew_conn c;
	struct ew_ja4 want;
	char poisoned[40];
	uint8_t key[512], next[512];
	__u32 ret, val[2] = { 0xffffffff, 0xffffffff };
	int fd, n = 0;
	bool ok = true;

	if (!ASSERT_TRUE(r) || !ASSERT_EQ(ew_ja4_compute(rec, len, &want), EW_TLS_OK))
		return false;
	fd = bpf_map__fd(r->skel->maps.ew_tls_digests);
	if (!ASSERT_TRUE(bpf_map__key_size(r->skel->maps.ew_tls_digests) <= sizeof(key)))
		return false;
	/* First connection: hashed and cached (both strings fit a key). */
	ok &= send_hello(r, 4, 0, rec, len, (size_t[]){ 0 }, NULL, 1, &k, &ret) && conn_get(r, &k, &c);
	ok &= ASSERT_STREQ(c.tls.ja4, want.ja4);
	for (void *p = NULL; !bpf_map_get_next_key(fd, p, next); p = key, n++)
		memcpy(key, next, sizeof(key));
	ok &= ASSERT_EQ(n, 2);
	/* Second: from the cache, the same. */
	ok &= send_hello(r, 6, 0, rec, len, (size_t[]){ 0 }, NULL, 1, &k, &ret) && conn_get(r, &k, &c);
	ok &= ASSERT_STREQ(c.tls.ja4, want.ja4) && ASSERT_STREQ(c.tls.ja3, want.ja3);
	/* Third, with the cached digests overwritten: they show in JA4, JA3 is hashed. */
	for (void *p = NULL; !bpf_map_get_next_key(fd, p, next); p = key) {
		ok &= ASSERT_EQ(bpf_map_update_elem(fd, next, val, BPF_EXIST), 0);
		memcpy(key, next, sizeof(key));
	}
	snprintf(poisoned, sizeof(poisoned), "%.11sffffffffffff_ffffffffffff", want.ja4);
	ok &= ASSERT_EQ(send_seg(r, &syn, &ret, &k), 0) && ASSERT_EQ(send_seg(r, &s, &ret, NULL), 0) &&
	      conn_get(r, &k, &c);
	return ok && ASSERT_STREQ(c.tls.ja4, poisoned) && ASSERT_STREQ(c.tls.ja3, want.ja3);
}

/* Average kernel time of one run of each of n frames built by mk(i). */
static __u64 avg_ns(struct bpfrun *r, int n, int (*mk)(int i, int part, uint8_t *fr), int part)
{
	static uint8_t fr[PKT_MAX];
	__u64 sum = 0;
	__u32 ret, ns;

	for (int i = 0; i < n; i++) {
		int len = mk(i, part, fr);

		if (len < 0 || bpfrun_xdp_repeat(r, fr, len, 1, &ret, &ns))
			return 0;
		sum += ns;
	}
	return sum / n;
}

static uint8_t pq[4096];
static size_t pq_len;

/* Flow i: part 0 SYN, 1 a whole browser hello, 2 and 3 a post-quantum hello's two segments. */
static int mk_flow(int i, int part, uint8_t *fr)
{
	struct pkt_spec s = { .sport = 1024 + i, .tcp_flags = PKT_ACK | PKT_PSH, .seq = ISN };

	if (part == 0) {
		s.tcp_flags = PKT_SYN;
		s.seq = ISN - 1;
	} else if (part == 1) {
		s.payload = (struct pkt_bytes){ rec, h_browser(rec, sizeof(rec)) };
	} else if (part == 2) {
		s.payload = (struct pkt_bytes){ pq, 1448 };
	} else {
		s.seq = ISN + 1448;
		s.payload = (struct pkt_bytes){ pq + 1448, pq_len - 1448 };
	}
	return pkt_build(&s, fr, PKT_MAX, NULL);
}

/*
 * Per-packet cost of a hello (one segment; two segments) against a mid-flow
 * packet, kernel test-run time. Prints a line for the benchmark notes; fails
 * only if a run fails. `bpf_tests tls_cost`.
 */
EW_TEST(tls_cost)
{
	struct bpfrun *r = rig(false);
	static uint8_t fr[PKT_MAX];
	struct pkt_spec mid = { .tcp_flags = PKT_ACK | PKT_PSH, .seq = ISN + 5000, .payload = PKT_S("data") };
	__u64 syn, one, seg1, seg2;
	__u32 ret, mid_ns = 0;
	int len;
	const int n = 1000;

	if (!ASSERT_TRUE(r))
		return false;
	pq_len = hb_browser(pq, sizeof(pq), "pq.example.com", 1216);
	len = pkt_build(&mid, fr, PKT_MAX, NULL);
	/* The mid-flow packet: its flow's first data settles it (not a hello), then repeat. */
	if (!ASSERT_TRUE(len > 0) || bpfrun_xdp(r, fr, len, &ret) ||
	    bpfrun_xdp_repeat(r, fr, len, 200000, &ret, &mid_ns))
		return false;
	syn = avg_ns(r, n, mk_flow, 0);
	one = avg_ns(r, n, mk_flow, 1);
	bpfrun_reset(r);
	avg_ns(r, n, mk_flow, 0);
	seg1 = avg_ns(r, n, mk_flow, 2);
	seg2 = avg_ns(r, n, mk_flow, 3);
	printf("tls_cost: mid-flow %u ns, SYN %llu ns, hello 1 segment %llu ns, hello 2 segments %llu + %llu ns "
	       "(%d flows)\n", mid_ns, (unsigned long long)syn, (unsigned long long)one,
	       (unsigned long long)seg1, (unsigned long long)seg2, n);
	return ASSERT_TRUE(one > 0 && seg2 > 0) && ASSERT_EQ(ctr(r, EW_C_TLS_REASM), n);
}

/* --- fingerprint feed reloads ----------------------------------------------- */

/*
 * Eight hellos with distinct fingerprints (2..9 ciphers). Feed "a" lists
 * F0-F3 (drop), then F2-F6 (flag): F0, F1 leave, F2, F3 change action, F4,
 * F5 arrive, F6 is an `edgeward fp` rule (drop) that keeps its action. Feed
 * "b" lists F7. Rules match the JA4 of even hellos, the JA3 of odd ones.
 */
#define FH 8
static uint8_t fh_rec[FH][512];
static size_t fh_len[FH];
static struct ew_ja4 fh_fp[FH];
static __u16 fh_sport = 20000;

static bool fh_build(void)
{
	static const uint16_t cs[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8 };
	static const uint16_t vers[] = { 0x0304 };

	for (int i = 0; i < FH; i++) {
		struct hb h = {};

		hb_sni(&h, "feed.example.com");
		hb_u16list(&h, 0x002b, 1, vers, 1);
		fh_len[i] = hb_record(&h, 0x0303, cs, 2 + i, fh_rec[i], sizeof(fh_rec[i]));
		if (!ASSERT_EQ(ew_ja4_compute(fh_rec[i], fh_len[i], &fh_fp[i]), EW_TLS_OK))
			return false;
	}
	return true;
}

static struct ew_fp_entry fh_entry(int i)
{
	struct ew_fp_entry e = { .kind = i % 2 ? '3' : '4' };

	snprintf(e.fp, sizeof(e.fp), "%s", i % 2 ? fh_fp[i].ja3 : fh_fp[i].ja4);
	snprintf(e.label, sizeof(e.label), "F%d", i);
	return e;
}

/*
 * The fingerprint rules' action on a new flow with hello i, -1 on failure,
 * -2 if something else decided. Sources spread over /24s: the connection
 * rate detector would flag thousands of connections from one.
 */
static int fh_verdict(struct bpfrun *r, int i)
{
	char src[32];
	struct seg syn = { .saddr = src, .sport = fh_sport, .flags = PKT_SYN, .seq = ISN - 1 };
	struct seg s = { .saddr = src, .sport = fh_sport, .seq = ISN, .data = fh_rec[i], .len = fh_len[i] };
	struct ew_flow_key k;
	struct ew_flow f;
	__u32 ret;

	snprintf(src, sizeof(src), "198.18.%d.1", 1 + fh_sport % 250);
	fh_sport = fh_sport >= 60000 ? 20000 : fh_sport + 1;
	if (send_seg(r, &syn, &ret, &k) || send_seg(r, &s, &ret, NULL) || bpfrun_flow_get(r, &k, &f))
		return -1;
	return f.reason == EW_R_FP_RULE || (f.verdict == EW_A_PASS && !f.reason) ? f.verdict : -2;
}

enum { P = EW_A_PASS, F = EW_A_FLAG, D = EW_A_DROP };

/* Checks of one reload, run by ew_fd_fp_step after every step. */
struct fh_watch {
	struct bpfrun *r;
	const char *what;
	int old[FH], new[FH]; /* each hello's verdict under the whole old / new set */
	int steps, stop_at;   /* steps seen; stop (as a kill) at this one, 0: never */
	int flipped;	      /* the step at which the new set was first seen */
	int bad;
};

static int fh_step(const char *what, void *arg)
{
	struct fh_watch *w = arg;
	int got[FH];
	bool is_old = true, is_new = true;
	char line[128] = "";

	w->steps++;
	for (int i = 0; i < FH; i++) {
		got[i] = fh_verdict(w->r, i);
		is_old &= got[i] == w->old[i];
		is_new &= got[i] == w->new[i];
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " F%d:%d", i, got[i]);
	}
	if (is_new && !is_old && !w->flipped)
		w->flipped = w->steps;
	if ((!is_old && !is_new) || (is_old && !is_new && w->flipped)) {
		EW_FAILF("%s, step %d (%s): a mix or a step back:%s", w->what, w->steps, what, line);
		w->bad++;
	}
	return w->stop_at && w->steps == w->stop_at;
}

/* Reload feed `name` to hellos `list` (-1 terminated) with `action`, watched. */
static int fh_reload(struct bpfrun *r, const char *dir, const char *name, const int *list, int action,
		     struct fh_watch *w, size_t *owned, size_t *foreign)
{
	struct ew_fp_maps m = { .rules = bpf_map__fd(r->skel->maps.ew_fprules),
				.state = bpf_map__fd(r->skel->maps.ew_fd_state),
				.config = r->config_fd };
	struct ew_fp_entry e[FH];
	size_t n = 0, o, f;
	int ret;

	while (list[n] >= 0)
		e[n] = fh_entry(list[n]), n++;
	ew_fd_fp_step = w ? fh_step : NULL;
	ew_fd_fp_step_arg = w;
	ret = ew_fd_fp_reload(&m, dir, name, action, e, n, owned ? owned : &o, foreign ? foreign : &f);
	ew_fd_fp_step = NULL;
	return ret;
}

static const int fh_a_old[] = { 0, 1, 2, 3, -1 }, fh_a_new[] = { 2, 3, 4, 5, 6, -1 }, fh_b[] = { 7, -1 };
static const int fh_v_old[FH] = { D, D, D, D, P, P, D, P }, fh_v_new[FH] = { P, P, F, F, F, F, D, P };

/* A fresh table: feed a's old set and the `edgeward fp` rule F6, as the CLI leaves them. */
static bool fh_fresh(struct bpfrun *r, const char *dir)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/a.fp", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b.fp", dir);
	unlink(path);
	return ASSERT_EQ(bpfrun_reset(r), 0) && ASSERT_EQ(rule_add(r, EW_FR_JA4, fh_fp[6].ja4, EW_A_DROP), 0) &&
	       ASSERT_EQ(fh_reload(r, dir, "a", fh_a_old, EW_A_DROP, NULL, NULL, NULL), 0);
}

/* After a complete reload: only whole rules in both planes, and a.fp lists exactly a's. */
static bool fh_table_is(struct bpfrun *r, const char *dir, int nb)
{
	int fd = bpf_map__fd(r->skel->maps.ew_fprules), n = 0, bad = 0;
	struct ew_fp_key k, next;
	void *prev = NULL;
	struct stat sa;
	char path[600];

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct ew_fp_val v;

		k = next;
		prev = &k;
		n++;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (v.owner && (v.planes != 3 || v.act[0] != v.act[1] || v.action != v.act[0])) {
			EW_FAILF("rule %.36s: planes %u, actions %u/%u/%u", k.val, v.planes, v.action, v.act[0],
				 v.act[1]);
			bad++;
		}
	}
	snprintf(path, sizeof(path), "%s/a.fp", dir);
	return ASSERT_EQ(bad, 0) && ASSERT_EQ(n, 5 + nb) && ASSERT_EQ(stat(path, &sa), 0) &&
	       ASSERT_EQ(sa.st_size, 4 * sizeof(struct ew_fp_key));
}

/*
 * A reload watched after each of its steps: every hello sees the whole old
 * set until the flip and the whole new set from it on; rule hits and foreign
 * rules are kept. Then the same reload stopped (killed) after each step in
 * turn: what is in force is still one whole set, a reload of another feed
 * (which levels what the kill left) keeps it so, and a new load of the feed
 * completes cleanly. Last, removing the feed (a reload to nothing) is as whole.
 */
EW_TEST(tls_feed_reload_atomic)
{
	struct bpfrun *r = rig(false);
	char dir[] = "/tmp/ew-fpfeed-XXXXXX";
	struct fh_watch w;
	struct ew_fp_key k;
	struct ew_fp_val v;
	size_t owned, foreign;
	int nsteps, bad = 0;
	bool ok = true;

	if (!ASSERT_TRUE(r) || !fh_build() || !ASSERT_TRUE(mkdtemp(dir) != NULL))
		return false;
	/* The whole reload, watched. A hit on F2 before must survive it. */
	CHECK(fh_fresh(r, dir));
	ok &= ASSERT_EQ(fh_verdict(r, 2), D);
	w = (struct fh_watch){ .r = r, .what = "reload" };
	memcpy(w.old, fh_v_old, sizeof(w.old));
	memcpy(w.new, fh_v_new, sizeof(w.new));
	ok &= ASSERT_EQ(fh_reload(r, dir, "a", fh_a_new, EW_A_FLAG, &w, &owned, &foreign), 0);
	nsteps = w.steps;
	ok &= ASSERT_EQ(w.bad, 0) && ASSERT_TRUE(w.flipped > 1) && ASSERT_TRUE(nsteps >= 12);
	ok &= ASSERT_EQ(owned, 4) && ASSERT_EQ(foreign, 1) && fh_table_is(r, dir, 0);
	ew_fp_key_make(&k, EW_FR_JA4, fh_fp[2].ja4);
	ok &= ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.ew_fprules), &k, &v), 0) &&
	      ASSERT_TRUE(v.hits >= 1 + (__u64)w.flipped) && ASSERT_STREQ(v.label, "F2");
	ok &= ASSERT_EQ(rule_hits(r, EW_FR_JA4, fh_fp[6].ja4), (__u64)nsteps + 0);
	if (!ok)
		return false;

	/* Killed after step `stop`, then feed b loaded, then a loaded again: always whole sets. */
	for (int stop = 1; stop <= nsteps; stop++) {
		struct fh_watch wb = { .r = r, .what = "feed b after the kill" };
		char what[64];

		snprintf(what, sizeof(what), "killed at step %d", stop);
		CHECK(fh_fresh(r, dir));
		w = (struct fh_watch){ .r = r, .what = what, .stop_at = stop };
		memcpy(w.old, fh_v_old, sizeof(w.old));
		memcpy(w.new, fh_v_new, sizeof(w.new));
		ok &= ASSERT_EQ(fh_reload(r, dir, "a", fh_a_new, EW_A_FLAG, &w, NULL, NULL), -1);
		/* In force now: a's old set before the flip, its new one from it on; b arrives whole. */
		memcpy(wb.old, w.flipped ? fh_v_new : fh_v_old, sizeof(wb.old));
		memcpy(wb.new, wb.old, sizeof(wb.new));
		wb.new[7] = F;
		ok &= ASSERT_EQ(fh_reload(r, dir, "b", fh_b, EW_A_FLAG, &wb, NULL, NULL), 0) &&
		      ASSERT_TRUE(wb.flipped > 0);
		w = (struct fh_watch){ .r = r, .what = "reload after the kill" };
		memcpy(w.old, wb.new, sizeof(w.old));
		memcpy(w.new, fh_v_new, sizeof(w.new));
		w.new[7] = F;
		ok &= ASSERT_EQ(fh_reload(r, dir, "a", fh_a_new, EW_A_FLAG, &w, &owned, &foreign), 0) &&
		      ASSERT_EQ(owned, 4) && ASSERT_EQ(foreign, 1) && fh_table_is(r, dir, 1);
		ok &= ASSERT_EQ(wb.bad + w.bad, 0);
		if (!ok) {
			EW_FAILF("^ %s", what);
			bad++;
			ok = true;
		}
	}

	/* `feed del`: a reload to no fingerprints, as whole. */
	w = (struct fh_watch){ .r = r, .what = "delete" };
	memcpy(w.old, fh_v_new, sizeof(w.old));
	w.old[7] = F;
	memcpy(w.new, w.old, sizeof(w.new));
	for (int i = 0; i < 6; i++)
		w.new[i] = P;
	ok &= ASSERT_EQ(fh_reload(r, dir, "a", (const int[]){ -1 }, EW_A_PASS, &w, &owned, NULL), 0) &&
	      ASSERT_EQ(owned, 0) && ASSERT_EQ(w.bad, 0) && ASSERT_TRUE(w.flipped > 0);
	ok &= ASSERT_EQ(rule_hits(r, EW_FR_JA4, fh_fp[6].ja4) > 0, 1);
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/a.fp", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/b.fp", dir);
		unlink(path);
		rmdir(dir);
	}
	return ok && ASSERT_EQ(bad, 0);
}
