// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF tests of the threat-feed tables (bpf/lib/feeds.h built by user/feeds.c):
 * frames through ew_xdp with BPF_PROG_TEST_RUN against private maps. Tables
 * of source -> expected verdict, precedence across feeds and block entries,
 * reloads (replace, delete, flows re-deciding), per-feed hits, and a
 * randomised comparison against a naive reference over many prefixes.
 */
#include <stdlib.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "feeds.h"
#include "edgeward.skel.h"

static void maps_of(struct bpfrun *r, struct ew_fd_maps *m)
{
	ew_fd_maps_of_skel(m, r->skel, r->config_fd);
}

/* A feed from a list of prefix strings (NULL-terminated). */
struct tfeed {
	int id;
	uint8_t action;
	const char *pfx[16];
	struct ew_prefix p[16];
	size_t n;
};

static bool tfeed_parse(struct tfeed *f)
{
	char err[128];
	bool cleared;

	f->n = 0;
	for (int i = 0; f->pfx[i]; i++)
		if (!ASSERT_EQ(ew_prefix_parse(f->pfx[i], &f->p[f->n++], &cleared, err, sizeof(err)), 0))
			return false;
	return true;
}

static bool apply(struct bpfrun *r, struct tfeed *fs, int n)
{
	struct ew_fd_feed set[8];
	struct ew_fd_report rep;
	struct ew_fd_maps m;

	maps_of(r, &m);
	for (int i = 0; i < n; i++) {
		CHECK(tfeed_parse(&fs[i]));
		set[i] = (struct ew_fd_feed){ .id = fs[i].id, .action = fs[i].action, .pfx = fs[i].p, .n = fs[i].n };
	}
	return ASSERT_EQ(ew_fd_apply(&m, set, n, &rep), 0);
}

static __u16 next_sport = 20000;

/*
 * The verdict the data path gives a new flow from src: EW_A_DROP (frame
 * dropped), else the verdict cached on the flow. *reason gets the flow's reason.
 */
static int verdict_of(struct bpfrun *r, const char *src, __u16 sport, int *reason)
{
	uint8_t buf[PKT_MAX];
	struct pkt_info info;
	struct pkt_spec s = { .saddr = src, .daddr = strchr(src, ':') ? "2001:db8::2" : "198.18.0.2",
			      .sport = sport };
	static struct bpfrun_stats before, after;
	struct ew_flow_key k;
	struct ew_flow f;
	__u32 ret;
	int len = pkt_build(&s, buf, sizeof(buf), &info);

	*reason = -1;
	if (len < 0 || bpfrun_stats_read(r, &before) || bpfrun_xdp(r, buf, len, &ret))
		return -1;
	if (ret == XDP_DROP) { /* no flow entry: the reason is in the counters */
		if (bpfrun_stats_read(r, &after))
			return -1;
		for (int re = 0; re < EW_REASON_MAX; re++)
			if (bpfrun_stat(&after, EW_HOOK_XDP, re, EW_A_DROP).packets !=
			    bpfrun_stat(&before, EW_HOOK_XDP, re, EW_A_DROP).packets)
				*reason = re;
		return EW_A_DROP;
	}
	bpfrun_flow_key(&k, &info, false);
	if (bpfrun_flow_get(r, &k, &f))
		return -1;
	*reason = f.reason;
	return f.verdict;
}

/*
 * The verdict of a new flow from src as far as source prefixes decide it: a
 * verdict the detectors gave (say, conn_rate flagging the many flows a test
 * opens from one /24) counts as pass.
 */
static int verdict(struct bpfrun *r, const char *src, int *reason)
{
	int v = verdict_of(r, src, next_sport++, reason);

	return *reason == EW_R_FEED || *reason == EW_R_PREFIX || v < 0 ? v : EW_A_PASS;
}

struct row {
	const char *src;
	int action;
};

static bool check_rows(struct bpfrun *r, const struct row *rows, size_t n)
{
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		int reason, got = verdict(r, rows[i].src, &reason);

		if (got != rows[i].action) {
			EW_FAILF("%s: got %s, want %s", rows[i].src, ew_action_name(got),
				 ew_action_name(rows[i].action));
			ok = false;
		}
	}
	return ok;
}

static struct tfeed three_feeds[3] = {
	{ .id = 0, .action = EW_A_DROP,
	  .pfx = { "198.18.1.0/24", "198.18.2.128/25", "198.18.3.7", "10.0.0.0/8", "2001:db8:1::/48",
		   "2001:db8:2:3::/64", NULL } },
	{ .id = 1, .action = EW_A_FLAG,
	  .pfx = { "198.18.4.0/22", "198.18.1.5/32", "2001:db8::/32", NULL } },
	{ .id = 5, .action = EW_A_ALLOW,
	  .pfx = { "198.18.2.200", "198.18.6.0/24", "2001:db8:1:5::/64", "2001:db8:9::1", NULL } },
};

