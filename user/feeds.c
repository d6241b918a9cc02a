// SPDX-License-Identifier: BSD-2-Clause
/*
 * Threat-feed tables: built in user space from every loaded feed, swapped in
 * atomically. Layout and the plane protocol are described in
 * include/edgeward/abi.h; the lookup is bpf/lib/feeds.h.
 *
 * A reload writes the inactive plane (direct arrays by memcpy into their
 * mmap, hash entries by batch update of the inactive slot only), flips
 * ew_fd_state.active with one aligned store, bumps the rule generation, waits
 * an RCU grace period (membarrier), folds the retired plane's class hits into
 * each feed's hits_base, and finally makes the retired plane equal to the new
 * one, so both planes agree between reloads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/membarrier.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "feeds.h"
#include "edgeward.skel.h"

#define T24_BYTES ((size_t)EW_FD4_SLOTS * 2)
#define L1_SLOTS (1u << EW_FD6_L1_BITS)
#define L1_BYTES ((size_t)L1_SLOTS * 4)
#define CLS_BYTES ((size_t)EW_FD_CLASS_MAX * sizeof(struct ew_fd_class))

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int ew_fd_maps_open(struct ew_fd_maps *m)
{
	static const char *const names[] = { "ew_fd_state", "ew_fd4_24", "ew_fd4_32", "ew_fd6_l1", "ew_fd6",
					     "ew_fd_cls",   "ew_fd_hits", "ew_feeds", "ew_config" };
	int *fds[] = { &m->state, &m->t4, &m->h4, &m->l1, &m->h6, &m->cls, &m->hits, &m->feeds, &m->config };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		*fds[i] = ew_map_open(names[i]);
		if (*fds[i] < 0) {
			ew_fd_maps_close(m);
			return -1;
		}
	}
	return 0;
}

void ew_fd_maps_of_skel(struct ew_fd_maps *m, const struct edgeward_bpf *skel, int config_fd)
{
	m->state = bpf_map__fd(skel->maps.ew_fd_state);
	m->t4 = bpf_map__fd(skel->maps.ew_fd4_24);
	m->h4 = bpf_map__fd(skel->maps.ew_fd4_32);
	m->l1 = bpf_map__fd(skel->maps.ew_fd6_l1);
	m->h6 = bpf_map__fd(skel->maps.ew_fd6);
	m->cls = bpf_map__fd(skel->maps.ew_fd_cls);
	m->hits = bpf_map__fd(skel->maps.ew_fd_hits);
	m->feeds = bpf_map__fd(skel->maps.ew_feeds);
	m->config = config_fd;
}

void ew_fd_maps_close(struct ew_fd_maps *m)
{
	int *fds[] = { &m->state, &m->t4, &m->h4, &m->l1, &m->h6, &m->cls, &m->hits, &m->feeds, &m->config };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The mmapped tables of one set of maps. */
struct fd_mmaps {
	struct ew_fd_state *st;
	uint16_t *t24;		/* [2][EW_FD4_SLOTS] */
	uint32_t *l1;		/* [2][L1_SLOTS] */
	struct ew_fd_class *cls; /* [2][EW_FD_CLASS_MAX] */
};

static void *map_mmap(int fd, size_t len, bool rw)
{
	void *p = mmap(NULL, len, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED) {
		ew_err("mapping the feed tables: %s", strerror(errno));
		return NULL;
	}
	return p;
}

static void fd_munmap(struct fd_mmaps *mm)
{
	if (mm->st)
		munmap(mm->st, 4096);
	if (mm->t24)
		munmap(mm->t24, 2 * T24_BYTES);
	if (mm->l1)
		munmap(mm->l1, 2 * L1_BYTES);
	if (mm->cls)
		munmap(mm->cls, 2 * CLS_BYTES);
	memset(mm, 0, sizeof(*mm));
}

/* Map the direct tables; read-only for readers (a reader's fds may be BPF_F_RDONLY). */
static int fd_mmap(const struct ew_fd_maps *m, struct fd_mmaps *mm, bool rw)
{
	memset(mm, 0, sizeof(*mm));
	mm->st = map_mmap(m->state, 4096, rw);
	mm->t24 = map_mmap(m->t4, 2 * T24_BYTES, rw);
	mm->l1 = map_mmap(m->l1, 2 * L1_BYTES, rw);
	mm->cls = map_mmap(m->cls, 2 * CLS_BYTES, rw);
	if (!mm->st || !mm->t24 || !mm->l1 || !mm->cls) {
		fd_munmap(mm);
		return -1;
	}
	return 0;
}

/* --- classes: feed set -> id, stable across reloads --------------------------- */
#define DICT_CAP (1u << 17)

