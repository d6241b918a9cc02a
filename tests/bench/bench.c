// SPDX-License-Identifier: BSD-2-Clause
/*
 * The benchmark behind `make bench` (scripts/bench.sh drives it). Commands:
 *
 *   bench pkt      per-packet cost of edgeward, an empty XDP program and
 *                  xdp-filter, with BPF_PROG_TEST_RUN, interleaved, medians;
 *                  memory per flow and per prefix. Prints markdown.
 *   bench prefixes N   the benchmark block list of N prefixes, one a line
 *   bench live IFACE   live-frames generator: sends frames out of IFACE
 *                  (BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX), for the veth test
 *   bench gro IFACE    turn GRO on (veth then runs NAPI without XDP)
 *   bench xdpdrop IFACE  attach an XDP program that drops everything (the floor)
 *
 * Nothing here is timed by a test: tests/e2e/test_bench_smoke.sh only runs
 * it small and checks return codes and counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.skel.h"
#include "bench.skel.h"
#include "lib/bpfrun.h"
#include "lib/pkt.h"
#include "feeds.h"

#define BN_BLOCKED_SRC "198.19.0.1" /* in 198.19.0.0/16, entry 0 of the block list */
#define BN_BLOCKED_BASE 0xc6130000u  /* 198.19.0.0 */
#define BN_FLOW_BASE 0xc6120000u     /* 198.18.0.0: sources of the filled flows */
#define BN_FLOW_SPORT 1024
#define BN_NEW_DPORT 8443	     /* new-flow SYNs: never a filled flow */
#define BN_RUNS_MAX 64

static int die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A sorted copy of v (n > 0), to free. */
static double *sorted(const double *v, int n)
{
	double *tmp = malloc(n * sizeof(*v));

	if (!tmp)
		die("sorting samples", ENOMEM);
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return tmp;
}

/* Median; -1 when there is nothing to take it of (v[0] < 0 marks "not run"). */
static double median(const double *v, int n)
{
	double *tmp, m;

	if (n <= 0 || v[0] < 0)
		return -1;
	tmp = sorted(v, n);
	m = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
	free(tmp);
	return m;
}

/*
 * Mean of the middle half: one-shot durations come in 10 ns steps on some
 * clocks, and the middle half's mean resolves below a step without the
 * outliers (interrupts) a plain mean takes in.
 */
static double iq_mean(const double *v, int n)
{
	int lo = n / 4, hi = n - n / 4;
	double *tmp, sum = 0;

	if (n <= 0)
		return -1;
	tmp = sorted(v, n);
	for (int i = lo; i < hi; i++)
		sum += tmp[i];
	free(tmp);
	return sum / (hi - lo);
}

/* --- the block list ----------------------------------------------------------- */

struct bn_pfx {
	uint32_t addr; /* host order */
	uint8_t len;
};

/*
 * N prefixes that look like a big feed: entry 0 is BN_BLOCKED, the rest are
 * 70% /32, 25% /24 and 5% /28, each in its own /24 (a full-period walk of the
 * /24 blocks), so no two overlap and nft interval sets take them unmerged.
 * Test and reserved ranges (0/8, 10/8, 127/8, 198/8, 224/3) are never used.
 */
static void bn_prefixes(struct bn_pfx *p, size_t n)
{
	uint32_t slot = 12345, rnd = 2463534242u;

	if (!n)
		return;
	p[0].addr = BN_BLOCKED_BASE;
	p[0].len = 16;
	for (size_t i = 1; i < n; i++) {
		uint32_t a, o1, r;

		do {
			slot = (slot * 1103515245u + 12345u) & 0xffffff; /* full period mod 2^24 */
			o1 = slot >> 16;
		} while (o1 == 0 || o1 == 10 || o1 == 127 || o1 == 198 || o1 >= 224);
		rnd ^= rnd << 13;
		rnd ^= rnd >> 17;
		rnd ^= rnd << 5;
		r = rnd % 100;
		a = slot << 8;
		if (r < 70) {
			p[i].addr = a | ((rnd >> 8) & 0xff);
			p[i].len = 32;
		} else if (r < 95) {
			p[i].addr = a;
			p[i].len = 24;
		} else {
			p[i].addr = a | ((rnd >> 8) & 0xf0);
			p[i].len = 28;
		}
	}
}

static void bn_pfx_fmt(const struct bn_pfx *p, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u/%u", p->addr >> 24, (p->addr >> 16) & 0xff,
		 (p->addr >> 8) & 0xff, p->addr & 0xff, p->len);
}

static struct bn_pfx *bn_prefixes_alloc(size_t n)
{
	struct bn_pfx *p = calloc(n ? n : 1, sizeof(*p));

	if (!p)
		die("allocating prefixes", ENOMEM);
	bn_prefixes(p, n);
	return p;
}

