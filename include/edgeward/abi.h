/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * edgeward ABI: map keys and values, reasons, actions and counters shared by
 * the BPF programs and user space. Used by BPF and user space; the only header
 * both sides include. Fixed-width fields, explicit padding, byte order in the
 * type, and a size assertion per struct. Bump EW_ABI_VERSION on any change to
 * a pinned map's layout; the CLI refuses pins of another version.
 */
#ifndef EDGEWARD_ABI_H
#define EDGEWARD_ABI_H

#ifdef __BPF__
/* vmlinux.h provides __u8.. __u64, __be16, __be32 */
#else
#include <linux/types.h>
#endif

#define EW_ABI_VERSION 3 /* 2: TLS, detector, feed and event maps; ew_counters 32 wide;
			  * 3: fingerprint feeds' rules in two planes (ew_fp_val.owner, fp_active) */

#define EW_LABEL_LEN 32
#define EW_IFNAME_LEN 16

/* Hooks: where a packet was counted. */
enum ew_hook {
	EW_HOOK_XDP = 0, /* ingress, client -> server */
	EW_HOOK_TC = 1,	 /* egress, server -> client */
	EW_HOOK_MAX = 2,
};

/* Why a packet got its verdict: exactly one per packet per hook. */
enum ew_reason {
	EW_R_NONE = 0,	     /* parsed and tracked, nothing matched */
	EW_R_NOT_IP,	     /* ethertype is neither IPv4 nor IPv6 */
	EW_R_TRUNC_ETH,	     /* shorter than an Ethernet header */
	EW_R_TRUNC_VLAN,     /* VLAN tag cut short */
	EW_R_VLAN_DEPTH,     /* more than two VLAN tags */
	EW_R_TRUNC_IP4,	     /* IPv4 header cut short */
	EW_R_BAD_IP4,	     /* IPv4 version or IHL invalid */
	EW_R_TRUNC_IP6,	     /* IPv6 header or extension header cut short */
	EW_R_IP6_EXT,	     /* IPv6 extension chain longer than we walk */
	EW_R_FRAGMENT,	     /* non-first fragment: no transport header */
	EW_R_TRUNC_L4,	     /* TCP/UDP header cut short or bad TCP offset */
	EW_R_NO_L4,	     /* IP protocol without ports (ICMP, ...) */
	EW_R_PREFIX,	     /* source matched a block-list entry */
	EW_R_FLOW_FULL,	     /* flow entry could not be created */
	EW_R_UNTRACKED,	     /* egress packet of no known flow */
	EW_R_FEED,	     /* source matched a threat feed (edgeward feed) */
	EW_R_RELAY_RTT,	     /* detector: TLS round trip far above TCP round trip */
	EW_R_TUNNEL_MSS,     /* detector: MSS of a known encapsulation */
	EW_R_STACK_MISMATCH, /* detector: TLS client family vs TCP stack disagree */
	EW_R_CONN_RATE,	     /* detector: source prefix opens connections too fast */
	EW_R_FANOUT,	     /* detector: fingerprint seen from too many sources */
	EW_R_FP_RULE,	     /* a ja4/ja3 fingerprint rule matched (edgeward fp) */
	EW_R_TLS_INCOMPLETE, /* hello cut by a gap or out-of-order segment: passed */
	EW_R_TLS_MALFORMED,  /* hello length field overran record, handshake or packet */
	EW_R_TLS_UNSUPPORTED, /* hello too big, lists too long, or no room to reassemble */
	EW_REASON_MAX = 32,
};

/* What was done. ALLOW passes and wins over everything else. */
enum ew_action {
	EW_A_PASS = 0,
	EW_A_FLAG = 1,	     /* passed, counted and marked */
	EW_A_ALLOW = 2,	     /* passed because an allow entry matched */
	EW_A_WOULD_DROP = 3, /* a drop in monitor mode: passed */
	EW_A_DROP = 4,
	EW_ACTION_MAX = 5,
};

/* ew_stats is indexed by this: one slot per (hook, reason, action). */
#define EW_STAT_IDX(hook, reason, action) \
	(((hook) * EW_REASON_MAX + (reason)) * EW_ACTION_MAX + (action))
#define EW_STATS_MAX (EW_HOOK_MAX * EW_REASON_MAX * EW_ACTION_MAX)

