// SPDX-License-Identifier: BSD-2-Clause
/*
 * BPF tests of the detectors (bpf/lib/tcpsig.h, bpf/lib/detect.h): frames run
 * through ew_xdp / ew_tc_egress with BPF_PROG_TEST_RUN and the replay clock,
 * both sides of every threshold. The SYN signature table is also written to
 * a pcap and read by p0f itself (`p0f -r`): raw_sig and the OS label must be
 * p0f's, byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/test.h"
#include "lib/pkt.h"
#include "lib/hello.h"
#include "lib/bpfrun.h"
#include "edgeward.skel.h"
#include "edgeward.h"

#define US 1000ULL
#define MS 1000000ULL
#define EW_HS_PKTS_TEST 20 /* past the handshake window: the cached verdict */

/* Fresh maps with the replay clock, the tunnel table and Debian's p0f database. */
static bool det_open(struct bpfrun *r, struct ew_detect_cfg *cfg)
{
	struct ew_osdb db;
	uint32_t zero = 0;
	bool ok;

	if (!ASSERT_EQ(bpfrun_open(r, &(struct bpfrun_opts){ .replay = true }), 0))
		return false;
	ew_detect_cfg_defaults(cfg);
	ok = ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(r->skel->maps.ew_detcfg), &zero, cfg, BPF_ANY), 0) &&
	     ASSERT_EQ(ew_tunnels_install(bpf_map__fd(r->skel->maps.ew_tunmtu)), 0);
	ew_osdb_init(&db);
	if (ok && access(EW_P0F_FP, R_OK) == 0)
		ok = ASSERT_EQ(ew_osdb_load(&db, EW_P0F_FP), 0) &&
		     ASSERT_EQ(ew_osdb_install(&db, bpf_map__fd(r->skel->maps.ew_oskey),
					       bpf_map__fd(r->skel->maps.ew_ossig),
					       bpf_map__fd(r->skel->maps.ew_oslabel)), 0);
	ew_osdb_free(&db);
	if (!ok)
		bpfrun_close(r);
	return ok;
}

static bool cfg_write(struct bpfrun *r, const struct ew_detect_cfg *cfg)
{
	uint32_t zero = 0;

	return ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(r->skel->maps.ew_detcfg), &zero, cfg, BPF_ANY), 0);
}

/* Run a frame at time `now` through XDP (c2s) or TC (s2c); returns the retval or -1. */
static int run_at(struct bpfrun *r, const struct pkt_spec *s, bool tc, __u64 now, struct pkt_info *info)
{
	uint8_t buf[PKT_MAX];
	__u32 ret;
	int len = pkt_build(s, buf, sizeof(buf), info);

	if (len < 0)
		return -1;
	bpfrun_set_now(r, now);
	if ((tc ? bpfrun_tc : bpfrun_xdp)(r, buf, len, &ret))
		return -1;
	return ret;
}

/* The connection entry of a client frame. */
static bool conn_of(struct bpfrun *r, const struct pkt_info *in, struct ew_conn *c)
{
	struct ew_flow_key k;

	bpfrun_flow_key(&k, in, false);
	return ASSERT_EQ(bpf_map_lookup_elem(r->conns_fd, &k, c), 0);
}

/* --- SYN signatures against p0f ----------------------------------------- */

struct sig_case {
	const char *name;
	struct pkt_spec pkt;
	const char *raw_sig; /* what p0f prints */
	int patch_off;	     /* from the TCP header (>= 0) or IP header (< 0: -1 - off); 0 none */
	uint8_t patch_val;
	bool ip_patch;
};

#define LINUX_OPTS PKT_OPTS_LINUX_SYN
#define WIN_OPTS PKT_B(PKT_OPT_MSS(1460), PKT_OPT_NOP, PKT_OPT_WS(8), PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_SACKOK)
#define MAC_OPTS                                                                                   \
	PKT_B(PKT_OPT_MSS(1460), PKT_OPT_NOP, PKT_OPT_WS(6), PKT_OPT_NOP, PKT_OPT_NOP,             \
	      PKT_OPT_TS(1000, 0), PKT_OPT_SACKOK, PKT_OPT_EOL, 0)
#define DFID .df = true, .ip_id = 0x1234

