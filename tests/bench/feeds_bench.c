// SPDX-License-Identifier: BSD-2-Clause
/*
 * Threat-feed benchmark pieces, driven by scripts/bench-feeds.sh. Not a timed
 * test. Modes:
 *
 *   bench-feeds gen N4 N6 SEED [CHURN_PCT]   a feed file on stdout: N4 IPv4 and
 *        N6 IPv6 prefixes of a fixed mix (see gen_v4/gen_v6); with CHURN_PCT,
 *        that share of entries replaced by fresh ones (same seed otherwise).
 *   bench-feeds lookup SIZES REPEAT FRAMES N6   per-packet cost with
 *        BPF_PROG_TEST_RUN against private maps, for each IPv4 size in SIZES
 *        (comma-separated; the largest also gets N6 IPv6 prefixes):
 *        mid-flow packets of FRAMES different flows, and the first-packet
 *        decision for FRAMES different listed sources, through the feed
 *        tables and through the block list's LPM trie holding the same set.
 *   bench-feeds apply N4 N6 CHURN_PCT        ew_fd_apply() alone: first load
 *        and a reload with churn, private maps.
 *   bench-feeds trie-fill N                  an LPM trie filled one prefix at
 *        a time (bpf_map_update_elem per prefix).
 *
 * Output lines are "key value" pairs for the script to tabulate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/pkt.h"
#include "lib/bpfrun.h"
#include "feeds.h"
#include "edgeward.skel.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * IPv4 mix, like merged public block lists: 70% single addresses (ipsum, Tor,
 * scanners), 20% /24, 10% /16../23 (Spamhaus DROP, FireHOL); unicast space
 * 1.0.0.0-223.255.255.255 except 198.18.0.0/15, host bits cleared.
 */
static void gen_v4(struct ew_prefix *p)
{
	uint64_t r = rnd();
	uint32_t a = 0x01000000u + (uint32_t)(r % (0xe0000000u - 0x01000000u)), pick = (r >> 40) % 100;
	unsigned int len = pick < 70 ? 32 : pick < 90 ? 24 : 16 + (unsigned int)((r >> 48) % 8);

	if ((a & 0xfffe0000u) == 0xc6120000u)
		a ^= 0x01000000u; /* keep 198.18.0.0/15 free for the unlisted sources */
	a &= 0xffffffffu << (32 - len);
	memset(p, 0, sizeof(*p));
	p->family = 4;
	p->len = len;
	a = htonl(a);
	memcpy(p->addr, &a, 4);
}

/* IPv6 mix, like cloud ranges and DROPv6: /32../64 in 2000::/3, 20% /128. */
static void gen_v6(struct ew_prefix *p)
{
	static const unsigned int lens[] = { 32, 36, 40, 44, 48, 48, 48, 56, 64, 64, 64, 64, 128, 128, 128 };
	uint64_t hi = rnd(), lo = rnd();
	unsigned int len = lens[rnd() % (sizeof(lens) / sizeof(lens[0]))];

	memset(p, 0, sizeof(*p));
	p->family = 6;
	p->len = len;
	hi = (hi & 0x1fffffffffffffffull) | 0x2000000000000000ull;
	for (int i = 0; i < 8; i++) {
		p->addr[i] = hi >> (56 - 8 * i);
		p->addr[8 + i] = lo >> (56 - 8 * i);
	}
	for (unsigned int b = len; b < 128; b++)
		p->addr[b / 8] &= ~(0x80 >> (b % 8));
}

/* n4 + n6 prefixes from seed; churn_pct of them replaced with fresh ones. */
static struct ew_prefix *gen_set(size_t n4, size_t n6, uint64_t seed, double churn_pct, size_t *n)
{
	struct ew_prefix *p = malloc((n4 + n6 + 1) * sizeof(*p));
	size_t every = churn_pct > 0 ? (size_t)(100.0 / churn_pct) : 0;

	rng_state = seed;
	for (size_t i = 0; i < n4; i++)
		gen_v4(&p[i]);
	for (size_t i = 0; i < n6; i++)
		gen_v6(&p[n4 + i]);
	rng_state = seed ^ 0x5555aaaa5555aaaaull;
	for (size_t i = 0; every && i < n4 + n6; i += every) {
		if (p[i].family == 4)
			gen_v4(&p[i]);
		else
			gen_v6(&p[i]);
	}
	*n = n4 + n6;
	ew_prefix_sort_unique(p, n);
	return p;
}