static int cmd_prefixes(int argc, char **argv)
{
	size_t n;
	struct bn_pfx *p;
	char buf[32];

	if (argc != 2) {
		fprintf(stderr, "usage: bench prefixes N\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 0);
	p = bn_prefixes_alloc(n);
	for (size_t i = 0; i < n; i++) {
		bn_pfx_fmt(&p[i], buf, sizeof(buf));
		puts(buf);
	}
	free(p);
	return 0;
}

/*
 * The block list as one drop feed, the way an operator loads a big list
 * (`edgeward feed load`): DIR-24-8 for IPv4. Returns the apply's ms.
 */
static double ew_fill(struct bpfrun *r, const struct bn_pfx *p, size_t n)
{
	struct ew_prefix *e = calloc(n ? n : 1, sizeof(*e));
	struct ew_fd_feed f = { .id = 0, .action = EW_A_DROP, .pfx = e };
	struct ew_fd_report rep;
	struct ew_fd_maps m;

	if (!e)
		die("allocating prefixes", ENOMEM);
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t be = htonl(p[i].addr);

		e[i].family = 4;
		memcpy(e[i].addr, &be, 4);
		e[i].len = p[i].len;
	}
	f.n = n;
	ew_prefix_sort_unique(e, &f.n);
	ew_fd_maps_of_skel(&m, r->skel, r->config_fd);
	if (ew_fd_apply(&m, &f, 1, &rep))
		die("loading the block list as a feed", EIO);
	free(e);
	return rep.total_ms;
}

/* --- memory: what the kernel charges for a map -------------------------------- */

static long long map_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Sum over every map of an object, in bytes. */
static long long obj_memlock(struct bpf_object *obj)
{
	struct bpf_map *m;
	long long sum = 0;

	bpf_object__for_each_map(m, obj) {
		long long v = map_memlock(bpf_map__fd(m));

		if (v > 0)
			sum += v;
	}
	return sum;
}

/* --- xdp-filter (xdp-tools), loaded privately from its packaged object ------- */

#define XF_MAP_FLAG_SRC 1 /* xdp-filter's common_kern_user.h */

struct xfilt {
	struct bpf_object *obj;
	int prog_fd, ip4_fd;
};

/* Load xdp-filter's object with its IPv4 map sized for n entries, no pins. */
static int xfilt_open(struct xfilt *x, const char *path, size_t n)
{
	struct bpf_program *prog;
	struct bpf_map *m;
	int err;

	memset(x, 0, sizeof(*x));
	x->obj = bpf_object__open_file(path, NULL);
	if (!x->obj)
		return -errno;
	bpf_object__for_each_map(m, x->obj) {
		bpf_map__set_pin_path(m, NULL);
		if (!strcmp(bpf_map__name(m), "filter_ipv4") && n > bpf_map__max_entries(m))
			bpf_map__set_max_entries(m, n);
	}
	err = bpf_object__load(x->obj);
	if (err) {
		bpf_object__close(x->obj);
		x->obj = NULL;
		return err;
	}
	prog = bpf_object__next_program(x->obj, NULL);
	x->prog_fd = bpf_program__fd(prog);
	m = bpf_object__find_map_by_name(x->obj, "filter_ipv4");
	x->ip4_fd = m ? bpf_map__fd(m) : -1;
	return x->ip4_fd < 0 ? -ENOENT : 0;
}

/*
 * The same block list as xdp-filter can hold it: it matches whole addresses
 * only, so each prefix becomes its first address; BN_BLOCKED becomes
 * BN_BLOCKED_SRC. Values are per CPU.
 */
static void xfilt_fill(struct xfilt *x, const struct bn_pfx *p, size_t n, int ncpus)
{
	const size_t chunk = 65536;
	__u32 *keys = calloc(chunk, sizeof(*keys));
	__u64 *vals = calloc(chunk * ncpus, sizeof(*vals));

	if (!keys || !vals)
		die("allocating xdp-filter entries", ENOMEM);
	for (size_t i = 0; i < chunk * ncpus; i++)
		vals[i] = XF_MAP_FLAG_SRC;
	for (size_t done = 0; done < n;) {
		__u32 cnt = n - done < chunk ? n - done : chunk;

		for (__u32 i = 0; i < cnt; i++) {
			const struct bn_pfx *e = &p[done + i];

			keys[i] = htonl(e->addr == BN_BLOCKED_BASE && e->len == 16 ?
					ntohl(inet_addr(BN_BLOCKED_SRC)) : e->addr);
		}
		if (bpf_map_update_batch(x->ip4_fd, keys, vals, &cnt, NULL))
			die("filling xdp-filter's filter_ipv4", errno);
		done += cnt;
	}
	free(keys);
	free(vals);
}

/* --- the flow table --------------------------------------------------------- */

/* Key and source of filled flow k, as bn_vary rewrites it (IPv4). */
static void flow_key_k(struct ew_flow_key *key, uint32_t k, uint32_t daddr_be, uint16_t dport)
{
	memset(key, 0, sizeof(*key));
	key->saddr[10] = key->saddr[11] = 0xff;
	key->daddr[10] = key->daddr[11] = 0xff;
	*(uint32_t *)&key->saddr[12] = htonl(BN_FLOW_BASE + (k & 0xffff));
	*(uint32_t *)&key->daddr[12] = daddr_be;
	key->sport = htons(BN_FLOW_SPORT + (k >> 16));
	key->dport = htons(dport);
	key->proto = IPPROTO_TCP;
	key->family = 4;
}

/*
 * Flows filled into a table of max_entries n: 99%. An LRU table filled to
 * the brim evicts a batch on the next insert, and a walk over all its flows
 * then misses on every one.
 */
static size_t flows_filled(size_t n)
{
	return n - n / 100;
}

/* n established, decided flows, on every CPU, as if each had seen much traffic. */
static void flows_fill(struct bpfrun *r, size_t n, uint32_t daddr_be, uint16_t dport)
{
	const size_t chunk = 16384, stride = (sizeof(struct ew_flow) + 7) & ~7ul;
	struct ew_flow_key *keys = calloc(chunk, sizeof(*keys));
	char *vals = calloc(chunk * r->ncpus, stride);
	struct timespec ts;
	__u32 gen = bpfrun_gen(r);

	if (!keys || !vals)
		die("allocating flows", ENOMEM);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (size_t i = 0; i < chunk * r->ncpus; i++) {
		struct ew_flow *f = (void *)(vals + i * stride);

		/* Well past the handshake window (EW_HS_PKTS): plain mid-flow. */
		f->packets[EW_DIR_C2S] = 1000;
		f->bytes[EW_DIR_C2S] = 1000000;
		f->first_ns = f->last_ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
		f->gen = gen;
		f->verdict = EW_A_PASS;
		f->reason = EW_R_NONE;
		f->tcp_flags[EW_DIR_C2S] = 0x18;
	}
	for (size_t done = 0; done < n;) {
		__u32 cnt = n - done < chunk ? n - done : chunk;

		for (__u32 i = 0; i < cnt; i++)
			flow_key_k(&keys[i], done + i, daddr_be, dport);
		if (bpf_map_update_batch(r->flows_fd, keys, vals, &cnt, NULL))
			die("filling ew_flows", errno);
		done += cnt;
	}
	free(keys);
	free(vals);
}

/* --- frames ------------------------------------------------------------------ */

/* A TLS 1.3 ClientHello record as a browser sends it (about 520 bytes). */
static size_t tls_hello(uint8_t *b, size_t cap, const char *sni)
{
	static const uint16_t suites[] = { 0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
					   0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
					   0x009c, 0x009d, 0x002f, 0x0035 };
	static const uint8_t exts_tail[] = {
		0x00, 0x17, 0x00, 0x00,					/* extended master secret */
		0xff, 0x01, 0x00, 0x01, 0x00,				/* renegotiation info */
		0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0x0a, 0x0a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
		0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,			/* ec point formats */
		0x00, 0x23, 0x00, 0x00,					/* session ticket */
		0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 'h', '2', 0x08, 'h', 't', 't', 'p', '/',
		'1', '.', '1',						/* ALPN */
		0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,	/* status request */
		0x00, 0x0d, 0x00, 0x12, 0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03,
		0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01,		/* signature algorithms */
		0x00, 0x12, 0x00, 0x00,					/* SCT */
		0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,			/* PSK key exchange modes */
		0x00, 0x2b, 0x00, 0x07, 0x06, 0x1a, 0x1a, 0x03, 0x04, 0x03, 0x03, /* versions */
		0x00, 0x1b, 0x00, 0x03, 0x02, 0x00, 0x02,		/* compress certificate */
	};
	size_t sl = strlen(sni), n = 0, ext_start, hs_start;

	if (cap < 600 || sl > 64)
		return 0;
#define P8(v) (b[n++] = (uint8_t)(v))
#define P16(v) (P8((v) >> 8), P8(v))
	P8(0x16), P16(0x0301), P16(0);		/* record; length patched */
	hs_start = n;
	P8(0x01), P8(0), P16(0);		/* ClientHello; length patched */
	P16(0x0303);
	for (int i = 0; i < 32; i++)
		P8(i * 7);			/* random */
	P8(32);
	for (int i = 0; i < 32; i++)
		P8(0xa0 + i);			/* session id */
	P16(sizeof(suites));
	for (size_t i = 0; i < sizeof(suites) / 2; i++)
		P16(suites[i]);
	P8(1), P8(0);				/* null compression */
	P16(0);					/* extensions length, patched */
	ext_start = n;
	P16(0x0a0a), P16(0);			/* GREASE */
	P16(0x0000), P16(sl + 5), P16(sl + 3), P8(0), P16(sl); /* server name */
	memcpy(b + n, sni, sl);
	n += sl;
	memcpy(b + n, exts_tail, sizeof(exts_tail));
	n += sizeof(exts_tail);
	P16(0x0033), P16(38), P16(36), P16(0x001d), P16(32); /* key share: x25519 */
	for (int i = 0; i < 32; i++)
		P8(0x55 ^ i);
	P16(0x0015), P16(200 - sl);		/* padding */
	memset(b + n, 0, 200 - sl);
	n += 200 - sl;
#undef P8
#undef P16
	b[ext_start - 2] = (n - ext_start) >> 8;
	b[ext_start - 1] = (n - ext_start) & 0xff;
	b[hs_start + 1] = 0;
	b[hs_start + 2] = (n - hs_start - 4) >> 8;
	b[hs_start + 3] = (n - hs_start - 4) & 0xff;
	b[3] = (n - 5) >> 8;
	b[4] = (n - 5) & 0xff;
	return n;
}

struct frame {
	uint8_t b[PKT_MAX];
	int len;
	struct pkt_info info;
};

static void frame_build(struct frame *f, const struct pkt_spec *s)
{
	f->len = pkt_build(s, f->b, sizeof(f->b), &f->info);
	if (f->len < 0)
		die("building a frame", EINVAL);
}

/* --- running programs --------------------------------------------------------- */

static int run_prog(int fd, const struct frame *f, __u32 repeat, __u32 *retval, double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = f->b, .data_size_in = f->len, .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &t))
		return -errno;
	if (retval)
		*retval = t.retval;
	if (ns)
		*ns = t.duration;
	return 0;
}