struct classes {
	uint64_t keys[DICT_CAP];
	uint16_t ids[DICT_CAP];
	uint64_t set[EW_FD_CLASS_MAX];
	bool taken[EW_FD_CLASS_MAX];
	bool used[EW_FD_CLASS_MAX];
	uint8_t action[EW_FEEDS_MAX];
	unsigned int next, count;
	bool full;
	/* one-entry memo of add() */
	uint16_t memo_c, memo_r;
	int memo_f;
};

static uint32_t dict_slot(const struct classes *c, uint64_t set)
{
	uint32_t h = (uint32_t)((set * 0x9e3779b97f4a7c15ull) >> 47) & (DICT_CAP - 1);

	while (c->keys[h] && c->keys[h] != set)
		h = (h + 1) & (DICT_CAP - 1);
	return h;
}

static void dict_put(struct classes *c, uint64_t set, uint16_t id)
{
	uint32_t h = dict_slot(c, set);

	c->keys[h] = set;
	c->ids[h] = id;
	c->set[id] = set;
	c->taken[id] = true;
}

static uint16_t class_of(struct classes *c, uint64_t set)
{
	uint32_t h;

	if (!set)
		return 0;
	h = dict_slot(c, set);
	if (!c->keys[h]) {
		while (c->next < EW_FD_CLASS_MAX && c->taken[c->next])
			c->next++;
		if (c->next >= EW_FD_CLASS_MAX) {
			c->full = true;
			return 0;
		}
		dict_put(c, set, c->next);
	}
	if (!c->used[c->ids[h]]) {
		c->used[c->ids[h]] = true;
		c->count++;
	}
	return c->ids[h];
}

static uint16_t class_add(struct classes *c, uint16_t cls, int feed)
{
	if (c->memo_f == feed && c->memo_c == cls)
		return c->memo_r;
	c->memo_f = feed;
	c->memo_c = cls;
	c->memo_r = class_of(c, c->set[cls] | (1ull << feed));
	return c->memo_r;
}

static int rank(uint8_t a)
{
	return a == EW_A_ALLOW ? 3 : a == EW_A_DROP ? 2 : a == EW_A_FLAG ? 1 : 0;
}

/* --- the image of one plane ------------------------------------------------------ */
struct hentry {
	uint8_t key[20];
	uint16_t cls;
};

struct image {
	uint16_t *t24;
	uint32_t *l1;
	struct ew_fd_class *cls;
	struct hentry *h4, *h6;
	size_t n4, n6;
	uint8_t lens[EW_FD6_LENS_MAX];
	unsigned int nlens;
	size_t slash24;
};

static void image_free(struct image *im)
{
	free(im->t24);
	free(im->l1);
	free(im->cls);
	free(im->h4);
	free(im->h6);
	memset(im, 0, sizeof(*im));
}

