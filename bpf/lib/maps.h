/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Every map edgeward pins, in one place. BPF only. Maps are pinned by name
 * under the pin directory (default /sys/fs/bpf/edgeward) and shared by every
 * attached interface; layouts come from include/edgeward/abi.h.
 */
#ifndef EW_MAPS_H
#define EW_MAPS_H

#include "edgeward/abi.h"
#include "tls_scratch.h"
#include "detect_scratch.h"

/* Packets and bytes per (hook, reason, action); index EW_STAT_IDX(). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EW_STATS_MAX);
	__type(key, __u32);
	__type(value, struct ew_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_stats SEC(".maps");

/* Event counters indexed by enum ew_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EW_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_counters SEC(".maps");

/* Events for `edgeward watch` (struct ew_event), rate-limited by ew_evstate. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_events SEC(".maps");

/* Per-CPU event token bucket with sent, lost and suppressed counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ew_evstate);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_evstate SEC(".maps");

/* One entry: ABI version and the rule generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ew_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_config SEC(".maps");

/* IPv4 source block list, longest prefix wins. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 21);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ew_pfx4_key);
	__type(value, struct ew_pfx_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_pfx4 SEC(".maps");

/* IPv6 source block list, longest prefix wins. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 19);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ew_pfx6_key);
	__type(value, struct ew_pfx_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_pfx6 SEC(".maps");

/* Flow table, client -> server key, per-CPU counters; LRU bounds memory. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, struct ew_flow_key);
	__type(value, struct ew_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_flows SEC(".maps");

/* Flows given a drop verdict, read when ew_flows misses (bpf/lib/drops.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, struct ew_flow_key);
	__type(value, struct ew_drop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_dropped SEC(".maps");

/* Bits over flow-key hashes: clear means "not in ew_dropped" (bpf/lib/drops.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EW_DROPMARK_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_dropmark SEC(".maps");

/* Per-connection evidence (fingerprints, timings, reasons), shared by CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, struct ew_flow_key);
	__type(value, struct ew_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_conns SEC(".maps");

/* Attached interfaces by ifindex; written by the CLI, never by the data path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct ew_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_ifaces SEC(".maps");

/* Fingerprint rules (edgeward fp): JA4, JA4 a_b or JA3 -> action, hits, label. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, struct ew_fp_key);
	__type(value, struct ew_fp_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fprules SEC(".maps");

/* Server ports whose first client data is examined for a hello; no key 0: all. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_tls_ports SEC(".maps");

/* Hellos being reassembled from several segments, by flow; private, not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ew_flow_key);
	__type(value, struct ew_tls_reasm);
} ew_tls_reasm SEC(".maps");

/*
 * SHA-256 digests of the strings JA4 b and c hash, keyed by the padded
 * string (EW_TLS_DKEY bytes, zeros after the padding; longer strings are
 * not cached): connections from one client build hash the same sorted
 * lists, and a lookup costs far less than the blocks. JA3's MD5 is not
 * cached: its string keeps the extension order, which browsers shuffle per
 * connection. Private, not pinned.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ew_tls_dkey);
	__type(value, struct ew_tls_digest);
} ew_tls_digests SEC(".maps");

/* Per-CPU working memory of the hello parser; private, not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ew_tls_scratch);
} ew_tls_scr SEC(".maps");

/* Per-CPU copies of the flow key handed to global functions (EW_KEY_ARG), not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct ew_flow_key);
} ew_keyscr SEC(".maps");

/* Threat feeds: the active plane and per-plane IPv6 lengths (struct ew_fd_state). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ew_fd_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd_state SEC(".maps");

/* IPv4 feeds, DIR-24-8 style: u16 class per /24, 2 planes, 4 entries per element. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * EW_FD4_SLOTS / 4);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd4_24 SEC(".maps");

/* IPv4 feed addresses under /24s flagged EW_FD4_HOST (/25../32 expanded). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 21);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __be32);
	__type(value, struct ew_fd_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd4_32 SEC(".maps");

/* IPv6 feeds: u32 mask of ew_fd_state.lens6 indexes present per /20, 2 planes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * (1u << EW_FD6_L1_BITS) / 2);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd6_l1 SEC(".maps");

/* IPv6 feed prefixes, one hash for all lengths, key (length, masked address). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 19);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ew_pfx6_key);
	__type(value, struct ew_fd_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd6 SEC(".maps");

/* Feed classes (feed set, action), index plane * EW_FD_CLASS_MAX + class. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * EW_FD_CLASS_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ew_fd_class);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd_cls SEC(".maps");

/* Lookups that matched each class, per CPU; the CLI folds them into feed hits. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * EW_FD_CLASS_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fd_hits SEC(".maps");

/* Loaded feeds by id (struct ew_feed); written by the CLI only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EW_FEEDS_MAX);
	__type(key, __u32);
	__type(value, struct ew_feed);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_feeds SEC(".maps");

/* Detector thresholds and the reason -> action policy; one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ew_detect_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_detcfg SEC(".maps");

/* Flows that got each evidence bit, and [EW_EV_MAX] any bit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EW_EV_MAX + 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_evcount SEC(".maps");

/* p0f signatures by option layout: which span of ew_ossig to check. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EW_OS_SIGS_MAX);
	__type(key, struct ew_os_key);
	__type(value, struct ew_os_span);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_oskey SEC(".maps");

/* Compiled p0f [tcp:request] signatures, in database order. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EW_OS_SIGS_MAX);
	__type(key, __u32);
	__type(value, struct ew_os_sig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_ossig SEC(".maps");

/* OS labels by index (0 unused), as p0f prints them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EW_OS_LABELS_MAX);
	__type(key, __u32);
	__type(value, struct ew_os_label);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_oslabel SEC(".maps");

/* Link MTUs (MSS + IP/TCP headers) that betray a tunnel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct ew_tunnel);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_tunmtu SEC(".maps");

/* TLS fingerprint (JA4) -> OS family it implies. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ew_ja4_key);
	__type(value, struct ew_tls_os);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_tlsos SEC(".maps");

/* New-connection token bucket per source prefix. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 17);
	__type(key, struct ew_rate_key);
	__type(value, struct ew_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_rate SEC(".maps");

/* SYN fingerprint rules: exact p0f signature or OS label -> action. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ew_tcp_rule_key);
	__type(value, struct ew_fp_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_tcprules SEC(".maps");

/* Per fingerprint (JA4, TCP signature): connections and distinct sources. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 14);
	__type(key, struct ew_fan_key);
	__type(value, struct ew_fanout);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ew_fanout SEC(".maps");

/* SYN option walk working memory (struct ew_optwalk); not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ew_optwalk);
} ew_det_scr SEC(".maps");

#endif