/* Event counters, indexed by enum ew_counter in ew_counters. */
enum ew_counter {
	EW_C_FLOW_NEW = 0,   /* flow entries created */
	EW_C_FLOW_RACE,	     /* create lost to another CPU: entry reused */
	EW_C_PFX_LOOKUP,     /* prefix lookups done (new flows, untracked) */
	EW_C_SYN_FP,	     /* SYNs fingerprinted */
	EW_C_OS_MATCH,	     /* SYNs whose signature matched an OS label */
	EW_C_CONN_FULL,	     /* ew_conns entry could not be created */
	EW_C_TLS_HELLO,	     /* ClientHellos fingerprinted */
	EW_C_TLS_REASM,	     /* of which reassembled from several segments */
	EW_C_TLS_RETRANS,    /* retransmitted hello segments ignored */
	EW_C_TLS_NOT_HELLO,  /* first client data was not a ClientHello */
	EW_C_TLS_PORT_SKIP,  /* first data on a port outside ew_tls_ports */
	EW_C_TLS_INCOMPLETE, /* hellos abandoned at a gap or out-of-order segment */
	EW_C_TLS_MALFORMED,  /* hellos with a length field overrunning its container */
	EW_C_TLS_UNSUPPORTED, /* hellos too big or with too long lists, or reassembly full */
	EW_COUNTER_MAX = 32,
};

/* ew_stats value, per CPU. */
struct ew_ctr {
	__u64 packets;
	__u64 bytes;
};

/*
 * Events on the ew_events ring buffer (`edgeward watch`), emitted by
 * bpf/lib/events.h. Each CPU admits at most EW_EVENT_RATE events a second
 * (bursts of EW_EVENT_BURST); the rest are counted as suppressed, and those
 * the ring had no room for as lost (ew_evstate).
 */
#define EW_EVENT_RATE 2000
#define EW_EVENT_BURST 500

enum ew_event_type {
	EW_EVT_HELLO = 1,   /* a ClientHello was classified: u.tls holds it */
	EW_EVT_VERDICT = 2, /* a flow or packet got a flag/drop/would_drop verdict */
	EW_EVT_DETECT = 3,  /* a detector set evidence bits on a connection */
	EW_EVT_MAX,
};

/* ew_evstate value, per CPU: the event token bucket and its counters. */
struct ew_evstate {
	__u64 full_ns;	  /* when the bucket is full again (bpf/lib/events.h) */
	__u64 reserved;
	__u64 sent;	  /* events written to the ring */
	__u64 lost;	  /* events the ring had no room for */
	__u64 suppressed; /* events over the rate limit */
};

/* ew_config[0]: written by the CLI, read by the data path. */
struct ew_config {
	__u32 abi_version; /* EW_ABI_VERSION of the pins */
	__u32 gen;	   /* bumped on every rule change; flows re-evaluate */
	__u64 flags;	   /* reserved */
};

/* ew_pfx4 key: LPM trie key, prefix length then address. */
struct ew_pfx4_key {
	__u32 prefixlen;
	__be32 addr;
};

/* ew_pfx6 key. */
struct ew_pfx6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* ew_pfx4 / ew_pfx6 value: one block-list entry. */
struct ew_pfx_val {
	__u8 action; /* enum ew_action: EW_A_DROP, EW_A_FLAG or EW_A_ALLOW */
	__u8 pad[7];
	__u64 hits;  /* packets that looked this entry up and matched */
	char label[EW_LABEL_LEN];
};

/*
 * ew_flows key, oriented client -> server whatever the hook: on TC egress the
 * addresses and ports are swapped. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d).
 */
struct ew_flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
};

/* Direction index into the per-flow arrays. */
enum ew_dir {
	EW_DIR_C2S = 0, /* client -> server, seen on XDP */
	EW_DIR_S2C = 1, /* server -> client, seen on TC egress */
};

/*
 * ew_flows value, per CPU: each CPU counts its own packets; readers sum
 * packets and bytes, take min(first_ns) and max(last_ns) over non-zero copies
 * and OR the flags.
 */
struct ew_flow {
	__u64 packets[2];
	__u64 bytes[2];
	__u64 first_ns; /* monotonic clock (CLOCK_MONOTONIC) */
	__u64 last_ns;
	__u32 gen;	/* ew_config.gen when verdict was decided */
	__u8 verdict;	/* enum ew_action cached for the flow */
	__u8 reason;	/* enum ew_reason behind verdict */
	__u8 tcp_flags[2]; /* TCP flags seen, per direction */
	__u8 tls;	/* EW_FT_*: the ClientHello is still to be looked for or not */
	__u8 pad[7];
};


/*
 * ew_dropped value, keyed by the flow's struct ew_flow_key: a drop verdict
 * that outlives the flow's LRU entry (bpf/lib/drops.h).
 */
