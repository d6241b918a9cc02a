// SPDX-License-Identifier: BSD-2-Clause
/* edgeward feed load|list|del: threat feeds (user/feeds.c, bpf/lib/feeds.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <bpf/bpf.h>
#include "feeds.h"

static const char usage[] =
	"usage: edgeward feed load NAME FILE [--format FMT] [--action drop|flag|allow]\n"
	"                          [--min-score N] [--max-bad PCT] [--allow-empty]\n"
	"                          [--max-size BYTES] [--check]\n"
	"       edgeward feed list [-j]\n"
	"       edgeward feed del NAME\n"
	"\n"
	"Threat feeds: source prefixes from publishers' files, looked up on each new\n"
	"flow beside the block list; allow > drop > flag across feeds and block entries.\n"
	"Loading NAME again replaces its entries; every packet sees the old set or the\n"
	"new one. Bad lines are reported as FILE:LINE; above --max-bad of them, an\n"
	"empty file, a file that is not regular or too big, nothing changes.\n"
	"\n"
	"  --format FMT     auto (default), cidr, spamhaus, spamhaus-json, firehol,\n"
	"                   tor-exits, tor-exit-addresses, ipsum, aws, gcp, ja4,\n"
	"                   ja4-mapping-csv, ja3-sslbl\n"
	"  --action ACT     drop (default), flag or allow\n"
	"  --min-score N    ipsum: only addresses on at least N lists (default 1)\n"
	"  --max-bad PCT    refuse the file above PCT% bad lines (default 1)\n"
	"  --allow-empty    accept a file without entries (empties the feed)\n"
	"  --max-size BYTES refuse larger files (default 256 MiB)\n"
	"  --check          validate the file only; load nothing\n"
	"\n"
	"State: each feed's entries are kept in $EDGEWARD_STATE_DIR (default under\n"
	"/run/edgeward/) to rebuild the tables when another feed changes.\n";

#define NAME_OK "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

struct ctx {
	struct ew_fd_maps m;
	char dir[512];
	int lock_fd;
};

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void journal_path(char *buf, size_t len, const char *dir)
{
	snprintf(buf, len, "%s/journal", dir);
}

static int journal_recover(struct ctx *c);

/* Lock the state dir; forget state left by pins that no longer exist. */
static int ctx_open(struct ctx *c)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[600], owner[32] = "", cur[32];
	int fd;

	c->lock_fd = -1;
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check() || ew_fd_maps_open(&c->m))
		return -1;
	if (ew_fd_state_dir(c->dir, sizeof(c->dir)))
		goto fail;
	snprintf(path, sizeof(path), "%s/lock", c->dir);
	c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX)) {
		ew_err("locking %s: %s", path, strerror(errno));
		goto fail;
	}
	bpf_obj_get_info_by_fd(c->m.state, &info, &len);
	snprintf(cur, sizeof(cur), "%u\n", info.id);
	snprintf(path, sizeof(path), "%s/owner", c->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, owner, sizeof(owner) - 1);

		owner[r > 0 ? r : 0] = 0;
		close(fd);
	}
	if (strcmp(owner, cur)) {
		for (__u32 i = 0; i < EW_FEEDS_MAX; i++) {
			struct ew_feed f;

			if (!bpf_map_lookup_elem(c->m.feeds, &i, &f) && f.used) {
				ew_err("%s belongs to other pins than the feeds loaded in %s", c->dir, ew_g.pin_dir);
				goto fail;
			}
		}
		/* Fresh pins: whatever the directory holds is from before them. */
		snprintf(path, sizeof(path), "%s/tables.cache", c->dir);
		unlink(path);
		journal_path(path, sizeof(path), c->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/owner", c->dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, cur, strlen(cur)) != (ssize_t)strlen(cur)) {
			ew_err("writing %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
	}
	if (journal_recover(c))
		goto fail;
	return 0;
fail:
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	ew_fd_maps_close(&c->m);
	return -1;
}

/*
 * The journal: a prefix feed's load or delete writes what it is about to do
 * (and the tables' swap mark) before it swaps the kernel tables, and removes
 * it once the feed's record and saved entries match what it swapped in. A
 * command killed in between leaves it behind; the next feed command (or `feed
 * list`) finishes the change if the swap happened and forgets it if not, so
 * the records always describe the set the kernel enforces.
 */
#define JOURNAL_MAGIC "EWJRNL1\n"
enum { J_LOAD = 1, J_DEL = 2 };

struct journal {
	char magic[8];
	uint64_t mark; /* ew_fd_swap_mark() before the swap */
	uint32_t op;   /* J_LOAD, J_DEL */
	uint32_t id;   /* its slot in ew_feeds */
	struct ew_feed rec; /* J_LOAD: the record once in force (hits_base aside) */
};

static int journal_write(struct ctx *c, const struct journal *j)
{
	char path[600], tmp[620];
	int fd;

	journal_path(path, sizeof(path), c->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, j, sizeof(*j)) != (ssize_t)sizeof(*j) || close(fd) || rename(tmp, path)) {
		ew_err("writing %s: %s; nothing changed", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The swap happened: make the record and the saved entries say so. */
static int journal_commit(struct ctx *c, const struct journal *j)
{
	struct ew_feed cur = {}, rec = j->rec;
	char path[600];

	if (j->op == J_LOAD && ew_feed_fmt_is_fp(rec.format)) {
		/* its rules in force: the listed ones minus those that were others' rules */
		rec.entries4 = ew_fd_fp_count(c->dir, rec.name);
		if (!bpf_map_lookup_elem(c->m.feeds, &j->id, &cur) && cur.used)
			rec.hits_base = cur.hits_base;
	} else if (j->op == J_LOAD) {
		if (ew_fd_store_commit(c->dir, rec.name))
			ew_warn("feed '%s' is active, but its entries could not be saved: the next load of "
				"another feed will fail until '%s' is loaded again", rec.name, rec.name);
		/* hits_base may have grown during the apply: keep the kernel's. */
		if (!bpf_map_lookup_elem(c->m.feeds, &j->id, &cur) && cur.used)
			rec.hits_base = cur.hits_base;
	} else {
		memset(&rec, 0, sizeof(rec));
		ew_fd_store_del(c->dir, j->rec.name);
	}
	if (bpf_map_update_elem(c->m.feeds, &j->id, &rec, BPF_ANY)) {
		ew_err("recording feed '%s': %s (its entries are active)", j->rec.name, strerror(errno));
		return -1;
	}
	journal_path(path, sizeof(path), c->dir);
	unlink(path);
	return 0;
}

/* The change never reached the kernel: forget it. */
static void journal_abandon(struct ctx *c, const struct journal *j)
{
	char path[600];

	if (j->op == J_LOAD)
		ew_fd_store_discard(c->dir, j->rec.name);
	journal_path(path, sizeof(path), c->dir);
	unlink(path);
}

/* A failed apply: it may have failed after its swap, so the mark decides. */
static void journal_settle(struct ctx *c, const struct journal *j, const char *what)
{
	if (ew_fd_swap_mark(&c->m) == j->mark) {
		journal_abandon(c, j);
		ew_err("feed '%s' %s: nothing changed", j->rec.name, what);
	} else if (!journal_commit(c, j)) {
		ew_err("feed '%s': the new set is in force, but finishing the change failed", j->rec.name);
	}
}

/* Finish or forget what a killed command left; under the lock. */
static int journal_recover(struct ctx *c)
{
	struct journal j;
	char path[600];
	ssize_t r;
	int fd;

	journal_path(path, sizeof(path), c->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, &j, sizeof(j));
	close(fd);
	if (r != (ssize_t)sizeof(j) || memcmp(j.magic, JOURNAL_MAGIC, 8) || j.id >= EW_FEEDS_MAX ||
	    (j.op != J_LOAD && j.op != J_DEL)) {
		ew_err("%s is damaged: remove it and load the feeds again", path);
		return -1;
	}
	j.rec.name[sizeof(j.rec.name) - 1] = 0;
	if (ew_fd_swap_mark(&c->m) == j.mark) {
		ew_warn("an interrupted %s of feed '%s' changed nothing: forgotten",
			j.op == J_LOAD ? "load" : "delete", j.rec.name);
		journal_abandon(c, &j);
		return 0;
	}
	ew_warn("an interrupted %s of feed '%s' had swapped the tables: completed",
		j.op == J_LOAD ? "load" : "delete", j.rec.name);
	if (journal_commit(c, &j))
		return -1;
	if (c->m.config >= 0)
		ew_config_bump(c->m.config); /* in case it was killed before its own bump */
	return 0;
}

static void ctx_close(struct ctx *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	ew_fd_maps_close(&c->m);
}

static int find_feed(struct ctx *c, const char *name, struct ew_feed *out)
{
	for (__u32 i = 0; i < EW_FEEDS_MAX; i++) {
		struct ew_feed f;

		if (bpf_map_lookup_elem(c->m.feeds, &i, &f) || !f.used)
			continue;
		f.name[sizeof(f.name) - 1] = 0;
		if (!strcmp(f.name, name)) {
			if (out)
				*out = f;
			return i;
		}
	}
	return -1;
}

/* Every loaded feed but `skip`, plus `extra` (the one being loaded) if given. */
static int gather(struct ctx *c, int skip, const struct ew_fd_feed *extra, struct ew_fd_feed *out,
		  struct ew_prefix **owned, size_t *n)
{
	*n = 0;
	for (__u32 i = 0; i < EW_FEEDS_MAX; i++) {
		struct ew_feed f;
		struct ew_prefix *p;
		size_t cnt;

		if ((int)i == skip || bpf_map_lookup_elem(c->m.feeds, &i, &f) || !f.used ||
		    ew_feed_fmt_is_fp(f.format))
			continue;
		f.name[sizeof(f.name) - 1] = 0;
		if (ew_fd_store_load(c->dir, f.name, &p, &cnt)) {
			ew_err("the saved entries of feed '%s' in %s are missing or damaged (%s): load it "
			       "again or `edgeward feed del %s`; nothing changed",
			       f.name, c->dir, strerror(errno), f.name);
			return -1;
		}
		owned[*n] = p;
		out[*n] = (struct ew_fd_feed){ .id = i, .action = f.action, .pfx = p, .n = cnt };
		(*n)++;
	}
	if (extra)
		out[(*n)++] = *extra;
	return 0;
}

static int apply_set(struct ctx *c, int skip, const struct ew_fd_feed *extra, struct ew_fd_report *rep)
{
	struct ew_fd_feed set[EW_FEEDS_MAX + 1];
	struct ew_prefix *owned[EW_FEEDS_MAX] = {};
	size_t n = 0;
	int ret;

	ret = gather(c, skip, extra, set, owned, &n);
	if (!ret) {
		char cache[600];

		snprintf(cache, sizeof(cache), "%s/tables.cache", c->dir);
		ret = ew_fd_apply_cached(&c->m, set, n, cache, rep);
	}
	for (size_t i = 0; i < EW_FEEDS_MAX; i++)
		free(owned[i]);
	return ret;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* What a file held, for --json. */
static json_object *summary_json(const char *name, const struct ew_feed_data *d)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "name", json_object_new_string(name));
	json_object_object_add(r, "format", json_object_new_string(ew_feed_fmt_name(d->format)));
	json_object_object_add(r, "ipv4", json_object_new_int64(d->n4));
	json_object_object_add(r, "ipv6", json_object_new_int64(d->n6));
	json_object_object_add(r, "rejected", json_object_new_int64(d->bad));
	json_object_object_add(r, "duplicates", json_object_new_int64(d->dups));
	return r;
}

/* The ew_feeds record of a load (hits_base aside). */
static void make_record(struct ew_feed *fe, const char *name, const char *file,
			const struct ew_feed_data *d, int action)
{
	char abspath[4096];
	size_t hosts = 0;

	memset(fe, 0, sizeof(*fe));
	snprintf(fe->name, sizeof(fe->name), "%s", name);
	if (!realpath(file, abspath))
		snprintf(abspath, sizeof(abspath), "%s", file);
	memcpy(fe->source, abspath, strnlen(abspath, sizeof(fe->source) - 1));
	memcpy(fe->sha256, d->sha256, 32);
	fe->loaded_ns = realtime_ns();
	fe->entries4 = d->n4;
	fe->entries6 = d->n6;
	fe->rejected = d->bad;
	fe->action = action;
	fe->format = d->format;
	fe->used = 1;
	for (size_t i = 0; i < d->npfx; i++)
		if (d->pfx[i].family == 4 && d->pfx[i].len > 24)
			hosts += 1u << (32 - d->pfx[i].len);
	/* Its hash entries; prefixes up to /24 live in the fixed direct table. */
	fe->mem_bytes = ew_fd_entry_bytes(hosts, d->n6);
}

static int feed_load(const char *name, const char *file, const struct ew_feed_opts *o, int action,
		     bool check)
{
	struct ew_feed_data d;
	struct ew_fd_report rep;
	struct ew_feed fe = {};
	struct journal j = { .magic = JOURNAL_MAGIC, .op = J_LOAD };
	struct ctx c;
	int id, ret = 1;

	if (ew_feed_read(file, o, &d)) {
		ew_err("feed '%s' not loaded: nothing changed", name);
		return 1;
	}
	if (check) {
		json_object *r = summary_json(name, &d);

		json_object_object_add(r, "fingerprints", json_object_new_int64(d.nfps));
		if (ew_g.json)
			ew_json_print(r);
		else {
			printf("%s: %s format, %zu IPv4 + %zu IPv6 prefixes, %zu fingerprints, %zu lines "
			       "rejected, %zu duplicates\n",
			       file, ew_feed_fmt_name(d.format), d.n4, d.n6, d.nfps, d.bad, d.dups);
			json_object_put(r);
		}
		ew_feed_data_free(&d);
		return 0;
	}
	if (ctx_open(&c)) {
		ew_feed_data_free(&d);
		return 1;
	}
	id = find_feed(&c, name, &fe);
	if (id < 0) {
		for (__u32 i = 0; i < EW_FEEDS_MAX && id < 0; i++) {
			struct ew_feed f;

			if (!bpf_map_lookup_elem(c.m.feeds, &i, &f) && !f.used)
				id = i;
		}
		if (id < 0) {
			ew_err("%d feeds are loaded already: `edgeward feed del` one first", EW_FEEDS_MAX);
			goto out;
		}
		memset(&fe, 0, sizeof(fe));
	}
	if (fe.used && ew_feed_fmt_is_fp(fe.format) != ew_feed_fmt_is_fp(d.format)) {
		ew_err("feed '%s' holds %s; `edgeward feed del %s` before loading %s into it", name,
		       ew_feed_fmt_is_fp(fe.format) ? "fingerprints" : "prefixes", name,
		       ew_feed_fmt_is_fp(d.format) ? "fingerprints" : "prefixes");
		goto out;
	}
	/*
	 * The new record (and a prefix feed's entries, kept for rebuilding when
	 * another feed changes) and the journal are written before the swap,
	 * made final after it.
	 */
	j.id = id;
	make_record(&j.rec, name, file, &d, action);
	j.mark = ew_fd_swap_mark(&c.m);
	if ((!ew_feed_fmt_is_fp(d.format) && ew_fd_store_stage(c.dir, name, d.pfx, d.npfx)) ||
	    journal_write(&c, &j)) {
		ew_fd_store_discard(c.dir, name);
		ew_err("feed '%s' not loaded: nothing changed", name);
		goto out;
	}
	if (ew_feed_fmt_is_fp(d.format)) {
		size_t owned, foreign;

		memset(&rep, 0, sizeof(rep));
		if (ew_fd_fp_apply(c.dir, name, action, d.fps, d.nfps, &owned, &foreign)) {
			journal_settle(&c, &j, "not loaded");
			goto out;
		}
		if (foreign)
			ew_warn("%zu of %zu fingerprints of '%s' are rules already (edgeward fp or another "
				"feed): those keep their action", foreign, d.nfps, name);
		d.n4 = owned; /* for the summary; the record counts the rules in force */
	} else {
		struct ew_fd_feed me = { .id = id, .action = action, .pfx = d.pfx, .n = d.npfx };

		if (apply_set(&c, id, &me, &rep)) {
			journal_settle(&c, &j, "not loaded");
			goto out;
		}
	}
	if (journal_commit(&c, &j))
		goto out;
	if (ew_g.json) {
		json_object *r = summary_json(name, &d);

		json_object_object_add(r, "build_ms", json_object_new_double(rep.build_ms));
		json_object_object_add(r, "write_ms", json_object_new_double(rep.write_ms));
		json_object_object_add(r, "total_ms", json_object_new_double(rep.total_ms));
		json_object_object_add(r, "hash_updates", json_object_new_int64(rep.hash_updates));
		ew_json_print(r);
	} else if (ew_feed_fmt_is_fp(d.format)) {
		printf("feed %s: %zu fingerprint rules (%s, %s), %zu lines rejected\n", name, d.n4,
		       ew_feed_fmt_name(d.format), ew_action_name(action), d.bad);
	} else {
		printf("feed %s: %zu IPv4 + %zu IPv6 prefixes (%s, %s), %zu lines rejected, %zu duplicates; "
		       "tables swapped in %.1f ms\n",
		       name, d.n4, d.n6, ew_feed_fmt_name(d.format), ew_action_name(action), d.bad, d.dups,
		       rep.total_ms);
	}
	ret = 0;
out:
	ctx_close(&c);
	ew_feed_data_free(&d);
	return ret;
}

static int feed_del(const char *name)
{
	struct ew_fd_report rep;
	struct ew_feed fe;
	struct journal j = { .magic = JOURNAL_MAGIC, .op = J_DEL };
	struct ctx c;
	int id, ret = 1;

	if (ctx_open(&c))
		return 1;
	id = find_feed(&c, name, &fe);
	if (id < 0) {
		ew_err("no feed named '%s'", name);
		goto out;
	}
	j.id = id;
	j.rec = fe;
	j.mark = ew_fd_swap_mark(&c.m);
	if (journal_write(&c, &j))
		goto out;
	if (ew_feed_fmt_is_fp(fe.format) ? ew_fd_fp_del(c.dir, name) : apply_set(&c, id, NULL, &rep)) {
		journal_settle(&c, &j, "not deleted");
		goto out;
	}
	if (journal_commit(&c, &j))
		goto out;
	if (!ew_g.json)
		printf("feed %s deleted\n", name);
	ret = 0;
out:
	ctx_close(&c);
	return ret;
}

json_object *ew_feeds_json(const struct ew_fd_maps *m)
{
	json_object *arr = json_object_new_array();

	for (__u32 i = 0; i < EW_FEEDS_MAX; i++) {
		struct ew_feed f;
		json_object *o;
		char sha[65];

		if (bpf_map_lookup_elem(m->feeds, &i, &f) || !f.used)
			continue;
		f.name[sizeof(f.name) - 1] = 0;
		f.source[sizeof(f.source) - 1] = 0;
		hex(sha, f.sha256, 32);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(f.name));
		json_object_object_add(o, "id", json_object_new_int(i));
		json_object_object_add(o, "format", json_object_new_string(ew_feed_fmt_name(f.format)));
		json_object_object_add(o, "action", json_object_new_string(ew_action_name(f.action)));
		json_object_object_add(o, "ipv4", json_object_new_int64(f.entries4));
		json_object_object_add(o, "ipv6", json_object_new_int64(f.entries6));
		json_object_object_add(o, "entries", json_object_new_int64((int64_t)f.entries4 + f.entries6));
		json_object_object_add(o, "rejected", json_object_new_int64(f.rejected));
		json_object_object_add(o, "loaded_unix_ns", json_object_new_int64(f.loaded_ns));
		json_object_object_add(o, "source", json_object_new_string(f.source));
		json_object_object_add(o, "sha256", json_object_new_string(sha));
		if (ew_feed_fmt_is_fp(f.format)) {
			char dir[512];

			json_object_object_add(o, "fingerprints", json_object_new_int64(f.entries4));
			json_object_object_add(o, "ipv4", json_object_new_int64(0));
			json_object_object_add(o, "hits", json_object_new_int64(
				ew_fd_state_dir(dir, sizeof(dir)) ? 0 : ew_fd_fp_hits(dir, f.name)));
		} else {
			json_object_object_add(o, "hits", json_object_new_int64(ew_fd_feed_hits(m, i, &f)));
		}
		json_object_object_add(o, "memory_bytes", json_object_new_int64(f.mem_bytes));
		json_object_array_add(arr, o);
	}
	return arr;
}

json_object *ew_feed_tables_json(const struct ew_fd_maps *m)
{
	json_object *o = json_object_new_object();
	uint64_t fixed, hashes, total = ew_fd_table_bytes(m, &fixed, &hashes);
	uint32_t n4, n6;

	json_object_object_add(o, "memory_bytes", json_object_new_int64(total));
	json_object_object_add(o, "direct_bytes", json_object_new_int64(fixed));
	json_object_object_add(o, "hash_bytes", json_object_new_int64(hashes));
	ew_fd_counts(m, &n4, &n6);
	json_object_object_add(o, "ipv4_addresses", json_object_new_int64(n4));
	json_object_object_add(o, "ipv6_prefixes", json_object_new_int64(n6));
	return o;
}

static const char *human(char *buf, size_t len, double bytes)
{
	if (bytes < 1024)
		snprintf(buf, len, "%.0f B", bytes);
	else if (bytes < 1048576)
		snprintf(buf, len, "%.1f KiB", bytes / 1024);
	else
		snprintf(buf, len, "%.1f MiB", bytes / 1048576);
	return buf;
}

static int feed_list(void)
{
	struct ew_fd_maps m;
	json_object *arr, *tables;

	char dir[512], path[600];

	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	/* A command killed mid-change left a journal: settle it first. */
	if (!ew_fd_state_dir(dir, sizeof(dir))) {
		struct ctx c;

		journal_path(path, sizeof(path), dir);
		if (!access(path, F_OK)) {
			if (ctx_open(&c))
				return 1;
			ctx_close(&c);
		}
	}
	if (ew_fd_maps_open(&m))
		return 1;
	arr = ew_feeds_json(&m);
	tables = ew_feed_tables_json(&m);
	ew_fd_maps_close(&m);
	if (ew_g.json) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "feeds", arr);
		json_object_object_add(r, "tables", tables);
		ew_json_print(r);
		return 0;
	}
	printf("%-16s %-18s %-6s %9s %8s %6s %12s %10s  %-19s %-12s %s\n", "NAME", "FORMAT", "ACTION", "IPV4",
	       "IPV6", "FP", "HITS", "MEMORY", "LOADED (UTC)", "SHA256", "SOURCE");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *v;
		const char *s[4];
		int64_t n[6];
		char when[32], mem[32];
		time_t t;
		static const char *const sk[] = { "name", "format", "action", "sha256" };
		static const char *const nk[] = { "ipv4", "ipv6", "hits", "memory_bytes", "loaded_unix_ns",
						  "fingerprints" };

		for (int k = 0; k < 4; k++)
			s[k] = json_object_object_get_ex(o, sk[k], &v) ? json_object_get_string(v) : "";
		for (int k = 0; k < 6; k++)
			n[k] = json_object_object_get_ex(o, nk[k], &v) ? json_object_get_int64(v) : 0;
		t = n[4] / 1000000000;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
		json_object_object_get_ex(o, "source", &v);
		printf("%-16s %-18s %-6s %9lld %8lld %6lld %12lld %10s  %-19s %.12s %s\n", s[0], s[1], s[2],
		       (long long)n[0], (long long)n[1], (long long)n[5], (long long)n[2],
		       human(mem, sizeof(mem), n[3]), when, s[3], json_object_get_string(v));
	}
	{
		json_object *v;
		int64_t mem = 0, h4 = 0, h6 = 0, fixed = 0;

		if (json_object_object_get_ex(tables, "memory_bytes", &v))
			mem = json_object_get_int64(v);
		if (json_object_object_get_ex(tables, "direct_bytes", &v))
			fixed = json_object_get_int64(v);
		if (json_object_object_get_ex(tables, "ipv4_addresses", &v))
			h4 = json_object_get_int64(v);
		if (json_object_object_get_ex(tables, "ipv6_prefixes", &v))
			h6 = json_object_get_int64(v);
		printf("tables: %.1f MiB (%lld IPv4 /25../32 addresses, %lld IPv6 prefixes; %.1f MiB of it\n"
		       "        direct-indexed, allocated whether or not feeds are loaded)\n",
		       mem / 1048576.0, (long long)h4, (long long)h6, fixed / 1048576.0);
	}
	json_object_put(arr);
	json_object_put(tables);
	return 0;
}