/* LSD radix sort of 64-bit keys, low `bits` bits significant. */
static int radix_sort(uint64_t *a, size_t n, int bits)
{
	uint64_t *tmp;
	size_t cnt[1 << 13];

	if (n < 2) /* also: an empty feed passes a NULL array */
		return 0;
	tmp = malloc(n * sizeof(*a));
	if (!tmp)
		return -1;
	for (int shift = 0; shift < bits; shift += 13) {
		memset(cnt, 0, sizeof(cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(a[i] >> shift) & 0x1fff]++;
		for (size_t i = 0, sum = 0; i < (1 << 13); i++) {
			size_t c = cnt[i];

			cnt[i] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[cnt[(a[i] >> shift) & 0x1fff]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
	free(tmp);
	return 0;
}

static int hentry_cmp20(const void *a, const void *b)
{
	return memcmp(((const struct hentry *)a)->key, ((const struct hentry *)b)->key, 20);
}

struct v6item {
	uint8_t addr[16];
	uint8_t len;
	uint8_t feed;
};

static int v6item_cmp(const void *a, const void *b)
{
	const struct v6item *x = a, *y = b;
	int r = memcmp(x->addr, y->addr, 16);

	return r ? r : (int)x->len - (int)y->len;
}

static bool v6_contains(const uint8_t *pa, unsigned int plen, const uint8_t *a)
{
	unsigned int full = plen / 8, rem = plen % 8;

	if (memcmp(pa, a, full))
		return false;
	return !rem || ((pa[full] ^ a[full]) & (0xff << (8 - rem))) == 0;
}

static int build_v4(struct classes *c, const struct ew_fd_feed *feeds, size_t n, struct image *im)
{
	size_t nhost = 0, cap = 0;
	uint64_t *hosts = NULL;
	int ret = -1;

	im->t24 = calloc(EW_FD4_SLOTS, sizeof(uint16_t));
	if (!im->t24)
		return -1;
	/* Prefixes up to /24 fill their /24 slots; longer ones become addresses. */
	for (size_t f = 0; f < n; f++) {
		for (size_t i = 0; i < feeds[f].n; i++) {
			const struct ew_prefix *p = &feeds[f].pfx[i];
			uint32_t a;

			if (p->family != 4)
				continue;
			memcpy(&a, p->addr, 4);
			a = ntohl(a);
			if (p->len <= 24) {
				uint32_t first = a >> 8, cnt = 1u << (24 - p->len);

				for (uint32_t s = first; s < first + cnt; s++)
					im->t24[s] = class_add(c, im->t24[s], feeds[f].id);
				continue;
			}
			uint32_t cnt = 1u << (32 - p->len);

			if (nhost + cnt > cap) {
				size_t ncap = cap ? cap * 2 : 65536;
				uint64_t *nh;

				while (ncap < nhost + cnt)
					ncap *= 2;
				nh = realloc(hosts, ncap * sizeof(*hosts));
				if (!nh)
					goto out;
				hosts = nh;
				cap = ncap;
			}
			for (uint32_t k = 0; k < cnt; k++)
				hosts[nhost++] = ((uint64_t)(a + k) << 6) | (uint64_t)feeds[f].id;
		}
	}
	if (radix_sort(hosts, nhost, 39))
		goto out;
	im->h4 = malloc((nhost + 1) * sizeof(*im->h4));
	if (!im->h4)
		goto out;
	for (size_t i = 0; i < nhost;) {
		uint32_t a = hosts[i] >> 6;
		uint64_t set = c->set[im->t24[a >> 8] & ~EW_FD4_HOST];
		struct hentry *e = &im->h4[im->n4++];
		uint32_t be = htonl(a);

		for (; i < nhost && (uint32_t)(hosts[i] >> 6) == a; i++)
			set |= 1ull << (hosts[i] & 63);
		memset(e, 0, sizeof(*e));
		memcpy(e->key, &be, 4);
		e->cls = class_of(c, set);
	}
	for (size_t i = 0; i < im->n4; i++) {
		uint32_t be;

		memcpy(&be, im->h4[i].key, 4);
		im->t24[ntohl(be) >> 8] |= EW_FD4_HOST;
	}
	for (size_t s = 0; s < EW_FD4_SLOTS; s++)
		im->slash24 += im->t24[s] != 0;
	ret = 0;
out:
	free(hosts);
	return ret;
}

static int build_v6(struct classes *c, const struct ew_fd_feed *feeds, size_t n, struct image *im)
{
	struct v6item *it = NULL;
	size_t cnt = 0, w = 0;
	struct {
		const uint8_t *addr;
		unsigned int len;
		uint64_t set;
	} stack[129];
	int sp = 0, lenidx[129];
	bool present[129] = {};

	for (size_t f = 0; f < n; f++)
		for (size_t i = 0; i < feeds[f].n; i++)
			cnt += feeds[f].pfx[i].family == 6;
	im->l1 = calloc(L1_SLOTS, sizeof(uint32_t));
	it = malloc((cnt + 1) * sizeof(*it));
	im->h6 = malloc((cnt + 1) * sizeof(*im->h6));
	if (!im->l1 || !it || !im->h6) {
		free(it);
		return -1;
	}
	for (size_t f = 0; f < n; f++)
		for (size_t i = 0; i < feeds[f].n; i++) {
			const struct ew_prefix *p = &feeds[f].pfx[i];

			if (p->family != 6)
				continue;
			memcpy(it[w].addr, p->addr, 16);
			it[w].len = p->len;
			it[w].feed = feeds[f].id;
			w++;
		}
	qsort(it, cnt, sizeof(*it), v6item_cmp);
	for (size_t i = 0; i < cnt;) {
		struct ew_pfx6_key k = { .prefixlen = it[i].len };
		struct hentry *e = &im->h6[im->n6++];
		uint64_t own = 0;
		size_t j = i;

		for (; j < cnt && !v6item_cmp(&it[i], &it[j]); j++)
			own |= 1ull << it[j].feed;
		while (sp && !v6_contains(stack[sp - 1].addr, stack[sp - 1].len, it[i].addr))
			sp--;
		if (sp)
			own |= stack[sp - 1].set;
		stack[sp].addr = it[i].addr;
		stack[sp].len = it[i].len;
		stack[sp].set = own;
		sp++;
		memcpy(k.addr, it[i].addr, 16);
		memset(e, 0, sizeof(*e));
		memcpy(e->key, &k, sizeof(k));
		e->cls = class_of(c, own);
		present[it[i].len] = true;
		i = j;
	}
	/* In key-byte order, the order the hash diff walks. */
	qsort(im->h6, im->n6, sizeof(*im->h6), hentry_cmp20);
	for (int l = 128; l >= 0; l--) {
		lenidx[l] = -1;
		if (!present[l])
			continue;
		if (im->nlens == EW_FD6_LENS_MAX) {
			ew_err("the feeds use more than %d distinct IPv6 prefix lengths", EW_FD6_LENS_MAX);
			free(it);
			return -1;
		}
		lenidx[l] = im->nlens;
		im->lens[im->nlens++] = l;
	}
	for (size_t i = 0; i < im->n6; i++) {
		struct ew_pfx6_key k;
		uint32_t top, bit;

		memcpy(&k, im->h6[i].key, sizeof(k));
		top = ((uint32_t)k.addr[0] << 12 | (uint32_t)k.addr[1] << 4 | k.addr[2] >> 4);
		bit = 1u << lenidx[k.prefixlen];
		if (k.prefixlen >= EW_FD6_L1_BITS) {
			im->l1[top] |= bit;
		} else {
			uint32_t span = 1u << (EW_FD6_L1_BITS - k.prefixlen);

			for (uint32_t s = top; s < top + span; s++)
				im->l1[s] |= bit;
		}
	}
	free(it);
	return 0;
}

static int build(const struct fd_mmaps *mm, int plane, const struct ew_fd_feed *feeds, size_t n,
		 struct image *im, bool seed)
{
	struct classes *c = calloc(1, sizeof(*c));
	int ret = -1;

	memset(im, 0, sizeof(*im));
	if (!c)
		return -1;
	c->next = 1;
	c->taken[0] = true;
	c->memo_f = -1;
	for (size_t f = 0; f < n; f++)
		c->action[feeds[f].id] = feeds[f].action;
	if (seed) /* keep the ids of classes the active plane uses */
		for (unsigned int i = 1; i < EW_FD_CLASS_MAX; i++) {
			uint64_t set = mm->cls[plane * EW_FD_CLASS_MAX + i].feeds;

			if (set && !c->keys[dict_slot(c, set)])
				dict_put(c, set, i);
		}
	if (build_v4(c, feeds, n, im) || build_v6(c, feeds, n, im))
		goto out;
	if (c->full) {
		if (seed) {
			image_free(im);
			free(c);
			return build(mm, plane, feeds, n, im, false);
		}
		ew_err("the feeds make more than %d distinct feed sets", EW_FD_CLASS_MAX - 1);
		goto out;
	}
	im->cls = calloc(EW_FD_CLASS_MAX, sizeof(*im->cls));
	if (!im->cls)
		goto out;
	for (unsigned int i = 1; i < EW_FD_CLASS_MAX; i++) {
		uint8_t best = EW_A_PASS;

		if (!c->used[i])
			continue;
		for (int f = 0; f < EW_FEEDS_MAX; f++)
			if ((c->set[i] >> f & 1) && rank(c->action[f]) > rank(best))
				best = c->action[f];
		im->cls[i].feeds = c->set[i];
		im->cls[i].action = best;
	}
	ret = 0;
out:
	if (ret)
		image_free(im);
	free(c);
	return ret;
}

/* --- hash tables: diff against the kernel, two-phase writes ----------------------- */
struct kentry {
	uint8_t key[20];
	struct ew_fd_slot v;
};

static int kentry_cmp4(const void *a, const void *b)
{
	return memcmp(a, b, 4);
}

static int kentry_cmp20(const void *a, const void *b)
{
	return memcmp(a, b, 20);
}

/* Every entry of a feed hash, sorted by key bytes. */
static long hash_read(int fd, size_t ksz, struct kentry **out)
{
	size_t cap = 65536, n = 0;
	struct kentry *e = NULL;
	uint8_t *keys = NULL;
	struct ew_fd_slot *vals = NULL;
	__u32 batch = 0;
	bool first = true;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	e = malloc(cap * sizeof(*e));
	keys = malloc(8192 * ksz);
	vals = malloc(8192 * sizeof(*vals));
	if (!e || !keys || !vals)
		goto fail;
	for (;;) {
		__u32 count = 8192;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count, &opts);

		if (err && errno != ENOENT)
			goto fail;
		first = false;
		if (n + count > cap) {
			struct kentry *ne;

			while (n + count > cap)
				cap *= 2;
			ne = realloc(e, cap * sizeof(*e));
			if (!ne)
				goto fail;
			e = ne;
		}
		for (__u32 i = 0; i < count; i++) {
			memset(e[n].key, 0, sizeof(e[n].key));
			memcpy(e[n].key, keys + i * ksz, ksz);
			e[n].v = vals[i];
			n++;
		}
		if (err)
			break;
	}
	free(keys);
	free(vals);
	qsort(e, n, sizeof(*e), ksz == 4 ? kentry_cmp4 : kentry_cmp20);
	*out = e;
	return n;
fail:
	ew_err("reading a feed hash table: %s", strerror(errno));
	free(e);
	free(keys);
	free(vals);
	return -1;
}

/* A batch of writes to one hash. */
struct hops {
	uint8_t *keys;
	struct ew_fd_slot *vals;
	size_t n;
};

static void hops_push(struct hops *o, const uint8_t *key, size_t ksz, uint16_t c0, uint16_t c1)
{
	memcpy(o->keys + o->n * ksz, key, ksz);
	memset(&o->vals[o->n], 0, sizeof(o->vals[0]));
	o->vals[o->n].cls[0] = c0;
	o->vals[o->n].cls[1] = c1;
	o->n++;
}

static int hops_update(int fd, struct hops *o, size_t ksz)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);

	for (size_t done = 0; done < o->n;) {
		__u32 count = o->n - done;

		if (bpf_map_update_batch(fd, o->keys + done * ksz, o->vals + done, &count, &opts)) {
			ew_err("writing %zu feed hash entries: %s", o->n - done, strerror(errno));
			return -1;
		}
		done += count;
	}
	return 0;
}

static int hops_delete(int fd, struct hops *o, size_t ksz)
{
	for (size_t i = 0; i < o->n; i++)
		if (bpf_map_delete_elem(fd, o->keys + i * ksz) && errno != ENOENT) {
			ew_err("deleting a feed hash entry: %s", strerror(errno));
			return -1;
		}
	return 0;
}

struct hplan {
	struct hops phase1; /* new plane's slot, old plane's slot kept */
	struct hops phase2; /* both slots = new */
	struct hops del;    /* absent from the new set */
	size_t peak;	    /* entries present during the reload */
};

static void hplan_free(struct hplan *p)
{
	free(p->phase1.keys);
	free(p->phase1.vals);
	free(p->phase2.keys);
	free(p->phase2.vals);
	free(p->del.keys);
	free(p->del.vals);
}

/*
 * Could the active plane's lookup reach this key? IPv4: only under a /24
 * flagged EW_FD4_HOST; IPv6: only for a length the /20's mask lists. A new
 * key it cannot reach is written with both slots at once.
 */
static bool reachable(const struct fd_mmaps *mm, int act, const uint8_t *key, size_t ksz)
{
	if (ksz == 4) {
		uint32_t be;

		memcpy(&be, key, 4);
		return mm->t24[(size_t)act * EW_FD4_SLOTS + (ntohl(be) >> 8)] & EW_FD4_HOST;
	}
	struct ew_pfx6_key k;
	uint32_t top;

	memcpy(&k, key, sizeof(k));
	top = (uint32_t)k.addr[0] << 12 | (uint32_t)k.addr[1] << 4 | k.addr[2] >> 4;
	for (unsigned int i = 0; i < mm->st->nlens6[act] && i < EW_FD6_LENS_MAX; i++)
		if (mm->st->lens6[act][i] == k.prefixlen)
			return mm->l1[(size_t)act * L1_SLOTS + top] >> i & 1;
	return false;
}

static int hplan_make(struct hplan *p, const struct fd_mmaps *mm, const struct kentry *old, size_t nold,
		      const struct hentry *nw, size_t nnew, size_t ksz, int act)
{
	size_t cap = nold + nnew + 1, i = 0, j = 0;
	int ina = !act;

	memset(p, 0, sizeof(*p));
	p->phase1.keys = malloc(cap * ksz);
	p->phase1.vals = malloc(cap * sizeof(struct ew_fd_slot));
	p->phase2.keys = malloc(cap * ksz);
	p->phase2.vals = malloc(cap * sizeof(struct ew_fd_slot));
	p->del.keys = malloc(cap * ksz);
	p->del.vals = malloc(cap * sizeof(struct ew_fd_slot));
	if (!p->phase1.keys || !p->phase1.vals || !p->phase2.keys || !p->phase2.vals || !p->del.keys ||
	    !p->del.vals)
		return -1;
	while (i < nold || j < nnew) {
		int r = i == nold ? 1 : j == nnew ? -1 : memcmp(old[i].key, nw[j].key, ksz);
		uint16_t slot[2];

		p->peak++;
		if (r < 0) { /* only in the kernel: hide it from the new plane, delete later */
			if (old[i].v.cls[ina]) {
				slot[act] = old[i].v.cls[act];
				slot[ina] = 0;
				hops_push(&p->phase1, old[i].key, ksz, slot[0], slot[1]);
			}
			hops_push(&p->del, old[i].key, ksz, 0, 0);
			i++;
		} else if (r > 0 && !reachable(mm, act, nw[j].key, ksz)) { /* new, out of the active plane's sight */
			hops_push(&p->phase1, nw[j].key, ksz, nw[j].cls, nw[j].cls);
			j++;
		} else if (r > 0) { /* new: invisible to the active plane until the flip */
			slot[act] = 0;
			slot[ina] = nw[j].cls;
			hops_push(&p->phase1, nw[j].key, ksz, slot[0], slot[1]);
			hops_push(&p->phase2, nw[j].key, ksz, nw[j].cls, nw[j].cls);
			j++;
		} else {
			if (old[i].v.cls[ina] != nw[j].cls) {
				slot[act] = old[i].v.cls[act];
				slot[ina] = nw[j].cls;
				hops_push(&p->phase1, nw[j].key, ksz, slot[0], slot[1]);
			}
			if (old[i].v.cls[act] != nw[j].cls || old[i].v.cls[ina] != nw[j].cls)
				hops_push(&p->phase2, nw[j].key, ksz, nw[j].cls, nw[j].cls);
			i++;
			j++;
		}
	}
	return 0;
}

static uint32_t map_max(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Fold a plane's class hits into ew_feeds[].hits_base and zero them. */
static void fold_hits(const struct ew_fd_maps *m, const struct fd_mmaps *mm, int plane)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals = calloc(ncpus, sizeof(uint64_t)), add[EW_FEEDS_MAX] = {};

	if (!vals)
		return;
	for (unsigned int i = 1; i < EW_FD_CLASS_MAX; i++) {
		const struct ew_fd_class *c = &mm->cls[plane * EW_FD_CLASS_MAX + i];
		__u32 idx = plane * EW_FD_CLASS_MAX + i;
		uint64_t sum = 0;

		if (!c->feeds || bpf_map_lookup_elem(m->hits, &idx, vals))
			continue;
		for (int k = 0; k < ncpus; k++)
			sum += vals[k];
		if (!sum)
			continue;
		for (int f = 0; f < EW_FEEDS_MAX; f++)
			if (c->feeds >> f & 1)
				add[f] += sum;
		memset(vals, 0, ncpus * sizeof(uint64_t));
		bpf_map_update_elem(m->hits, &idx, vals, BPF_ANY);
	}
	for (__u32 f = 0; f < EW_FEEDS_MAX; f++) {
		struct ew_feed fe;

		if (!add[f] || bpf_map_lookup_elem(m->feeds, &f, &fe) || !fe.used)
			continue;
		fe.hits_base += add[f];
		bpf_map_update_elem(m->feeds, &f, &fe, BPF_ANY);
	}
	free(vals);
}

void ew_fd_grace_period(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(50000); /* nohz_full kernels refuse CMD_GLOBAL: programs run for µs */
}

static void write_plane(struct fd_mmaps *mm, int plane, const struct image *im)
{
	memcpy(mm->t24 + (size_t)plane * EW_FD4_SLOTS, im->t24, T24_BYTES);
	memcpy(mm->l1 + (size_t)plane * L1_SLOTS, im->l1, L1_BYTES);
	memcpy(mm->cls + (size_t)plane * EW_FD_CLASS_MAX, im->cls, CLS_BYTES);
	memset(mm->st->lens6[plane], 0, EW_FD6_LENS_MAX);
	memcpy(mm->st->lens6[plane], im->lens, im->nlens);
	mm->st->nlens6[plane] = im->nlens;
}

/*
 * The hashes' contents after the last apply, kept by user space so that a
 * reload need not read a million entries back from the kernel. Valid only if
 * its serial is the kernel's (ew_fd_state.serial); else the kernel is read.
 */
#define CACHE_MAGIC "EWFDC01\n"

struct cache_hdr {
	char magic[8];
	uint64_t serial, n4, n6;
};

static long cache_part(FILE *f, size_t n, size_t ksz, struct kentry **out)
{
	struct kentry *e = malloc((n + 1) * sizeof(*e));

	if (!e)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct hentry h;

		if (fread(&h, sizeof(h), 1, f) != 1) {
			free(e);
			return -1;
		}
		memset(&e[i], 0, sizeof(e[i]));
		memcpy(e[i].key, h.key, ksz);
		e[i].v.cls[0] = e[i].v.cls[1] = h.cls;
	}
	*out = e;
	return n;
}