struct ew_drop {
	__u32 gen;   /* ew_config.gen when the drop was decided */
	__u8 reason; /* enum ew_reason behind it */
	__u8 pad[3];
};

/*
 * ew_dropmark: a bit per hash of a flow key, set for every key written to
 * ew_dropped and never cleared, so a clear bit proves the key is not there
 * and spares the data path that lookup (bpf/lib/drops.h). 2^20 bits
 * (128 KiB) against ew_dropped's 2^16 entries. The hash is shared with user
 * space, which marks the keys of pins made before the map existed.
 */
#define EW_DROPMARK_BITS 20
#define EW_DROPMARK_WORDS (1u << (EW_DROPMARK_BITS - 6)) /* __u64 words */

static inline __u32 ew_dropmark_bit(const struct ew_flow_key *k)
{
	const __u16 *w = (const __u16 *)k; /* the key is 2-byte aligned */
	__u32 h = 0;

	for (int i = 0; i < (int)sizeof(*k) / 4; i++)
		h = (h ^ (w[2 * i] | (__u32)w[2 * i + 1] << 16)) * 0x9e3779b1u;
	return h >> (32 - EW_DROPMARK_BITS);
}

/*
 * Evidence bits a flow collects (enum ew_evidence): detectors set them on
 * ew_conn.reasons; `edgeward policy` maps each to an action. Bit i is counted
 * in ew_evcount[i]; ew_evcount[EW_EV_MAX] counts flows with any bit.
 */
enum ew_evidence {
	EW_E_FP_RULE = 1u << 0,	       /* a fingerprint rule matched (ja4/ja3/tcp/os) */
	EW_E_RELAY_RTT = 1u << 1,      /* TLS round trip far above TCP round trip */
	EW_E_TUNNEL_MSS = 1u << 2,     /* MSS of a known encapsulation */
	EW_E_STACK_MISMATCH = 1u << 3, /* TLS client family vs TCP stack disagree */
	EW_E_CONN_RATE = 1u << 4,      /* source prefix opens connections too fast */
	EW_E_FANOUT = 1u << 5,	       /* fingerprint seen from too many sources */
};
#define EW_EV_MAX 6

/* Policy per evidence bit (ew_detcfg.policy[i]). */
enum ew_policy {
	EW_P_FLAG = 0, /* default: mark the flow and count */
	EW_P_DROP = 1, /* drop the flow (would_drop under --monitor) */
	EW_P_OFF = 2,  /* detector disabled: the bit is never set */
};

/* OS families, from p0f labels and from the TLS-fingerprint-to-OS table. */
enum ew_os_family {
	EW_OS_UNKNOWN = 0,
	EW_OS_WINDOWS = 1, /* initial TTL 128 */
	EW_OS_LINUX = 2,   /* 64; Android too */
	EW_OS_MACOS = 3,   /* 64; iOS too (same stack) */
	EW_OS_BSD = 4,	   /* 64 */
	EW_OS_OTHER = 5,
	EW_OS_MAX = 6,
};

/* TLS ClientHello fingerprint of a connection (filled by bpf/lib/tls.h). */
struct ew_tls_fp {
	char ja4[40];  /* "t13d1516h2_8daaf6152771_e5627efa2ab1", NUL-terminated */
	char ja3[33];  /* lowercase hex MD5, NUL-terminated */
	char sni[65];  /* server_name, up to 64 bytes, NUL-terminated */
	char alpn[16]; /* first ALPN protocol, NUL-terminated */
	__u16 versions[8]; /* offered supported_versions, GREASE removed, 0-terminated */
	__u8 state;    /* enum ew_tls_state, owned by tls.h */
	__u8 pad[5];
};

/* ew_flow.tls: whether a flow's first client data is still to be examined. */
#define EW_FT_PENDING 0 /* TCP flow, no client data seen yet on this CPU */
#define EW_FT_DONE 1	/* hello settled (or not TLS): mid-flow packets skip tls.h */

/* ew_tls_fp.state: how far the connection's first ClientHello got. */
enum ew_tls_state {
	EW_TLS_NONE = 0,	/* no hello (yet) */
	EW_TLS_OK = 1,		/* fingerprinted: ja4, ja3, sni, alpn, versions valid */
	EW_TLS_INCOMPLETE = 2,	/* a gap or out-of-order segment ended reassembly */
	EW_TLS_MALFORMED = 3,	/* a length field overran record, handshake or packet */
	EW_TLS_UNSUPPORTED = 4, /* too big (> 8 KiB), too long lists, or no reassembly room */
};

