// SPDX-License-Identifier: BSD-2-Clause
/*
 * The replay engine: the data path's own compiled object, loaded privately
 * (no pins), runs a capture packet by packet with BPF_PROG_TEST_RUN. Each
 * packet goes the way the server's NIC would have seen it: client -> server
 * through the XDP program, server -> client through TC egress. Before each
 * packet the capture timestamp is written to ew_replay_now_ns (.bss), so
 * time-based logic answers as it would live. Used by `edgeward replay` and
 * the tests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
/* pcap/bpf.h redefines struct bpf_insn from linux/bpf.h: take only its DLT_ names. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
struct bpf_program;
#include <pcap/dlt.h>
#include <pcap/pcap.h>
#include "edgeward.h"
#include "edgeward.skel.h"

/* BPF_PROG_TEST_RUN takes one page less head- and tailroom: longer frames are clipped. */
#define EW_TEST_RUN_MAX 3500

struct ew_replay {
	struct edgeward_bpf *skel;
	struct ew_replay_flow *flows;
	size_t nflows, cap;
	uint64_t first_ts, last_now;
	uint64_t packets, not_flow, clipped;
	uint64_t drops[EW_REASON_MAX]; /* XDP drops by reason, as last read */
};

/* Ports that name the server side of a flow without a SYN to tell. */
static const uint16_t server_ports[] = { 443, 80, 8443, 8080, 853, 4433, 993, 995, 465, 587, 25, 22 };

/* The 5-tuple of a frame, as user space sees it (no verdicts here). */
struct tuple {
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport; /* host order */
	uint8_t proto, family, tcp_flags;
};

/* Parse Ethernet, two VLAN tags, IPv4/IPv6 (extension headers) and TCP/UDP. */
static bool frame_tuple(const uint8_t *d, size_t len, struct tuple *t)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	size_t off = 14;
	uint16_t type;
	uint8_t next;

	memset(t, 0, sizeof(*t));
	if (len < 14)
		return false;
	type = d[12] << 8 | d[13];
	for (int i = 0; i < 2 && (type == 0x8100 || type == 0x88a8); i++) {
		if (len < off + 4)
			return false;
		type = d[off + 2] << 8 | d[off + 3];
		off += 4;
	}
	if (type == ETH_P_IP) {
		size_t hl;

		if (len < off + 20 || (d[off] >> 4) != 4)
			return false;
		hl = (d[off] & 0xf) * 4;
		if (hl < 20 || ((d[off + 6] << 8 | d[off + 7]) & 0x1fff))
			return false; /* bad header, or a non-first fragment: no ports */
		t->family = 4;
		memcpy(t->saddr, mapped, 12);
		memcpy(t->daddr, mapped, 12);
		memcpy(t->saddr + 12, d + off + 12, 4);
		memcpy(t->daddr + 12, d + off + 16, 4);
		next = d[off + 9];
		off += hl;
	} else if (type == ETH_P_IPV6) {
		if (len < off + 40 || (d[off] >> 4) != 6)
			return false;
		t->family = 6;
		memcpy(t->saddr, d + off + 8, 16);
		memcpy(t->daddr, d + off + 24, 16);
		next = d[off + 6];
		off += 40;
		for (int i = 0; i < 8 && (next == 0 || next == 43 || next == 60 || next == 44 || next == 51); i++) {
			if (len < off + 8)
				return false;
			if (next == 44) {
				if ((d[off + 2] << 8 | d[off + 3]) & 0xfff8)
					return false;
				next = d[off];
				off += 8;
			} else if (next == 51) {
				uint8_t n = d[off];

				off += (d[off + 1] + 2) * 4;
				next = n;
			} else {
				uint8_t n = d[off];

				off += (d[off + 1] + 1) * 8;
				next = n;
			}
		}
	} else {
		return false;
	}
	if ((next != IPPROTO_TCP && next != IPPROTO_UDP) || len < off + (next == IPPROTO_TCP ? 14 : 8))
		return false;
	t->proto = next;
	t->sport = d[off] << 8 | d[off + 1];
	t->dport = d[off + 2] << 8 | d[off + 3];
	if (next == IPPROTO_TCP)
		t->tcp_flags = d[off + 13];
	return true;
}

static bool same_way(const struct ew_replay_flow *f, const struct tuple *t)
{
	return !memcmp(f->key.saddr, t->saddr, 16) && !memcmp(f->key.daddr, t->daddr, 16) &&
	       ntohs(f->key.sport) == t->sport && ntohs(f->key.dport) == t->dport;
}

static bool reverse_way(const struct ew_replay_flow *f, const struct tuple *t)
{
	return !memcmp(f->key.saddr, t->daddr, 16) && !memcmp(f->key.daddr, t->saddr, 16) &&
	       ntohs(f->key.sport) == t->dport && ntohs(f->key.dport) == t->sport;
}

