// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests of the test packet builder (tests/lib/pkt.c): lengths, layout, checksums. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include "lib/test.h"
#include "lib/pkt.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * One's-complement sum written independently of pkt_csum(): 16-bit words
 * with an end-around carry after every addition. A correct checksum makes
 * the sum over the covered bytes 0xffff.
 */
static uint16_t ocsum(uint16_t acc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 2) {
		uint32_t w = (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
		uint32_t s = acc + w;

		acc = (s & 0xffff) + (s >> 16);
	}
	return acc;
}

/* Verify IP header checksum (v4) and the L4 checksum of an untruncated frame. */
static bool csums_ok(const uint8_t *f, const struct pkt_info *in)
{
	const uint8_t *ip = f + in->off[PKT_L_IP], *l4 = f + in->off[PKT_L_L4];
	size_t l4len = in->full_len - in->off[PKT_L_L4];
	int alen = in->family == 6 ? 16 : 4;
	uint8_t ph[40] = {};
	uint16_t acc;

	if (in->family == 4 &&
	    !ASSERT_EQ(ocsum(0, ip, in->end[PKT_L_IP_OPTS] - in->off[PKT_L_IP]), 0xffff))
		return false;
	memcpy(ph, in->saddr, alen);
	memcpy(ph + alen, in->daddr, alen);
	ph[2 * alen + 1] = in->proto;
	ph[2 * alen + 2] = l4len >> 8;
	ph[2 * alen + 3] = l4len;
	acc = in->proto == IPPROTO_ICMP ? 0 : ocsum(0, ph, 2 * alen + 4);
	return ASSERT_EQ(ocsum(acc, l4, l4len), 0xffff);
}

/* The IPv4 header example everybody checks against (checksum 0xb861). */
EW_TEST(pkt_ip4_header_known_answer)
{
	static const uint8_t want[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
					  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	struct pkt_spec s = { .saddr = "192.168.0.1", .daddr = "192.168.0.199", .proto = IPPROTO_UDP,
			      .df = true, .fill = 0x73 - 28 };
	uint8_t f[PKT_MAX];
	struct pkt_info in;

	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), &in), 14 + 0x73));
	CHECK(ASSERT_EQ(memcmp(f + 14, want, 20), 0));
	return csums_ok(f, &in);
}

EW_TEST(pkt_tcp4_defaults_and_options)
{
	struct pkt_spec s = { .tcp_opts = PKT_OPTS_LINUX_SYN, .payload = PKT_S("hello") };
	uint8_t f[PKT_MAX];
	struct pkt_info in;
	int len = pkt_build(&s, f, sizeof(f), &in);

	/* eth 14 + ip 20 + tcp 20 + options 20 + payload 5 */
	CHECK(ASSERT_EQ(len, 79));
	CHECK(ASSERT_EQ(rd16(f + 12), 0x0800));
	CHECK(ASSERT_EQ(f[14], 0x45));
	CHECK(ASSERT_EQ(rd16(f + 16), 65));			/* total length */
	CHECK(ASSERT_EQ(f[22], 64) && ASSERT_EQ(f[23], IPPROTO_TCP)); /* ttl, proto */
	CHECK(ASSERT_EQ(memcmp(f + 26, (uint8_t[]){ 198, 18, 0, 1, 198, 18, 0, 2 }, 8), 0));
	CHECK(ASSERT_EQ(rd16(f + 34), 40000) && ASSERT_EQ(rd16(f + 36), 443));
	CHECK(ASSERT_EQ(f[46] >> 4, 10));			/* doff: 40 bytes */
	CHECK(ASSERT_EQ(f[47], PKT_SYN));
	CHECK(ASSERT_EQ(rd16(f + 48), 64240));
	CHECK(ASSERT_EQ(f[54], 2) && ASSERT_EQ(rd16(f + 56), 1460)); /* MSS first */
	CHECK(ASSERT_EQ(in.off[PKT_L_PAYLOAD], 74));
	CHECK(ASSERT_EQ(memcmp(f + 74, "hello", 5), 0));
	return csums_ok(f, &in);
}

