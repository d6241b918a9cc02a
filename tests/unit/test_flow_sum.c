// SPDX-License-Identifier: BSD-2-Clause
/* ew_flow_sum(): the verdict a flow reports when its per-CPU copies disagree. */
#include "lib/test.h"
#include "edgeward.h"

/* After `block del`, a CPU that saw the flow under the block keeps gen 2/drop
 * while the CPU now carrying it decided pass under gen 3: the flow passes. */
EW_TEST(flow_sum_newest_generation_wins)
{
	struct ew_flow pc[3] = {
		{ .packets = { 6, 0 }, .gen = 2, .verdict = EW_A_DROP, .reason = EW_R_PREFIX },
		{ .packets = { 7, 0 }, .gen = 3, .verdict = EW_A_PASS, .reason = EW_R_NONE },
		{},
	};
	struct ew_flow s;

	ew_flow_sum(&s, pc, 3, sizeof(pc[0]));
	return ASSERT_EQ(s.gen, 3) && ASSERT_EQ(s.verdict, EW_A_PASS) && ASSERT_EQ(s.reason, EW_R_NONE) &&
	       ASSERT_EQ(s.packets[0], 13);
}

/* The newest copy may come first: an older, stronger one does not override it. */
EW_TEST(flow_sum_older_stronger_copy_loses)
{
	struct ew_flow pc[2] = {
		{ .gen = 5, .verdict = EW_A_FLAG, .reason = EW_R_PREFIX },
		{ .gen = 4, .verdict = EW_A_DROP, .reason = EW_R_PREFIX },
	};
	struct ew_flow s;

	ew_flow_sum(&s, pc, 2, sizeof(pc[0]));
	return ASSERT_EQ(s.gen, 5) && ASSERT_EQ(s.verdict, EW_A_FLAG);
}

/* Same generation on two CPUs: the strongest verdict, with its reason. */
EW_TEST(flow_sum_same_generation_strongest)
{
	struct ew_flow pc[2] = {
		{ .gen = 7, .verdict = EW_A_DROP, .reason = EW_R_PREFIX },
		{ .gen = 7, .verdict = EW_A_PASS, .reason = EW_R_NONE },
	};
	struct ew_flow s;

	ew_flow_sum(&s, pc, 2, sizeof(pc[0]));
	return ASSERT_EQ(s.verdict, EW_A_DROP) && ASSERT_EQ(s.reason, EW_R_PREFIX);
}