static bool is_server_port(uint16_t p)
{
	for (size_t i = 0; i < sizeof(server_ports) / sizeof(server_ports[0]); i++)
		if (server_ports[i] == p)
			return true;
	return false;
}

/*
 * Who is the client of a flow first seen with this packet: the sender of a
 * SYN, the receiver of a SYN-ACK; otherwise the side not on a well-known
 * server port, otherwise the side with the higher port.
 */
static bool sender_is_client(const struct tuple *t)
{
	if (t->proto == IPPROTO_TCP && (t->tcp_flags & 0x12) == 0x02)
		return true;
	if (t->proto == IPPROTO_TCP && (t->tcp_flags & 0x12) == 0x12)
		return false;
	if (is_server_port(t->dport) != is_server_port(t->sport))
		return is_server_port(t->dport);
	return t->sport >= t->dport;
}

static void set_key(struct ew_flow_key *k, const struct tuple *t, bool sender_client)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, sender_client ? t->saddr : t->daddr, 16);
	memcpy(k->daddr, sender_client ? t->daddr : t->saddr, 16);
	k->sport = htons(sender_client ? t->sport : t->dport);
	k->dport = htons(sender_client ? t->dport : t->sport);
	k->proto = t->proto;
	k->family = t->family;
}

/* The flow of a packet and the packet's direction; creates it when new. */
static struct ew_replay_flow *flow_of(struct ew_replay *r, const struct tuple *t, int *dir)
{
	struct ew_replay_flow *f;

	for (size_t i = r->nflows; i-- > 0;) {
		f = &r->flows[i];
		if (f->key.proto != t->proto || f->key.family != t->family)
			continue;
		if (same_way(f, t) || reverse_way(f, t)) {
			/* A fresh SYN names the client, whatever was guessed before. */
			if (!f->by_syn && t->proto == IPPROTO_TCP && (t->tcp_flags & 0x12) == 0x02) {
				if (reverse_way(f, t)) {
					uint64_t p = f->packets[0], b = f->bytes[0];

					set_key(&f->key, t, true);
					f->packets[0] = f->packets[1];
					f->bytes[0] = f->bytes[1];
					f->packets[1] = p;
					f->bytes[1] = b;
				}
				f->by_syn = true;
			}
			*dir = same_way(f, t) ? EW_DIR_C2S : EW_DIR_S2C;
			return f;
		}
	}
	if (r->nflows == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct ew_replay_flow *n = realloc(r->flows, cap * sizeof(*n));

		if (!n)
			return NULL;
		r->flows = n;
		r->cap = cap;
	}
	f = &r->flows[r->nflows++];
	memset(f, 0, sizeof(*f));
	set_key(&f->key, t, sender_is_client(t));
	f->by_syn = t->proto == IPPROTO_TCP && (t->tcp_flags & 0x02);
	*dir = same_way(f, t) ? EW_DIR_C2S : EW_DIR_S2C;
	return f;
}

struct ew_replay *ew_replay_new(bool monitor, long packets)
{
	struct ew_replay *r = calloc(1, sizeof(*r));
	struct ew_config cfg = { .abi_version = EW_ABI_VERSION, .gen = 1 };
	struct bpf_map *map;
	cpu_set_t cpus;
	__u32 zero = 0;
	int cpu, err;

