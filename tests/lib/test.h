/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Minimal test harness for the C tests. Each test is a function registered
 * with EW_TEST(); ASSERT_* print file:line and return false from the test, so
 * a test can also `goto out` by checking their value. The runner prints
 * "PASS name" / "FAIL name" / "SKIP name: why" per test; tests/run.sh counts.
 */
#ifndef EW_TEST_H
#define EW_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <inttypes.h>

struct ew_test {
	const char *name;
	bool (*fn)(void);
};

#define EW_TEST(fn_)                                                             \
	static bool fn_(void);                                                   \
	static const struct ew_test ew_test_##fn_                               \
		__attribute__((used, section("ew_tests"), aligned(8))) = { #fn_, fn_ }; \
	static bool fn_(void)

/* Mark the running test skipped; the reason is printed. Return its value. */
bool ew_test_skip(const char *why);

#define EW_FAILF(fmt, ...) fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__)

#define ASSERT_TRUE(c)                                         \
	({                                                     \
		bool ok_ = (c);                                \
		if (!ok_)                                      \
			EW_FAILF("expected true: %s", #c);     \
		ok_;                                           \
	})
#define ASSERT_EQ(a, b)                                                                   \
	({                                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);                       \
		bool ok_ = a_ == b_;                                                      \
		if (!ok_)                                                                 \
			EW_FAILF("%s == %s: got %lld, want %lld", #a, #b, a_, b_);        \
		ok_;                                                                      \
	})
#define ASSERT_STREQ(a, b)                                                                \
	({                                                                                \
		const char *a_ = (a), *b_ = (b);                                          \
		bool ok_ = a_ && b_ && !strcmp(a_, b_);                                   \
		if (!ok_)                                                                 \
			EW_FAILF("%s == %s: got \"%s\", want \"%s\"", #a, #b, a_ ? a_ : "(null)", \
				 b_ ? b_ : "(null)");                                     \
		ok_;                                                                      \
	})
#define CHECK(c) do { if (!(c)) return false; } while (0)

#endif