static int cache_read(const char *path, uint32_t serial, struct kentry **o4, long *n4, struct kentry **o6,
		      long *n6)
{
	struct cache_hdr h;
	FILE *f = path ? fopen(path, "r") : NULL;
	int ret = -1;

	if (!f)
		return -1;
	if (fread(&h, sizeof(h), 1, f) == 1 && !memcmp(h.magic, CACHE_MAGIC, 8) && h.serial == serial &&
	    h.n4 < (1u << 26) && h.n6 < (1u << 26)) {
		*n4 = cache_part(f, h.n4, 4, o4);
		*n6 = *n4 < 0 ? -1 : cache_part(f, h.n6, sizeof(struct ew_pfx6_key), o6);
		ret = *n4 < 0 || *n6 < 0 ? -1 : 0;
		if (ret) {
			free(*o4);
			*o4 = NULL;
		}
	}
	fclose(f);
	return ret;
}

static void cache_write(const char *path, uint32_t serial, const struct image *im)
{
	struct cache_hdr h = { .serial = serial, .n4 = im->n4, .n6 = im->n6 };
	char tmp[600];
	FILE *f;

	if (!path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	memcpy(h.magic, CACHE_MAGIC, 8);
	f = fopen(tmp, "w");
	if (!f || fwrite(&h, sizeof(h), 1, f) != 1 || fwrite(im->h4, sizeof(*im->h4), im->n4, f) != im->n4 ||
	    fwrite(im->h6, sizeof(*im->h6), im->n6, f) != im->n6 || fclose(f)) {
		unlink(tmp);
		unlink(path);
		return;
	}
	if (rename(tmp, path))
		unlink(path);
}

int ew_fd_apply(const struct ew_fd_maps *m, const struct ew_fd_feed *feeds, size_t n,
		struct ew_fd_report *rep)
{
	return ew_fd_apply_cached(m, feeds, n, NULL, rep);
}

int ew_fd_apply_cached(const struct ew_fd_maps *m, const struct ew_fd_feed *feeds, size_t n,
		       const char *cache, struct ew_fd_report *rep)
{
	struct fd_mmaps mm;
	struct image im;
	struct kentry *old4 = NULL, *old6 = NULL;
	struct hplan p4 = {}, p6 = {};
	long nold4, nold6;
	double t0 = now_ms(), t1;
	int act, ina, ret = -1;

	memset(rep, 0, sizeof(*rep));
	if (fd_mmap(m, &mm, true))
		return -1;
	act = __atomic_load_n(&mm.st->active, __ATOMIC_ACQUIRE) & 1;
	ina = !act;
	if (build(&mm, act, feeds, n, &im, true))
		goto out_unmap;
	rep->build_ms = now_ms() - t0;
	t1 = now_ms();
	if (cache_read(cache, mm.st->serial, &old4, &nold4, &old6, &nold6)) {
		nold4 = hash_read(m->h4, 4, &old4);
		nold6 = nold4 < 0 ? -1 : hash_read(m->h6, sizeof(struct ew_pfx6_key), &old6);
		if (nold4 < 0 || nold6 < 0)
			goto out;
	}
	if (cache)
		unlink(cache); /* stale from here until the apply completes */
	if (hplan_make(&p4, &mm, old4, nold4, im.h4, im.n4, 4, act) ||
	    hplan_make(&p6, &mm, old6, nold6, im.h6, im.n6, sizeof(struct ew_pfx6_key), act)) {
		ew_err("out of memory planning the reload");
		goto out;
	}
	if (p4.peak > map_max(m->h4) || p6.peak > map_max(m->h6)) {
		ew_err("the reload needs %zu IPv4 address and %zu IPv6 prefix entries at once; the "
		       "tables hold %u and %u: nothing changed",
		       p4.peak, p6.peak, map_max(m->h4), map_max(m->h6));
		goto out;
	}

	/* 1. The inactive plane. Nothing the data path reads changes. */
	write_plane(&mm, ina, &im);
	if (hops_update(m->h4, &p4.phase1, 4) ||
	    hops_update(m->h6, &p6.phase1, sizeof(struct ew_pfx6_key)))
		goto out; /* only the inactive plane was written */

	/* 2. The flip, then new flows (and old ones at their next packet) re-decide. */
	__atomic_store_n(&mm.st->active, ina, __ATOMIC_SEQ_CST);
	mm.st->serial++;
	mm.st->n4 = im.n4;
	mm.st->n6 = im.n6;
	if (m->config >= 0)
		ew_config_bump(m->config);

	/* 3. Once no program reads the old plane: fold its hits, make it equal. */
	ew_fd_grace_period();
	fold_hits(m, &mm, act);
	write_plane(&mm, act, &im);
	if (hops_update(m->h4, &p4.phase2, 4) || hops_update(m->h6, &p6.phase2, sizeof(struct ew_pfx6_key)) ||
	    hops_delete(m->h4, &p4.del, 4) || hops_delete(m->h6, &p6.del, sizeof(struct ew_pfx6_key)))
		ew_warn("the new feed set is active; tidying the retired plane failed (the next reload redoes it)");
	else
		cache_write(cache, mm.st->serial, &im);
	rep->hash_updates = p4.phase1.n + p4.phase2.n + p4.del.n + p6.phase1.n + p6.phase2.n + p6.del.n;
	rep->write_ms = now_ms() - t1;
	rep->hosts4 = im.n4;
	rep->entries6 = im.n6;
	rep->slash24 = im.slash24;
	rep->lens6 = im.nlens;
	for (unsigned int i = 1; i < EW_FD_CLASS_MAX; i++)
		rep->classes += im.cls[i].feeds != 0;
	ret = 0;
out:
	hplan_free(&p4);
	hplan_free(&p6);
	free(old4);
	free(old6);
	image_free(&im);
out_unmap:
	fd_munmap(&mm);
	rep->total_ms = now_ms() - t0;
	return ret;
}

/* --- reading ----------------------------------------------------------------------- */
uint64_t ew_fd_feed_hits(const struct ew_fd_maps *m, int id, const struct ew_feed *f)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals = calloc(ncpus, sizeof(uint64_t)), sum = f->hits_base;
	struct fd_mmaps mm;

	if (!vals || fd_mmap(m, &mm, false)) {
		free(vals);
		return sum;
	}
	for (__u32 i = 0; i < 2 * EW_FD_CLASS_MAX; i++) {
		if (!(i % EW_FD_CLASS_MAX) || !(mm.cls[i].feeds >> id & 1) ||
		    bpf_map_lookup_elem(m->hits, &i, vals))
			continue;
		for (int k = 0; k < ncpus; k++)
			sum += vals[k];
	}
	fd_munmap(&mm);
	free(vals);
	return sum;
}