	if (!r)
		return NULL;
	/*
	 * Per-CPU flow state must stay on one CPU, as one flow's packets do on a
	 * NIC queue: pin the replay to the CPU it runs on.
	 */
	cpu = sched_getcpu();
	CPU_ZERO(&cpus);
	CPU_SET(cpu < 0 ? 0 : cpu, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	r->skel = edgeward_bpf__open();
	if (!r->skel) {
		ew_err("opening the BPF object: %s", strerror(errno));
		goto fail;
	}
	/* Private maps: never reuse, never create a pin. */
	bpf_object__for_each_map(map, r->skel->obj) {
		if (bpf_map__set_pin_path(map, NULL)) {
			ew_err("clearing the pin path of %s", bpf_map__name(map));
			goto fail;
		}
	}
	/*
	 * Flow tables sized to the capture (preallocating the live size takes
	 * most of a load): room for every packet to open a flow twice over, so
	 * the LRU never evicts, up to the live size, where the capture's flows
	 * compete for the table as they would live.
	 */
	if (packets >= 0 && (uint64_t)packets * 2 < bpf_map__max_entries(r->skel->maps.ew_flows)) {
		__u32 n = packets < 512 ? 1024 : packets * 2;

		bpf_map__set_max_entries(r->skel->maps.ew_flows, n);
		bpf_map__set_max_entries(r->skel->maps.ew_conns, n);
	}
	r->skel->rodata->ew_replay = 1;
	r->skel->rodata->ew_monitor = monitor;
	r->skel->rodata->ew_nr_cpus = libbpf_num_possible_cpus();
	err = edgeward_bpf__load(r->skel);
	if (err) {
		ew_err("loading the data path failed: %s (EW_DEBUG=1 shows the verifier log)", strerror(-err));
		goto fail;
	}
	if (bpf_map_update_elem(bpf_map__fd(r->skel->maps.ew_config), &zero, &cfg, BPF_ANY)) {
		ew_err("writing ew_config: %s", strerror(errno));
		goto fail;
	}
	if (ew_detect_setup_private(bpf_map__fd(r->skel->maps.ew_detcfg), bpf_map__fd(r->skel->maps.ew_tunmtu),
				    bpf_map__fd(r->skel->maps.ew_tlsos), bpf_map__fd(r->skel->maps.ew_oskey), bpf_map__fd(r->skel->maps.ew_ossig),
				    bpf_map__fd(r->skel->maps.ew_oslabel))) {
		ew_err("loading the detectors' tables");
		goto fail;
	}
	return r;
fail:
	ew_replay_free(r);
	return NULL;
}

void ew_replay_free(struct ew_replay *r)
{
	if (!r)
		return;
	edgeward_bpf__destroy(r->skel);
	free(r->flows);
	free(r);
}

int ew_replay_map_fd(struct ew_replay *r, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(r->skel->obj, name);

	return m ? bpf_map__fd(m) : -1;
}

/* The reason of the XDP drop just counted: the one ew_stats slot that grew. */
static int drop_reason(struct ew_replay *r)
{
	int ncpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(r->skel->maps.ew_stats), found = EW_R_NONE;
	struct ew_ctr *c = calloc(ncpus > 0 ? ncpus : 1, sizeof(*c));

	for (__u32 reason = 0; reason < EW_REASON_MAX && c; reason++) {
		__u32 idx = EW_STAT_IDX(EW_HOOK_XDP, reason, EW_A_DROP);
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &idx, c))
			continue;
		for (int i = 0; i < ncpus; i++)
			sum += c[i].packets;
		if (sum != r->drops[reason])
			found = reason;
		r->drops[reason] = sum;
	}
	free(c);
	return found;
}

int ew_replay_frame(struct ew_replay *r, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct __sk_buff skb = {};
	struct ew_replay_flow *f = NULL;
	struct tuple t;
	int dir = EW_DIR_C2S, fd, err;
	uint64_t now;

	if (len < ETH_HLEN) {
		errno = EINVAL;
		return -1;
	}
	/* Capture time -> a monotonic-like clock that starts at 1 s, never goes back. */
	if (!r->packets)
		r->first_ts = ts_ns;
	now = ts_ns > r->first_ts ? ts_ns - r->first_ts + 1000000000ull : 1000000000ull;
	if (now < r->last_now)
		now = r->last_now;
	r->last_now = now;
	r->skel->bss->ew_replay_now_ns = now;
	r->packets++;

	if (frame_tuple(frame, len, &t)) {
		f = flow_of(r, &t, &dir);
		if (!f)
			return -1;
		f->packets[dir]++;
		f->bytes[dir] += len;
	} else {
		r->not_flow++; /* no ports: as received, through XDP */
	}
	if (len > EW_TEST_RUN_MAX) {
		len = EW_TEST_RUN_MAX;
		r->clipped++;
	}
	o.data_in = frame;
	o.data_size_in = len;
	if (dir == EW_DIR_C2S) {
		fd = bpf_program__fd(r->skel->progs.ew_xdp);
	} else {
		fd = bpf_program__fd(r->skel->progs.ew_tc_egress);
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		return -1;
	if (f && dir == EW_DIR_C2S && o.retval == XDP_DROP) {
		f->dropped = true;
		f->drop_reason = drop_reason(r);
	}
	return 0;
}

/* Move the link layer aside: an Ethernet frame for the data path. */
int ew_replay_to_ethernet(int dlt, const uint8_t *p, uint32_t caplen, uint8_t *out, uint32_t *outlen)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	uint32_t skip;
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		if (caplen > EW_REPLAY_FRAME_MAX)
			caplen = EW_REPLAY_FRAME_MAX;
		memcpy(out, p, caplen);
		*outlen = caplen;
		return 0;
	case DLT_LINUX_SLL: /* 16 bytes, protocol last */
		if (caplen < 16)
			return -1;
		type = p[14] << 8 | p[15];
		skip = 16;
		break;
	case DLT_LINUX_SLL2: /* 20 bytes, protocol first */
		if (caplen < 20)
			return -1;
		type = p[0] << 8 | p[1];
		skip = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP: /* 4-byte address family, in either byte order: use the IP version */
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		skip = (dlt == DLT_NULL || dlt == DLT_LOOP) ? 4 : 0;
		if (caplen < skip + 1)
			return -1;
		type = (p[skip] >> 4) == 6 ? ETH_P_IPV6 : ETH_P_IP;
		break;
	default:
		return -1;
	}
	caplen -= skip;
	if (caplen > EW_REPLAY_FRAME_MAX - ETH_HLEN)
		caplen = EW_REPLAY_FRAME_MAX - ETH_HLEN;
	memcpy(out, macs, 12);
	out[12] = type >> 8;
	out[13] = type & 0xff;
	memcpy(out + ETH_HLEN, p + skip, caplen);
	*outlen = caplen + ETH_HLEN;
	return 0;
}

