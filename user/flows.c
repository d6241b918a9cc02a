// SPDX-License-Identifier: BSD-2-Clause
/* Reading the flow table: batched per-CPU reads, summed per flow (lib/lookup.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"

long ew_flows_read(int fd, struct ew_flow_row **rows)
{
	const __u32 batch = 4096;
	int ncpus = libbpf_num_possible_cpus();
	size_t stride = (sizeof(struct ew_flow) + 7) & ~7ul;
	struct ew_flow_key *keys = malloc(batch * sizeof(*keys));
	char *vals = malloc(batch * stride * ncpus);
	struct ew_flow_row *out = NULL;
	long n = 0, cap = 0;
	__u64 in_tok = 0, out_tok = 0;
	bool first = true, done = false;

	if (!keys || !vals || ncpus <= 0)
		goto fail;
	while (!done) {
		__u32 count = batch;
		int err;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok, keys, vals, &count, NULL);
		if (err && errno != ENOENT) {
			ew_err("reading ew_flows: %s", strerror(errno));
			goto fail;
		}
		done = err != 0;
		first = false;
		in_tok = out_tok;
		if (n + count > cap) {
			cap = (n + count) * 2;
			struct ew_flow_row *r = realloc(out, cap * sizeof(*out));

			if (!r)
				goto fail;
			out = r;
		}
		for (__u32 i = 0; i < count; i++) {
			out[n].key = keys[i];
			ew_flow_sum(&out[n].val, vals + (size_t)i * stride * ncpus, ncpus, stride);
			n++;
		}
	}
	free(keys);
	free(vals);
	*rows = out;
	return n;
fail:
	free(keys);
	free(vals);
	free(out);
	return -1;
}
