// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fingerprint feeds: JA4 and JA3 lists (ja4, ja4-mapping-csv, ja3-sslbl)
 * become rules in ew_fprules, the map `edgeward fp` writes and the data path
 * matches each ClientHello against. A feed owns the rules it created: their
 * value names it (ew_fp_val.owner, a hash of the feed's name) and their keys
 * are kept in the state directory as NAME.fp so that a reload finds them. A
 * rule that already existed (made by `edgeward fp`, the daemon or another
 * feed) is left as it is.
 *
 * A reload is atomic like a prefix feed's (include/edgeward/abi.h, struct
 * ew_fp_val): the feed's rules have two planes and the data path reads the
 * one ew_fd_state.fp_active names, once per hello.
 *   0. Level: every feed's rules get the active plane's state in the other
 *      plane too; a rule in no active plane is deleted. Between reloads this
 *      changes nothing; after a killed reload it undoes its inactive half.
 *   1. NAME.fp becomes the old keys plus the new ones, before any is added:
 *      a kill from here on leaves no rule of the feed that the file misses.
 *   2. The inactive plane: listed fingerprints get it with the action (new
 *      rules exist in that plane only), old ones lose it.
 *   3. fp_active flips in one store; the rule generation is bumped.
 *   4. After a grace period, the retired plane becomes equal to the new one
 *      and the rules in neither plane are deleted; NAME.fp lists what is left.
 * A kill before 3 leaves the old set in force, after it the new one; the
 * next reload of any feed levels what the kill left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "feeds.h"

int (*ew_fd_fp_step)(const char *what, void *arg);
void *ew_fd_fp_step_arg;

/* Tests: a non-zero return stops the reload where it is, as a kill would. */
#define STEP(what)                                                                \
	do {                                                                      \
		if (ew_fd_fp_step && ew_fd_fp_step(what, ew_fd_fp_step_arg))       \
			goto stopped;                                             \
	} while (0)

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ew_fp_key));
}

uint32_t ew_fp_owner(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h ? h : 1;
}

static void fp_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s.fp", dir, name);
}

/* The keys a feed owns, sorted; an absent file is an empty set. */
static long owned_load(const char *dir, const char *name, struct ew_fp_key **out)
{
	char path[600];
	FILE *f;
	long n = 0, cap = 256;
	struct ew_fp_key *k = malloc(cap * sizeof(*k));

	fp_path(path, sizeof(path), dir, name);
	*out = k;
	if (!k)
		return -1;
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		if (n == cap) {
			struct ew_fp_key *nk = realloc(k, (cap *= 2) * sizeof(*k));

			if (!nk) {
				fclose(f);
				return -1;
			}
			*out = k = nk;
		}
		if (fread(&k[n], sizeof(*k), 1, f) != 1)
			break;
		n++;
	}
	fclose(f);
	qsort(k, n, sizeof(*k), key_cmp);
	return n;
}

static int owned_save(const char *dir, const char *name, const struct ew_fp_key *k, size_t n)
{
	char path[600], tmp[620];
	FILE *f;

	fp_path(path, sizeof(path), dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || (n && fwrite(k, sizeof(*k), n, f) != n) || fclose(f)) {
		ew_err("writing %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		ew_err("renaming %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

static bool has_key(const struct ew_fp_key *set, size_t n, const struct ew_fp_key *k)
{
	return n && bsearch(k, set, n, sizeof(*k), key_cmp);
}

/* One listed fingerprint: its rule key and its entry (label). */
struct item {
	struct ew_fp_key k;
	const struct ew_fp_entry *e;
};

/* The rule keys of the parsed fingerprints, sorted and unique. */
static struct item *items_make(const struct ew_fp_entry *fps, size_t n, size_t *out)
{
	struct item *it = calloc(n + 1, sizeof(*it));
	size_t w = 0;

	*out = 0;
	if (!it)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		ew_fp_key_make(&it[i].k, fps[i].kind == '3' ? EW_FR_JA3 : EW_FR_JA4, fps[i].fp);
		it[i].e = &fps[i];
	}
	qsort(it, n, sizeof(*it), key_cmp); /* the key comes first */
	for (size_t i = 0; i < n; i++)
		if (!w || key_cmp(&it[w - 1].k, &it[i].k))
			it[w++] = it[i];
	*out = w;
	return it;
}

/*
 * 0. Give every feed-owned rule the active plane's state in both planes;
 * delete those not in the active plane (a killed reload's new rules). The
 * changes are collected first: deleting while walking a hash restarts the walk.
 */
static int level(int fd, int act)
{
	struct ew_fp_key k, next, *todo = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int ret = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct ew_fp_val v;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) || !v.owner)
			continue;
		if (v.planes == 3 && v.act[0] == v.act[1] && v.action == v.act[act])
			continue;
		if (n == cap) {
			struct ew_fp_key *nt = realloc(todo, (cap = cap ? 2 * cap : 64) * sizeof(*todo));

			if (!nt) {
				free(todo);
				return -1;
			}
			todo = nt;
		}
		todo[n++] = k;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct ew_fp_val v;

		if (bpf_map_lookup_elem(fd, &todo[i], &v))
			continue;
		if (!(v.planes & (1u << act))) {
			bpf_map_delete_elem(fd, &todo[i]);
		} else {
			v.planes = 3;
			v.action = v.act[!act] = v.act[act];
			if (bpf_map_update_elem(fd, &todo[i], &v, BPF_EXIST) && errno != ENOENT) {
				ew_err("levelling the fingerprint rules: %s", strerror(errno));
				ret = -1;
			}
		}
		if (ew_fd_fp_step && ew_fd_fp_step("level", ew_fd_fp_step_arg))
			ret = 1;
	}
	free(todo);
	return ret;
}

