// SPDX-License-Identifier: BSD-2-Clause
/*
 * Reading the flow table: batched per-CPU reads (64k entries a call, about
 * 2 s for a million flows on two CPUs, without slowing the data path),
 * summed per flow (lib/lookup.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"

#define EW_FLOWS_BATCH 65536

/* Called per batch read; non-zero stops the walk with an error. */
typedef int (*batch_fn)(void *ctx, const struct ew_flow_key *keys, const char *vals, __u32 n, int ncpus,
			size_t stride);

static long flows_walk(int fd, batch_fn fn, void *ctx)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t stride = (sizeof(struct ew_flow) + 7) & ~7ul;
	struct ew_flow_key *keys = malloc(EW_FLOWS_BATCH * sizeof(*keys));
	char *vals = ncpus > 0 ? malloc(EW_FLOWS_BATCH * stride * ncpus) : NULL;
	__u64 in_tok = 0, out_tok = 0;
	bool first = true, done = false;
	long n = 0;

	if (!keys || !vals)
		goto fail;
	while (!done) {
		__u32 count = EW_FLOWS_BATCH;
		int err;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok, keys, vals, &count, NULL);
		if (err && errno != ENOENT) {
			ew_err("reading ew_flows: %s", strerror(errno));
			goto fail;
		}
		done = err != 0;
		first = false;
		in_tok = out_tok;
		if (fn && count && fn(ctx, keys, vals, count, ncpus, stride))
			goto fail;
		n += count;
	}
	free(keys);
	free(vals);
	return n;
fail:
	free(keys);
	free(vals);
	return -1;
}

struct rows {
	struct ew_flow_row *r;
	long n, cap;
};

static int append(void *ctx, const struct ew_flow_key *keys, const char *vals, __u32 count, int ncpus, size_t stride)
{
	struct rows *rs = ctx;

	if (rs->n + count > rs->cap) {
		long cap = (rs->n + count) * 2;
		struct ew_flow_row *r = realloc(rs->r, cap * sizeof(*r));

		if (!r)
			return -1;
		rs->r = r;
		rs->cap = cap;
	}
	for (__u32 i = 0; i < count; i++) {
		rs->r[rs->n].key = keys[i];
		ew_flow_sum(&rs->r[rs->n].val, vals + (size_t)i * stride * ncpus, ncpus, stride);
		rs->n++;
	}
	return 0;
}

long ew_flows_read(int fd, struct ew_flow_row **rows)
{
	struct rows rs = {};

	if (flows_walk(fd, append, &rs) < 0) {
		free(rs.r);
		return -1;
	}
	*rows = rs.r;
	return rs.n;
}

long ew_flows_count(int fd)
{
	return flows_walk(fd, NULL, NULL);
}
