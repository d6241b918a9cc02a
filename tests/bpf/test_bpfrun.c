// SPDX-License-Identifier: BSD-2-Clause
/* The BPF test harness itself (tests/lib/bpfrun.c): private maps, reset. */
#include <errno.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "edgeward.skel.h"

/* Nothing is pinned, and two instances share no map. */
EW_TEST(bpfrun_maps_are_private)
{
	struct bpfrun *a = bpfrun_shared(NULL), b;
	struct ew_pfx_val v;
	struct bpf_map *m;
	bool ok = true;

	CHECK(ASSERT_TRUE(a != NULL) && ASSERT_EQ(bpfrun_open(&b, NULL), 0));
	bpf_object__for_each_map(m, b.skel->obj) {
		if (bpf_map__is_pinned(m) || bpf_map__pin_path(m)) {
			EW_FAILF("%s is pinned at %s", bpf_map__name(m), bpf_map__pin_path(m));
			ok = false;
		}
	}
	ok &= ASSERT_EQ(bpfrun_prefix_add(a, "198.18.0.0/24", EW_A_DROP, NULL), 0) &&
	      ASSERT_EQ(bpfrun_prefix_get(a, "198.18.0.0/24", &v), 0) &&
	      ASSERT_EQ(bpfrun_prefix_get(&b, "198.18.0.0/24", &v), -ENOENT);
	bpfrun_close(&b);
	return ok;
}

/* Reset empties flows and prefixes and zeroes counters, and keeps the generation. */
EW_TEST(bpfrun_reset_keeps_gen)
{
	uint8_t f[PKT_MAX];
	struct bpfrun *r = bpfrun_shared(NULL);
	struct bpfrun_stats st;
	struct ew_pfx_val v;
	__u32 ret, gen;
	int len = pkt_build(&(struct pkt_spec){ 0 }, f, sizeof(f), NULL);
	bool ok;

	CHECK(ASSERT_TRUE(r != NULL));
	ok = ASSERT_EQ(bpfrun_prefix_add(r, "198.18.0.9", EW_A_FLAG, NULL), 0) &&
	     ASSERT_EQ(bpfrun_rules_changed(r), 0) && ASSERT_EQ(bpfrun_xdp(r, f, len, &ret), 0) &&
	     ASSERT_EQ(bpfrun_flow_count(r), 1);
	gen = bpfrun_gen(r);
	ok = ok && ASSERT_TRUE(gen > 1) && ASSERT_EQ(bpfrun_reset(r), 0) && ASSERT_EQ(bpfrun_flow_count(r), 0) &&
	     ASSERT_EQ(bpfrun_prefix_get(r, "198.18.0.9", &v), -ENOENT) && ASSERT_EQ(bpfrun_stats_read(r, &st), 0) &&
	     ASSERT_EQ(bpfrun_stat(&st, EW_HOOK_XDP, EW_R_NONE, EW_A_PASS).packets, 0) &&
	     ASSERT_EQ(st.counters[EW_C_FLOW_NEW], 0) && ASSERT_EQ(bpfrun_gen(r), gen);
	return ok;
}