/* The programs compared: columns of the per-packet table. */
enum { S_EMPTY, S_XFILT, S_EW, S_MAX };
static const char *const subject_name[S_MAX] = { "empty XDP", "xdp-filter", "edgeward" };

struct bn_opts {
	__u32 repeat;
	int runs;
	__u32 oneshot; /* fresh flows per one-shot row */
	size_t sizes[8];
	int nsizes;
	size_t flows;
	const char *xfilt_path;
	bool strict; /* exit 1 when a verdict is wrong */
};

struct bn_ctx {
	const struct bn_opts *o;
	struct bpfrun ew;
	struct xfilt xf;
	int fd[S_MAX];
	double empty_ns; /* the empty program's ns per packet, repeated */
	int bad;	      /* wrong verdicts seen */
	FILE *md;
};

static const char *xdp_name(__u32 v)
{
	static const char *const n[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return v < 5 ? n[v] : "?";
}

static void expect(struct bn_ctx *c, int s, const char *row, __u32 got, int want)
{
	if (want < 0 || (int)got == want)
		return;
	fprintf(stderr, "bench: %s on '%s': XDP_%s, expected XDP_%s\n", subject_name[s], row,
		xdp_name(got), xdp_name(want));
	c->bad++;
}

static void fmt_ns(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "—");
	else
		snprintf(buf, len, "%.1f", v);
}

