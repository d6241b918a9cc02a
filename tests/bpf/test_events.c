// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF tests of the event ring (bpf/lib/events.h): verdict events carry the
 * flow and its verdict, the per-CPU token bucket admits EW_EVENT_BURST at
 * once and EW_EVENT_RATE a second, and every event is either sent,
 * suppressed or lost, counted in ew_evstate. The clock is the replay clock,
 * so the bucket's refill is exact.
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "edgeward.h"
#include "edgeward.skel.h"

struct seen {
	long n;
	struct ew_event first;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;

	if (!s->n && size >= sizeof(s->first))
		memcpy(&s->first, data, sizeof(s->first));
	s->n++;
	return 0;
}

static bool evstate(struct bpfrun *r, struct ew_evstate *sum)
{
	struct ew_evstate pc[r->ncpus];
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (!ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.ew_evstate), &zero, pc), 0))
		return false;
	for (int i = 0; i < r->ncpus; i++) {
		sum->sent += pc[i].sent;
		sum->lost += pc[i].lost;
		sum->suppressed += pc[i].suppressed;
	}
	return true;
}

/* Run the frame n times, one BPF_PROG_TEST_RUN each (the clock stays still). */
static bool run_n(struct bpfrun *r, const uint8_t *buf, int len, int n, __u32 want)
{
	for (int i = 0; i < n; i++) {
		__u32 ret;

		if (!ASSERT_EQ(bpfrun_xdp(r, buf, len, &ret), 0) || !ASSERT_EQ(ret, want))
			return false;
	}
	return true;
}

EW_TEST(events_verdict_and_rate_limit)
{
	struct pkt_spec s = { .saddr = "198.18.0.1", .sport = 40001 };
	struct pkt_spec s2 = { .saddr = "198.18.0.1", .sport = 40002 };
	struct ew_evstate st;
	struct seen seen = {};
	struct ring_buffer *rb = NULL;
	uint8_t buf[PKT_MAX], buf2[PKT_MAX];
	struct pkt_info info;
	struct bpfrun r;
	bool ok = false;
	int len = pkt_build(&s, buf, sizeof(buf), NULL);
	int len2 = pkt_build(&s2, buf2, sizeof(buf2), &info);

	if (!ASSERT_TRUE(len > 0 && len2 > 0) || !ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){ .replay = true }), 0))
		return false;
	rb = ring_buffer__new(bpf_map__fd(r.skel->maps.ew_events), on_event, &seen, NULL);
	if (!ASSERT_TRUE(rb != NULL))
		goto out;

	/* A source that passes emits nothing. */
	bpfrun_set_now(&r, 10ull * 1000000000);
	if (!run_n(&r, buf, len, 3, XDP_PASS) || !evstate(&r, &st) || !ASSERT_EQ(st.sent, 0))
		goto out;

	/*
	 * Another connection of that source, now dropped, keeps no flow state:
	 * one event per packet until the burst is spent.
	 */
	if (bpfrun_prefix_add(&r, "198.18.0.1/32", EW_A_DROP, "t") || bpfrun_rules_changed(&r))
		goto out;
	if (!run_n(&r, buf2, len2, EW_EVENT_BURST + 100, XDP_DROP) || !evstate(&r, &st))
		goto out;
	if (!ASSERT_EQ(st.sent, EW_EVENT_BURST) || !ASSERT_EQ(st.suppressed, 100) || !ASSERT_EQ(st.lost, 0))
		goto out;
	if (!ASSERT_EQ(ring_buffer__consume(rb), EW_EVENT_BURST) || !ASSERT_EQ(seen.n, EW_EVENT_BURST))
		goto out;
	if (!ASSERT_EQ(seen.first.type, EW_EVT_VERDICT) || !ASSERT_EQ(seen.first.reason, EW_R_PREFIX) ||
	    !ASSERT_EQ(seen.first.action, EW_A_DROP) || !ASSERT_EQ(seen.first.hook, EW_HOOK_XDP) ||
	    !ASSERT_EQ(seen.first.ts_ns, 10ull * 1000000000) ||
	    !ASSERT_EQ(memcmp(seen.first.key.saddr + 12, info.saddr, 4), 0) ||
	    !ASSERT_EQ(ntohs(seen.first.key.sport), 40002))
		goto out;

	/* 100 ms later the bucket holds EW_EVENT_RATE / 10 events. */
	bpfrun_set_now(&r, 10ull * 1000000000 + 100000000);
	if (!run_n(&r, buf2, len2, EW_EVENT_RATE / 10 + 7, XDP_DROP) || !evstate(&r, &st))
		goto out;
	if (!ASSERT_EQ(st.sent, EW_EVENT_BURST + EW_EVENT_RATE / 10) || !ASSERT_EQ(st.suppressed, 107))
		goto out;

	/* Nobody reads: the ring (256 KiB) fills, the excess is counted lost, never dropped silently. */
	for (int sec = 11; sec < 16; sec++) {
		bpfrun_set_now(&r, (__u64)sec * 1000000000);
		if (!run_n(&r, buf2, len2, EW_EVENT_BURST, XDP_DROP))
			goto out;
	}
	if (!evstate(&r, &st))
		goto out;
	ok = ASSERT_TRUE(st.lost > 0) &&
	     ASSERT_EQ(st.sent + st.lost + st.suppressed, EW_EVENT_BURST + 100 + EW_EVENT_RATE / 10 + 7 + 5 * EW_EVENT_BURST);
out:
	ring_buffer__free(rb);
	bpfrun_close(&r);
	return ok;
}

/*
 * A flood's packets come far closer together than one token's worth of time
 * (EW_EVENT_RATE 2000: a token every 500 us); the bucket still refills at
 * the rate. Here one packet every 250 ns for 1 ms after the burst: 2 events.
 */
EW_TEST(events_rate_holds_under_flood)
{
	struct pkt_spec s = { .saddr = "198.18.0.1", .sport = 40003 };
	const __u64 t0 = 20ull * 1000000000, step = 250, n = 1000000 / step;
	struct ew_evstate st;
	uint8_t buf[PKT_MAX];
	struct bpfrun r;
	bool ok = false;
	int len = pkt_build(&s, buf, sizeof(buf), NULL);

	if (!ASSERT_TRUE(len > 0) || !ASSERT_EQ(bpfrun_open(&r, &(struct bpfrun_opts){ .replay = true }), 0))
		return false;
	if (bpfrun_prefix_add(&r, "198.18.0.1/32", EW_A_DROP, "t") || bpfrun_rules_changed(&r))
		goto out;
	bpfrun_set_now(&r, t0);
	if (!run_n(&r, buf, len, EW_EVENT_BURST, XDP_DROP))
		goto out;
	for (__u64 i = 1; i <= n; i++) {
		bpfrun_set_now(&r, t0 + i * step);
		if (!run_n(&r, buf, len, 1, XDP_DROP))
			goto out;
	}
	ok = evstate(&r, &st) && ASSERT_EQ(st.sent, EW_EVENT_BURST + 2) && ASSERT_EQ(st.suppressed, n - 2) &&
	     ASSERT_EQ(st.lost, 0);
out:
	bpfrun_close(&r);
	return ok;
}