/* Kernel bytes per hash element: htab_elem header, key and value rounded to 8. */
#define H4_ELEM (48 + 8 + 8)
#define H6_ELEM (48 + 24 + 8)

uint64_t ew_fd_entry_bytes(size_t hosts4, size_t n6)
{
	return (uint64_t)hosts4 * H4_ELEM + (uint64_t)n6 * H6_ELEM;
}

uint64_t ew_fd_table_bytes(const struct ew_fd_maps *m, uint64_t *fixed, uint64_t *hashes)
{
	int ncpus = libbpf_num_possible_cpus();

	struct ew_fd_state st = {};

	ew_fd_counts(m, &st.n4, &st.n6);
	*fixed = 2 * T24_BYTES + 2 * L1_BYTES + 2 * CLS_BYTES + 2ull * EW_FD_CLASS_MAX * 8 * ncpus;
	*hashes = ew_fd_entry_bytes(st.n4, st.n6);
	return *fixed + *hashes;
}

void ew_fd_counts(const struct ew_fd_maps *m, uint32_t *n4, uint32_t *n6)
{
	struct ew_fd_state st = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->state, &zero, &st);
	*n4 = st.n4;
	*n6 = st.n6;
}

uint64_t ew_fd_swap_mark(const struct ew_fd_maps *m)
{
	struct ew_fd_state st = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->state, &zero, &st);
	return (uint64_t)st.serial << 32 | (uint64_t)st.fp_active << 8 | st.active;
}