static const struct sig_case sig_cases[] = {
	{ .name = "linux", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 64 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "linux_far", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 51 },
	  .raw_sig = "4:51+13:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "linux_win29200", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .win = 29200 },
	  .raw_sig = "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "windows", .pkt = { .tcp_opts = WIN_OPTS, DFID, .ttl = 128, .win = 64240 },
	  .raw_sig = "4:128+0:0:1460:mss*44,8:mss,nop,ws,nop,nop,sok:df,id+:0" },
	{ .name = "windows7", .pkt = { .tcp_opts = WIN_OPTS, DFID, .ttl = 120, .win = 8192 },
	  .raw_sig = "4:120+8:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0" },
	{ .name = "macos", .pkt = { .tcp_opts = MAC_OPTS, DFID, .ttl = 64, .win = 65535 },
	  .raw_sig = "4:64+0:0:1460:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0" },
	{ .name = "ttl_excess", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 200 },
	  .raw_sig = "4:200+?:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "ttl_low", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 20 },
	  .raw_sig = "4:20+12:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "id_zero_no_df", .pkt = { .tcp_opts = LINUX_OPTS, .ip_id = 0 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:id-:0" },
	{ .name = "no_df", .pkt = { .tcp_opts = LINUX_OPTS, .ip_id = 7 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws::0" },
	{ .name = "df_id0", .pkt = { .tcp_opts = LINUX_OPTS, .df = true },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df:0" },
	{ .name = "ecn_ip", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .tos = 2 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,ecn:0" },
	{ .name = "ecn_tcp", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .tcp_flags = PKT_SYN | PKT_ECE | PKT_CWR },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,ecn:0" },
	{ .name = "mbz", .pkt = { .tcp_opts = LINUX_OPTS, DFID }, "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,0+:0",
	  .patch_off = -1 - 6, .patch_val = 0xc0, .ip_patch = true },
	{ .name = "seq_zero", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .seq = 0x01000000 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,seq-:0", .patch_off = 4 },
	{ .name = "ack_nz", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ack = 0x01000000 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,ack+:0" },
	{ .name = "ack_nz_even", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ack = 0x02000001 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "uptr", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .urg = 5 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,uptr+:0" },
	{ .name = "urgf", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .tcp_flags = PKT_SYN | PKT_URG, .urg = 5 },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,urgf+:0" },
	{ .name = "pushf", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .tcp_flags = PKT_SYN | PKT_PSH },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,pushf+:0" },
	{ .name = "ts1_zero", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1460), PKT_OPT_SACKOK, PKT_OPT_TS(0, 0), PKT_OPT_NOP, PKT_OPT_WS(7)), DFID },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,ts1-:0" },
	{ .name = "ts2_nz", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1460), PKT_OPT_SACKOK, PKT_OPT_TS(1, 9), PKT_OPT_NOP, PKT_OPT_WS(7)), DFID },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+,ts2+:0" },
	{ .name = "opt_eol_nz", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1460), PKT_OPT_EOL, 0, 7, 0, 0, 0, 0, 0), DFID },
	  .raw_sig = "4:64+0:0:1460:mss*44,0:mss,eol+7:df,id+,opt+:0" },
	{ .name = "exws", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1460), PKT_OPT_NOP, PKT_OPT_WS(15)), DFID },
	  .raw_sig = "4:64+0:0:1460:mss*44,15:mss,nop,ws:df,id+,exws:0" },
	{ .name = "bad_mss_len", .pkt = { .tcp_opts = PKT_B(2, 5, 5, 180, 1, 1, 1, 1), DFID },
	  .raw_sig = "4:64+0:0:1460:mss*44,0:mss,nop,nop,nop,nop:df,id+,bad:0" },
	{ .name = "bad_trunc", .pkt = { .tcp_opts = PKT_B(1, 1, 3, 3), DFID },
	  .raw_sig = "4:64+0:0:0:64240,0:nop,nop,ws:df,id+,bad:0" },
	{ .name = "unknown_opt", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1460), 30, 4, 0, 0), DFID },
	  .raw_sig = "4:64+0:0:1460:mss*44,0:mss,?30:df,id+:0" },
	{ .name = "payload", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .payload = PKT_S("tfo") },
	  .raw_sig = "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:+" },
	{ .name = "ip_opts", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .ip4_opts_len = 4 },
	  .raw_sig = "4:64+0:4:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "no_opts", .pkt = { DFID, .win = 1024 }, .raw_sig = "4:64+0:0:0:1024,0::df,id+:0" },
	{ .name = "mtu_win", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1400)), DFID, .win = 2880 },
	  .raw_sig = "4:64+0:0:1400:mtu*2,0:mss:df,id+:0" },
	{ .name = "mss12_win", .pkt = { .tcp_opts = LINUX_OPTS, DFID, .win = 1448 * 3 },
	  .raw_sig = "4:64+0:0:1460:mss*3,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "tunnel_wg", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1380), PKT_OPT_SACKOK, PKT_OPT_TS(1, 0), PKT_OPT_NOP, PKT_OPT_WS(7)), DFID, .win = 64860 },
	  .raw_sig = "4:64+0:0:1380:mss*47,7:mss,sok,ts,nop,ws:df,id+:0" },
	{ .name = "v6_linux", .pkt = { .family = 6, .tcp_opts = PKT_B(PKT_OPT_MSS(1440), PKT_OPT_SACKOK, PKT_OPT_TS(1, 0), PKT_OPT_NOP, PKT_OPT_WS(7)), .win = 64800 },
	  .raw_sig = "6:64+0:0:1440:mss*45,7:mss,sok,ts,nop,ws::0" },
	{ .name = "v6_flow", .pkt = { .family = 6, .tcp_opts = LINUX_OPTS, .win = 64800 },
	  .raw_sig = "6:64+0:0:1460:mss*45,7:mss,sok,ts,nop,ws:flow:0", .patch_off = -1 - 3, .patch_val = 0x55, .ip_patch = true },
	{ .name = "v6_ecn", .pkt = { .family = 6, .tcp_opts = LINUX_OPTS, .tos = 1, .win = 1000 },
	  .raw_sig = "6:64+0:0:1460:1000,7:mss,sok,ts,nop,ws:ecn:0" },
	{ .name = "nmap_like", .pkt = { .tcp_opts = PKT_B(PKT_OPT_MSS(1460)), .ttl = 45, .win = 1024 },
	  .raw_sig = "4:45+19:0:1460:1024,0:mss:id-:0" },
};

