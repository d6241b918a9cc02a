/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Threat feeds in user space: reading publishers' file formats (feed_parse.c)
 * and building and swapping the kernel tables (feeds.c). Shared by user/ and
 * the tests; the kernel side is bpf/lib/feeds.h.
 */
#ifndef EDGEWARD_FEEDS_H
#define EDGEWARD_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "edgeward.h"

/* --- feed_parse.c: formats ------------------------------------------------ */
enum ew_feed_fmt {
	EW_FF_AUTO = 0,
	EW_FF_CIDR,	     /* IP or CIDR per line, # or ; comments */
	EW_FF_SPAMHAUS,	     /* Spamhaus DROP text: "prefix ; SBLnnn" */
	EW_FF_SPAMHAUS_JSON, /* Spamhaus DROP NDJSON: {"cidr":...} lines, metadata line */
	EW_FF_FIREHOL,	     /* FireHOL netset */
	EW_FF_TOR_EXITS,     /* Tor bulk exit list: one address per line */
	EW_FF_TOR_ADDRS,     /* Tor exit-addresses: ExitNode/Published/LastStatus/ExitAddress */
	EW_FF_IPSUM,	     /* ipsum: "IP<TAB>count" */
	EW_FF_AWS,	     /* AWS ip-ranges.json */
	EW_FF_GCP,	     /* GCP cloud.json */
	EW_FF_JA4,	     /* one JA4 per line */
	EW_FF_JA4_CSV,	     /* FoxIO ja4+ mapping CSV */
	EW_FF_JA3_SSLBL,     /* abuse.ch SSLBL JA3 CSV */
	EW_FF_MAX,
};

const char *ew_feed_fmt_name(int fmt);
int ew_feed_fmt_parse(const char *s); /* -1 if unknown */
bool ew_feed_fmt_is_fp(int fmt);      /* a fingerprint format (JA4/JA3) */

struct ew_feed_opts {
	int format;		/* EW_FF_*, EW_FF_AUTO to recognise it */
	unsigned int min_score; /* ipsum: keep addresses on at least this many lists */
	double max_bad_pct;	/* refuse the file above this share of bad lines */
	bool allow_empty;	/* accept a file with no entries */
	uint64_t max_bytes;	/* refuse larger files */
	FILE *diag;		/* where FILE:LINE messages go (NULL: stderr) */
};
#define EW_FEED_MAX_BYTES_DEFAULT (256ull << 20)
#define EW_FEED_LINE_MAX 4096

/* A JA4 (36 chars) or JA3 (32 hex) fingerprint with the publisher's label. */
struct ew_fp_entry {
	char kind; /* '4' JA4, '3' JA3 */
	char fp[40];
	char label[EW_LABEL_LEN];
};

struct ew_feed_data {
	int format; /* as given or as recognised */
	struct ew_prefix *pfx;
	size_t npfx, pfx_cap;
	struct ew_fp_entry *fps;
	size_t nfps, fps_cap;
	size_t lines;	  /* data lines seen (comments and blanks excluded) */
	size_t bad;	  /* lines rejected */
	size_t cleared;	  /* prefixes whose host bits were cleared */
	size_t dups;	  /* duplicates dropped */
	size_t skipped;	  /* entries below --min-score */
	size_t n4, n6;	  /* prefixes by family, after dedup */
	uint64_t bytes;
	uint8_t sha256[32];
};

/*
 * Read and validate a feed file. Every rejected line is reported as
 * "FILE:LINE: reason". Returns 0, or -1 when the file is refused (not a
 * regular file, too big, unreadable, too many bad lines, empty); the data is
 * then freed. Prefixes come out sorted and unique.
 */
int ew_feed_read(const char *path, const struct ew_feed_opts *o, struct ew_feed_data *d);
/* The same on a buffer (tests); name is used in messages. */
int ew_feed_parse_buf(const char *name, const char *buf, size_t len, const struct ew_feed_opts *o,
		      struct ew_feed_data *d);
void ew_feed_data_free(struct ew_feed_data *d);
/* Recognise a format from the start of a file; EW_FF_CIDR when unsure. */
int ew_feed_detect(const char *buf, size_t len);
/* Sort and deduplicate prefixes; returns the number of duplicates removed. */
size_t ew_prefix_sort_unique(struct ew_prefix *p, size_t *n);
int ew_prefix_cmp(const void *a, const void *b);

/* --- sha256.c --------------------------------------------------------------- */
void ew_sha256(const void *data, size_t len, uint8_t out[32]);

/* --- feed_fp.c: JA4/JA3 feeds as rules in ew_fprules (edgeward fp) ------------ */
/*
 * Make the feed's fingerprints rules with `action`, owning those it creates;
 * drop the rules it owned and no longer lists. *owned: rules it owns now;
 * *foreign: listed fingerprints that were already someone else's rule.
 */
int ew_fd_fp_apply(const char *dir, const char *name, int action, const struct ew_fp_entry *fps, size_t n,
		   size_t *owned, size_t *foreign);
