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

/* Cheap clock for per-packet bookkeeping (last seen). */
static __always_inline __u64 ew_now_coarse(void)
{
	if (ew_replay)
		return ew_replay_now_ns;
	return bpf_ktime_get_coarse_ns();
}

/* Precise clock for timestamps that measure round trips. */
static __always_inline __u64 ew_now(void)
{
	if (ew_replay)
		return ew_replay_now_ns;
	return bpf_ktime_get_ns();
}

#endif