/* Build a case's frame with its patch applied. */
static int sig_frame(const struct sig_case *c, int idx, uint8_t *buf, struct pkt_info *info)
{
	struct pkt_spec s = c->pkt;
	int len;

	s.sport = 20000 + idx;
	len = pkt_build(&s, buf, PKT_MAX, info);
	if (len < 0 || !c->patch_off)
		return len;
	if (c->ip_patch) {
		size_t off = info->off[PKT_L_IP] + (-1 - c->patch_off);

		buf[off] |= c->patch_val;
	} else {
		/* patch the TCP sequence number's first byte (seq-), fix the checksum */
		buf[info->off[PKT_L_L4] + c->patch_off] = c->patch_val;
	}
	return len;
}

/* A classic pcap file (Ethernet), written by hand: pcap.h and linux/bpf.h clash. */
static FILE *pcap_create(const char *path)
{
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} h = { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };
	FILE *f = fopen(path, "wb");

	if (f && fwrite(&h, sizeof(h), 1, f) != 1) {
		fclose(f);
		f = NULL;
	}
	return f;
}

static void pcap_put(FILE *f, uint32_t sec, const void *frame, uint32_t len)
{
	uint32_t rec[4] = { sec, 0, len, len };

	fwrite(rec, sizeof(rec), 1, f);
	fwrite(frame, len, 1, f);
}

/* Read p0f's output for a pcap: raw_sig and os per client port. */
struct p0f_out {
	char raw_sig[128];
	char os[80];
};

static int p0f_read(const char *pcap_path, struct p0f_out *out, int n)
{
	char cmd[512], line[512];
	FILE *f;
	int port = -1;

	snprintf(cmd, sizeof(cmd), "p0f -r %s 2>/dev/null", pcap_path);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		line[strcspn(line, "\n")] = 0;
		if ((p = strstr(line, "| client   = "))) {
			char *slash = strrchr(p, '/');

			port = slash ? atoi(slash + 1) - 20000 : -1;
		} else if (port >= 0 && port < n && (p = strstr(line, "| raw_sig  = "))) {
			snprintf(out[port].raw_sig, sizeof(out[port].raw_sig), "%s", p + 13);
		} else if (port >= 0 && port < n && ((p = strstr(line, "| os       = ")) || (p = strstr(line, "| app      = ")))) {
			snprintf(out[port].os, sizeof(out[port].os), "%s", p + 13);
		}
	}
	return pclose(f) == 0 ? 0 : -1;
}

EW_TEST(detect_syn_sig_matches_p0f)
{
	enum { N = sizeof(sig_cases) / sizeof(sig_cases[0]) };
	static struct p0f_out p0f[N];
	char path[] = "/tmp/ew-dt-sigs-XXXXXX";
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	FILE *d;
	bool ok = true;
	int fd;

	if (access("/usr/sbin/p0f", X_OK))
		return ew_test_skip("p0f is not installed (scripts/install-deps.sh installs it)");
	if (!det_open(&r, &cfg))
		return false;
	fd = mkstemp(path);
	close(fd);
	d = pcap_create(path);
	for (int i = 0; i < N && d; i++) {
		uint8_t buf[PKT_MAX];
		struct pkt_info info;
		int len = sig_frame(&sig_cases[i], i, buf, &info);

		if (len > 0)
			pcap_put(d, 1700000000 + i, buf, len);
	}
	if (d)
		fclose(d);
	memset(p0f, 0, sizeof(p0f));
	ok = ASSERT_EQ(p0f_read(path, p0f, N), 0);
	unlink(path);

	for (int i = 0; ok && i < N; i++) {
		const struct sig_case *c = &sig_cases[i];
		uint8_t buf[PKT_MAX];
		struct pkt_info info;
		struct ew_conn conn;
		struct ew_os_label lab = {};
		char sig[160];
		const char *os = "???";
		__u32 ret, id;
		int len = sig_frame(c, i, buf, &info);
		bool row = true;

		bpfrun_set_now(&r, (i + 1) * 1000 * MS);
		row = ASSERT_TRUE(len > 0) && ASSERT_EQ(bpfrun_xdp(&r, buf, len, &ret), 0) &&
		      conn_of(&r, &info, &conn) && ASSERT_EQ(ew_tcp_raw_sig(&conn.tcp, sig, sizeof(sig)), 0);
		if (row && conn.tcp.os_id) {
			id = conn.tcp.os_id;
			bpf_map_lookup_elem(bpf_map__fd(r.skel->maps.ew_oslabel), &id, &lab);
			os = lab.name;
		}
		row = row && ASSERT_STREQ(sig, c->raw_sig) && ASSERT_STREQ(sig, p0f[i].raw_sig) &&
		      ASSERT_STREQ(os, p0f[i].os[0] ? p0f[i].os : "(p0f printed nothing)");
		if (!row)
			fprintf(stderr, "  case %s\n", c->name);
		ok &= row;
	}
	bpfrun_close(&r);
	return ok;
}