/* Sorted union of two sorted key sets. */
static struct ew_fp_key *key_union(const struct ew_fp_key *a, size_t na, const struct ew_fp_key *b, size_t nb,
				   size_t *out)
{
	struct ew_fp_key *u = calloc(na + nb + 1, sizeof(*u));
	size_t i = 0, j = 0, w = 0;

	if (!u)
		return NULL;
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : key_cmp(&a[i], &b[j]);

		u[w++] = c <= 0 ? a[i] : b[j];
		i += c <= 0;
		j += c >= 0;
	}
	*out = w;
	return u;
}

int ew_fd_fp_reload(const struct ew_fp_maps *m, const char *dir, const char *name, int action,
		    const struct ew_fp_entry *fps, size_t n, size_t *owned_out, size_t *foreign)
{
	struct ew_fd_state *st;
	struct ew_fp_key *old = NULL, *cand = NULL, *all = NULL, *mine = NULL;
	struct item *it = NULL;
	uint32_t owner = ew_fp_owner(name);
	size_t nit = 0, ncand = 0, nall = 0, nmine = 0, untidy = 0;
	long nold;
	int act, ina, lv, ret = -1;

	*owned_out = *foreign = 0;
	st = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m->state, 0);
	if (st == MAP_FAILED) {
		ew_err("mapping ew_fd_state: %s", strerror(errno));
		return -1;
	}
	act = __atomic_load_n(&st->fp_active, __ATOMIC_ACQUIRE) & 1;
	ina = !act;

	lv = level(m->rules, act);
	if (lv > 0)
		goto stopped;
	if (lv < 0)
		goto out;
	nold = owned_load(dir, name, &old);
	it = items_make(fps, n, &nit);
	cand = calloc(nit + 1, sizeof(*cand));
	mine = calloc(nit + 1, sizeof(*mine));
	if (nold < 0 || !it || !cand || !mine) {
		ew_err("reading the fingerprints '%s' owns: %s", name, strerror(errno ? errno : ENOMEM));
		goto out;
	}
	/* 1. The listed fingerprints that are free or the feed's; record them before adding any. */
	for (size_t i = 0; i < nit; i++) {
		struct ew_fp_val cur;

		if (bpf_map_lookup_elem(m->rules, &it[i].k, &cur) == 0 && cur.owner != owner)
			continue;
		cand[ncand++] = it[i].k;
	}
	all = key_union(old, nold, cand, ncand, &nall);
	if (!all || owned_save(dir, name, all, nall))
		goto out;
	STEP("recorded");

	/* 2. The inactive plane: what the data path reads does not change. */
	for (size_t i = 0, c = 0; i < nit; i++) {
		struct ew_fp_val v = {}, cur;
		int flags = BPF_NOEXIST;

		if (c == ncand || key_cmp(&it[i].k, &cand[c]))
			continue; /* someone else's rule */
		c++;
		if (bpf_map_lookup_elem(m->rules, &it[i].k, &cur) == 0) {
			if (cur.owner != owner)
				continue; /* made meanwhile by `edgeward fp` */
			v = cur;
			flags = BPF_EXIST;
		} else {
			v.owner = owner;
			v.action = action;
		}
		v.planes |= 1u << ina;
		v.act[ina] = action;
		memset(v.label, 0, sizeof(v.label));
		snprintf(v.label, sizeof(v.label), "%s", it[i].e->label[0] ? it[i].e->label : name);
		if (flags == BPF_EXIST && !memcmp(&v, &cur, sizeof(v))) {
			mine[nmine++] = it[i].k;
			continue;
		}
		if (bpf_map_update_elem(m->rules, &it[i].k, &v, flags)) {
			if (errno == EEXIST || errno == ENOENT)
				continue; /* raced with `edgeward fp`: theirs */
			ew_err("adding fingerprint %s: %s; the rules in force did not change", it[i].e->fp,
			       strerror(errno));
			goto out;
		}
		mine[nmine++] = it[i].k;
		STEP("add");
	}
	*foreign = nit - nmine;
	for (long i = 0; i < nold; i++) {
		struct ew_fp_val v;

		if (has_key(mine, nmine, &old[i]) || bpf_map_lookup_elem(m->rules, &old[i], &v) ||
		    v.owner != owner || !(v.planes & (1u << ina)))
			continue;
		v.planes &= ~(1u << ina);
		if (bpf_map_update_elem(m->rules, &old[i], &v, BPF_EXIST) && errno != ENOENT) {
			ew_err("removing fingerprint %.*s: %s; the rules in force did not change",
			       (int)sizeof(old[i].val), old[i].val, strerror(errno));
			goto out;
		}
		STEP("remove");
	}

	/* 3. The flip: new hellos, and fingerprinted flows at their next packet, see the new set. */
	__atomic_store_n(&st->fp_active, (uint8_t)ina, __ATOMIC_SEQ_CST);
	if (m->config >= 0)
		ew_config_bump(m->config);
	STEP("flip");

	/* 4. Once no program reads the retired plane: make it equal to the new one. */
	ew_fd_grace_period();
	for (size_t i = 0; i < nall; i++) {
		struct ew_fp_val v;

		if (bpf_map_lookup_elem(m->rules, &all[i], &v) || v.owner != owner)
			continue;
		if (!(v.planes & (1u << ina))) {
			bpf_map_delete_elem(m->rules, &all[i]);
		} else if (v.planes != 3 || v.act[act] != v.act[ina] || v.action != v.act[ina]) {
			v.planes = 3;
			v.action = v.act[act] = v.act[ina];
			if (bpf_map_update_elem(m->rules, &all[i], &v, BPF_EXIST) && errno != ENOENT)
				untidy++;
		} else {
			continue;
		}
		STEP("tidy");
	}
	if (untidy)
		ew_warn("the new fingerprints of '%s' are in force; tidying %zu of their retired plane failed "
			"(the next load redoes it)", name, untidy);
	else
		owned_save(dir, name, mine, nmine); /* else it keeps listing them all */
	ret = 0;
	*owned_out = nmine;
	goto out;