EW_TEST(feeds_lookup_precedence_v4_v6)
{
	static const struct row rows[] = {
		{ "198.18.1.1", EW_A_DROP },	 { "198.18.1.5", EW_A_DROP },	/* drop > flag */
		{ "198.18.2.129", EW_A_DROP },	 { "198.18.2.127", EW_A_PASS }, /* /25 edge */
		{ "198.18.2.200", EW_A_ALLOW },	 /* allow /32 inside a drop /25 */
		{ "198.18.3.7", EW_A_DROP },	 { "198.18.3.8", EW_A_PASS },
		{ "198.18.5.1", EW_A_FLAG },	 { "198.18.6.1", EW_A_ALLOW },	/* allow > flag */
		{ "198.18.8.1", EW_A_PASS },	 { "10.200.0.1", EW_A_DROP },
		{ "11.0.0.1", EW_A_PASS },
		{ "2001:db8:1::1", EW_A_DROP },	 { "2001:db8:1:5::1", EW_A_ALLOW },
		{ "2001:db8:2:3::9", EW_A_DROP }, { "2001:db8:2:4::1", EW_A_FLAG },
		{ "2001:db8:9::1", EW_A_ALLOW }, { "2001:db8:9::2", EW_A_FLAG },
		{ "2001:db9::1", EW_A_PASS },	 { "::ffff:198.18.1.1", EW_A_PASS }, /* a real IPv6 source */
	};
	struct bpfrun r;
	bool ok;
	int reason;

	if (!ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){}), 0))
		return false;
	ok = apply(&r, three_feeds, 3) && check_rows(&r, rows, sizeof(rows) / sizeof(rows[0]));
	/* A feed's verdict is counted with the reason "feed". */
	ok = ok && ASSERT_EQ(verdict(&r, "198.18.5.9", &reason), EW_A_FLAG) && ASSERT_EQ(reason, EW_R_FEED);
	bpfrun_close(&r);
	return ok;
}

EW_TEST(feeds_and_block_list_combine)
{
	static struct tfeed fs[2] = {
		{ .id = 0, .action = EW_A_DROP, .pfx = { "198.18.1.0/24", "198.18.3.0/24", NULL } },
		{ .id = 1, .action = EW_A_ALLOW, .pfx = { "198.18.2.0/24", NULL } },
	};
	struct bpfrun r;
	bool ok;
	int reason;

	if (!ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){}), 0))
		return false;
	ok = apply(&r, fs, 2) && ASSERT_EQ(bpfrun_prefix_add(&r, "198.18.1.0/25", EW_A_ALLOW, "ops"), 0) &&
	     ASSERT_EQ(bpfrun_prefix_add(&r, "198.18.2.0/24", EW_A_DROP, "ops"), 0) &&
	     ASSERT_EQ(bpfrun_prefix_add(&r, "198.18.3.0/24", EW_A_FLAG, "ops"), 0) &&
	     ASSERT_EQ(bpfrun_rules_changed(&r), 0);
	/* block allow beats feed drop; feed allow beats block drop; feed drop beats block flag. */
	ok = ok && ASSERT_EQ(verdict(&r, "198.18.1.1", &reason), EW_A_ALLOW) && ASSERT_EQ(reason, EW_R_PREFIX);
	ok = ok && ASSERT_EQ(verdict(&r, "198.18.1.200", &reason), EW_A_DROP);
	ok = ok && ASSERT_EQ(verdict(&r, "198.18.2.1", &reason), EW_A_ALLOW) && ASSERT_EQ(reason, EW_R_FEED);
	ok = ok && ASSERT_EQ(verdict(&r, "198.18.3.1", &reason), EW_A_DROP) && ASSERT_EQ(reason, EW_R_FEED);
	bpfrun_close(&r);
	return ok;
}