/* The database form round-trips through the rule parser. */
EW_TEST(detect_sig_parse_roundtrip)
{
	struct ew_tcp_sig s;
	char err[128], out[160];
	const char *in = "4:64:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0";

	return ASSERT_EQ(ew_tcp_sig_parse(in, &s, err, sizeof(err)), 0) &&
	       ASSERT_EQ(ew_tcp_sig_fmt(&s, out, sizeof(out)), 0) && ASSERT_STREQ(out, in) &&
	       ASSERT_EQ(ew_tcp_sig_parse("4:57+7:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0", &s, err, sizeof(err)), 0) &&
	       ASSERT_EQ(s.ittl, 64) && ASSERT_EQ(ew_tcp_sig_parse("4:64:0:*:mss*44,7:mss:df:0", &s, err, sizeof(err)), -1) &&
	       ASSERT_EQ(ew_tcp_sig_parse("6:64:0:1460:1000,7:mss:df:0", &s, err, sizeof(err)), -1);
}

/* --- tunnel MSS ----------------------------------------------------------- */

struct tun_case {
	const char *name;
	int family;
	uint16_t mss;
	unsigned int mtu; /* 0: no tunnel */
};

static const struct tun_case tun_cases[] = {
	{ .name = "v4_ethernet", .family = 4, .mss = 1460, .mtu = 0 },	 { .name = "v4_wireguard", .family = 4, .mss = 1380, .mtu = 1420 },
	{ .name = "v6_wireguard", .family = 6, .mss = 1360, .mtu = 1420 }, { .name = "v4_pppoe", .family = 4, .mss = 1452, .mtu = 1492 },
	{ .name = "v4_gre", .family = 4, .mss = 1436, .mtu = 1476 },	 { .name = "v4_openvpn", .family = 4, .mss = 1392, .mtu = 1432 },
	{ .name = "v6_ethernet", .family = 6, .mss = 1440, .mtu = 0 },	 { .name = "v4_1379", .family = 4, .mss = 1379, .mtu = 0 },
};

EW_TEST(detect_tunnel_mss)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	bool ok = true;

	if (!det_open(&r, &cfg))
		return false;
	for (size_t i = 0; i < sizeof(tun_cases) / sizeof(tun_cases[0]); i++) {
		const struct tun_case *t = &tun_cases[i];
		uint8_t opts[] = { PKT_OPT_MSS(t->mss) };
		struct pkt_spec s = { .family = t->family, .sport = 30000 + i, DFID,
				      .tcp_opts = { opts, sizeof(opts) } };
		struct pkt_info info;
		struct ew_conn c;
		bool row = ASSERT_EQ(run_at(&r, &s, false, (i + 1) * MS, &info), XDP_PASS) && conn_of(&r, &info, &c) &&
			   ASSERT_EQ(c.tcp.tunnel_mtu, t->mtu) &&
			   ASSERT_EQ(!!(c.reasons & EW_E_TUNNEL_MSS), !!t->mtu);

		if (!row)
			fprintf(stderr, "  case %s\n", t->name);
		ok &= row;
	}
	bpfrun_close(&r);
	return ok;
}

/* --- relay RTT -------------------------------------------------------------- */

struct rtt_case {
	const char *name;
	__u64 tcp_us, tls_us;
	bool relay;
};

/* Defaults: gap >= 50000 us and TLS >= 300% of TCP. */
static const struct rtt_case rtt_cases[] = {
	{ .name = "direct_lan", .tcp_us = 40, .tls_us = 1000, .relay = false },
	{ .name = "direct_far", .tcp_us = 80000, .tls_us = 81500, .relay = false },
	{ .name = "proxied", .tcp_us = 40, .tls_us = 60000, .relay = true },
	{ .name = "gap_just_below", .tcp_us = 100, .tls_us = 50099, .relay = false },
	{ .name = "gap_at", .tcp_us = 100, .tls_us = 50100, .relay = true },
	{ .name = "ratio_below", .tcp_us = 30000, .tls_us = 89999, .relay = false },
	{ .name = "ratio_at", .tcp_us = 30000, .tls_us = 90000, .relay = true },
};

/* One connection's handshakes: SYN, SYN-ACK, ACK, hello, server flight, client flight. */
static bool handshake(struct bpfrun *r, uint16_t sport, __u64 t0, __u64 tcp_ns, __u64 tls_ns, struct ew_conn *c)
{
	struct pkt_spec syn = { .sport = sport, .tcp_opts = LINUX_OPTS, DFID };
	struct pkt_spec synack = { .saddr = "198.18.0.2", .daddr = "198.18.0.1", .sport = 443, .dport = sport,
				   .tcp_flags = PKT_SYN | PKT_ACK, .tcp_opts = LINUX_OPTS };
	struct pkt_spec ack = { .sport = sport, .tcp_flags = PKT_ACK };
	struct pkt_spec hello = { .sport = sport, .tcp_flags = PKT_ACK | PKT_PSH, .fill = 300 };
	struct pkt_spec flight = { .saddr = "198.18.0.2", .daddr = "198.18.0.1", .sport = 443, .dport = sport,
				   .tcp_flags = PKT_ACK | PKT_PSH, .fill = 1200 };
	struct pkt_spec fin2 = { .sport = sport, .tcp_flags = PKT_ACK | PKT_PSH, .fill = 80 };
	struct pkt_info info;
	__u64 t = t0;

	return ASSERT_EQ(run_at(r, &syn, false, t, &info), XDP_PASS) &&
	       ASSERT_EQ(run_at(r, &synack, true, t += 10 * US, NULL), 0) &&
	       ASSERT_EQ(run_at(r, &ack, false, t += tcp_ns, NULL), XDP_PASS) &&
	       ASSERT_EQ(run_at(r, &hello, false, t += 5 * US, NULL), XDP_PASS) &&
	       ASSERT_EQ(run_at(r, &flight, true, t += 300 * US, NULL), 0) &&
	       ASSERT_EQ(run_at(r, &flight, true, t += 2 * US, NULL), 0) &&
	       run_at(r, &fin2, false, t += tls_ns, NULL) >= 0 && conn_of(r, &info, c);
}