/* ew_fprules key: what a fingerprint rule matches. */
enum ew_fp_rule_kind {
	EW_FR_JA4 = 1,	  /* a full JA4: "t13d1516h2_8daaf6152771_e5627efa2ab1" */
	EW_FR_JA4_AB = 2, /* JA4 a_b: "t13d1516h2_8daaf6152771", any c */
	EW_FR_JA3 = 3,	  /* JA3, lowercase hex MD5 */
};

/* ew_fprules key: kind, then the fingerprint text NUL-padded (not terminated). */
struct ew_fp_key {
	__u8 kind; /* enum ew_fp_rule_kind */
	__u8 pad[3];
	char val[36];
};

/*
 * ew_fprules value: one fingerprint rule. owner 0: an `edgeward fp` rule
 * (or the daemon's), in force with `action`. Otherwise a fingerprint feed's
 * rule (owner: a hash of the feed's name, never 0), in force only in the
 * planes of `planes`, with that plane's act[]; ew_fd_state.fp_active names
 * the plane the data path reads. Like the prefix planes: a reload writes the
 * inactive plane of its rules, flips fp_active, waits a grace period, then
 * makes the retired plane equal to the new one (and deletes rules in no
 * plane), so both planes agree between reloads. `action` is then the same
 * as act[] (for readers that don't look at planes).
 */
struct ew_fp_val {
	__u8 action; /* EW_A_DROP, EW_A_FLAG or EW_A_ALLOW */
	__u8 planes; /* owner != 0: bit p set: in force while fp_active == p */
	__u8 act[2]; /* owner != 0: the action per plane */
	__u32 owner; /* 0, or the owning feed: a hash of its name */
	__u64 hits;  /* hellos that matched */
	char label[EW_LABEL_LEN];
};

/* Whether a rule is in force while fp_active == plane, and its action then. Both sides. */
static inline int ew_fp_val_in_force(const struct ew_fp_val *v, __u32 plane, __u8 *action)
{
	plane &= 1;
	if (!v->owner) {
		*action = v->action;
		return 1;
	}
	*action = v->act[plane];
	return (v->planes >> plane) & 1;
}

/* One record on the ew_events ring buffer. */
struct ew_event {
	__u64 ts_ns;		/* ew_now(): monotonic, or capture time in replay */
	struct ew_flow_key key; /* client -> server */
	__u8 type;		/* enum ew_event_type */
	__u8 hook;		/* enum ew_hook */
	__u8 reason;		/* enum ew_reason */
	__u8 action;		/* enum ew_action */
	__u32 evidence;		/* enum ew_evidence bits (EW_EVT_DETECT) */
	union {
		struct ew_tls_fp tls; /* EW_EVT_HELLO */
		__u8 raw[176];
	} u;
};

/* p0f quirks (names as p0f prints them), bits of ew_tcp_sig.quirks. */
enum ew_quirk {
	EW_Q_DF = 1u << 0,	  /* df: IPv4 don't fragment */
	EW_Q_NZ_ID = 1u << 1,	  /* id+: non-zero IPv4 ID with DF */
	EW_Q_ZERO_ID = 1u << 2,	  /* id-: zero IPv4 ID without DF */
	EW_Q_ECN = 1u << 3,	  /* ecn: ECN bits in IP or TCP */
	EW_Q_NZ_MBZ = 1u << 4,	  /* 0+: IPv4 must-be-zero flag set */
	EW_Q_FLOW = 1u << 5,	  /* flow: IPv6 flow label set */
	EW_Q_ZERO_SEQ = 1u << 6,  /* seq-: sequence number zero */
	EW_Q_NZ_ACK = 1u << 7,	  /* ack+: ACK number without ACK flag (p0f's test) */
	EW_Q_ZERO_ACK = 1u << 8,  /* ack-: zero ACK number with ACK flag */
	EW_Q_NZ_URG = 1u << 9,	  /* uptr+: urgent pointer without URG */
	EW_Q_URG = 1u << 10,	  /* urgf+: URG flag */
	EW_Q_PUSH = 1u << 11,	  /* pushf+: PSH flag */
	EW_Q_TS1_ZERO = 1u << 12, /* ts1-: own timestamp zero */
	EW_Q_TS2_NZ = 1u << 13,	  /* ts2+: peer timestamp non-zero on SYN */
	EW_Q_OPT_EOL_NZ = 1u << 14, /* opt+: non-zero bytes past EOL */
	EW_Q_EXWS = 1u << 15,	  /* exws: window scale above 14 */
	EW_Q_BAD = 1u << 16,	  /* bad: malformed options */
	EW_Q_COUNT = 17,
};
#define EW_Q_V4_ONLY (EW_Q_DF | EW_Q_NZ_ID | EW_Q_ZERO_ID | EW_Q_NZ_MBZ)