static void fmt_size(char *buf, size_t len, size_t n)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, len, "%zuM", n / 1000000);
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%zuk", n / 1000);
	else
		snprintf(buf, len, "%zu", n);
}

static void row_print(struct bn_ctx *c, const char *name, size_t pfx, size_t flows,
		      const double med[S_MAX])
{
	char a[24], b[24], e[24], p[24], fl[24], ratio[32];

	fmt_ns(a, sizeof(a), med[S_EMPTY]);
	fmt_ns(b, sizeof(b), med[S_XFILT]);
	fmt_ns(e, sizeof(e), med[S_EW]);
	fmt_size(p, sizeof(p), pfx);
	fmt_size(fl, sizeof(fl), flows);
	if (med[S_XFILT] > 0 && med[S_EW] >= 0)
		snprintf(ratio, sizeof(ratio), "%.2f", med[S_EW] / med[S_XFILT]);
	else
		snprintf(ratio, sizeof(ratio), "—");
	fprintf(c->md, "| %s | %s | %s | %s | %s | %s | %s |\n", name, p, fl, a, b, e, ratio);
	fflush(c->md);
}

/*
 * One frame repeated: every subject in turn, runs times, median of the
 * kernel's ns per repetition.
 */
static void row_repeat(struct bn_ctx *c, const char *name, const struct frame *f, size_t pfx,
		       size_t flows, int want_xf, int want_ew)
{
	double v[S_MAX][BN_RUNS_MAX], med[S_MAX];
	const int want[S_MAX] = { XDP_PASS, want_xf, want_ew };

	for (int r = 0; r < c->o->runs; r++)
		for (int s = 0; s < S_MAX; s++) {
			__u32 ret;

			if (run_prog(c->fd[s], f, c->o->repeat, &ret, &v[s][r]))
				die(name, errno);
			expect(c, s, name, ret, want[s]);
		}
	for (int s = 0; s < S_MAX; s++)
		med[s] = median(v[s], c->o->runs);
	row_print(c, name, pfx, flows, med);
}

/* A bn_vary instance aimed at one subject. */
struct vary {
	uint32_t base, n, addr_bits;
	uint16_t sport, off_a, off_p;
};

static struct bench_bpf *vary_open(const struct vary *v, int target_fd)
{
	struct bench_bpf *b = bench_bpf__open();
	__u32 zero = 0;

	if (!b)
		die("opening the bench object", errno);
	b->rodata->bn_vary_n = v->n;
	b->rodata->bn_vary_base = v->base;
	b->rodata->bn_vary_addr_bits = v->addr_bits;
	b->rodata->bn_vary_sport = v->sport;
	b->rodata->bn_vary_saddr_off = v->off_a;
	b->rodata->bn_vary_sport_off = v->off_p;
	if (bench_bpf__load(b))
		die("loading the bench object", errno);
	if (bpf_map_update_elem(bpf_map__fd(b->maps.bn_jmp), &zero, &target_fd, BPF_ANY))
		die("setting the tail call", errno);
	return b;
}