EW_TEST(pkt_options_padded_and_flags)
{
	struct pkt_spec s = { .tcp_opts = PKT_B(PKT_OPT_WS(7)), .tcp_flags = PKT_NOFLAGS,
			      .seq = 7, .ack = 9, .win = 1024 };
	uint8_t f[PKT_MAX];
	struct pkt_info in;

	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), &in), 14 + 20 + 24));
	CHECK(ASSERT_EQ(f[47], 0));
	CHECK(ASSERT_EQ(f[54 + 3], 0)); /* EOL padding */
	CHECK(ASSERT_EQ(rd16(f + 38) << 16 | rd16(f + 40), 7));
	CHECK(ASSERT_EQ(rd16(f + 42) << 16 | rd16(f + 44), 9));
	return csums_ok(f, &in);
}

EW_TEST(pkt_udp6_and_icmp)
{
	struct pkt_spec u = { .family = 6, .proto = IPPROTO_UDP, .dport = 53, .fill = 33 };
	struct pkt_spec i4 = { .proto = IPPROTO_ICMP, .fill = 3 };
	struct pkt_spec i6 = { .saddr = "2001:db8::9", .proto = IPPROTO_ICMPV6, .icmp_id = 5 };
	uint8_t f[PKT_MAX];
	struct pkt_info in;

	CHECK(ASSERT_EQ(pkt_build(&u, f, sizeof(f), &in), 14 + 40 + 8 + 33));
	CHECK(ASSERT_EQ(rd16(f + 12), 0x86dd) && ASSERT_EQ(f[14] >> 4, 6));
	CHECK(ASSERT_EQ(rd16(f + 18), 41)); /* payload length */
	CHECK(ASSERT_EQ(f[20], IPPROTO_UDP));
	CHECK(ASSERT_EQ(rd16(f + 58), 41)); /* UDP length */
	CHECK(csums_ok(f, &in));
	CHECK(ASSERT_EQ(pkt_build(&i4, f, sizeof(f), &in), 14 + 20 + 8 + 3));
	CHECK(ASSERT_EQ(f[34], 8));
	CHECK(csums_ok(f, &in));
	CHECK(ASSERT_EQ(pkt_build(&i6, f, sizeof(f), &in), 14 + 40 + 8));
	CHECK(ASSERT_EQ(in.family, 6) && ASSERT_EQ(f[54], 128));
	return csums_ok(f, &in);
}

EW_TEST(pkt_vlans)
{
	struct pkt_spec s = { .vlans = 3, .vlan_tpid = { 0x88a8, 0x8100, 0x8100 }, .vlan_id = { 7 } };
	uint8_t f[PKT_MAX];
	struct pkt_info in;

	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), &in), 14 + 12 + 40));
	CHECK(ASSERT_EQ(rd16(f + 12), 0x88a8) && ASSERT_EQ(rd16(f + 14), 7));
	CHECK(ASSERT_EQ(rd16(f + 16), 0x8100) && ASSERT_EQ(rd16(f + 18), 101));
	CHECK(ASSERT_EQ(rd16(f + 20), 0x8100) && ASSERT_EQ(rd16(f + 24), 0x0800));
	CHECK(ASSERT_EQ(in.off[PKT_L_IP], 26));
	CHECK(ASSERT_EQ(pkt_cut_len(&in, PKT_L_VLAN), 25));
	return csums_ok(f, &in);
}

EW_TEST(pkt_ip4_options_and_fragments)
{
	struct pkt_spec o = { .ip4_opts_len = 6, .mf = true, .proto = IPPROTO_UDP };
	struct pkt_spec nf = { .frag_off = 10, .payload = PKT_S("abcdefgh") };
	uint8_t f[PKT_MAX];
	struct pkt_info in;

	CHECK(ASSERT_EQ(pkt_build(&o, f, sizeof(f), &in), 14 + 28 + 8));
	CHECK(ASSERT_EQ(f[14], 0x47));
	CHECK(ASSERT_EQ(rd16(f + 20), 0x2000));
	CHECK(ASSERT_EQ(f[34], 1) && ASSERT_EQ(f[41], 0)); /* NOPs, EOL */
	CHECK(csums_ok(f, &in));
	/* A non-first fragment has no transport header. */
	CHECK(ASSERT_EQ(pkt_build(&nf, f, sizeof(f), &in), 14 + 20 + 8));
	CHECK(ASSERT_EQ(rd16(f + 20), 10));
	CHECK(ASSERT_EQ(in.off[PKT_L_L4], in.end[PKT_L_L4]));
	CHECK(ASSERT_EQ(memcmp(f + 34, "abcdefgh", 8), 0));
	return ASSERT_EQ(ocsum(0, f + 14, 20), 0xffff);
}

