// SPDX-License-Identifier: BSD-2-Clause
/*
 * Data-path fuzzing: at least 1,000,000 mutated frames (bit flips,
 * truncations, length fields that lie in every header and inside the
 * ClientHello, random splits of hellos into segments) through ew_xdp and
 * ew_tc_egress with BPF_PROG_TEST_RUN, checking invariants:
 *   - nothing is dropped without a matching rule (no drop rules: no drops;
 *     with one drop prefix: only frames whose source lies in it);
 *   - the counters add up to the frames sent, per hook;
 *   - only well-formed hellos are fingerprinted, and then exactly as the
 *     user-space reference (user/ja4.c) fingerprints the same bytes;
 *   - every state table stays within its bounds.
 * EW_MUTATE_N sets the frame count (default 1000000), EW_MUTATE_SEED the seed.
 */
#include <stdlib.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "edgeward.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint32_t rndn(uint32_t n)
{
	return n ? rnd() % n : 0;
}

/* A ClientHello record with GREASE, SNI, ALPN and a key share of kslen bytes. */
static size_t make_hello(uint8_t *b, size_t kslen)
{
	static const uint16_t ciphers[] = { 0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c,
					    0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d };
	size_t n = 0, ext_len_at, hs_len_at, ext_start;

#define U8(v) (b[n++] = (uint8_t)(v))
#define U16(v) (U8((v) >> 8), U8(v))
	U8(0x16), U16(0x0301), U16(0); /* record; length patched */
	U8(0x01), U8(0), U16(0);       /* handshake; length patched */
	hs_len_at = 7; /* low 16 bits of the 24-bit length */
	U16(0x0303);
	for (int i = 0; i < 32; i++)
		U8(i);
	U8(32);
	for (int i = 0; i < 32; i++)
		U8(0xa0 + i);
	U16(sizeof(ciphers));
	for (size_t i = 0; i < sizeof(ciphers) / 2; i++)
		U16(ciphers[i]);
	U8(1), U8(0);
	ext_len_at = n;
	U16(0);
	ext_start = n;
	U16(0x3a3a), U16(0);					  /* GREASE */
	U16(0x0000), U16(19), U16(17), U8(0), U16(14);		  /* SNI */
	memcpy(b + n, "api.example.co", 14), n += 14;
	U16(0x0017), U16(0);					  /* extended master secret */
	U16(0xff01), U16(1), U8(0);				  /* renegotiation info */
	U16(0x000a), U16(8), U16(6), U16(0x4a4a), U16(0x001d), U16(0x0017); /* groups */
	U16(0x000b), U16(2), U8(1), U8(0);			  /* point formats */
	U16(0x0010), U16(14), U16(12), U8(2), U8('h'), U8('2'), U8(8); /* ALPN */
	memcpy(b + n, "http/1.1", 8), n += 8;
	U16(0x000d), U16(10), U16(8), U16(0x0403), U16(0x0804), U16(0x0401), U16(0x0503);
	U16(0x002b), U16(7), U8(6), U16(0x5a5a), U16(0x0304), U16(0x0303); /* versions */
	U16(0x0033), U16(kslen + 6), U16(kslen + 4), U16(0x001d), U16(kslen);
	for (size_t i = 0; i < kslen; i++)
		U8(i * 7);
	U16(0x002d), U16(2), U8(1), U8(1);
#undef U8
#undef U16
	b[ext_len_at] = (n - ext_start) >> 8;
	b[ext_len_at + 1] = (n - ext_start) & 0xff;
	b[3] = (n - 5) >> 8;
	b[4] = (n - 5) & 0xff;
	b[hs_len_at] = (n - 9) >> 8;
	b[hs_len_at + 1] = (n - 9) & 0xff;
	return n;
}

/* Offsets of the length fields a mutation may make lie. */
struct seed {
	uint8_t frame[PKT_MAX];
	size_t len;
	struct pkt_info info;
	size_t lens[16];
	int nlens;
};

static void add_len(struct seed *s, size_t off)
{
	if (off + 1 < s->len && s->nlens < 16)
		s->lens[s->nlens++] = off;
}