/*
 * One frame rewritten before each repetition (bn_vary), so each repetition is
 * another source/flow. The rewrite and tail call cost what bn_vary -> empty
 * costs beyond empty alone; that is subtracted.
 */
static void row_vary(struct bn_ctx *c, const char *name, const struct frame *f,
		     const struct vary *v, size_t pfx, size_t flows, int want_xf, int want_ew,
		     bool with_xf)
{
	struct bench_bpf *b[S_MAX];
	double raw[S_MAX][BN_RUNS_MAX], med[S_MAX], over;
	const int want[S_MAX] = { XDP_PASS, want_xf, want_ew };
	double bare[BN_RUNS_MAX];

	for (int s = 0; s < S_MAX; s++)
		b[s] = vary_open(v, c->fd[s]);
	for (int r = 0; r < c->o->runs; r++) {
		if (run_prog(c->fd[S_EMPTY], f, c->o->repeat, NULL, &bare[r]))
			die(name, errno);
		for (int s = 0; s < S_MAX; s++) {
			__u32 ret;

			if (s == S_XFILT && !with_xf) {
				raw[s][r] = -1;
				continue;
			}
			if (run_prog(bpf_program__fd(b[s]->progs.bn_vary), f, c->o->repeat, &ret,
				     &raw[s][r]))
				die(name, errno);
			expect(c, s, name, ret, want[s]);
		}
	}
	for (int s = 0; s < S_MAX; s++)
		med[s] = median(raw[s], c->o->runs);
	over = med[S_EMPTY] - median(bare, c->o->runs);
	for (int s = 0; s < S_MAX; s++)
		if (med[s] >= 0)
			med[s] -= over;
	if (!with_xf)
		med[S_XFILT] = -1;
	row_print(c, name, pfx, flows, med);
	for (int s = 0; s < S_MAX; s++)
		bench_bpf__destroy(b[s]);
}

/*
 * Packets whose cost depends on what came before (a ClientHello after its
 * SYN, the second segment after the first): each on a fresh flow, one
 * BPF_PROG_TEST_RUN each (repeat 1), the programs interleaved; mean of the
 * middle half of the kernel's ns, less the timer's own cost (the empty
 * program's one-shot time above its repeated time).
 */
static void row_oneshot(struct bn_ctx *c, const char *name, struct frame *const seq[], int nseq,
			int timed, size_t pfx, size_t flows)
{
	/*
	 * Source ports never used before in this process (from 2000: filled
	 * flows from this address use 1024..1039): a reused port would meet
	 * the connection state of an earlier row and skip the work measured.
	 */
	static uint32_t next_port = 2000;
	__u32 n = c->o->oneshot;
	double *v[S_MAX], med[S_MAX], floor;
	uint16_t sport0;

	if (next_port + n > 65535)
		die("one-shot rows: out of fresh source ports (lower --oneshot)", ERANGE);
	sport0 = next_port;
	next_port += n;

	for (int s = 0; s < S_MAX; s++)
		v[s] = calloc(n, sizeof(double));
	for (__u32 i = 0; i < n; i++) {
		uint16_t sport = htons(sport0 + i);

		for (int s = 0; s < S_MAX; s++) {
			for (int k = 0; k < nseq; k++) {
				double ns = 0;

				/* sport of the fresh flow: TCP checksum not verified by anyone */
				memcpy(seq[k]->b + seq[k]->info.off[PKT_L_L4], &sport, 2);
				if (run_prog(c->fd[s], seq[k], 1, NULL, &ns))
					die(name, errno);
				if (k == timed)
					v[s][i] = ns;
			}
		}
	}
	for (int s = 0; s < S_MAX; s++)
		med[s] = iq_mean(v[s], n);
	/* Everything above the empty program's repeated cost is the timer's. */
	floor = med[S_EMPTY] - c->empty_ns;
	for (int s = 0; s < S_MAX; s++) {
		med[s] -= floor;
		free(v[s]);
	}
	row_print(c, name, pfx, flows, med);
}

/* The empty program's cost per packet, repeated: the one-shot rows' anchor. */
static void oneshot_calibrate(struct bn_ctx *c, const struct frame *f)
{
	double v[BN_RUNS_MAX];

	for (int r = 0; r < c->o->runs; r++)
		if (run_prog(c->fd[S_EMPTY], f, c->o->repeat, NULL, &v[r]))
			die("calibrating", errno);
	c->empty_ns = median(v, c->o->runs);
}

