/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test packet builder, used by the C tests, benchmarks and anything that needs
 * well-formed (or deliberately broken) frames. User space only.
 *
 * A frame is described by a struct pkt_spec whose zero fields take defaults,
 * so a test row is one line:
 *
 *	uint8_t buf[PKT_MAX];
 *	struct pkt_info info;
 *	struct pkt_spec s = { .family = 6, .tcp_flags = PKT_SYN,
 *			      .tcp_opts = PKT_B(PKT_OPT_MSS(1460), PKT_OPT_SACKOK),
 *			      .payload = PKT_S("hello") };
 *	int len = pkt_build(&s, buf, sizeof(buf), &info);   // -1 on error
 *
 * Layout: Ethernet, up to 3 VLAN tags, IPv4 (options, fragment fields) or IPv6
 * (extension-header chain), then TCP, UDP, ICMP/ICMPv6 echo, or raw bytes for
 * any other protocol, then the payload. Lengths and checksums (IPv4 header,
 * TCP, UDP, ICMP, ICMPv6) are correct, so frames can be replayed live. A
 * non-first fragment (IPv4 frag_off != 0, or an IPv6 fragment header with an
 * offset) carries the payload right after the IP layer, with no L4 header.
 *
 * Defaults (field left 0 / NULL):
 *	family 4 (6 if saddr contains ':'), proto TCP, tcp_flags SYN, seq 1,
 *	win 64240, ttl 64, sport 40000, dport 443,
 *	saddr 198.18.0.1 / 2001:db8::1, daddr 198.18.0.2 / 2001:db8::2,
 *	MACs 02:00:00:00:00:01 -> 02:00:00:00:00:02, VLAN TPID 0x8100.
 * To send a TCP segment with no flags set, use tcp_flags = PKT_NOFLAGS.
 *
 * Breaking a frame on purpose: ip_version, ip4_ihl and tcp_doff override the
 * computed header fields (checksums still cover the bytes written); ethertype
 * replaces the IP ethertype (the IP layer is then omitted and the payload
 * follows Ethernet/VLAN directly); cut truncates the built frame one byte
 * before the end of a layer (see enum pkt_layer), cut_len at an exact length.
 *
 * After a build, struct pkt_info holds where each layer starts and ends, so a
 * test can truncate (pkt_cut_len) or patch bytes itself.
 */
#ifndef EW_TEST_PKT_H
#define EW_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 9216	 /* big enough for any frame the builder makes */
#define PKT_VLAN_MAX 3	 /* 3 is one more than the data path accepts */
#define PKT_EXT_MAX 10	 /* IPv6 extension headers in one chain */

/* TCP flags (byte 13 of the header). */
#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10
#define PKT_URG 0x20
#define PKT_ECE 0x40
#define PKT_CWR 0x80
#define PKT_NOFLAGS 0x100 /* a segment with no flags (tcp_flags 0 means SYN) */

/* Raw bytes for a spec field: PKT_B(1, 2, 3) or PKT_S("text"). */
struct pkt_bytes {
	const void *p;
	size_t len;
};
#define PKT_B(...) \
	((struct pkt_bytes){ (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }) })
#define PKT_S(str) ((struct pkt_bytes){ (str), sizeof(str) - 1 })

/* TCP option bytes, for use inside PKT_B(). The builder pads to 4 with EOL (0). */
#define PKT_OPT_EOL 0
#define PKT_OPT_NOP 1
#define PKT_OPT_MSS(v) 2, 4, (uint8_t)((v) >> 8), (uint8_t)(v)
#define PKT_OPT_WS(s) 3, 3, (uint8_t)(s)
#define PKT_OPT_SACKOK 4, 2
#define PKT_U32_(v) (uint8_t)((v) >> 24), (uint8_t)((v) >> 16), (uint8_t)((v) >> 8), (uint8_t)(v)
#define PKT_OPT_TS(val, ecr) 8, 10, PKT_U32_(val), PKT_U32_(ecr)
/* Linux's SYN options: MSS 1460, SACK-permitted, timestamps, NOP, window scale 7. */
#define PKT_OPTS_LINUX_SYN \
	PKT_B(PKT_OPT_MSS(1460), PKT_OPT_SACKOK, PKT_OPT_TS(1, 0), PKT_OPT_NOP, PKT_OPT_WS(7))

/* IPv6 extension headers; PKT_X_NONE ends the chain. */
enum pkt_ext_type {
	PKT_X_NONE = 0,
	PKT_X_HOP,  /* hop-by-hop options (next header 0) */
	PKT_X_RT,   /* routing, type 0, segments left 0 (43) */
	PKT_X_DST,  /* destination options (60) */
	PKT_X_FRAG, /* fragment (44), uses frag_off / mf */
	PKT_X_AH,   /* authentication header (51), zero ICV */
};

