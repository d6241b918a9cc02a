// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests: prefix parsing and normalisation (user/prefix.c). */
#include "lib/test.h"
#include "edgeward.h"



static bool parses_to(const char *in, const char *want, bool want_cleared)
{
	struct ew_prefix p;
	bool cleared;
	char err[128], out[64];

	if (!ASSERT_EQ(ew_prefix_parse(in, &p, &cleared, err, sizeof(err)), 0)) {
		EW_FAILF("input %s: %s", in, err);
		return false;
	}
	ew_prefix_fmt(&p, out, sizeof(out));
	return ASSERT_STREQ(out, want) && ASSERT_EQ(cleared, want_cleared);
}

static bool rejects(const char *in, const char *msg_part)
{
	struct ew_prefix p;
	bool cleared;
	char err[128] = "";

	return ASSERT_EQ(ew_prefix_parse(in, &p, &cleared, err, sizeof(err)), -1) &&
	       ASSERT_TRUE(strstr(err, msg_part) != NULL);
}

EW_TEST(prefix_v4_forms)
{
	CHECK(parses_to("198.18.0.1", "198.18.0.1/32", false));
	CHECK(parses_to("198.18.0.0/15", "198.18.0.0/15", false));
	CHECK(parses_to("198.19.255.255/15", "198.18.0.0/15", true));
	CHECK(parses_to("0.0.0.0/0", "0.0.0.0/0", false));
	CHECK(parses_to("10.1.2.3/0", "0.0.0.0/0", true));
	return true;
}

EW_TEST(prefix_v6_forms)
{
	CHECK(parses_to("2001:db8::1", "2001:db8::1/128", false));
	CHECK(parses_to("2001:db8::/32", "2001:db8::/32", false));
	CHECK(parses_to("2001:db8:ffff::/33", "2001:db8:8000::/33", true));
	CHECK(parses_to("::/0", "::/0", false));
	return true;
}

EW_TEST(prefix_v4_mapped_becomes_v4)
{
	CHECK(parses_to("::ffff:198.18.0.7", "198.18.0.7/32", false));
	CHECK(parses_to("::ffff:198.18.0.7/120", "198.18.0.0/24", true));
	CHECK(rejects("::ffff:198.18.0.0/90", "shorter than /96"));
	return true;
}

EW_TEST(prefix_rejects_bad_input)
{
	CHECK(rejects("", "not an IP"));
	CHECK(rejects("198.18.0.1/33", "0..32"));
	CHECK(rejects("198.18.0.1/", "0..32"));
	CHECK(rejects("198.18.0.1/-1", "0..32"));
	CHECK(rejects("198.18.0.1/+8", "0..32"));
	CHECK(rejects("198.18.0.1/8x", "0..32"));
	CHECK(rejects("2001:db8::/129", "0..128"));
	CHECK(rejects("fe80::1%eth0", "zone"));
	CHECK(rejects("198.18.0.256", "not an IP"));
	CHECK(rejects("example.com", "not an IP"));
	CHECK(rejects("1.2.3.4 ", "not an IP"));
	return true;
}

EW_TEST(names_cover_every_reason_in_use)
{
	for (unsigned int r = 0; r <= EW_R_UNTRACKED; r++)
		CHECK(ASSERT_TRUE(strcmp(ew_reason_name(r), "unknown") != 0));
	CHECK(ASSERT_STREQ(ew_action_name(EW_A_WOULD_DROP), "would_drop"));
	CHECK(ASSERT_EQ(ew_action_parse("drop"), EW_A_DROP));
	CHECK(ASSERT_EQ(ew_action_parse("Drop"), -1));
	return true;
}
