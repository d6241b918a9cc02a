// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF test of an abandoned hello (bpf/lib/tls.h): a connection that sends
 * the first segment of a two-segment ClientHello and then closes (FIN or
 * RST) is counted incomplete and frees its ew_tls_reasm slot at once.
 */
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "edgeward.skel.h"
#include "edgeward.h"

static long reasm_entries(struct bpfrun *r)
{
	int fd = bpf_map__fd(r->skel->maps.ew_tls_reasm);
	struct ew_flow_key k, next;
	long n = 0;

	for (int e = bpf_map_get_next_key(fd, NULL, &next); !e; e = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		n++;
	}
	return n;
}

static bool run(struct bpfrun *r, const struct pkt_spec *s)
{
	uint8_t f[PKT_MAX];
	__u32 ret = ~0u;
	int len = pkt_build(s, f, sizeof(f), NULL);

	CHECK(ASSERT_TRUE(len > 0));
	CHECK(ASSERT_EQ(bpfrun_xdp(r, f, len, &ret), 0));
	return ASSERT_EQ(ret, XDP_PASS);
}

static bool abandoned_by(__u16 flags, __u16 sport)
{
	/* A handshake record of 600 bytes holding a ClientHello: its first 205 here. */
	static const uint8_t head[] = { 0x16, 0x03, 0x01, 0x02, 0x58, 0x01, 0x00, 0x02, 0x54, 0x03, 0x03 };
	struct bpfrun *r = bpfrun_shared(&(struct bpfrun_opts){ 0 });
	struct pkt_spec syn = { .sport = sport }, seg = syn, end = syn;
	struct bpfrun_stats b, a;

	CHECK(ASSERT_TRUE(r != NULL));
	seg.tcp_flags = PKT_ACK | PKT_PSH;
	seg.payload = (struct pkt_bytes){ head, sizeof(head) };
	seg.fill = 194;
	end.tcp_flags = flags;
	end.seq = 1 + 205;
	CHECK(run(r, &syn) && run(r, &seg) && ASSERT_EQ(reasm_entries(r), 1));
	CHECK(ASSERT_EQ(bpfrun_stats_read(r, &b), 0) && run(r, &end) && ASSERT_EQ(bpfrun_stats_read(r, &a), 0));
	return ASSERT_EQ(a.counters[EW_C_TLS_INCOMPLETE] - b.counters[EW_C_TLS_INCOMPLETE], 1) &&
	       ASSERT_EQ(bpfrun_stat(&a, EW_HOOK_XDP, EW_R_TLS_INCOMPLETE, EW_A_PASS).packets -
				 bpfrun_stat(&b, EW_HOOK_XDP, EW_R_TLS_INCOMPLETE, EW_A_PASS).packets,
			 1) &&
	       ASSERT_EQ(reasm_entries(r), 0);
}

EW_TEST(tls_hello_abandoned_by_fin)
{
	return abandoned_by(PKT_FIN | PKT_ACK, 42001);
}

EW_TEST(tls_hello_abandoned_by_rst)
{
	return abandoned_by(PKT_RST, 42002);
}