EW_TEST(feeds_reload_replaces_and_flows_redecide)
{
	struct tfeed a = { .id = 3, .action = EW_A_DROP, .pfx = { "198.18.1.0/24", "2001:db8:1::/48", NULL } };
	struct tfeed b = { .id = 3, .action = EW_A_DROP, .pfx = { "198.18.7.0/24", "2001:db8:7::/48", NULL } };
	struct bpfrun r;
	bool ok;
	int reason;

	if (!ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){}), 0))
		return false;
	ok = apply(&r, &a, 1);
	/* A flow from 198.18.7.1 passes and caches its verdict. */
	ok = ok && ASSERT_EQ(verdict_of(&r, "198.18.7.1", 999, &reason), EW_A_PASS) &&
	     ASSERT_EQ(verdict_of(&r, "198.18.7.1", 999, &reason), EW_A_PASS) &&
	     ASSERT_EQ(verdict(&r, "198.18.1.1", &reason), EW_A_DROP) &&
	     ASSERT_EQ(verdict(&r, "2001:db8:1::5", &reason), EW_A_DROP);
	/* Reload: the old entries are gone, the new ones in, the cached flow re-decides. */
	ok = ok && apply(&r, &b, 1) && ASSERT_EQ(verdict(&r, "198.18.1.1", &reason), EW_A_PASS) &&
	     ASSERT_EQ(verdict(&r, "2001:db8:1::5", &reason), EW_A_PASS) &&
	     ASSERT_EQ(verdict(&r, "2001:db8:7::5", &reason), EW_A_DROP) &&
	     ASSERT_EQ(verdict_of(&r, "198.18.7.1", 999, &reason), EW_A_DROP);
	/* Delete: an empty set. */
	if (ok) {
		struct ew_fd_maps m;
		struct ew_fd_report rep;

		maps_of(&r, &m);
		ok = ASSERT_EQ(ew_fd_apply(&m, NULL, 0, &rep), 0) &&
		     ASSERT_EQ(verdict(&r, "198.18.7.3", &reason), EW_A_PASS) &&
		     ASSERT_EQ(ew_map_count(m.h4), 0) && ASSERT_EQ(ew_map_count(m.h6), 0);
	}
	bpfrun_close(&r);
	return ok;
}

EW_TEST(feeds_hits_per_feed_survive_reloads)
{
	static struct tfeed fs[2] = {
		{ .id = 0, .action = EW_A_DROP, .pfx = { "198.18.1.0/24", NULL } },
		{ .id = 1, .action = EW_A_FLAG, .pfx = { "198.18.0.0/16", "2001:db8::/32", NULL } },
	};
	struct ew_feed meta = { .used = 1 };
	struct ew_fd_maps m;
	struct bpfrun r;
	bool ok;
	int reason;

	if (!ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){}), 0))
		return false;
	maps_of(&r, &m);
	for (__u32 id = 0; id < 2; id++)
		bpf_map_update_elem(m.feeds, &id, &meta, BPF_ANY);
	ok = apply(&r, fs, 2);
	for (int i = 0; ok && i < 5; i++) /* both feeds hold 198.18.1.x */
		ok = ASSERT_EQ(verdict(&r, "198.18.1.9", &reason), EW_A_DROP);
	for (int i = 0; ok && i < 3; i++)
		ok = ASSERT_EQ(verdict(&r, "2001:db8::77", &reason), EW_A_FLAG);
	ok = ok && ASSERT_EQ(ew_fd_feed_hits(&m, 0, &meta), 5) && ASSERT_EQ(ew_fd_feed_hits(&m, 1, &meta), 8);
	/* A reload folds the retired plane's counters into hits_base: nothing lost. */
	ok = ok && apply(&r, fs, 2);
	if (ok) {
		struct ew_feed f0, f1;

		ok = ASSERT_EQ(bpf_map_lookup_elem(m.feeds, &(__u32){ 0 }, &f0), 0) &&
		     ASSERT_EQ(bpf_map_lookup_elem(m.feeds, &(__u32){ 1 }, &f1), 0) &&
		     ASSERT_EQ(ew_fd_feed_hits(&m, 0, &f0), 5) && ASSERT_EQ(ew_fd_feed_hits(&m, 1, &f1), 8) &&
		     ASSERT_EQ(verdict(&r, "198.18.1.10", &reason), EW_A_DROP) &&
		     ASSERT_EQ(ew_fd_feed_hits(&m, 0, &f0), 6);
	}
	bpfrun_close(&r);
	return ok;
}

/* --- randomised: many overlapping prefixes against a naive reference --------- */
struct rfeed {
	int id;
	uint8_t action;
	struct ew_prefix *p;
	size_t n;
};

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void random_prefix(struct ew_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (rnd() % 3) { /* IPv4 inside 198.18.0.0/15 (and a few wider) */
		static const uint8_t lens[] = { 12, 15, 16, 20, 23, 24, 24, 25, 27, 28, 30, 31, 32, 32, 32 };
		uint32_t a = 0xc6120000u | (rnd() & 0x1ffff);

		p->family = 4;
		p->len = lens[rnd() % sizeof(lens)];
		a &= p->len ? ~0u << (32 - p->len) : 0;
		a = htonl(a);
		memcpy(p->addr, &a, 4);
	} else { /* IPv6 inside 2001:db8::/32 */
		static const uint8_t lens[] = { 16, 19, 32, 36, 40, 44, 48, 56, 60, 64, 64, 96, 127, 128 };

		p->family = 6;
		p->len = lens[rnd() % sizeof(lens)];
		p->addr[0] = 0x20;
		p->addr[1] = 0x01;
		p->addr[2] = 0x0d;
		p->addr[3] = 0xb8;
		p->addr[4] = rnd() % 4;
		for (int i = 5; i < 16; i++)
			p->addr[i] = rnd() % 3 ? rnd() : 0;
		for (unsigned int b = p->len; b < 128; b++)
			p->addr[b / 8] &= ~(0x80 >> (b % 8));
	}
}