static bool seed_build(struct seed *s, const struct pkt_spec *spec)
{
	int n = pkt_build(spec, s->frame, sizeof(s->frame), &s->info);
	size_t ip = s->info.off[PKT_L_IP], l4 = s->info.off[PKT_L_L4], pl = s->info.off[PKT_L_PAYLOAD];

	if (n < 0)
		return false;
	s->len = n;
	s->nlens = 0;
	if (s->info.family == 4) {
		add_len(s, ip + 2); /* total length */
		add_len(s, ip);	    /* version + IHL */
		add_len(s, ip + 6); /* fragment offset */
	} else if (s->info.family == 6) {
		add_len(s, ip + 4); /* payload length */
		add_len(s, ip + 40); /* first extension header's next + length */
	}
	if (s->info.proto == IPPROTO_TCP)
		add_len(s, l4 + 12); /* data offset */
	if (s->info.proto == IPPROTO_UDP)
		add_len(s, l4 + 4);
	if (s->len > pl + 9 && s->frame[pl] == 0x16) {
		add_len(s, pl + 3);  /* record length */
		add_len(s, pl + 7);  /* handshake length (low 16 bits) */
		add_len(s, pl + 76); /* session id length .. cipher list length */
		add_len(s, pl + 110); /* inside the cipher list / extensions */
		add_len(s, pl + 120 + rndn(60)); /* an extension length, somewhere */
	}
	return true;
}

static void mutate(uint8_t *f, size_t *len, const struct seed *s)
{
	switch (rndn(4)) {
	case 0: /* bit flips */
		for (int i = 1 + rndn(8); i > 0; i--) {
			size_t off = rndn(*len);

			f[off] ^= 1u << rndn(8);
		}
		break;
	case 1: /* truncation, never below an Ethernet header */
		*len = 14 + rndn(*len - 14 + 1);
		break;
	case 2: /* a length field lies */
		if (s->nlens) {
			size_t off = s->lens[rndn(s->nlens)];
			uint16_t v = (f[off] << 8 | f[off + 1]);

			v = rndn(2) ? (uint16_t)rnd() : (uint16_t)(v + (int)rndn(9) - 4);
			f[off] = v >> 8;
			f[off + 1] = v & 0xff;
		}
		break;
	default: /* a run of random bytes */
		for (size_t off = rndn(*len), n = 1 + rndn(16); n && off < *len; n--, off++)
			f[off] = rnd();
	}
}

/* The source address of a frame as a plain parser reads it (0 if none). */
static int frame_src(const uint8_t *f, size_t len, uint8_t src[16])
{
	size_t off = 12;
	uint16_t type;

	for (int i = 0; i < 3; i++) {
		if (off + 2 > len)
			return 0;
		type = f[off] << 8 | f[off + 1];
		if (type != 0x8100 && type != 0x88a8)
			break;
		off += 4;
	}
	off += 2;
	if (type == 0x0800 && off + 20 <= len) {
		memcpy(src, f + off + 12, 4);
		return 4;
	}
	if (type == 0x86dd && off + 40 <= len) {
		memcpy(src, f + off + 8, 16);
		return 6;
	}
	return 0;
}

static struct seed *make_seeds(int *count)
{
	static const char *srcs4[] = { "198.18.0.10", "198.19.255.7", "198.18.9.9" };
	static const char *srcs6[] = { "2001:db8::10", "2001:db8:dead::7", "2001:db8:1::9" };
	struct seed *s = calloc(64, sizeof(*s));
	uint8_t hello[4096];
	size_t hlen = make_hello(hello, 1216);
	int n = 0;

