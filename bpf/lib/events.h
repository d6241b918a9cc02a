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

/* Take one token from this CPU's bucket, refilled at EW_EVENT_RATE. */
static __always_inline bool ew_event_admit(struct ew_evstate *s, __u64 now)
{
	const __u64 cap = (__u64)EW_EVENT_BURST * 1000;
	__u64 el = now - s->last_ns;

	if (now < s->last_ns || el >= 1000000000ull)
		s->tokens_m = cap;
	else
		s->tokens_m += el * EW_EVENT_RATE / 1000000; /* ns * ev/s -> milli-events */
	if (s->tokens_m > cap)
		s->tokens_m = cap;
	s->last_ns = now;
	if (s->tokens_m < 1000)
		return false;
	s->tokens_m -= 1000;
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
	__u64 now = ew_now();

	if (!s)
		return;
	if (!ew_event_admit(s, now)) {
		s->suppressed++;
		return;
	}
	e = bpf_ringbuf_reserve(&ew_events, sizeof(*e), 0);
	if (!e) {
		s->lost++;
		return;
	}
	e->ts_ns = now;
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
