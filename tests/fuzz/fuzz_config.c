// SPDX-License-Identifier: BSD-2-Clause
/* libFuzzer target: the daemon's configuration file (user/daemon_cfg.c). */
#include "fuzz/memfile.h" /* first: it defines _GNU_SOURCE */
#include <string.h>
#include "edgeward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ew_dcfg c;

	memset(&c, 0, sizeof(c));
	if (ew_dcfg_parse(fuzz_memfile(data, size), &c) == 0)
		ew_dcfg_free(&c);
	return 0;
}
