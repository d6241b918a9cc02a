// SPDX-License-Identifier: BSD-2-Clause
/*
 * The replay engine (user/replay.c) on built frames: which side is the
 * client, which program each packet runs through (client packets are counted
 * by XDP, server packets by TC egress), the capture clock as the flow's
 * first/last times, and drops with their reason. Private maps only.
 */
#include <errno.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "edgeward.h"

#define C "198.18.0.1"
#define S "198.18.0.2"
#define MS 1000000ull

struct frame {
	const char *src, *dst;
	uint16_t sport, dport, flags;
	uint64_t ts_ms; /* capture time */
};

struct replay_case {
	const char *name;
	struct frame f[6];
	const char *client;	 /* expected client address */
	uint16_t cport, sport_;	 /* client port, server port */
	const char *by;		 /* "syn" or "ports" */
	uint64_t in, out;	 /* packets each way, as the kernel counted them */
	uint64_t first_ms, last_ms; /* flow first/last, ms past the capture's first packet */
};

static const struct replay_case cases[] = {
	{ "handshake", { { C, S, 40000, 443, PKT_SYN, 0 }, { S, C, 443, 40000, PKT_SYN | PKT_ACK, 1 },
			 { C, S, 40000, 443, PKT_ACK, 2 }, { S, C, 443, 40000, PKT_ACK | PKT_PSH, 7 } },
	  C, 40000, 443, "syn", 2, 2, 0, 7 },
	{ "syn_from_high_port_server", { { S, C, 50000, 60000, PKT_SYN, 0 }, { C, S, 60000, 50000, PKT_SYN | PKT_ACK, 3 } },
	  S, 50000, 60000, "syn", 1, 1, 0, 3 },
	{ "synack_first", { { S, C, 443, 40001, PKT_SYN | PKT_ACK, 0 }, { C, S, 40001, 443, PKT_ACK, 5 } },
	  C, 40001, 443, "syn", 1, 0, 5, 5 }, /* the SYN-ACK found no flow: untracked */
	{ "midflow_server_port", { { S, C, 443, 40002, PKT_ACK, 0 }, { C, S, 40002, 443, PKT_ACK, 4 } },
	  C, 40002, 443, "ports", 1, 0, 4, 4 },
	{ "midflow_higher_port", { { C, S, 2000, 30000, PKT_ACK, 0 }, { S, C, 30000, 2000, PKT_ACK, 9 } },
	  S, 30000, 2000, "ports", 1, 0, 9, 9 },
	{ "late_syn_names_client", { { S, C, 5000, 6000, PKT_ACK, 0 }, { S, C, 5000, 6000, PKT_SYN, 2 },
				     { C, S, 6000, 5000, PKT_ACK, 3 } },
	  S, 5000, 6000, "syn", 1, 1, 2, 3 },
};

static int frame_build(const struct frame *f, uint8_t *buf)
{
	struct pkt_spec s = { .saddr = f->src, .daddr = f->dst, .sport = f->sport, .dport = f->dport,
			      .tcp_flags = f->flags };

	return pkt_build(&s, buf, PKT_MAX, NULL);
}

static bool run_case(const struct replay_case *c)
{
	const uint64_t t0 = 1700000000ull * 1000 * MS; /* a realistic capture epoch */
	struct ew_replay *r = ew_replay_new(false, 16);
	struct ew_replay_flow *fl;
	uint8_t buf[PKT_MAX];
	char addr[64];
	bool ok = false;
	size_t n;

	if (!ASSERT_TRUE(r))
		return false;
	for (int i = 0; i < 6 && c->f[i].src; i++) {
		int len = frame_build(&c->f[i], buf);

		if (!ASSERT_TRUE(len > 0) || !ASSERT_EQ(ew_replay_frame(r, buf, len, t0 + c->f[i].ts_ms * MS), 0))
			goto out;
	}
	n = ew_replay_flows(r, &fl);
	if (!ASSERT_EQ(n, 1))
		goto out;
	ew_fmt_addr(addr, sizeof(addr), fl->key.saddr, fl->key.family);
	if (!ASSERT_STREQ(addr, c->client) || !ASSERT_EQ(ntohs(fl->key.sport), c->cport) ||
	    !ASSERT_EQ(ntohs(fl->key.dport), c->sport_) || !ASSERT_STREQ(fl->by_syn ? "syn" : "ports", c->by))
		goto out;
	/* The kernel's own counts: XDP saw the client's packets, TC the server's. */
	if (!ASSERT_TRUE(fl->has_flow) || !ASSERT_EQ(fl->flow.packets[EW_DIR_C2S], c->in) ||
	    !ASSERT_EQ(fl->flow.packets[EW_DIR_S2C], c->out))
		goto out;
	/* The data path's clock was the capture's: 1 s at the first packet. */
	ok = ASSERT_EQ(fl->flow.first_ns, 1000 * MS + c->first_ms * MS) &&
	     ASSERT_EQ(fl->flow.last_ns, 1000 * MS + c->last_ms * MS);
out:
	if (!ok)
		fprintf(stderr, "  case %s\n", c->name);
	ew_replay_free(r);
	return ok;
}

EW_TEST(replay_direction_and_clock)
{
	bool ok = true;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok &= run_case(&cases[i]);
	return ok;
}

/* A blocked client: XDP drops, the flow says drop with reason prefix. */
EW_TEST(replay_block_drop_reason)
{
	struct ew_replay *r = ew_replay_new(false, 16);
	struct ew_prefix p = { .family = 4, .addr = { 198, 18, 0, 1 }, .len = 32 };
	struct frame f[2] = { { C, S, 40000, 443, PKT_SYN, 0 }, { C, S, 40000, 443, PKT_ACK, 1 } };
	struct ew_replay_flow *fl;
	uint8_t buf[PKT_MAX];
	bool ok = false;

	if (!ASSERT_TRUE(r))
		return false;
	if (!ASSERT_EQ(ew_pfx_put(ew_replay_map_fd(r, "ew_pfx4"), ew_replay_map_fd(r, "ew_pfx6"), &p, EW_A_DROP, "t"), 0))
		goto out;
	for (int i = 0; i < 2; i++)
		if (!ASSERT_EQ(ew_replay_frame(r, buf, frame_build(&f[i], buf), f[i].ts_ms * MS), 0))
			goto out;
	if (!ASSERT_EQ(ew_replay_flows(r, &fl), 1))
		goto out;
	ok = ASSERT_TRUE(fl->dropped) && ASSERT_EQ(fl->verdict, EW_A_DROP) && ASSERT_EQ(fl->reason, EW_R_PREFIX) &&
	     ASSERT_EQ(fl->packets[EW_DIR_C2S], 2);
out:
	ew_replay_free(r);
	return ok;
}

/* Frames the kernel cannot take are refused with EINVAL, nothing run. */
EW_TEST(replay_runt_frame_refused)
{
	struct ew_replay *r = ew_replay_new(false, 16);
	uint8_t buf[13] = { 0 };
	bool ok;

	if (!ASSERT_TRUE(r))
		return false;
	ok = ASSERT_EQ(ew_replay_frame(r, buf, sizeof(buf), 0), -1) && ASSERT_EQ(errno, EINVAL);
	ew_replay_free(r);
	return ok;
}
