// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target: threat-feed files (user/feed_parse.c). The first byte
 * picks the format (0: auto); the rest is the file. Whatever the input, the
 * parse must not crash, and an accepted feed holds sorted, unique prefixes
 * without host bits or /0, and no more bad lines than lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "feeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct ew_feed_opts o = { .min_score = 1, .max_bad_pct = 50 };
	struct ew_feed_data d;

	if (!size)
		return 0;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	o.diag = devnull;
	o.format = data[0] % EW_FF_MAX;
	o.allow_empty = data[0] & 0x80;
	if (ew_feed_parse_buf("fuzz", (const char *)data + 1, size - 1, &o, &d))
		return 0;
	if (d.bad > d.lines)
		abort();
	for (size_t i = 0; i < d.npfx; i++) {
		struct ew_prefix q;
		char out[64], err[256];
		bool cleared;

		if (d.pfx[i].len == 0 || (i && ew_prefix_cmp(&d.pfx[i - 1], &d.pfx[i]) >= 0))
			abort();
		ew_prefix_fmt(&d.pfx[i], out, sizeof(out));
		if (ew_prefix_parse(out, &q, &cleared, err, sizeof(err)) || cleared)
			abort();
	}
	ew_feed_data_free(&d);
	return 0;
}