EW_TEST(detect_relay_rtt)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	bool ok = true;

	if (!det_open(&r, &cfg))
		return false;
	for (size_t i = 0; i < sizeof(rtt_cases) / sizeof(rtt_cases[0]); i++) {
		const struct rtt_case *t = &rtt_cases[i];
		struct ew_conn c;
		bool row = handshake(&r, 31000 + i, (i + 1) * 1000 * MS, t->tcp_us * US, t->tls_us * US, &c) &&
			   ASSERT_EQ(c.t.tcp_rtt_us, t->tcp_us) && ASSERT_EQ(c.t.tls_rtt_us, t->tls_us) &&
			   ASSERT_EQ(!!(c.reasons & EW_E_RELAY_RTT), t->relay);

		if (!row)
			fprintf(stderr, "  case %s\n", t->name);
		ok &= row;
	}
	bpfrun_close(&r);
	return ok;
}

/* --- connection rate ------------------------------------------------------ */

EW_TEST(detect_conn_rate)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	struct pkt_info info;
	struct ew_conn c;
	char src[32];
	bool ok;

	if (!det_open(&r, &cfg))
		return false;
	cfg.rate_per_s = 10;
	cfg.rate_burst = 5;
	ok = cfg_write(&r, &cfg);
	/* five connections from one /24 at once: within the burst */
	for (int i = 0; ok && i < 5; i++) {
		snprintf(src, sizeof(src), "198.18.5.%d", 10 + i);
		ok = ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .saddr = src, .sport = 40000 + i }, false, 1000 * MS, &info), XDP_PASS) &&
		     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_CONN_RATE, 0);
	}
	/* the sixth trips conn_rate; another /24 does not */
	ok = ok && ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .saddr = "198.18.5.99", .sport = 41000 }, false, 1000 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_CONN_RATE, EW_E_CONN_RATE);
	ok = ok && ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .saddr = "198.18.6.1", .sport = 41001 }, false, 1000 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_CONN_RATE, 0);
	/* 150 ms refill one token and a half: one more passes, the next trips */
	ok = ok && ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .saddr = "198.18.5.1", .sport = 41002 }, false, 1150 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_CONN_RATE, 0);
	ok = ok && ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .saddr = "198.18.5.2", .sport = 41003 }, false, 1150 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_CONN_RATE, EW_E_CONN_RATE);
	/* a /16 policy groups 198.18.6.1 with 198.18.5.x */
	cfg.pfx4_len = 16;
	ok = ok && cfg_write(&r, &cfg) &&
	     ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .saddr = "198.18.7.1", .sport = 41004 }, false, 1150 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_CONN_RATE, 0);
	bpfrun_close(&r);
	return ok;
}

/* --- fan-out --------------------------------------------------------------- */

/* n SYNs with one signature from n sources; returns the last connection. */
static bool fan_syns(struct bpfrun *r, int base, int n, struct ew_conn *c)
{
	struct pkt_info info;
	char src[48];

	for (int i = 0; i < n; i++) {
		snprintf(src, sizeof(src), "2001:db8:%x::%x", base, i + 1);
		if (!ASSERT_EQ(run_at(r, &(struct pkt_spec){ .saddr = src, .tcp_opts = WIN_OPTS, .ttl = 128 },
				      false, (base * 10000 + i) * MS, &info), XDP_PASS))
			return false;
	}
	return conn_of(r, &info, c);
}

EW_TEST(detect_fanout)
{
	struct ew_detect_cfg cfg;
	struct ew_fan_key k = { .kind = EW_FK_TCP };
	struct ew_fanout fo;
	struct bpfrun r;
	struct ew_conn c;
	bool ok;

	if (!det_open(&r, &cfg))
		return false;
	cfg.fanout_sources = 200;
	cfg.policy[4] = EW_P_OFF; /* conn_rate would also fire */
	ok = cfg_write(&r, &cfg) && fan_syns(&r, 1, 150, &c) && ASSERT_EQ(c.reasons & EW_E_FANOUT, 0);
	memcpy(k.fp, &c.tcp.sig, sizeof(c.tcp.sig));
	ok = ok && ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r.skel->maps.ew_fanout), &k, &fo), 0) &&
	     ASSERT_EQ(fo.conns, 150) && ASSERT_TRUE(fo.estimate >= 130 && fo.estimate <= 170);
	ok = ok && fan_syns(&r, 2, 150, &c) && ASSERT_EQ(c.reasons & EW_E_FANOUT, EW_E_FANOUT) &&
	     ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r.skel->maps.ew_fanout), &k, &fo), 0) &&
	     ASSERT_TRUE(fo.estimate >= 260 && fo.estimate <= 340) && ASSERT_TRUE(fo.flagged > 0);
	/* the same source again and again does not grow the estimate */
	bpfrun_close(&r);
	return ok;
}

/* --- policy --------------------------------------------------------------- */