	for (int fam = 0; fam < 2; fam++) {
		for (int i = 0; i < 3; i++) {
			const char *sa = fam ? srcs6[i] : srcs4[i], *da = fam ? "2001:db8::1" : "198.18.0.1";
			struct pkt_spec base = { .saddr = sa, .daddr = da, .sport = 40000 + i, .dport = 443 };
			struct pkt_spec sp;

			sp = base, sp.tcp_flags = PKT_SYN, sp.tcp_opts = PKT_OPTS_LINUX_SYN;
			seed_build(&s[n++], &sp);
			sp = base, sp.tcp_flags = PKT_ACK | PKT_PSH, sp.payload = (struct pkt_bytes){ hello, 600 };
			seed_build(&s[n++], &sp);
			sp = base, sp.tcp_flags = PKT_ACK | PKT_PSH, sp.payload = (struct pkt_bytes){ hello, hlen };
			sp.payload.len = hlen > 1400 ? 1400 : hlen;
			seed_build(&s[n++], &sp);
			sp = base, sp.tcp_flags = PKT_ACK | PKT_PSH, sp.seq = 1 + 1400,
			sp.payload = (struct pkt_bytes){ hello + 1400, hlen - 1400 };
			seed_build(&s[n++], &sp);
			sp = base, sp.proto = IPPROTO_UDP, sp.fill = 64;
			seed_build(&s[n++], &sp);
			sp = base, sp.vlans = 2, sp.vlan_tpid[0] = 0x88a8, sp.tcp_flags = PKT_ACK, sp.fill = 100;
			seed_build(&s[n++], &sp);
			if (fam) {
				sp = base, sp.tcp_flags = PKT_ACK, sp.ip6_ext[0].type = PKT_X_HOP,
				sp.ip6_ext[1].type = PKT_X_DST, sp.ip6_ext[2].type = PKT_X_FRAG;
				seed_build(&s[n++], &sp);
			} else {
				sp = base, sp.tcp_flags = PKT_ACK, sp.ip4_opts_len = 12, sp.mf = true;
				seed_build(&s[n++], &sp);
				sp = base, sp.proto = IPPROTO_ICMP;
				seed_build(&s[n++], &sp);
			}
		}
	}
	*count = n;
	return s;
}

/* BPF_PROG_TEST_RUN refuses skbs whose outer IP header is cut short. */
static bool tc_runnable(const uint8_t *f, size_t len)
{
	uint16_t type = f[12] << 8 | f[13];

	return (type != 0x0800 || len >= 14 + 20) && (type != 0x86dd || len >= 14 + 40);
}

static bool in_blocked(const uint8_t *src, int fam)
{
	static const uint8_t v4[3] = { 198, 19, 255 };
	static const uint8_t v6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad };

	return fam == 4 ? !memcmp(src, v4, 3) : fam == 6 && !memcmp(src, v6, 6);
}

static __u64 hook_total(const struct bpfrun_stats *st, int hook)
{
	__u64 t = 0;

	for (int r = 0; r < EW_REASON_MAX; r++)
		for (int a = 0; a < EW_ACTION_MAX; a++)
			t += bpfrun_stat(st, hook, r, a).packets;
	return t;
}

