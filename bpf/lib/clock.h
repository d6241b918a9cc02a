/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The data path's only clock. BPF only. Live it reads the kernel's monotonic
 * clock; `edgeward replay` loads the object with ew_replay set and writes each
 * packet's capture timestamp to ew_replay_now_ns before running it, so
 * time-based logic answers offline as it would live.
 */
#ifndef EW_CLOCK_H
#define EW_CLOCK_H

const volatile __u8 ew_replay = 0;
__u64 ew_replay_now_ns = 0;

/* Per CPU: the coarse clock as last read, and the jiffy it was read in. */
struct ew_tick {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ew_tick);
} ew_tick SEC(".maps");

/*
 * Cheap clock for per-packet bookkeeping (last seen, the event bucket): the
 * coarse clock, which moves once a tick. bpf_jiffies64() (a load, inlined by
 * the verifier) says whether a tick has passed since this CPU last read it;
 * the helper call costs more than the rest of a dropped packet's bookkeeping.
 */
static __always_inline __u64 ew_now_coarse(void)
{
	__u32 zero = 0;
	struct ew_tick *t;
	__u64 j;

	if (ew_replay)
		return ew_replay_now_ns;
	t = bpf_map_lookup_elem(&ew_tick, &zero);
	if (!t)
		return bpf_ktime_get_coarse_ns();
	j = bpf_jiffies64();
	if (t->jiffies != j) {
		t->jiffies = j;
		t->ns = bpf_ktime_get_coarse_ns();
	}
	return t->ns;
}

/* Precise clock for timestamps that measure round trips. */
static __always_inline __u64 ew_now(void)
{
	if (ew_replay)
		return ew_replay_now_ns;
	return bpf_ktime_get_ns();
}

#endif