EW_TEST(pkt_ip6_extension_chain)
{
	struct pkt_spec s = { .family = 6, .ip6_ext = { { PKT_X_HOP }, { PKT_X_RT, .len = 24 },
							{ PKT_X_FRAG, .mf = true }, { PKT_X_AH }, { PKT_X_DST } } };
	struct pkt_spec nf = { .family = 6, .ip6_ext = { { PKT_X_FRAG, .frag_off = 3 } }, .fill = 16 };
	uint8_t f[PKT_MAX];
	struct pkt_info in;
	const uint8_t *x = f + 54;

	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), &in), 14 + 40 + 8 + 24 + 8 + 12 + 8 + 20));
	CHECK(ASSERT_EQ(f[20], 0));			 /* -> hop-by-hop */
	CHECK(ASSERT_EQ(x[0], 43) && ASSERT_EQ(x[1], 0)); /* -> routing, 8 bytes */
	x += 8;
	CHECK(ASSERT_EQ(x[0], 44) && ASSERT_EQ(x[1], 2)); /* -> fragment, 24 bytes */
	x += 24;
	CHECK(ASSERT_EQ(x[0], 51) && ASSERT_EQ(rd16(x + 2), 1)); /* -> AH, MF set */
	x += 8;
	CHECK(ASSERT_EQ(x[0], 60) && ASSERT_EQ(x[1], 1)); /* -> dest opts, AH 12 bytes */
	x += 12;
	CHECK(ASSERT_EQ(x[0], IPPROTO_TCP));
	CHECK(ASSERT_EQ(in.off[PKT_L_L4], 14 + 40 + 60));
	CHECK(ASSERT_EQ(rd16(f + 18), 80)); /* payload length covers the chain */
	CHECK(csums_ok(f, &in));
	CHECK(ASSERT_EQ(pkt_build(&nf, f, sizeof(f), &in), 14 + 40 + 8 + 16));
	CHECK(ASSERT_EQ(f[54], IPPROTO_TCP) && ASSERT_EQ(rd16(f + 56), 3 << 3));
	return ASSERT_EQ(in.off[PKT_L_L4], in.end[PKT_L_L4]);
}

EW_TEST(pkt_truncation_and_overrides)
{
	struct pkt_spec s = { .tcp_opts = PKT_OPTS_LINUX_SYN };
	struct pkt_spec bad = { .ip_version = 5, .ip4_ihl = 4, .tcp_doff = 4 };
	struct pkt_spec arp = { .ethertype = 0x0806, .fill = 28 };
	struct pkt_spec big = { .fill = PKT_MAX };
	uint8_t f[PKT_MAX];
	struct pkt_info in;

	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), &in), 74));
	CHECK(ASSERT_EQ(pkt_cut_len(&in, PKT_L_ETH), 13));
	CHECK(ASSERT_EQ(pkt_cut_len(&in, PKT_L_VLAN), 0)); /* absent */
	CHECK(ASSERT_EQ(pkt_cut_len(&in, PKT_L_IP), 33));
	CHECK(ASSERT_EQ(pkt_cut_len(&in, PKT_L_L4), 53));
	CHECK(ASSERT_EQ(pkt_cut_len(&in, PKT_L_L4_OPTS), 73));
	s.cut = PKT_L_L4;
	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), &in), 53));
	CHECK(ASSERT_EQ(in.full_len, 74));
	s.cut = PKT_L_VLAN;
	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), NULL), -1));
	s.cut = 0;
	s.cut_len = 20;
	CHECK(ASSERT_EQ(pkt_build(&s, f, sizeof(f), NULL), 20));
	CHECK(ASSERT_EQ(pkt_build(&bad, f, sizeof(f), &in), 54));
	CHECK(ASSERT_EQ(f[14], 0x54) && ASSERT_EQ(f[46], 0x40));
	CHECK(ASSERT_EQ(pkt_build(&arp, f, sizeof(f), &in), 42));
	CHECK(ASSERT_EQ(rd16(f + 12), 0x0806) && ASSERT_EQ(in.family, 0));
	CHECK(ASSERT_EQ(pkt_build(&big, f, sizeof(f), NULL), -1));
	CHECK(ASSERT_EQ(pkt_build(&s, f, 60, NULL), -1));
	return ASSERT_EQ(pkt_build(&(struct pkt_spec){ .saddr = "198.18.0.300" }, f, sizeof(f), NULL), -1);
}