EW_TEST(detect_policy_drop_sticks_and_off)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	struct pkt_info info;
	struct ew_conn c;
	uint8_t opts[] = { PKT_OPT_MSS(1380) };
	struct pkt_spec syn = { .sport = 42000, .tcp_opts = { opts, sizeof(opts) } };
	struct pkt_spec data = { .sport = 42000, .tcp_flags = PKT_ACK, .fill = 100 };
	bool ok;

	if (!det_open(&r, &cfg))
		return false;
	/* flag by default: passes, flow flagged with reason tunnel_mss */
	ok = ASSERT_EQ(run_at(&r, &syn, false, MS, &info), XDP_PASS);
	cfg.policy[2] = EW_P_DROP;
	syn.sport = data.sport = 42001;
	ok = ok && cfg_write(&r, &cfg) && ASSERT_EQ(run_at(&r, &syn, false, 2 * MS, &info), XDP_DROP) &&
	     ASSERT_EQ(run_at(&r, &data, false, 3 * MS, NULL), XDP_DROP);
	for (int i = 0; ok && i < EW_HS_PKTS_TEST; i++)
		ok = ASSERT_EQ(run_at(&r, &data, false, (4 + i) * MS, NULL), XDP_DROP);
	cfg.policy[2] = EW_P_OFF;
	syn.sport = 42002;
	ok = ok && cfg_write(&r, &cfg) && ASSERT_EQ(run_at(&r, &syn, false, 50 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons, 0) && ASSERT_EQ(c.tcp.tunnel_mtu, 1420);
	bpfrun_close(&r);
	return ok;
}

/* Detector events on the ring: each new evidence bit is announced once. */
struct det_events {
	int n;
	struct ew_event last;
};

static int on_det_event(void *ctx, void *data, size_t size)
{
	struct det_events *d = ctx;
	const struct ew_event *e = data;

	if (size >= sizeof(*e) && e->type == EW_EVT_DETECT) {
		d->last = *e;
		d->n++;
	}
	return 0;
}

EW_TEST(detect_event_once)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	struct pkt_info info;
	struct det_events ev = {};
	struct ring_buffer *rb;
	uint8_t opts[] = { PKT_OPT_MSS(1380) };
	struct pkt_spec syn = { .sport = 42100, .tcp_opts = { opts, sizeof(opts) } };
	struct pkt_spec plain = { .sport = 42101 };
	bool ok;

	if (!det_open(&r, &cfg))
		return false;
	rb = ring_buffer__new(bpf_map__fd(r.skel->maps.ew_events), on_det_event, &ev, NULL);
	ok = ASSERT_TRUE(rb != NULL) && ASSERT_EQ(run_at(&r, &plain, false, MS, NULL), XDP_PASS) &&
	     ASSERT_TRUE(ring_buffer__consume(rb) >= 0) && ASSERT_EQ(ev.n, 0) &&
	     /* a WireGuard MSS: one event naming the flow, its new bit and the policy's answer */
	     ASSERT_EQ(run_at(&r, &syn, false, 2 * MS, &info), XDP_PASS) &&
	     ASSERT_TRUE(ring_buffer__consume(rb) >= 0) && ASSERT_EQ(ev.n, 1) &&
	     ASSERT_EQ(ev.last.evidence, EW_E_TUNNEL_MSS) && ASSERT_EQ(ev.last.reason, EW_R_TUNNEL_MSS) &&
	     ASSERT_EQ(ev.last.action, EW_A_FLAG) && ASSERT_EQ(ev.last.hook, EW_HOOK_XDP) &&
	     ASSERT_EQ(ntohs(ev.last.key.sport), 42100) &&
	     /* the retransmitted SYN adds nothing new: no second event */
	     ASSERT_EQ(run_at(&r, &syn, false, 3 * MS, NULL), XDP_PASS) &&
	     ASSERT_TRUE(ring_buffer__consume(rb) >= 0) && ASSERT_EQ(ev.n, 1);
	ring_buffer__free(rb);
	bpfrun_close(&r);
	return ok;
}

/* --- stack mismatch and JA4 fan-out ----------------------------------------- */

#define JA4_WIN "t13d1715h2_5b57614c22b0_3cbfd9057e0d"
#define JA4_MAC "t13d2014h2_a09f3c656075_14788d8d241b"
#define JA4_LNX "t13d1517h2_8daaf6152771_b0da82dd1658"
#define JA4_NONE "t13d0000h1_000000000000_000000000000"

struct mm_case {
	const char *name;
	const char *ja4;
	struct pkt_spec syn;
	bool mismatch;
};

static const struct mm_case mm_cases[] = {
	{ .name = "win_tls_linux_syn", .ja4 = JA4_WIN, .syn = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 64 }, .mismatch = true },
	{ .name = "win_tls_win_syn", .ja4 = JA4_WIN, .syn = { .tcp_opts = WIN_OPTS, DFID, .ttl = 128, .win = 64240 } },
	{ .name = "win_tls_win_syn_far", .ja4 = JA4_WIN, .syn = { .tcp_opts = WIN_OPTS, DFID, .ttl = 113, .win = 64240 } },
	{ .name = "linux_tls_win_syn", .ja4 = JA4_LNX, .syn = { .tcp_opts = WIN_OPTS, DFID, .ttl = 128, .win = 64240 }, .mismatch = true },
	{ .name = "linux_tls_linux_syn", .ja4 = JA4_LNX, .syn = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 61 } },
	{ .name = "mac_tls_linux_syn", .ja4 = JA4_MAC, .syn = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 64 }, .mismatch = true },
	{ .name = "mac_tls_mac_syn", .ja4 = JA4_MAC, .syn = { .tcp_opts = MAC_OPTS, DFID, .ttl = 64, .win = 65535 } },
	{ .name = "unknown_tls", .ja4 = JA4_NONE, .syn = { .tcp_opts = LINUX_OPTS, DFID, .ttl = 128 } },
};