bool ew_replay_linktype_ok(int dlt)
{
	return dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 || dlt == DLT_NULL ||
	       dlt == DLT_LOOP || dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_IPV6;
}

/* Open a capture of a supported link type; NULL after saying why. */
static pcap_t *open_capture(const char *path, int *dlt)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);

	if (!pc) {
		ew_err("%s: not a readable pcap or pcapng capture: %s", path, errbuf);
		return NULL;
	}
	*dlt = pcap_datalink(pc);
	if (!ew_replay_linktype_ok(*dlt)) {
		ew_err("%s: link type %s (%d) is not supported (Ethernet, Linux cooked v1/v2, raw IP, "
		       "null/loopback are)", path, pcap_datalink_val_to_name(*dlt) ?: "?", *dlt);
		pcap_close(pc);
		return NULL;
	}
	return pc;
}

long ew_replay_scan(const char *path)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	long n = 0;
	int dlt, rc;
	pcap_t *pc = open_capture(path, &dlt);

	if (!pc)
		return -1;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1)
		n++;
	if (rc == PCAP_ERROR) {
		ew_err("%s: packet %ld: %s", path, n + 1, pcap_geterr(pc));
		n = -1;
	}
	pcap_close(pc);
	return n;
}

int ew_replay_file(struct ew_replay *r, const char *path)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	uint8_t *frame = malloc(EW_REPLAY_FRAME_MAX);
	unsigned long n = 0;
	uint32_t len;
	pcap_t *pc = NULL;
	int dlt, rc, ret = -1;

	if (!frame)
		return -1;
	pc = open_capture(path, &dlt);
	if (!pc)
		goto out;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		n++;
		if (ew_replay_to_ethernet(dlt, data, h->caplen, frame, &len) || len < ETH_HLEN) {
			ew_warn("%s: packet %lu: %u bytes is shorter than its link-layer header: skipped",
				path, n, h->caplen);
			continue;
		}
		if (ew_replay_frame(r, frame, len, (uint64_t)h->ts.tv_sec * 1000000000ull + h->ts.tv_usec)) {
			ew_err("%s: packet %lu: running it through the data path: %s", path, n, strerror(errno));
			goto out;
		}
	}
	if (rc == PCAP_ERROR) {
		ew_err("%s: packet %lu: %s", path, n + 1, pcap_geterr(pc));
		goto out;
	}
	ret = 0;
out:
	if (pc)
		pcap_close(pc);
	free(frame);
	return ret;
}

size_t ew_replay_flows(struct ew_replay *r, struct ew_replay_flow **flows)
{
	int ncpus = libbpf_num_possible_cpus();
	size_t stride = (sizeof(struct ew_flow) + 7) & ~7ul;
	int ffd = bpf_map__fd(r->skel->maps.ew_flows);
	int cfd = bpf_map__fd(r->skel->maps.ew_conns);
	char *percpu = calloc(ncpus > 0 ? ncpus : 1, stride);

	for (size_t i = 0; i < r->nflows && percpu; i++) {
		struct ew_replay_flow *f = &r->flows[i];

		f->has_flow = bpf_map_lookup_elem(ffd, &f->key, percpu) == 0;
		if (f->has_flow)
			ew_flow_sum(&f->flow, percpu, ncpus, stride);
		f->has_conn = bpf_map_lookup_elem(cfd, &f->key, &f->conn) == 0;
		f->verdict = f->has_flow ? f->flow.verdict : EW_A_PASS;
		f->reason = f->has_flow ? f->flow.reason : EW_R_NONE;
		if (f->has_conn && f->conn.verdict > f->verdict)
			f->verdict = f->conn.verdict;
		if (f->dropped)
			f->verdict = EW_A_DROP;
		if (f->dropped)
			f->reason = f->drop_reason;
	}
	free(percpu);
	*flows = r->flows;
	return r->nflows;
}

void ew_replay_counts(struct ew_replay *r, uint64_t *packets, uint64_t *not_flow, uint64_t *clipped)
{
	*packets = r->packets;
	*not_flow = r->not_flow;
	*clipped = r->clipped;
}