struct pkt_ip6_ext {
	enum pkt_ext_type type;
	uint16_t len;	   /* bytes; 0: minimum (8, AH 12). Multiple of 8 (AH: of 4) */
	uint16_t frag_off; /* PKT_X_FRAG: offset in 8-byte units */
	bool mf;	   /* PKT_X_FRAG: more fragments */
	uint32_t id;	   /* PKT_X_FRAG: identification */
};

/* Layers, for truncation and struct pkt_info. */
enum pkt_layer {
	PKT_L_NONE = 0,
	PKT_L_ETH,     /* Ethernet header (14 bytes) */
	PKT_L_VLAN,    /* all VLAN tags */
	PKT_L_IP,      /* fixed IP header (IPv4 20, IPv6 40 bytes) */
	PKT_L_IP_OPTS, /* IPv4 options or the IPv6 extension-header chain */
	PKT_L_L4,      /* fixed L4 header (TCP 20, UDP 8, ICMP 8) */
	PKT_L_L4_OPTS, /* TCP options */
	PKT_L_PAYLOAD, /* payload */
	PKT_L_MAX,
};

struct pkt_spec {
	/* Layer 2 */
	int vlans;		       /* number of VLAN tags, 0..PKT_VLAN_MAX */
	uint16_t vlan_tpid[PKT_VLAN_MAX]; /* 0x8100 (default) or 0x88a8, outermost first */
	uint16_t vlan_id[PKT_VLAN_MAX];	  /* 12-bit VID; 0 defaults to 100 + index */
	uint16_t ethertype;	       /* non-zero: no IP layer, this ethertype */

	/* Layer 3 */
	int family;	    /* 4 or 6; 0: from saddr, else 4 */
	const char *saddr;  /* textual address */
	const char *daddr;
	uint8_t proto;	    /* IPPROTO_*; 0: TCP */
	uint8_t ttl;	    /* TTL / hop limit; 0: 64 */
	uint8_t tos;	    /* IPv4 TOS / IPv6 traffic class */
	uint16_t ip_id;	    /* IPv4 identification */
	uint8_t ip_version; /* override the version nibble */
	uint8_t ip4_ihl;    /* override IHL (32-bit words) */
	uint8_t ip4_opts_len; /* bytes of IPv4 options (NOPs then EOL), rounded up to 4, max 40 */
	uint16_t frag_off;  /* IPv4 fragment offset, 8-byte units */
	bool mf;	    /* IPv4 more fragments */
	bool df;	    /* IPv4 don't fragment */
	struct pkt_ip6_ext ip6_ext[PKT_EXT_MAX]; /* chain, ended by PKT_X_NONE */

	/* Layer 4 */
	uint16_t sport, dport; /* host order */
	uint16_t tcp_flags;    /* PKT_* flags; 0: SYN; PKT_NOFLAGS: none */
	uint32_t seq, ack;     /* seq 0: 1 */
	uint16_t win;	       /* 0: 64240 */
	uint16_t urg;
	uint8_t tcp_doff;      /* override data offset (32-bit words) */
	struct pkt_bytes tcp_opts; /* raw option bytes, padded to 4 with EOL, max 40 */
	uint16_t icmp_id, icmp_seq; /* ICMP / ICMPv6 echo request */

	/* Payload: the bytes, then `fill` more bytes of a counting pattern. */
	struct pkt_bytes payload;
	size_t fill;

	/* Truncate after building: one byte short of the end of `cut`, or at cut_len. */
	enum pkt_layer cut;
	size_t cut_len;

	/* Ethernet addresses; all-zero: defaults. */
	uint8_t smac[6], dmac[6];
};

/* Where each layer of the built frame lies (before truncation). */
struct pkt_info {
	size_t off[PKT_L_MAX]; /* start offset of each layer */
	size_t end[PKT_L_MAX]; /* end offset; off == end when a layer is absent */
	size_t full_len;       /* length before truncation */
	size_t len;	       /* length returned */
	int family;	       /* 4 or 6, 0 when no IP layer */
	uint8_t proto;	       /* transport protocol written */
	uint8_t saddr[16], daddr[16]; /* v4 in the first 4 bytes, network order */
	uint16_t sport, dport; /* host order, as written (0 without TCP/UDP) */
};

/*
 * Build the frame described by s into buf (cap bytes). Returns its length
 * (after any truncation), or -1 with a message on stderr when the spec is
 * invalid or the frame does not fit. info may be NULL.
 */
int pkt_build(const struct pkt_spec *s, void *buf, size_t cap, struct pkt_info *info);

/* Length that cuts the frame one byte short of the end of layer l (0 if absent). */
size_t pkt_cut_len(const struct pkt_info *info, enum pkt_layer l);

/* Internet checksum of len bytes, folded, starting from partial sum `sum`. */
uint16_t pkt_csum(const void *data, size_t len, uint32_t sum);
/* Partial sum of the TCP/UDP/ICMPv6 pseudo header. */
uint32_t pkt_pseudo_sum(int family, const uint8_t *saddr, const uint8_t *daddr, uint8_t proto,
			uint32_t l4_len);

/* Human-readable name of a layer, for messages. */
const char *pkt_layer_name(enum pkt_layer l);

#endif
