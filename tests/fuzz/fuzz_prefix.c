// SPDX-License-Identifier: BSD-2-Clause
/* libFuzzer target: prefix parsing and formatting (user/prefix.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "edgeward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], err[256], out[64];
	struct ew_prefix p;
	bool cleared;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (ew_prefix_parse(s, &p, &cleared, err, sizeof(err)) == 0) {
		struct ew_prefix q;

		/* What we print must parse back to the same prefix, with no host bits. */
		ew_prefix_fmt(&p, out, sizeof(out));
		if (ew_prefix_parse(out, &q, &cleared, err, sizeof(err)) || cleared ||
		    memcmp(&p, &q, sizeof(p)))
			abort();
	}
	return 0;
}
