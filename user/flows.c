// SPDX-License-Identifier: BSD-2-Clause
/* Reading the flow table: batched per-CPU reads, summed per flow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"

void ew_flow_sum(struct ew_flow *out, const void *percpu, int ncpus, size_t stride)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpus; c++) {
		const struct ew_flow *f = (const void *)((const char *)percpu + c * stride);

		for (int d = 0; d < 2; d++) {
			out->packets[d] += f->packets[d];
			out->bytes[d] += f->bytes[d];
			out->tcp_flags[d] |= f->tcp_flags[d];
		}
		if (f->first_ns && (!out->first_ns || f->first_ns < out->first_ns))
			out->first_ns = f->first_ns;
		if (f->last_ns > out->last_ns)
			out->last_ns = f->last_ns;
		/* The strongest verdict any CPU decided, with its reason. */
		if (f->gen && (f->verdict > out->verdict || !out->gen)) {
			out->verdict = f->verdict;
			out->reason = f->reason;
			out->gen = f->gen;
		}
	}
}

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