static bool covers(const struct ew_prefix *p, int family, const uint8_t *a)
{
	unsigned int full = p->len / 8, rem = p->len % 8;

	if (p->family != family || memcmp(p->addr, a, full))
		return false;
	return !rem || !((p->addr[full] ^ a[full]) & (0xff00 >> rem));
}

static int reference(const struct rfeed *fs, int n, int family, const uint8_t *a)
{
	static const int rank[] = { [EW_A_PASS] = 0, [EW_A_FLAG] = 1, [EW_A_DROP] = 2, [EW_A_ALLOW] = 3 };
	int best = EW_A_PASS;

	for (int f = 0; f < n; f++)
		for (size_t i = 0; i < fs[f].n; i++)
			if (covers(&fs[f].p[i], family, a) && rank[fs[f].action] > rank[best])
				best = fs[f].action;
	return best;
}

/* An address near a random prefix of the feeds (inside or just outside it). */
static void probe_addr(const struct rfeed *fs, int n, int *family, uint8_t *a, char *txt)
{
	const struct rfeed *f = &fs[rnd() % n];
	const struct ew_prefix *p = &f->p[rnd() % f->n];

	*family = p->family;
	memcpy(a, p->addr, 16);
	if (p->family == 4) {
		uint32_t v;

		memcpy(&v, a, 4);
		v = ntohl(v) + (rnd() % 3 == 0 ? -1u : rnd() % 600);
		v = htonl(v);
		memcpy(a, &v, 4);
		inet_ntop(AF_INET, a, txt, INET6_ADDRSTRLEN);
	} else {
		a[15] ^= rnd();
		if (rnd() % 3 == 0)
			a[6] ^= 1 << (rnd() % 8);
		inet_ntop(AF_INET6, a, txt, INET6_ADDRSTRLEN);
	}
}

static bool random_round(struct bpfrun *r, struct rfeed *fs, int n, int probes)
{
	struct ew_fd_feed set[8];
	struct ew_fd_report rep;
	struct ew_fd_maps m;
	int bad = 0;

	maps_of(r, &m);
	for (int i = 0; i < n; i++) {
		ew_prefix_sort_unique(fs[i].p, &fs[i].n);
		set[i] = (struct ew_fd_feed){ .id = fs[i].id, .action = fs[i].action, .pfx = fs[i].p, .n = fs[i].n };
	}
	if (!ASSERT_EQ(ew_fd_apply(&m, set, n, &rep), 0))
		return false;
	for (int i = 0; i < probes; i++) {
		char txt[INET6_ADDRSTRLEN];
		uint8_t a[16];
		int family, reason, want, got;

		probe_addr(fs, n, &family, a, txt);
		want = reference(fs, n, family, a);
		got = verdict(r, txt, &reason);
		if (got != want && bad++ < 10)
			EW_FAILF("%s: got %s, want %s", txt, ew_action_name(got), ew_action_name(want));
	}
	return ASSERT_EQ(bad, 0);
}

EW_TEST(feeds_random_against_reference)
{
	static const uint8_t actions[] = { EW_A_DROP, EW_A_FLAG, EW_A_ALLOW, EW_A_DROP, EW_A_DROP };
	struct rfeed fs[5];
	struct bpfrun r;
	bool ok;

	if (!ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){ .flows_max = 65536 }), 0))
		return false;
	for (int f = 0; f < 5; f++) {
		fs[f].id = f * 7 + 1;
		fs[f].action = actions[f];
		fs[f].n = 300;
		fs[f].p = calloc(fs[f].n, sizeof(struct ew_prefix));
		for (size_t i = 0; i < fs[f].n; i++)
			random_prefix(&fs[f].p[i]);
	}
	ok = random_round(&r, fs, 5, 1500);
	/* Churn: replace a third of two feeds' entries, drop one feed, reload twice. */
	for (int round = 0; ok && round < 2; round++) {
		for (int f = 0; f < 2; f++)
			for (size_t i = 0; i < fs[f].n; i += 3)
				random_prefix(&fs[f].p[i]);
		ok = random_round(&r, fs, round ? 4 : 5, 1500);
	}
	for (int f = 0; f < 5; f++)
		free(fs[f].p);
	bpfrun_close(&r);
	return ok;
}