stopped:
	ret = -1;
out:
	munmap(st, 4096);
	free(old);
	free(it);
	free(cand);
	free(all);
	free(mine);
	return ret;
}

/* The pinned maps a reload writes; -1 if one cannot be opened. */
static int pinned(struct ew_fp_maps *m)
{
	m->rules = ew_map_open("ew_fprules");
	m->state = m->rules < 0 ? -1 : ew_map_open("ew_fd_state");
	m->config = m->state < 0 ? -1 : ew_map_open("ew_config");
	return m->config < 0 ? -1 : 0;
}

static void pinned_close(struct ew_fp_maps *m)
{
	if (m->rules >= 0)
		close(m->rules);
	if (m->state >= 0)
		close(m->state);
	if (m->config >= 0)
		close(m->config);
}

int ew_fd_fp_apply(const char *dir, const char *name, int action, const struct ew_fp_entry *fps, size_t n,
		   size_t *owned_out, size_t *foreign)
{
	struct ew_fp_maps m;
	int ret = -1;

	*owned_out = *foreign = 0;
	if (pinned(&m) == 0)
		ret = ew_fd_fp_reload(&m, dir, name, action, fps, n, owned_out, foreign);
	pinned_close(&m);
	return ret;
}

/* A reload to no fingerprints: the feed's rules leave the data path's view at once. */
int ew_fd_fp_del(const char *dir, const char *name)
{
	struct ew_fp_maps m;
	size_t owned, foreign;
	char path[600];
	int ret = -1;

	if (pinned(&m) == 0)
		ret = ew_fd_fp_reload(&m, dir, name, EW_A_PASS, NULL, 0, &owned, &foreign);
	pinned_close(&m);
	if (ret == 0) {
		fp_path(path, sizeof(path), dir, name);
		unlink(path);
	}
	return ret;
}

/* The feed's rules: hits of those it owns, and how many are in force. */
static void owned_scan(const char *dir, const char *name, uint64_t *hits, size_t *in_force)
{
	struct ew_fp_key *k = NULL;
	uint32_t owner = ew_fp_owner(name), plane = ew_fp_plane();
	long n;
	int fd = ew_map_open("ew_fprules");

	*hits = 0;
	*in_force = 0;
	if (fd < 0)
		return;
	n = owned_load(dir, name, &k);
	for (long i = 0; i < n; i++) {
		struct ew_fp_val v;
		__u8 act;

		if (bpf_map_lookup_elem(fd, &k[i], &v) || v.owner != owner)
			continue;
		*hits += v.hits;
		*in_force += ew_fp_val_in_force(&v, plane, &act);
	}
	free(k);
	close(fd);
}

uint64_t ew_fd_fp_hits(const char *dir, const char *name)
{
	uint64_t hits;
	size_t n;

	owned_scan(dir, name, &hits, &n);
	return hits;
}

size_t ew_fd_fp_count(const char *dir, const char *name)
{
	uint64_t hits;
	size_t n;

	owned_scan(dir, name, &hits, &n);
	return n;
}

int ew_fp_plane(void)
{
	struct ew_fd_state st = {};
	char path[600];
	int fd;
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

	snprintf(path, sizeof(path), "%s/ew_fd_state", ew_g.pin_dir);
	fd = bpf_obj_get_opts(path, &ro);
	if (fd < 0)
		return 0;
	bpf_map_lookup_elem(fd, &(__u32){ 0 }, &st);
	close(fd);
	return st.fp_active & 1;
}