static int mode_gen(int argc, char **argv)
{
	size_t n;
	struct ew_prefix *p;
	char buf[64];

	if (argc < 5)
		return 2;
	p = gen_set(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), strtoull(argv[4], NULL, 0),
		    argc > 5 ? atof(argv[5]) : 0, &n);
	for (size_t i = 0; i < n; i++) {
		ew_prefix_fmt(&p[i], buf, sizeof(buf));
		puts(buf);
	}
	free(p);
	return 0;
}

static void maps_of(struct bpfrun *r, struct ew_fd_maps *m)
{
	ew_fd_maps_of_skel(m, r->skel, r->config_fd);
}

static int trie_fill(struct bpfrun *r, const struct ew_prefix *p, size_t n, double *ms)
{
	struct ew_pfx_val v = { .action = EW_A_DROP };
	double t0 = now_ms();

	for (size_t i = 0; i < n; i++) {
		struct ew_pfx4_key k4;
		struct ew_pfx6_key k6;
		void *k = ew_pfx_key(&p[i], &k4, &k6);

		if (bpf_map_update_elem(p[i].family == 4 ? r->pfx4_fd : r->pfx6_fd, k, &v, BPF_ANY)) {
			fprintf(stderr, "bench-feeds: trie update %zu: %s\n", i, strerror(errno));
			return -1;
		}
	}
	*ms = now_ms() - t0;
	return 0;
}

/* A random address inside prefix p (IPv4) as text. */
static void addr_in(const struct ew_prefix *p, char *txt)
{
	uint32_t a;

	memcpy(&a, p->addr, 4);
	a = ntohl(a);
	if (p->len < 32)
		a |= (uint32_t)rnd() & (0xffffffffu >> p->len);
	a = htonl(a);
	inet_ntop(AF_INET, &a, txt, INET_ADDRSTRLEN);
}

struct frames {
	uint8_t (*buf)[128];
	size_t *len;
	size_t n;
};

static int frames_build(struct frames *f, size_t n, const struct ew_prefix *set, size_t nset, bool listed)
{
	f->buf = malloc(n * sizeof(*f->buf));
	f->len = malloc(n * sizeof(*f->len));
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		char src[INET6_ADDRSTRLEN];
		struct pkt_spec s = { .proto = 17, .dport = 443, .sport = 1024 + i % 60000, .daddr = "198.18.0.2" };
		struct pkt_info info;
		int len;

		if (listed) {
			const struct ew_prefix *p;

			do
				p = &set[rnd() % nset];
			while (p->family != 4);
			addr_in(p, src);
		} else { /* varied sources in 198.18.0.0/15, which no generated set holds */
			uint32_t a = htonl(0xc6120000u | (uint32_t)(rnd() & 0x1ffff));

			inet_ntop(AF_INET, &a, src, sizeof(src));
		}
		s.saddr = src;
		len = pkt_build(&s, f->buf[i], sizeof(f->buf[i]), &info);
		if (len < 0)
			return -1;
		f->len[i] = len;
	}
	return 0;
}

/* Mean of the kernel's ns per run over all frames, each run `repeat` times. */
static double frames_cost(struct bpfrun *r, const struct frames *f, __u32 repeat, __u32 want)
{
	double sum = 0;
	size_t bad = 0;

	for (size_t i = 0; i < f->n; i++) {
		__u32 ret, ns;

		if (bpfrun_xdp_repeat(r, f->buf[i], f->len[i], repeat, &ret, &ns))
			return -1;
		bad += ret != want;
		sum += ns;
	}
	if (bad)
		fprintf(stderr, "bench-feeds: %zu of %zu frames got another verdict than %u\n", bad, f->n, want);
	return sum / f->n;
}