int cmd_feed(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "action", required_argument, NULL, 'a' },
		{ "min-score", required_argument, NULL, 's' },
		{ "max-bad", required_argument, NULL, 'b' },
		{ "allow-empty", no_argument, NULL, 'e' },
		{ "max-size", required_argument, NULL, 'z' },
		{ "check", no_argument, NULL, 'c' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct ew_feed_opts o = { .format = EW_FF_AUTO, .min_score = 1, .max_bad_pct = 1.0 };
	int c, action = EW_A_DROP;
	bool check = false;
	const char *sub;
	char *end;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		switch (c) {
		case 'f':
			o.format = ew_feed_fmt_parse(optarg);
			if (o.format < 0)
				ew_usage_error(usage, "unknown --format '%s'", optarg);
			break;
		case 'a':
			action = ew_action_parse(optarg);
			if (action < 0 || action == EW_A_WOULD_DROP || action == EW_A_PASS)
				ew_usage_error(usage, "--action must be drop, flag or allow, not '%s'", optarg);
			break;
		case 's':
			errno = 0;
			o.min_score = strtoul(optarg, &end, 10);
			if (*end || errno || optarg[0] == '-')
				ew_usage_error(usage, "--min-score '%s' is not a count", optarg);
			break;
		case 'b':
			o.max_bad_pct = strtod(optarg, &end);
			if (*end || o.max_bad_pct < 0 || o.max_bad_pct > 100)
				ew_usage_error(usage, "--max-bad '%s' is not a percentage 0..100", optarg);
			break;
		case 'e':
			o.allow_empty = true;
			break;
		case 'z':
			errno = 0;
			o.max_bytes = strtoull(optarg, &end, 10);
			if (*end || errno || !o.max_bytes || optarg[0] == '-')
				ew_usage_error(usage, "--max-size '%s' is not a byte count", optarg);
			break;
		case 'c':
			check = true;
			break;
		default:
			ew_usage_error(usage, "bad option");
		}
	}
	if (optind >= argc)
		ew_usage_error(usage, "load, list or del?");
	sub = argv[optind++];
	if (!strcmp(sub, "list")) {
		if (optind != argc)
			ew_usage_error(usage, "list takes no arguments");
		return feed_list();
	}
	if (!strcmp(sub, "del")) {
		if (argc - optind != 1)
			ew_usage_error(usage, "del takes one feed NAME");
		return feed_del(argv[optind]);
	}
	if (strcmp(sub, "load"))
		ew_usage_error(usage, "unknown subcommand '%s'", sub);
	if (argc - optind != 2)
		ew_usage_error(usage, "load takes NAME and FILE");
	if (!argv[optind][0] || strlen(argv[optind]) >= sizeof(((struct ew_feed *)0)->name) ||
	    strspn(argv[optind], NAME_OK) != strlen(argv[optind]) || argv[optind][0] == '.')
		ew_usage_error(usage, "feed NAME '%s': 1-31 characters of A-Z a-z 0-9 _ . - (not starting with .)",
			       argv[optind]);
	return feed_load(argv[optind], argv[optind + 1], &o, action, check);
}