/* Every row of the per-packet table at one block-list size and one flow-table fill. */
static void rows_at(struct bn_ctx *c, size_t pfx, size_t flows)
{
	static struct frame mid4, mid6, syn, syn_new, hello1, hs1, hs2, syn_h;
	static uint8_t hello[1024];
	size_t hl = tls_hello(hello, sizeof(hello), "api.example.com");
	struct vary vy;

	frame_build(&mid4, &(struct pkt_spec){ .tcp_flags = PKT_ACK | PKT_PSH, .sport = BN_FLOW_SPORT,
					     .saddr = "198.18.0.1", .fill = 512, .seq = 5000 });
	frame_build(&mid6, &(struct pkt_spec){ .family = 6, .tcp_flags = PKT_ACK | PKT_PSH,
					       .fill = 512, .seq = 5000 });
	frame_build(&syn, &(struct pkt_spec){ .tcp_opts = PKT_OPTS_LINUX_SYN, .sport = 50000,
					      .saddr = "198.18.0.3" });
	frame_build(&syn_new, &(struct pkt_spec){ .tcp_opts = PKT_OPTS_LINUX_SYN,
						  .dport = BN_NEW_DPORT });
	/* One-shot flows come from 198.18.1.1, each on a port not used before. */
	frame_build(&syn_h, &(struct pkt_spec){ .saddr = "198.18.1.1", .tcp_opts = PKT_OPTS_LINUX_SYN,
						.seq = 1000 });
	frame_build(&hello1, &(struct pkt_spec){ .saddr = "198.18.1.1", .tcp_flags = PKT_ACK | PKT_PSH,
						 .seq = 1001, .ack = 1,
						 .payload = { hello, hl } });
	frame_build(&hs1, &(struct pkt_spec){ .saddr = "198.18.1.1", .tcp_flags = PKT_ACK,
					      .seq = 1001, .ack = 1, .payload = { hello, 300 } });
	frame_build(&hs2, &(struct pkt_spec){ .saddr = "198.18.1.1", .tcp_flags = PKT_ACK | PKT_PSH,
					      .seq = 1301, .ack = 1,
					      .payload = { hello + 300, hl - 300 } });

	/*
	 * Many sources in turn: each repetition another filled flow. First,
	 * while the table holds only those: a cyclic walk over a full LRU table
	 * misses everywhere once any other flow has been inserted.
	 */
	if (flows) {
		struct bpfrun_stats a, b;
		__u64 made;

		vy = (struct vary){ .base = BN_FLOW_BASE, .n = flows_filled(flows), .addr_bits = 16,
				    .sport = BN_FLOW_SPORT, .off_a = mid4.info.off[PKT_L_IP] + 12,
				    .off_p = mid4.info.off[PKT_L_L4] };
		bpfrun_stats_read(&c->ew, &a);
		row_vary(c, "mid-flow IPv4, all flows in turn", &mid4, &vy, pfx, flows, XDP_PASS,
			 XDP_PASS, true);
		bpfrun_stats_read(&c->ew, &b);
		made = b.counters[EW_C_FLOW_NEW] - a.counters[EW_C_FLOW_NEW];
		if (made * 100 > (__u64)c->o->repeat * c->o->runs)
			fprintf(stderr, "bench: %llu of the in-turn packets missed their flow\n",
				(unsigned long long)made);
	}
	row_repeat(c, "mid-flow IPv4 TCP", &mid4, pfx, flows, XDP_PASS, XDP_PASS);
	row_repeat(c, "mid-flow IPv6 TCP", &mid6, pfx, flows, XDP_PASS, XDP_PASS);
	row_repeat(c, "SYN, same flow again", &syn, pfx, flows, XDP_PASS, XDP_PASS);

	row_oneshot(c, "SYN, new flow", (struct frame *const[]){ &syn_h }, 1, 0, pfx, flows);
	row_oneshot(c, "ClientHello, 1 segment, after SYN", (struct frame *const[]){ &syn_h, &hello1 },
		    2, 1, pfx, flows);
	row_oneshot(c, "ClientHello segment 2 of 2, after SYN",
		    (struct frame *const[]){ &syn_h, &hs1, &hs2 }, 3, 2, pfx, flows);

	if (!flows)
		return;
	/* A SYN flood into a full table: every insert evicts (LRU). */
	vy = (struct vary){ .base = BN_FLOW_BASE, .n = 1u << 30, .addr_bits = 16, .sport = 1024,
			    .off_a = syn_new.info.off[PKT_L_IP] + 12,
			    .off_p = syn_new.info.off[PKT_L_L4] };
	row_vary(c, "SYN, new flow each (64k sources)", &syn_new, &vy, pfx, flows, XDP_PASS, XDP_PASS,
		 true);
}

/* Rows that keep no flow state: once per block-list size. */
static void rows_stateless(struct bn_ctx *c, size_t pfx)
{
	static struct frame blocked, malformed;
	struct vary vy;

	frame_build(&blocked, &(struct pkt_spec){ .saddr = BN_BLOCKED_SRC,
						  .tcp_opts = PKT_OPTS_LINUX_SYN });
	frame_build(&malformed, &(struct pkt_spec){ .cut = PKT_L_IP });
	/* xdp-filter aborts on a frame it cannot parse; edgeward passes it, counted. */
	row_repeat(c, "malformed (IPv4 header cut)", &malformed, pfx, 0, XDP_ABORTED, XDP_PASS);
	if (pfx) {
		row_repeat(c, "blocklisted source (SYN)", &blocked, pfx, 0, XDP_DROP, XDP_DROP);
		vy = (struct vary){ .base = BN_BLOCKED_BASE, .n = 65536, .addr_bits = 16,
				    .sport = 40000, .off_a = blocked.info.off[PKT_L_IP] + 12,
				    .off_p = blocked.info.off[PKT_L_L4] };
		row_vary(c, "blocklisted, 64k sources in turn", &blocked, &vy, pfx, 0, -1, XDP_DROP,
			 false);
	}
}