int ew_fd_fp_del(const char *dir, const char *name);
uint64_t ew_fd_fp_hits(const char *dir, const char *name); /* hellos its rules matched */
size_t ew_fd_fp_count(const char *dir, const char *name);  /* its rules in force */
/* ew_fp_val.owner of the feed's rules: a hash of its name, never 0. */
uint32_t ew_fp_owner(const char *name);
/*
 * The same on given maps (tests: a skeleton's; config may be -1). Every hello
 * sees the feed's whole old set or its whole new set; so does a hello during
 * a later reload after this one was killed at any point.
 */
struct ew_fp_maps {
	int rules, state, config; /* ew_fprules, ew_fd_state, ew_config */
};
int ew_fd_fp_reload(const struct ew_fp_maps *m, const char *dir, const char *name, int action,
		    const struct ew_fp_entry *fps, size_t n, size_t *owned, size_t *foreign);
/* Tests: called after each map write and the flip of a reload; non-zero stops it there, as a kill would. */
extern int (*ew_fd_fp_step)(const char *what, void *arg);
extern void *ew_fd_fp_step_arg;

/* --- feeds.c: kernel tables --------------------------------------------------- */
/* Open map fds of the feed tables, from the pins or (tests) from a skeleton. */
struct ew_fd_maps {
	int state, t4, h4, l1, h6, cls, hits, feeds, config;
};
int ew_fd_maps_open(struct ew_fd_maps *m); /* from ew_g.pin_dir */
struct edgeward_bpf;
/* The feed tables of a loaded skeleton (private maps: tests, benchmarks, replay). */
void ew_fd_maps_of_skel(struct ew_fd_maps *m, const struct edgeward_bpf *skel, int config_fd);
void ew_fd_maps_close(struct ew_fd_maps *m);

/* One feed as the table builder sees it. */
struct ew_fd_feed {
	int id; /* 0..EW_FEEDS_MAX-1 */
	uint8_t action;
	const struct ew_prefix *pfx;
	size_t n;
};

/* Timings and sizes of the last apply, for `feed load` and the benchmark. */
struct ew_fd_report {
	double build_ms, write_ms, total_ms;
	size_t hosts4, slash24, entries6, classes, lens6;
	size_t hash_updates;
};

/*
 * Build the tables for these feeds and swap them in: every packet sees the
 * old set or the new one. On error nothing the data path reads has changed.
 * Bumps the rule generation of maps->config if that fd is >= 0. `cache`
 * (may be NULL) is a file where the hashes' contents are kept between
 * applies, sparing a reload from reading them back from the kernel.
 */
int ew_fd_apply_cached(const struct ew_fd_maps *m, const struct ew_fd_feed *feeds, size_t n,
		       const char *cache, struct ew_fd_report *rep);
int ew_fd_apply(const struct ew_fd_maps *m, const struct ew_fd_feed *feeds, size_t n,
		struct ew_fd_report *rep);

/* Wait until no XDP/TC program can still be reading a plane just retired. */
void ew_fd_grace_period(void);

/* Hits of feed `id`: its folded base plus the live class counters. */
uint64_t ew_fd_feed_hits(const struct ew_fd_maps *m, int id, const struct ew_feed *f);
/* Bytes of kernel memory the feed tables hold (fixed arrays plus hash entries). */
uint64_t ew_fd_table_bytes(const struct ew_fd_maps *m, uint64_t *fixed, uint64_t *hashes);
/* Entries of the active set: IPv4 /25../32 addresses and IPv6 prefixes. */
void ew_fd_counts(const struct ew_fd_maps *m, uint32_t *n4, uint32_t *n6);
/* Changes with every swap of the tables (serial and active plane): a journal
 * compares it to tell whether an interrupted apply reached its swap. */
uint64_t ew_fd_swap_mark(const struct ew_fd_maps *m);
/* Estimated kernel bytes of n4 host (/25../32) and n6 IPv6 entries. */
uint64_t ew_fd_entry_bytes(size_t hosts4, size_t n6);

/* cmd_feed.c: `feed list` rows and the tables' sizes, also shown by `status`. */
json_object *ew_feeds_json(const struct ew_fd_maps *m);
json_object *ew_feed_tables_json(const struct ew_fd_maps *m);

/* The state directory: each feed's entries, kept for rebuilding on reload. */
int ew_fd_state_dir(char *buf, size_t len);
int ew_fd_store_load(const char *dir, const char *name, struct ew_prefix **p, size_t *n);
int ew_fd_store_del(const char *dir, const char *name);
/* A load's entries are staged (NAME.feed.new) before its swap, committed after. */
int ew_fd_store_stage(const char *dir, const char *name, const struct ew_prefix *p, size_t n);
int ew_fd_store_commit(const char *dir, const char *name); /* an absent staged copy is fine */
void ew_fd_store_discard(const char *dir, const char *name);

#endif