static bool tlsos_put(struct bpfrun *r, const char *ja4, int fam)
{
	struct ew_ja4_key k = {};
	struct ew_tls_os v = { .family = fam };

	memcpy(k.ja4, ja4, strlen(ja4));
	return ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(r->skel->maps.ew_tlsos), &k, &v, BPF_ANY), 0);
}

/* A SYN, then the hello's JA4 as tls.h would leave it, then a data packet. */
static bool syn_then_ja4(struct bpfrun *r, const struct pkt_spec *syn_in, const char *ja4, __u64 now,
			 struct ew_conn *c)
{
	struct pkt_spec syn = *syn_in, data = *syn_in;
	struct pkt_info info;
	struct ew_flow_key k;

	data.tcp_flags = PKT_ACK | PKT_PSH;
	data.tcp_opts = (struct pkt_bytes){};
	data.fill = 200;
	if (!ASSERT_EQ(run_at(r, &syn, false, now, &info), XDP_PASS) || !conn_of(r, &info, c))
		return false;
	bpfrun_flow_key(&k, &info, false);
	memcpy(c->tls.ja4, ja4, strlen(ja4) + 1);
	return ASSERT_EQ(bpf_map_update_elem(r->conns_fd, &k, c, BPF_EXIST), 0) &&
	       ASSERT_EQ(run_at(r, &data, false, now + MS, NULL), XDP_PASS) && conn_of(r, &info, c);
}

EW_TEST(detect_stack_mismatch)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	bool ok;

	if (access(EW_P0F_FP, R_OK))
		return ew_test_skip("no p0f database (scripts/install-deps.sh installs p0f)");
	if (!det_open(&r, &cfg))
		return false;
	ok = tlsos_put(&r, JA4_WIN, EW_OS_WINDOWS) && tlsos_put(&r, JA4_MAC, EW_OS_MACOS) &&
	     tlsos_put(&r, JA4_LNX, EW_OS_LINUX);
	for (size_t i = 0; ok && i < sizeof(mm_cases) / sizeof(mm_cases[0]); i++) {
		const struct mm_case *m = &mm_cases[i];
		struct pkt_spec syn = m->syn;
		struct ew_conn c;
		bool row;

		syn.sport = 43000 + i;
		row = syn_then_ja4(&r, &syn, m->ja4, (i + 1) * 1000 * MS, &c) &&
		      ASSERT_EQ(!!(c.reasons & EW_E_STACK_MISMATCH), m->mismatch) &&
		      ASSERT_TRUE(c.t.state & EW_T_JA4);
		if (!row)
			fprintf(stderr, "  case %s\n", m->name);
		ok &= row;
	}
	bpfrun_close(&r);
	return ok;
}

/*
 * The default JA4 -> family table (user/detect.c), as attach installs it: a
 * Safari-shaped hello, fingerprinted by the data path, over a Linux SYN is a
 * mismatch; over a macOS SYN it is not; without the table, nothing.
 */
EW_TEST(detect_stack_mismatch_defaults)
{
	const struct {
		const char *name;
		struct pkt_spec syn;
		bool defaults, mismatch;
	} cases[] = {
		{ "safari_linux_syn", { .tcp_opts = LINUX_OPTS, DFID, .ttl = 64 }, true, true },
		{ "safari_mac_syn", { .tcp_opts = MAC_OPTS, DFID, .ttl = 64, .win = 65535 }, true, false },
		{ "safari_windows_syn", { .tcp_opts = WIN_OPTS, DFID, .ttl = 128, .win = 64240 }, true, true },
		{ "no_table_linux_syn", { .tcp_opts = LINUX_OPTS, DFID, .ttl = 64 }, false, false },
	};
	struct ew_detect_cfg cfg;
	uint8_t rec[2048];
	size_t len = hb_safari(rec, sizeof(rec), "www.example.com");
	bool ok = ASSERT_TRUE(len > 0);

	if (access(EW_P0F_FP, R_OK))
		return ew_test_skip("no p0f database (scripts/install-deps.sh installs p0f)");
	for (size_t i = 0; ok && i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec syn = cases[i].syn, data = cases[i].syn;
		struct pkt_info info;
		struct bpfrun r;
		struct ew_conn c;
		bool row;

		if (!det_open(&r, &cfg))
			return false;
		syn.sport = data.sport = 44000 + i;
		syn.seq = 7000;
		data.seq = 7001;
		data.tcp_flags = PKT_ACK | PKT_PSH;
		data.tcp_opts = (struct pkt_bytes){};
		data.payload = (struct pkt_bytes){ rec, len };
		row = (!cases[i].defaults ||
		       ASSERT_EQ(ew_tlsos_defaults_install(bpf_map__fd(r.skel->maps.ew_tlsos)), 7)) &&
		      ASSERT_EQ(run_at(&r, &syn, false, MS, &info), XDP_PASS) &&
		      ASSERT_EQ(run_at(&r, &data, false, 2 * MS, NULL), XDP_PASS) && conn_of(&r, &info, &c) &&
		      ASSERT_STREQ(c.tls.ja4, JA4_MAC) &&
		      ASSERT_EQ(!!(c.reasons & EW_E_STACK_MISMATCH), cases[i].mismatch);
		if (!row)
			fprintf(stderr, "  case %s\n", cases[i].name);
		ok &= row;
		bpfrun_close(&r);
	}
	return ok;
}