static void mem_row(FILE *md, const char *what, long long bytes, size_t n, const char *unit)
{
	char sz[24];

	fmt_size(sz, sizeof(sz), n);
	if (bytes < 0 || !n)
		fprintf(md, "| %s | %s | — | — |\n", what, sz);
	else
		fprintf(md, "| %s | %s | %.1f MiB | %.0f B per %s |\n", what, sz, bytes / 1048576.0,
			(double)bytes / n, unit);
}

static void parse_sizes(struct bn_opts *o, const char *s)
{
	char *dup = strdup(s), *tok, *save;

	o->nsizes = 0;
	for (tok = strtok_r(dup, ",", &save); tok && o->nsizes < 8; tok = strtok_r(NULL, ",", &save))
		o->sizes[o->nsizes++] = strtoul(tok, NULL, 0);
	free(dup);
}

static int cmd_pkt(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "repeat", required_argument, NULL, 'r' }, { "runs", required_argument, NULL, 'n' },
		{ "sizes", required_argument, NULL, 's' },  { "flows", required_argument, NULL, 'f' },
		{ "oneshot", required_argument, NULL, 'o' }, { "xdp-filter", required_argument, NULL, 'x' },
		{ "strict", no_argument, NULL, 'S' }, {}
	};
	struct bn_opts o = { .repeat = 1000000, .runs = 5, .oneshot = 2000, .flows = 1000000 };
	struct bn_ctx c = { .o = &o, .md = stdout };
	struct bench_bpf *bn;
	struct bn_pfx *pfx;
	size_t maxp = 0;
	char mem[4096];
	FILE *memf = fmemopen(mem, sizeof(mem), "w");
	int opt;

	parse_sizes(&o, "0,10000,1000000");
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': o.repeat = strtoul(optarg, NULL, 0); break;
		case 'n': o.runs = atoi(optarg); break;
		case 's': parse_sizes(&o, optarg); break;
		case 'f': o.flows = strtoul(optarg, NULL, 0); break;
		case 'o': o.oneshot = strtoul(optarg, NULL, 0); break;
		case 'x': o.xfilt_path = optarg; break;
		case 'S': o.strict = true; break;
		default:
			fprintf(stderr, "usage: bench pkt --xdp-filter OBJ [--repeat N] [--runs K] "
					"[--sizes A,B,C] [--flows N] [--oneshot N] [--strict]\n");
			return 2;
		}
	}
	if (!o.xfilt_path || o.runs < 1 || o.runs > BN_RUNS_MAX || !o.repeat || !o.oneshot) {
		fprintf(stderr, "bench pkt: need --xdp-filter OBJ, 1 <= runs <= %d, repeat and oneshot > 0\n",
			BN_RUNS_MAX);
		return 2;
	}
	for (int i = 0; i < o.nsizes; i++)
		if (o.sizes[i] > maxp)
			maxp = o.sizes[i];
	pfx = bn_prefixes_alloc(maxp);

	bn = bench_bpf__open_and_load();
	if (!bn)
		die("loading the bench object", errno);
	c.fd[S_EMPTY] = bpf_program__fd(bn->progs.bn_empty);

	fprintf(c.md, "| packet | blocklist | flows | %s ns | %s ns | %s ns | edgeward / xdp-filter |\n",
		subject_name[S_EMPTY], subject_name[S_XFILT], subject_name[S_EW]);
	fprintf(c.md, "|---|---:|---:|---:|---:|---:|---:|\n");
	fprintf(memf, "| map | entries | kernel memory | per entry |\n|---|---:|---:|---:|\n");
	for (int i = 0; i < o.nsizes; i++) {
		size_t n = o.sizes[i];
		long long base, full;
		int err;

		err = bpfrun_open(&c.ew, &(struct bpfrun_opts){ .flows_max = o.flows ? o.flows : 0 });
		if (err)
			die("opening edgeward", err);
		err = xfilt_open(&c.xf, o.xfilt_path, n);
		if (err)
			die(o.xfilt_path, err);
		c.fd[S_EW] = c.ew.xdp_fd;
		c.fd[S_XFILT] = c.xf.prog_fd;
		base = obj_memlock(c.ew.skel->obj);
		ew_fill(&c.ew, pfx, n);
		xfilt_fill(&c.xf, pfx, n, c.ew.ncpus);
		full = obj_memlock(c.ew.skel->obj);
		if (i == 0)
			fprintf(memf, "| edgeward, all maps, empty (flow tables sized %zu) | | %.1f MiB | |\n",
				o.flows, base / 1048576.0);
		if (n) {
			struct ew_fd_maps m;
			uint64_t fixed, hashes;

			ew_fd_maps_of_skel(&m, c.ew.skel, c.ew.config_fd);
			ew_fd_table_bytes(&m, &fixed, &hashes);
			if (i == o.nsizes - 1)
				fprintf(memf, "| edgeward feed tables: fixed arrays (2 planes) | | %.1f MiB | |\n",
					fixed / 1048576.0);
			mem_row(memf, "edgeward feed tables: growth of all maps", full - base, n, "prefix");
			mem_row(memf, "edgeward feed tables: hash entries (ew_fd_table_bytes)", hashes, n,
				"prefix");
			mem_row(memf, "xdp-filter filter_ipv4 (addresses, preallocated)",
				map_memlock(c.xf.ip4_fd), n > 10000 ? n : 10000, "address");
		}
		if (i == 0)
			oneshot_calibrate(&c, &(struct frame){ .len = 60 });
		rows_stateless(&c, n);
		rows_at(&c, n, 0);
		if (o.flows) {
			flows_fill(&c.ew, flows_filled(o.flows), inet_addr("198.18.0.2"), 443);
			rows_at(&c, n, o.flows);
			if (i == 0) {
				mem_row(memf, "edgeward ew_flows (per-CPU counters, preallocated)",
					map_memlock(c.ew.flows_fd), o.flows, "flow");
				mem_row(memf, "edgeward ew_conns (evidence, preallocated)",
					map_memlock(c.ew.conns_fd), o.flows, "flow");
				fprintf(memf, "| edgeward flows in the table at the end (%zu filled) | %ld | | |\n",
					flows_filled(o.flows), bpfrun_flow_count(&c.ew));
			}
		}
		bpf_object__close(c.xf.obj);
		bpfrun_close(&c.ew);
	}
	fclose(memf);
	fprintf(c.md, "\nMEMORY\n%s", mem);
	bench_bpf__destroy(bn);
	free(pfx);
	if (c.bad)
		fprintf(stderr, "bench: %d wrong verdicts\n", c.bad);
	return c.bad && o.strict ? 1 : 0;
}

