// SPDX-License-Identifier: BSD-2-Clause
/* Runs every EW_TEST in the binary (or those whose name contains argv[1]). */
#include <stdlib.h>
#include "test.h"

extern const struct ew_test __start_ew_tests[] __attribute__((weak));
extern const struct ew_test __stop_ew_tests[] __attribute__((weak));
static const char *skip_reason;

bool ew_test_skip(const char *why)
{
	skip_reason = why;
	return true;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct ew_test *t = __start_ew_tests; t < __stop_ew_tests; t++) {
		bool ok;

		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		skip_reason = NULL;
		fflush(stderr);
		ok = t->fn();
		if (ok && skip_reason) {
			printf("SKIP %s: %s\n", t->name, skip_reason);
			skipped++;
		} else if (ok) {
			printf("PASS %s\n", t->name);
			passed++;
		} else {
			printf("FAIL %s\n", t->name);
			failed++;
		}
	}
	printf("-- %s: %d ok, %d failing, %d skipped\n", argv[0], passed, failed, skipped);
	return failed ? 1 : 0;
}