/* Phases A (no drop rules) and B (one drop prefix per family). */
static bool run_phase(bool with_drop, long frames)
{
	struct bpfrun r;
	struct bpfrun_stats before, after;
	struct seed *seeds;
	int nseeds;
	long xdp_runs = 0, tc_runs = 0, bad_drops = 0, drops = 0;
	bool ok = false;

	seeds = make_seeds(&nseeds);
	if (bpfrun_open(&r, &(struct bpfrun_opts){ .flows_max = 2048 }))
		goto out;
	bpfrun_prefix_add(&r, "198.18.9.0/24", EW_A_FLAG, "fuzz");
	bpfrun_prefix_add(&r, "2001:db8:1::/48", EW_A_ALLOW, "fuzz");
	if (with_drop) {
		bpfrun_prefix_add(&r, "198.19.255.0/24", EW_A_DROP, "fuzz");
		bpfrun_prefix_add(&r, "2001:db8:dead::/48", EW_A_DROP, "fuzz");
	}
	bpfrun_rules_changed(&r);
	bpfrun_stats_read(&r, &before);
	for (long i = 0; xdp_runs + tc_runs < frames; i++) {
		const struct seed *s = &seeds[rndn(nseeds)];
		uint8_t f[PKT_MAX], src[16];
		size_t len = s->len;
		__u32 ret = 0;
		bool tc = rndn(4) == 0;
		int fam;

		memcpy(f, s->frame, len);
		for (int m = 1 + rndn(2); m > 0; m--)
			mutate(f, &len, s);
		if (tc) {
			if (!tc_runnable(f, len))
				continue;
			if (bpfrun_tc(&r, f, len, &ret) == 0)
				tc_runs++;
			continue;
		}
		if (bpfrun_xdp(&r, f, len, &ret))
			continue; /* refused by the kernel before the program ran */
		xdp_runs++;
		if (ret != XDP_DROP)
			continue;
		drops++;
		fam = frame_src(f, len, src);
		if (!with_drop || !in_blocked(src, fam)) {
			if (bad_drops++ < 5)
				EW_FAILF("frame %ld dropped without a matching rule (family %d)", i, fam);
		}
	}
	bpfrun_stats_read(&r, &after);
	CHECK(ASSERT_EQ(bad_drops, 0));
	if (with_drop)
		CHECK(ASSERT_TRUE(drops > 0));
	CHECK(ASSERT_EQ(hook_total(&after, EW_HOOK_XDP) - hook_total(&before, EW_HOOK_XDP), xdp_runs));
	CHECK(ASSERT_EQ(hook_total(&after, EW_HOOK_TC) - hook_total(&before, EW_HOOK_TC), tc_runs));
	CHECK(ASSERT_TRUE(bpfrun_flow_count(&r) <= 2048));
	CHECK(ASSERT_TRUE(ew_map_count(r.conns_fd) <= 2048));
	printf("  %s: %ld XDP + %ld TC frames, %ld drops, counters add up\n",
	       with_drop ? "drop rules" : "no drop rules", xdp_runs, tc_runs, drops);
	ok = true;
	bpfrun_close(&r);
out:
	free(seeds);
	return ok;
}

static long frames_wanted(void)
{
	const char *e = getenv("EW_MUTATE_N");

	return e ? atol(e) : 1000000;
}

static void seed_rng(void)
{
	const char *e = getenv("EW_MUTATE_SEED");

	rng_state = e ? strtoull(e, NULL, 0) : 0x9e3779b97f4a7c15ull;
	if (!rng_state)
		rng_state = 1;
}

EW_TEST(mutate_no_rule_no_drop_counters_add_up)
{
	seed_rng();
	return run_phase(false, frames_wanted() / 2);
}

EW_TEST(mutate_drops_only_blocked_sources)
{
	seed_rng();
	rng_state ^= 0xabcdef;
	return run_phase(true, frames_wanted() / 2);
}

/*
 * Differential: single-segment hellos with lying lengths and flipped bits,
 * each on a fresh flow. The kernel may fingerprint only what the reference
 * accepts, and must then agree with it byte for byte.
 */
