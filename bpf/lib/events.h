/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Events for `edgeward watch`: classified hellos, verdicts, detector hits on
 * the ew_events ring buffer. BPF only. A per-CPU token bucket (ew_evstate)
 * admits EW_EVENT_RATE events a second per CPU with bursts of
 * EW_EVENT_BURST, so a flood costs a counter increment per packet and cannot
 * bury the reader; events over the rate are counted as suppressed, events
 * the ring had no room for as lost.
 */
#ifndef EW_EVENTS_H
#define EW_EVENTS_H

#include "maps.h"
#include "clock.h"

#define EW_EVENT_GAP_NS (1000000000ull / EW_EVENT_RATE) /* one token's worth of time */

/*
 * Take one token from this CPU's bucket, kept as the time it is full again
 * (a token bucket in the form of GCRA, the generic cell rate algorithm): the
 * bucket holds EW_EVENT_BURST - (full_ns - now) / gap tokens, so an event
 * fits while full_ns <= now + (EW_EVENT_BURST - 1) * gap, and each event
 * moves full_ns a gap on. A compare and an add per packet, no division and
 * no rounding: the rate holds however close together packets come. The
 * coarse clock is enough (it steps by a tick, and the tick's tokens come
 * together); a full_ns further ahead than a whole burst means the clock went
 * back (replay), and the bucket starts full.
 */
static __always_inline bool ew_event_admit(struct ew_evstate *s, __u64 now)
{
	__u64 full = s->full_ns;

	if (full > now + EW_EVENT_BURST * EW_EVENT_GAP_NS)
		full = now;
	if (full > now + (EW_EVENT_BURST - 1) * EW_EVENT_GAP_NS)
		return false;
	s->full_ns = (full > now ? full : now) + EW_EVENT_GAP_NS;
	return true;
}

/*
 * Emit one event. tls may be NULL; evidence is for EW_EVT_DETECT. Never
 * fails the caller: what cannot be sent is counted.
 */
static __always_inline void ew_event_emit(__u8 type, __u8 hook, const struct ew_flow_key *k, __u8 reason,
					  __u8 action, __u32 evidence, const struct ew_tls_fp *tls)
{
	__u32 zero = 0;
	struct ew_evstate *s = bpf_map_lookup_elem(&ew_evstate, &zero);
	struct ew_event *e;

	if (!s)
		return;
	if (!ew_event_admit(s, ew_now_coarse())) {
		s->suppressed++;
		return;
	}
	e = bpf_ringbuf_reserve(&ew_events, sizeof(*e), 0);
	if (!e) {
		s->lost++;
		return;
	}
	e->ts_ns = ew_now(); /* the precise clock for what is sent */
	__builtin_memcpy(&e->key, k, sizeof(e->key));
	e->type = type;
	e->hook = hook;
	e->reason = reason;
	e->action = action;
	e->evidence = evidence;
	if (tls)
		__builtin_memcpy(&e->u.tls, tls, sizeof(e->u.tls));
	else
		__builtin_memset(&e->u, 0, sizeof(e->u));
	bpf_ringbuf_submit(e, 0);
	s->sent++;
}

#endif