#define EW_TCP_OPT_MAX 24 /* options kept in a layout (p0f's MAX_TCP_OPT) */
#define EW_MAX_DIST 35	  /* TTL distance p0f still accepts */

/* How a window is written in a p0f signature (p0f's WIN_TYPE_*). */
enum ew_win_type {
	EW_WIN_NORMAL = 0, /* literal */
	EW_WIN_ANY = 1,	   /* '*' (database only) */
	EW_WIN_MOD = 2,	   /* '%N' (database only) */
	EW_WIN_MSS = 3,	   /* mss*N */
	EW_WIN_MTU = 4,	   /* mtu*N */
};

/*
 * A SYN's p0f signature with the initial TTL guessed: the key of TCP
 * fingerprint rules (ew_tcprule) and of fan-out counting (ew_fanout). All
 * padding zero.
 */
struct ew_tcp_sig {
	__u8 layout[EW_TCP_OPT_MAX]; /* option kinds in order (0 eol, 1 nop, 2 mss...) */
	__u32 quirks;	/* enum ew_quirk bits */
	__u16 mss;	/* MSS option value, 0 if none */
	__u16 win;	/* literal window, or the multiplier for MSS / MTU */
	__u8 ver;	/* 4 or 6 */
	__u8 ittl;	/* guessed initial TTL: 32, 64, 128 or 255 */
	__u8 olen;	/* IPv4 option bytes */
	__u8 ocnt;	/* options in layout */
	__u8 eol_pad;	/* bytes after an EOL option */
	__u8 wscale;	/* window scale option value, 0 if none */
	__u8 win_type;	/* enum ew_win_type: NORMAL, MSS or MTU */
	__u8 pclass;	/* 1 if the SYN carries data */
};

/* TCP SYN fingerprint of a connection (filled by bpf/lib/tcpsig.h). */
struct ew_tcp_fp {
	struct ew_tcp_sig sig;
	__u16 raw_win;	 /* window field as sent */
	__u8 ttl;	 /* TTL / hop limit as received */
	__u8 tos;	 /* DSCP (p0f's "tos") */
	__u16 os_id;	 /* ew_oslabel index of the matched label, 0 none */
	__u8 os_family;	 /* enum ew_os_family of the label */
	__u8 os_flags;	 /* EW_OSM_* */
	__u16 tunnel_mtu; /* MSS + IP/TCP headers when it names a tunnel, else 0 */
	__u8 pad[6];
};

/* ew_tcp_fp.os_flags */
#define EW_OSM_GENERIC 0x01 /* matched a generic (g:) signature */
#define EW_OSM_FUZZY 0x02   /* matched fuzzily (quirks or TTL distance) */
#define EW_OSM_APP 0x04	    /* the label is a user tool (s:!:...) */
#define EW_OSM_SEEN 0x80    /* a SYN was fingerprinted */

/* Timestamps of a connection's handshakes, monotonic ns (ew_now()). */
struct ew_timing {
	__u64 syn_ns;	   /* client SYN in */
	__u64 synack_ns;   /* last SYN-ACK out */
	__u64 hello_ns;	   /* client's first data in (ClientHello) */
	__u64 sflight_ns;  /* last server data out after it */
	__u32 tcp_rtt_us;  /* SYN-ACK out -> client's ACK in */
	__u32 tls_rtt_us;  /* server flight out -> client's next flight in */
	__u8 state;	   /* EW_T_* */
	__u8 pad[7];
};

/* ew_timing.state */
#define EW_T_SYNACK 0x01  /* SYN-ACK sent */
#define EW_T_TCP_RTT 0x02 /* tcp_rtt_us measured */
#define EW_T_HELLO 0x04	  /* client's first flight seen */
#define EW_T_SFLIGHT 0x08 /* server answered it */
#define EW_T_TLS_RTT 0x10 /* tls_rtt_us measured */
#define EW_T_JA4 0x20	  /* JA4 detectors (stack_mismatch, fanout) ran */

/*
 * ew_conns value: what edgeward learnt about one connection, written only on
 * the packets that carry it (SYN, handshake, first data), never mid-flow.
 * Shared by all CPUs; key is the flow's struct ew_flow_key.
 */