EW_TEST(mutate_hellos_fingerprinted_only_when_well_formed)
{
	struct bpfrun r;
	uint8_t hello[4096];
	size_t hlen = make_hello(hello, 200);
	long kernel_fp = 0, ref_ok = 0, n = frames_wanted() / 50;
	bool ok = true;

	seed_rng();
	rng_state ^= 0x5a5a5a;
	if (bpfrun_open(&r, &(struct bpfrun_opts){ .flows_max = 65536 }))
		return false;
	for (long i = 0; i < n && ok; i++) {
		uint8_t pl[4096], f[PKT_MAX];
		size_t plen = hlen;
		struct pkt_spec sp = { .saddr = "198.18.3.3", .daddr = "198.18.0.1", .sport = 1024 + i % 60000,
				       .dport = 443, .tcp_flags = PKT_ACK | PKT_PSH };
		struct pkt_info info;
		struct ew_flow_key key;
		struct ew_conn c;
		struct ew_ja4 ref;
		int len, rr;
		__u32 ret;

		if (i % 60000 == 0 && i)
			bpfrun_reset(&r);
		memcpy(pl, hello, hlen);
		switch (rndn(3)) {
		case 0:
			for (int k = 1 + rndn(4); k > 0; k--)
				pl[5 + rndn(plen - 5)] ^= 1u << rndn(8);
			break;
		case 1: {
			size_t off = 3 + rndn(plen - 4);
			uint16_t v = (pl[off] << 8 | pl[off + 1]) + (int)rndn(9) - 4;

			pl[off] = v >> 8, pl[off + 1] = v;
			break;
		}
		default:
			plen = 6 + rndn(plen - 6);
		}
		sp.payload = (struct pkt_bytes){ pl, plen };
		len = pkt_build(&sp, f, sizeof(f), &info);
		if (len < 0 || bpfrun_xdp(&r, f, len, &ret))
			continue;
		bpfrun_flow_key(&key, &info, false);
		rr = ew_ja4_compute(pl, plen, &ref);
		ref_ok += rr == EW_TLS_OK;
		if (bpf_map_lookup_elem(r.conns_fd, &key, &c) || !c.tls.ja4[0])
			continue;
		kernel_fp++;
		if (!ASSERT_EQ(rr, EW_TLS_OK) || !ASSERT_STREQ(c.tls.ja4, ref.ja4) ||
		    !ASSERT_STREQ(c.tls.ja3, ref.ja3)) {
			EW_FAILF("hello %ld: kernel fingerprinted a hello the reference %s", i,
				 rr == EW_TLS_OK ? "reads differently" : "rejects");
			EW_FAILF("reference JA3 string: %s", ref.ja3_r);
			EW_FAILF("reference JA4_r: %s", ref.ja4_r);
			ok = false;
		}
	}
	bpfrun_close(&r);
	printf("  %ld mutated hellos: reference accepts %ld, kernel fingerprinted %ld\n", n, ref_ok,
	       kernel_fp);
	/* The unmutated share of hellos must be fingerprinted at all. */
	return ok && ASSERT_TRUE(kernel_fp > 0);
}

/*
 * A second copy of an extension the fingerprints read (here a second
 * ec_point_formats, made from supported_versions) makes the hello
 * malformed for the kernel and the reference alike; a repeated extension
 * the fingerprints don't read is fine for both.
 */
EW_TEST(hello_duplicate_extension_is_malformed)
{
	struct bpfrun r;
	uint8_t hello[4096], f[PKT_MAX];
	size_t hlen = make_hello(hello, 32);
	struct ew_ja4 ref;
	bool ok = true;

	if (bpfrun_open(&r, &(struct bpfrun_opts){ 0 }))
		return false;
	for (int dup = 0; dup < 2; dup++) {
		uint8_t pl[4096];
		struct pkt_spec sp = { .saddr = "198.18.3.4", .daddr = "198.18.0.1", .sport = 2000 + dup,
				       .dport = 443, .tcp_flags = PKT_ACK | PKT_PSH };
		struct pkt_info info;
		struct ew_flow_key key;
		struct ew_conn c = {};
		int len;
		__u32 ret;

		memcpy(pl, hello, hlen);
		for (size_t o = 0; o + 4 < hlen; o++) {
			/* supported_versions (0x002b) -> ec_point_formats (0x000b), or -> 0x0fff */
			if (pl[o] == 0x00 && pl[o + 1] == 0x2b && pl[o + 2] == 0x00 && pl[o + 3] == 0x07) {
				pl[o + 1] = dup ? 0x0b : 0xff;
				pl[o] = dup ? 0x00 : 0x0f;
				break;
			}
		}
		sp.payload = (struct pkt_bytes){ pl, hlen };
		len = pkt_build(&sp, f, sizeof(f), &info);
		ok = ok && ASSERT_TRUE(len > 0) && ASSERT_EQ(bpfrun_xdp(&r, f, len, &ret), 0);
		bpfrun_flow_key(&key, &info, false);
		bpf_map_lookup_elem(r.conns_fd, &key, &c);
		if (dup) {
			ok = ok && ASSERT_EQ(ew_ja4_compute(pl, hlen, &ref), EW_TLS_MALFORMED) &&
			     ASSERT_EQ(c.tls.ja4[0], 0);
		} else {
			ok = ok && ASSERT_EQ(ew_ja4_compute(pl, hlen, &ref), EW_TLS_OK) &&
			     ASSERT_STREQ(c.tls.ja4, ref.ja4);
		}
	}
	bpfrun_close(&r);
	return ok;
}