/* --- live frames into a veth ----------------------------------------------------- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static int cmd_live(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' }, { "batch", required_argument, NULL, 'b' },
		{ "src", required_argument, NULL, 's' },   { "dst", required_argument, NULL, 'd' },
		{ "dmac", required_argument, NULL, 'm' },  {}
	};
	struct pkt_spec spec = { .proto = IPPROTO_UDP, .saddr = BN_BLOCKED_SRC, .daddr = "198.18.0.2",
				 .sport = 40000, .dport = 9, .fill = 18 };
	__u32 count = 1000000, batch = 64;
	struct frame f;
	struct bench_bpf *b;
	struct xdp_md ctx = {};
	const char *ifname;
	double t0, t1;
	int opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': count = strtoul(optarg, NULL, 0); break;
		case 'b': batch = strtoul(optarg, NULL, 0); break;
		case 's': spec.saddr = optarg; break;
		case 'd': spec.daddr = optarg; break;
		case 'm':
			if (parse_mac(optarg, spec.dmac)) {
				fprintf(stderr, "bench live: bad --dmac '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: bench live IFACE [--count N] [--batch B] [--src A] "
					"[--dst A] [--dmac MAC]\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "bench live: need the interface to send on\n");
		return 2;
	}
	ifname = argv[optind];
	ctx.ingress_ifindex = if_nametoindex(ifname);
	if (!ctx.ingress_ifindex) {
		fprintf(stderr, "bench live: no interface '%s'\n", ifname);
		return 1;
	}
	frame_build(&f, &spec);
	ctx.data_end = f.len;
	b = bench_bpf__open_and_load();
	if (!b)
		die("loading the bench object", errno);
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = f.b, .data_size_in = f.len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = count, .batch_size = batch,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	t0 = now_s();
	if (bpf_prog_test_run_opts(bpf_program__fd(b->progs.bn_gen), &t))
		die("sending live frames", errno);
	t1 = now_s();
	printf("sent %u %.6f\n", count, t1 - t0);
	bench_bpf__destroy(b);
	return 0;
}

/* Attach bn_drop to IFACE (native XDP); `ip link set IFACE xdp off` removes it. */
static int cmd_xdpdrop(int argc, char **argv)
{
	struct bench_bpf *b;
	int ifindex;

	if (argc != 2) {
		fprintf(stderr, "usage: bench xdpdrop IFACE\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "bench xdpdrop: no interface '%s'\n", argv[1]);
		return 1;
	}
	b = bench_bpf__open_and_load();
	if (!b)
		die("loading the bench object", errno);
	if (bpf_xdp_attach(ifindex, bpf_program__fd(b->progs.bn_drop), XDP_FLAGS_DRV_MODE, NULL))
		die(argv[1], errno);
	bench_bpf__destroy(b);
	return 0;
}

/* `ethtool -K IFACE gro on`: veth then receives XDP frames through NAPI. */
static int cmd_gro(int argc, char **argv)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO, .data = 1 };
	struct ifreq ifr = {};
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: bench gro IFACE\n");
		return 2;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	ifr.ifr_data = (void *)&ev;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr))
		die(argv[1], errno);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = { { "pkt", cmd_pkt }, { "prefixes", cmd_prefixes },
		     { "live", cmd_live }, { "gro", cmd_gro }, { "xdpdrop", cmd_xdpdrop } };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2)
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench pkt|prefixes|live|gro|xdpdrop ... (see tests/bench/bench.c)\n");
	return 2;
}