struct ew_conn {
	struct ew_tls_fp tls;
	struct ew_tcp_fp tcp;
	struct ew_timing t;
	__u32 reasons; /* enum ew_evidence bits */
	__u8 verdict;  /* enum ew_action decided from this evidence */
	__u8 pad[3];
};

/* Detector defaults (measurements behind them: README, "Detectors"). */
#define EW_DEF_RTT_GAP_US 50000
#define EW_DEF_RTT_RATIO_PCT 300
#define EW_DEF_RATE_PER_S 50
#define EW_DEF_RATE_BURST 100
#define EW_DEF_PFX4_LEN 24
#define EW_DEF_PFX6_LEN 48
#define EW_DEF_FANOUT_SOURCES 1000

/* ew_detcfg[0]: detector thresholds and the policy, written by the CLI. */
struct ew_detect_cfg {
	__u32 rtt_gap_us;     /* relay_rtt: tls_rtt - tcp_rtt at least this */
	__u32 rtt_ratio_pct;  /* relay_rtt: and tls_rtt * 100 / tcp_rtt at least this */
	__u32 rate_per_s;     /* conn_rate: sustained new connections per prefix per second */
	__u32 rate_burst;     /* conn_rate: bucket depth */
	__u8 pfx4_len;	      /* conn_rate: IPv4 prefix length */
	__u8 pfx6_len;	      /* conn_rate: IPv6 prefix length */
	__u8 policy[EW_EV_MAX]; /* enum ew_policy per evidence bit */
	__u32 fanout_sources; /* fanout: distinct sources per fingerprint */
	__u32 set;	      /* non-zero once the CLI wrote defaults */
};

/* Fill c with the defaults (policy: flag everything). Used by BPF and user space. */
static inline void ew_detect_cfg_init(struct ew_detect_cfg *c)
{
	__builtin_memset(c, 0, sizeof(*c));
	c->rtt_gap_us = EW_DEF_RTT_GAP_US;
	c->rtt_ratio_pct = EW_DEF_RTT_RATIO_PCT;
	c->rate_per_s = EW_DEF_RATE_PER_S;
	c->rate_burst = EW_DEF_RATE_BURST;
	c->pfx4_len = EW_DEF_PFX4_LEN;
	c->pfx6_len = EW_DEF_PFX6_LEN;
	c->fanout_sources = EW_DEF_FANOUT_SOURCES;
	c->set = 1;
}

/* ew_tcprules key: a SYN rule (`edgeward fp add tcp SIG|os LABEL`); value struct ew_fp_val. */
enum ew_tcp_rule_kind {
	EW_TR_SIG = 1, /* val: struct ew_tcp_sig */
	EW_TR_OS = 2,  /* val: an ew_os_label name, NUL-padded */
};

struct ew_tcp_rule_key {
	__u32 kind; /* enum ew_tcp_rule_kind */
	char val[56];
};

/* ew_oskey key: an option layout; value: the span of ew_ossig to check. */
struct ew_os_key {
	__u8 layout[EW_TCP_OPT_MAX];
	__u8 ocnt;
	__u8 pad[3];
};

struct ew_os_span {
	__u32 first; /* index into ew_ossig */
	__u32 count;
};

/* ew_ossig value: one compiled p0f.fp [tcp:request] signature. */
struct ew_os_sig {
	__u32 quirks;	 /* enum ew_quirk */
	__u16 mss;	 /* when !(any & EW_OSA_MSS) */
	__u16 win;	 /* value, modulus or multiplier per win_type */
	__u16 label;	 /* ew_oslabel index */
	__u8 ver;	 /* 0 any, 4, 6 */
	__u8 ittl;	 /* initial TTL (+ distance) of the signature */
	__u8 olen;
	__u8 eol_pad;
	__u8 wscale;
	__u8 win_type;	 /* enum ew_win_type */
	__u8 pclass;
	__u8 any;	 /* EW_OSA_*: wildcards */
	__u8 flags;	 /* EW_OSS_* */
	__u8 pad;
};

#define EW_OSA_MSS 0x01
#define EW_OSA_WSCALE 0x02
#define EW_OSA_PCLASS 0x04
#define EW_OSS_GENERIC 0x01 /* g: label */
#define EW_OSS_BAD_TTL 0x02 /* "64-": TTL is random */
#define EW_OSS_APP 0x04	    /* s:!: label (user tool, no fuzzy match) */

#define EW_OS_SIGS_MAX 4096
#define EW_OS_LABELS_MAX 1024

