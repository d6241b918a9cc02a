// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF programs of the benchmark (tests/bench/bench.c), not of edgeward:
 *  - bn_empty: the floor, an XDP program that counts the packet per CPU;
 *  - bn_vary:  rewrites the frame's source (address and port) from a per-CPU
 *              counter, then tail-calls the program under test, so one
 *              BPF_PROG_TEST_RUN with `repeat` walks many flows and sources
 *              and the cache misses of a real mix show;
 *  - bn_gen:   the live-frames generator (BPF_F_TEST_XDP_LIVE_FRAMES): every
 *              frame goes out of the test-run interface with XDP_TX;
 *  - bn_drop:  the floor of the veth receiver: drops every frame.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader: what bn_vary rewrites. */
const volatile __u32 bn_vary_n = 1;	 /* distinct (source, port) pairs, cycled */
const volatile __u32 bn_vary_base = 0;	 /* first source address, host order */
const volatile __u32 bn_vary_addr_bits = 16; /* low bits of k in the address, the rest in the port */
const volatile __u16 bn_vary_sport = 1024;	 /* first source port */
const volatile __u16 bn_vary_saddr_off = 0;	 /* offset of the last 32 bits of the source address */
const volatile __u16 bn_vary_sport_off = 0;	 /* offset of the TCP/UDP source port */

/* Packets seen by bn_empty, and bn_vary's position, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bn_count SEC(".maps");

/* bn_vary's target: slot 0 holds the program under test. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bn_jmp SEC(".maps");

SEC("xdp")
int bn_empty(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *c = bpf_map_lookup_elem(&bn_count, &k);

	if (c)
		(*c)++;
	return XDP_PASS;
}

SEC("xdp")
int bn_vary(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 k = 1, off_a = bn_vary_saddr_off, off_p = bn_vary_sport_off, v;
	__u64 *c = bpf_map_lookup_elem(&bn_count, &k);

	if (!c)
		return XDP_ABORTED;
	v = *c % bn_vary_n;
	(*c)++;
	/* Offsets are loader constants below 256: bounded for the verifier. */
	off_a &= 0xff;
	off_p &= 0xff;
	if (data + off_a + 4 > data_end || data + off_p + 2 > data_end)
		return XDP_ABORTED;
	*(__be32 *)(data + off_a) =
		bpf_htonl(bn_vary_base + (v & ((1u << bn_vary_addr_bits) - 1)));
	*(__be16 *)(data + off_p) = bpf_htons(bn_vary_sport + (v >> bn_vary_addr_bits));
	bpf_tail_call(ctx, &bn_jmp, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bn_gen(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int bn_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