/* --- the state directory ------------------------------------------------------------ */
int ew_fd_state_dir(char *buf, size_t len)
{
	const char *env = getenv("EDGEWARD_STATE_DIR");
	char esc[256];
	size_t w = 0;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
	} else {
		for (const char *s = ew_g.pin_dir; *s && w + 1 < sizeof(esc); s++)
			esc[w++] = *s == '/' ? '_' : *s;
		esc[w] = 0;
		snprintf(buf, len, "/run/edgeward/%s", esc);
	}
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		mkdir(buf, 0700);
		*s = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST) {
		ew_err("creating %s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

#define STORE_MAGIC "EWFEED1\n"

/* NAME.feed.new: a load's entries, until its swap is recorded (ew_fd_store_commit). */
int ew_fd_store_stage(const char *dir, const char *name, const struct ew_prefix *p, size_t n)
{
	char tmp[600], path[600];
	uint64_t cnt = n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.feed.new", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.feed.tmp", dir, name);
	f = fopen(tmp, "w");
	if (!f || fwrite(STORE_MAGIC, 8, 1, f) != 1 || fwrite(&cnt, 8, 1, f) != 1 ||
	    (n && fwrite(p, sizeof(*p), n, f) != n) || fflush(f)) {
		ew_err("writing %s: %s", tmp, strerror(errno));
		if (f)
			fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path)) {
		ew_err("renaming %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int ew_fd_store_commit(const char *dir, const char *name)
{
	char from[600], to[600];

	snprintf(from, sizeof(from), "%s/%s.feed.new", dir, name);
	snprintf(to, sizeof(to), "%s/%s.feed", dir, name);
	if (rename(from, to) && errno != ENOENT) {
		ew_err("renaming %s: %s", from, strerror(errno));
		return -1;
	}
	return 0;
}

void ew_fd_store_discard(const char *dir, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s.feed.new", dir, name);
	unlink(path);
}

int ew_fd_store_load(const char *dir, const char *name, struct ew_prefix **p, size_t *n)
{
	char path[600], magic[8];
	uint64_t cnt;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.feed", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fread(magic, 8, 1, f) != 1 || memcmp(magic, STORE_MAGIC, 8) || fread(&cnt, 8, 1, f) != 1 ||
	    cnt > (1ull << 28)) {
		fclose(f);
		errno = EINVAL;
		return -1;
	}
	*p = malloc((cnt + 1) * sizeof(**p));
	if (!*p || fread(*p, sizeof(**p), cnt, f) != cnt) {
		free(*p);
		*p = NULL;
		fclose(f);
		errno = EINVAL;
		return -1;
	}
	fclose(f);
	*n = cnt;
	return 0;
}

int ew_fd_store_del(const char *dir, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s.feed", dir, name);
	return unlink(path) && errno != ENOENT ? -1 : 0;
}