static int mode_lookup(int argc, char **argv)
{
	__u32 repeat = argc > 3 ? strtoul(argv[3], NULL, 0) : 200;
	size_t nframes = argc > 4 ? strtoul(argv[4], NULL, 0) : 2048;
	size_t n6_at_max = argc > 5 ? strtoul(argv[5], NULL, 0) : 200000;
	char *sizes = strdup(argc > 2 ? argv[2] : "0,10000,100000,1000000"), *tok, *save = NULL;
	size_t max = 0;

	{
		char *c = strdup(sizes);

		for (tok = strtok_r(c, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strtoul(tok, NULL, 0) > max)
				max = strtoul(tok, NULL, 0);
		free(c);
	}
	printf("# n4 n6 midflow_feeds_ns midflow_trie_ns firstpkt_feeds_ns firstpkt_trie_ns feeds_mem_mb\n");
	for (tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n4 = strtoul(tok, NULL, 0), n6 = n4 == max && n4 ? n6_at_max : 0, n;
		struct ew_prefix *set = gen_set(n4, n6, 42, 0, &n);
		double mid_f, mid_t, first_f = 0, first_t = 0, ms;
		struct bpfrun rf, rt;
		struct ew_fd_maps m;
		struct ew_fd_report rep;
		struct ew_fd_feed feed = { .id = 0, .action = EW_A_DROP, .pfx = set, .n = n };
		struct frames mid, first = { 0 };
		uint64_t fixed, hashes;

		if (bpfrun_open(&rf, &(struct bpfrun_opts){ .flows_max = 65536 }) ||
		    bpfrun_open(&rt, &(struct bpfrun_opts){ .flows_max = 65536, .pfx_max = 1 << 21 }))
			return 1;
		maps_of(&rf, &m);
		if (ew_fd_apply(&m, &feed, 1, &rep) || trie_fill(&rt, set, n, &ms))
			return 1;
		rng_state = 7;
		if (frames_build(&mid, nframes, set, n, false))
			return 1;
		/* First pass creates the flows; then every packet is mid-flow. */
		frames_cost(&rf, &mid, 1, XDP_PASS);
		frames_cost(&rt, &mid, 1, XDP_PASS);
		mid_f = frames_cost(&rf, &mid, repeat, XDP_PASS);
		mid_t = frames_cost(&rt, &mid, repeat, XDP_PASS);
		if (n4) { /* dropped sources keep no flow: every run decides again */
			frames_build(&first, nframes, set, n, true);
			first_f = frames_cost(&rf, &first, repeat, XDP_DROP);
			first_t = frames_cost(&rt, &first, repeat, XDP_DROP);
		}
		ew_fd_table_bytes(&m, &fixed, &hashes);
		printf("%zu %zu %.1f %.1f %.1f %.1f %.1f\n", n4, n6, mid_f, mid_t, first_f, first_t,
		       (fixed + hashes) / 1048576.0);
		fflush(stdout);
		free(mid.buf);
		free(mid.len);
		free(first.buf);
		free(first.len);
		free(set);
		bpfrun_close(&rf);
		bpfrun_close(&rt);
	}
	free(sizes);
	return 0;
}

static int mode_apply(int argc, char **argv)
{
	size_t n4 = strtoul(argv[2], NULL, 0), n6 = strtoul(argv[3], NULL, 0), n, nc;
	double churn = atof(argv[4]);
	struct ew_prefix *a = gen_set(n4, n6, 42, 0, &n), *b = gen_set(n4, n6, 42, churn, &nc);
	struct ew_fd_feed fa = { .id = 0, .action = EW_A_DROP, .pfx = a, .n = n };
	struct ew_fd_feed fb = { .id = 0, .action = EW_A_DROP, .pfx = b, .n = nc };
	struct ew_fd_report r1, r2;
	struct ew_fd_maps m;
	struct bpfrun r;

	if (bpfrun_open(&r, &(struct bpfrun_opts){}))
		return 1;
	maps_of(&r, &m);
	char cache[] = "/tmp/bench-feeds-cache.XXXXXX";
	int cfd = mkstemp(cache);

	if (cfd >= 0)
		close(cfd);
	if (ew_fd_apply_cached(&m, &fa, 1, cache, &r1) || ew_fd_apply_cached(&m, &fb, 1, cache, &r2))
		return 1;
	unlink(cache);
	printf("load_ms %.1f build_ms %.1f write_ms %.1f\n", r1.total_ms, r1.build_ms, r1.write_ms);
	printf("reload_ms %.1f build_ms %.1f write_ms %.1f hash_updates %zu\n", r2.total_ms, r2.build_ms,
	       r2.write_ms, r2.hash_updates);
	bpfrun_close(&r);
	free(a);
	free(b);
	return 0;
}

static int mode_trie_fill(int argc, char **argv)
{
	size_t n4 = strtoul(argv[2], NULL, 0), n6 = argc > 3 ? strtoul(argv[3], NULL, 0) : 0, n;
	struct ew_prefix *set = gen_set(n4, n6, 42, 0, &n);
	struct bpfrun r;
	double ms;

	if (bpfrun_open(&r, &(struct bpfrun_opts){ .pfx_max = 1 << 21 }) || trie_fill(&r, set, n, &ms))
		return 1;
	printf("trie_fill_ms %.1f\n", ms);
	bpfrun_close(&r);
	free(set);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return mode_gen(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "lookup"))
		return mode_lookup(argc, argv);
	if (argc >= 5 && !strcmp(argv[1], "apply"))
		return mode_apply(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "trie-fill"))
		return mode_trie_fill(argc, argv);
	fprintf(stderr, "usage: bench-feeds gen N4 N6 SEED [CHURN_PCT] | lookup [SIZES [REPEAT [FRAMES [N6]]]] |\n"
			"       apply N4 N6 CHURN_PCT | trie-fill N4 [N6]\n");
	return 2;
}
