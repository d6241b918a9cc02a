// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fingerprint feeds: JA4 and JA3 lists (ja4, ja4-mapping-csv, ja3-sslbl)
 * become rules in ew_fprules, the map `edgeward fp` writes and the data path
 * matches each ClientHello against. A feed owns the rules it created (their
 * keys are kept in the state directory as NAME.fp): a reload adds its new
 * fingerprints before it removes the ones it no longer lists, and a rule that
 * already existed (made by `edgeward fp` or by another feed) is left as it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "feeds.h"

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ew_fp_key));
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
	return rename(tmp, path);
}

/* The rule key of one parsed fingerprint. */
static void entry_key(const struct ew_fp_entry *e, struct ew_fp_key *k)
{
	ew_fp_key_make(k, e->kind == '3' ? EW_FR_JA3 : EW_FR_JA4, e->fp);
}

int ew_fd_fp_apply(const char *dir, const char *name, int action, const struct ew_fp_entry *fps, size_t n,
		   size_t *owned_out, size_t *foreign)
{
	struct ew_fp_key *old = NULL, *mine = calloc(n + 1, sizeof(*mine));
	long nold;
	size_t nmine = 0;
	int fd, ret = -1;

	*owned_out = *foreign = 0;
	fd = ew_map_open("ew_fprules");
	nold = fd < 0 ? -1 : owned_load(dir, name, &old);
	if (fd < 0 || nold < 0 || !mine)
		goto out;
	/* 1. Add or update every listed fingerprint the feed may own. */
	for (size_t i = 0; i < n; i++) {
		struct ew_fp_val v = { .action = action }, cur;
		struct ew_fp_key k;
		bool had;

		entry_key(&fps[i], &k);
		had = bpf_map_lookup_elem(fd, &k, &cur) == 0;
		if (had && !bsearch(&k, old, nold, sizeof(k), key_cmp)) {
			(*foreign)++; /* an `edgeward fp` rule or another feed's: theirs */
			continue;
		}
		if (had)
			v.hits = cur.hits;
		snprintf(v.label, sizeof(v.label), "%s", fps[i].label[0] ? fps[i].label : name);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			ew_err("adding fingerprint %s: %s", fps[i].fp, strerror(errno));
			break;
		}
		mine[nmine++] = k;
	}
	qsort(mine, nmine, sizeof(*mine), key_cmp);
	/* 2. Remove what the feed owned and no longer lists. */
	for (long i = 0; i < nold; i++)
		if (!bsearch(&old[i], mine, nmine, sizeof(*mine), key_cmp))
			bpf_map_delete_elem(fd, &old[i]);
	if (owned_save(dir, name, mine, nmine) == 0 && ew_rules_changed() == 0)
		ret = 0;
	*owned_out = nmine;
out:
	if (fd >= 0)
		close(fd);
	free(old);
	free(mine);
	return ret;
}

int ew_fd_fp_del(const char *dir, const char *name)
{
	struct ew_fp_key *old = NULL;
	char path[600];
	long n;
	int fd = ew_map_open("ew_fprules");

	if (fd < 0)
		return -1;
	n = owned_load(dir, name, &old);
	for (long i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &old[i]);
	close(fd);
	free(old);
	fp_path(path, sizeof(path), dir, name);
	unlink(path);
	return n < 0 ? -1 : ew_rules_changed();
}

uint64_t ew_fd_fp_hits(const char *dir, const char *name)
{
	struct ew_fp_key *k = NULL;
	uint64_t sum = 0;
	long n;
	int fd = ew_map_open("ew_fprules");

	if (fd < 0)
		return 0;
	n = owned_load(dir, name, &k);
	for (long i = 0; i < n; i++) {
		struct ew_fp_val v;

		if (!bpf_map_lookup_elem(fd, &k[i], &v))
			sum += v.hits;
	}
	free(k);
	close(fd);
	return sum;
}