EW_TEST(detect_fanout_ja4)
{
	struct ew_detect_cfg cfg;
	struct ew_fan_key k = { .kind = EW_FK_JA4 };
	struct ew_fanout fo;
	struct bpfrun r;
	struct ew_conn c;
	char src[48];
	bool ok;

	if (!det_open(&r, &cfg))
		return false;
	cfg.fanout_sources = 40;
	cfg.policy[4] = EW_P_OFF;
	ok = cfg_write(&r, &cfg);
	for (int i = 0; ok && i < 80; i++) {
		snprintf(src, sizeof(src), "198.19.%d.%d", i / 200, 1 + i % 200);
		/* a window per source: each TCP signature has one source, the JA4 has all */
		ok = syn_then_ja4(&r, &(struct pkt_spec){ .saddr = src, .sport = 44000, .win = 1000 + i, DFID },
				  JA4_LNX, (i + 1) * 10 * MS, &c);
		if (i < 30)
			ok = ok && ASSERT_EQ(c.reasons & EW_E_FANOUT, 0);
		if (i >= 50)
			ok = ok && ASSERT_EQ(c.reasons & EW_E_FANOUT, EW_E_FANOUT);
		if (!ok)
			fprintf(stderr, "  source %d\n", i);
	}
	memcpy(k.fp, JA4_LNX, strlen(JA4_LNX));
	ok = ok && ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(r.skel->maps.ew_fanout), &k, &fo), 0) &&
	     ASSERT_EQ(fo.conns, 80) && ASSERT_TRUE(fo.estimate >= 72 && fo.estimate <= 88);
	bpfrun_close(&r);
	return ok;
}

/* --- SYN fingerprint rules (edgeward fp add tcp|os) --------------------------- */

static bool tcprule_put(struct bpfrun *r, int kind, const char *val, int action)
{
	struct ew_tcp_rule_key k = { .kind = kind };
	struct ew_fp_val v = { .action = action };
	char err[128];

	if (kind == EW_TR_SIG) {
		if (!ASSERT_EQ(ew_tcp_sig_parse(val, (struct ew_tcp_sig *)k.val, err, sizeof(err)), 0))
			return false;
	} else {
		memcpy(k.val, val, strlen(val));
	}
	return ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(r->skel->maps.ew_tcprules), &k, &v, BPF_ANY), 0);
}

EW_TEST(detect_tcp_and_os_rules)
{
	struct ew_detect_cfg cfg;
	struct bpfrun r;
	struct pkt_info info;
	struct ew_conn c;
	uint8_t wg[] = { PKT_OPT_MSS(1380) };
	bool ok;

	if (access(EW_P0F_FP, R_OK))
		return ew_test_skip("no p0f database (scripts/install-deps.sh installs p0f)");
	if (!det_open(&r, &cfg))
		return false;
	/* the Windows-like SYN by its signature (raw_sig form, TTL 120 -> 128): drop */
	ok = tcprule_put(&r, EW_TR_SIG, "4:120+8:0:1460:mss*44,8:mss,nop,ws,nop,nop,sok:df,id+:0", EW_A_DROP) &&
	     ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .sport = 45000, .tcp_opts = WIN_OPTS, DFID, .ttl = 120 },
			      false, MS, &info), XDP_DROP) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons & EW_E_FP_RULE, EW_E_FP_RULE);
	/* another TTL in the same range is the same signature; TTL 64 is not */
	ok = ok && ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .sport = 45001, .tcp_opts = WIN_OPTS, DFID, .ttl = 100 },
				    false, 2 * MS, NULL), XDP_DROP) &&
	     ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .sport = 45002, .tcp_opts = WIN_OPTS, DFID, .ttl = 64 },
			      false, 3 * MS, NULL), XDP_PASS);
	/* macOS by its OS label: flag */
	ok = ok && tcprule_put(&r, EW_TR_OS, "Mac OS X", EW_A_FLAG) &&
	     ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .sport = 45003, .tcp_opts = MAC_OPTS, DFID, .win = 65535 },
			      false, 4 * MS, &info), XDP_PASS) &&
	     conn_of(&r, &info, &c) && ASSERT_EQ(c.reasons, EW_E_FP_RULE);
	/* allow wins over a detector's drop */
	cfg.policy[2] = EW_P_DROP;
	ok = ok && cfg_write(&r, &cfg) &&
	     tcprule_put(&r, EW_TR_SIG, "4:64:0:1380:mss*44,0:mss:df,id+:0", EW_A_ALLOW) &&
	     ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .sport = 45004, .tcp_opts = { wg, sizeof(wg) }, DFID },
			      false, 5 * MS, NULL), XDP_PASS) &&
	     ASSERT_EQ(run_at(&r, &(struct pkt_spec){ .sport = 45005, .tcp_opts = { wg, sizeof(wg) }, DFID, .win = 64000 },
			      false, 6 * MS, NULL), XDP_DROP);
	bpfrun_close(&r);
	return ok;
}