/* ew_oslabel value: a label as p0f prints it ("Linux 3.11 and newer"). */
struct ew_os_label {
	char name[56];
	__u8 family; /* enum ew_os_family */
	__u8 flags;  /* EW_OSS_GENERIC, EW_OSS_APP */
	__u8 pad[6];
};

/* ew_tunmtu value: the link an MTU betrays (key: __u32 MTU). */
struct ew_tunnel {
	char name[32];
};

/* ew_tlsos key: a JA4 string, NUL-padded; value: the OS family it implies. */
struct ew_ja4_key {
	char ja4[40];
};

struct ew_tls_os {
	__u8 family; /* enum ew_os_family */
	__u8 pad[7];
};

/* ew_rate key: a source prefix (address masked to the configured length). */
struct ew_rate_key {
	__u8 addr[16];
	__u8 family;
	__u8 plen;
	__u8 pad[2];
};

/* ew_rate value: a token bucket, tokens in milli-connections. */
struct ew_bucket {
	__u64 tokens_m;
	__u64 last_ns;
};

/* ew_fanout key: a fingerprint, kind then a JA4 string or a struct ew_tcp_sig. */
enum ew_fp_kind {
	EW_FK_JA4 = 1,
	EW_FK_TCP = 2,
};

struct ew_fan_key {
	__u32 kind; /* enum ew_fp_kind */
	__u8 fp[40];
};

#define EW_HLL_P 8
#define EW_HLL_M (1u << EW_HLL_P)

/*
 * ew_fanout value: connections, flagged connections and a HyperLogLog of
 * source addresses (2^8 registers). inv_sum is sum(1 - 2^-reg) in units of
 * 2^-32, kept up to date (zero in a fresh entry) so the estimate costs O(1)
 * per connection.
 */
struct ew_fanout {
	__u64 conns;
	__u64 flagged;	/* connections with any evidence bit */
	__u64 inv_sum;
	__u32 nonzero;	/* registers set */
	__u32 estimate; /* distinct sources, last computed */
	__u8 reg[EW_HLL_M];
};

/* ew_ifaces: interfaces edgeward is attached to, written by the CLI only. */
struct ew_iface {
	char name[EW_IFNAME_LEN];
	__u64 attached_ns;    /* CLOCK_REALTIME of the first attach */
	__u8 xdp_mode;	      /* 1 native, 2 generic */
	__u8 monitor;	      /* drops are counted as would-drop */
	__u8 clsact_created;  /* edgeward created the clsact qdisc */
	__u8 pad[5];
};


/*
 * Threat feeds (bpf/lib/feeds.h, user/feeds.c). Every table exists twice, as
 * plane 0 and plane 1; ew_fd_state.active names the plane the data path reads.
 * A reload writes the other plane, flips `active` in one aligned store, waits
 * an RCU grace period, then brings the old plane level with the new one.
 * An address's feeds are a class: the set of feeds holding it (u64 mask) and
 * the action that set decides (allow > drop > flag).
 */
#define EW_FEEDS_MAX 64		  /* feeds loaded at once (bits of ew_fd_class.feeds) */
#define EW_FD_CLASS_MAX 32768	  /* classes per plane; class 0 is "no feed" */
#define EW_FD4_HOST 0x8000	  /* ew_fd4_24 entry flag: /25../32 entries in this /24 */
#define EW_FD4_SLOTS (1u << 24)	  /* ew_fd4_24: u16 entries per plane, one per /24 */
#define EW_FD6_L1_BITS 20	  /* ew_fd6_l1: u32 entries per plane, one per /20 */
#define EW_FD6_LENS_MAX 32	  /* distinct IPv6 prefix lengths per plane */

/*
 * ew_fd_state[0] (mmapable): the active plane and the IPv6 lengths per plane;
 * fp_active is the fingerprint rules' own (struct ew_fp_val), flipped apart
 * from `active` so that neither kind of reload depends on the other's state.
 */
struct ew_fd_state {
	__u32 active;			     /* 0 or 1, written with one aligned store */
	__u32 serial;			     /* bumped by each swap; user space's cache of the hashes names it */
	__u32 n4;			     /* entries of ew_fd4_32 in the active set */
	__u32 n6;			     /* entries of ew_fd6 in the active set */
	__u8 lens6[2][EW_FD6_LENS_MAX]; /* per plane: prefix lengths, longest first */
	__u8 nlens6[2];
	__u8 fp_active; /* 0 or 1: the plane of feed-owned fingerprint rules in force */
	__u8 pad[5];
};

/* ew_fd_cls[plane * EW_FD_CLASS_MAX + class] (mmapable). */
struct ew_fd_class {
	__u64 feeds; /* bit i: feed id i (ew_feeds[i]) holds the address */
	__u8 action; /* enum ew_action: the winner among those feeds */
	__u8 pad[7];
};

/* ew_fd4_32 (key __be32 address) and ew_fd6 (key ew_pfx6_key) value: class per plane. */
struct ew_fd_slot {
	__u16 cls[2];
	__u16 pad[2];
};

/* ew_feeds[id]: one loaded feed, written by the CLI only. */
struct ew_feed {
	char name[32];
	char source[128];  /* file it was loaded from (truncated) */
	__u8 sha256[32];   /* of that file */
	__u64 loaded_ns;   /* CLOCK_REALTIME of the load */
	__u64 hits_base;   /* hits of retired classes, folded in at each reload */
	__u64 mem_bytes;   /* estimated kernel memory of its entries */
	__u32 entries4;
	__u32 entries6;
	__u32 rejected;    /* lines rejected at the last load */
	__u8 action;	   /* enum ew_action */
	__u8 format;	   /* enum ew_feed_fmt of user/edgeward.h */
	__u8 used;
	__u8 pad[1];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct ew_ctr) == 16, "ew_ctr size");
_Static_assert(sizeof(struct ew_evstate) == 40, "ew_evstate size");
_Static_assert(sizeof(struct ew_event) == 232, "ew_event size");
_Static_assert(sizeof(struct ew_config) == 16, "ew_config size");
_Static_assert(sizeof(struct ew_pfx4_key) == 8, "ew_pfx4_key size");
_Static_assert(sizeof(struct ew_pfx6_key) == 20, "ew_pfx6_key size");
_Static_assert(sizeof(struct ew_pfx_val) == 48, "ew_pfx_val size");
_Static_assert(sizeof(struct ew_flow_key) == 40, "ew_flow_key size");
_Static_assert(sizeof(struct ew_flow) == 64, "ew_flow size");
_Static_assert(sizeof(struct ew_drop) == 8, "ew_drop size");
_Static_assert(sizeof(struct ew_iface) == 32, "ew_iface size");
_Static_assert(sizeof(struct ew_fd_state) == 88, "ew_fd_state size");
_Static_assert(sizeof(struct ew_fd_class) == 16, "ew_fd_class size");
_Static_assert(sizeof(struct ew_fd_slot) == 8, "ew_fd_slot size");
_Static_assert(sizeof(struct ew_feed) == 232, "ew_feed size");
_Static_assert(sizeof(struct ew_tls_fp) == 176, "ew_tls_fp size");
_Static_assert(sizeof(struct ew_fp_key) == 40, "ew_fp_key size");
_Static_assert(sizeof(struct ew_fp_val) == 48, "ew_fp_val size");
_Static_assert(sizeof(struct ew_conn) % 8 == 0, "ew_conn size");
_Static_assert(sizeof(struct ew_tcp_sig) == 40, "ew_tcp_sig size");
_Static_assert(sizeof(struct ew_tcp_fp) == 56, "ew_tcp_fp size");
_Static_assert(sizeof(struct ew_timing) == 48, "ew_timing size");
_Static_assert(sizeof(struct ew_detect_cfg) == 32, "ew_detect_cfg size");
_Static_assert(sizeof(struct ew_os_key) == 28, "ew_os_key size");
_Static_assert(sizeof(struct ew_tcp_rule_key) == 60, "ew_tcp_rule_key size");
_Static_assert(sizeof(struct ew_os_span) == 8, "ew_os_span size");
_Static_assert(sizeof(struct ew_os_sig) == 20, "ew_os_sig size");
_Static_assert(sizeof(struct ew_os_label) == 64, "ew_os_label size");
_Static_assert(sizeof(struct ew_tunnel) == 32, "ew_tunnel size");
_Static_assert(sizeof(struct ew_ja4_key) == 40, "ew_ja4_key size");
_Static_assert(sizeof(struct ew_tls_os) == 8, "ew_tls_os size");
_Static_assert(sizeof(struct ew_rate_key) == 20, "ew_rate_key size");
_Static_assert(sizeof(struct ew_bucket) == 16, "ew_bucket size");
_Static_assert(sizeof(struct ew_fan_key) == 44, "ew_fan_key size");
_Static_assert(sizeof(struct ew_fanout) == 32 + EW_HLL_M, "ew_fanout size");
#endif

#endif /* EDGEWARD_ABI_H */
