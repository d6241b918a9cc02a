// SPDX-License-Identifier: BSD-2-Clause
/*
 * Every counter edgeward exports, read from the pinned maps and summed over
 * CPUs: one small source function per map (or per map family), listed in
 * sources[] below, and three renderings of the rows they produce: JSON
 * (`stats -j`), a table (`stats`) and the Prometheus text exposition format
 * (`stats --prometheus`, the daemon's /metrics and textfile).
 *
 * A new pinned map of counters (feeds, rules, detectors...) needs one group
 * (its JSON key, label names, value names, metric names) and one source.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "edgeward.h"
#include "feeds.h"

/* --- groups: how a kind of row is named in JSON and in Prometheus --------- */

static const struct ew_group g_stats = {
	.json = "counters",
	.style = EW_JSON_ROWS,
	.labels = { "hook", "reason", "action" },
	.values = { "packets", "bytes" },
	.metrics = { "edgeward_packets_total", "edgeward_bytes_total" },
	.types = { "counter", "counter" },
	.help = { "Packets by hook, reason and action, summed over CPUs.",
		  "Bytes by hook, reason and action, summed over CPUs." },
};

static const struct ew_group g_events = {
	.json = "events",
	.style = EW_JSON_MAP_LABEL,
	.labels = { "event" },
	.values = { "count" },
	.metrics = { "edgeward_events_total" },
	.types = { "counter" },
	.help = { "Data-path events (flow table, prefix lookups, event ring) by kind." },
};

static const struct ew_group g_flow_table = {
	.json = "events",
	.style = EW_JSON_MAP_VALUES,
	.values = { "flows_live", "flows_evicted" },
	.metrics = { "edgeward_flows", "edgeward_flows_evicted_total" },
	.types = { "gauge", "counter" },
	.help = { "Entries in the flow table.",
		  "Flow entries created and since evicted by the LRU." },
};

static const struct ew_group g_blocklist = {
	.json = "blocklist",
	.style = EW_JSON_ROWS,
	.labels = { "label", "action" },
	.values = { "prefixes", "hits" },
	.metrics = { "edgeward_blocklist_prefixes", "edgeward_blocklist_hits_total" },
	.types = { "gauge", "counter" },
	.help = { "Block-list prefixes by label and action.",
		  "Packets that matched a block-list prefix, by label and action." },
};

static const struct ew_group g_ring = {
	.json = "ring",
	.style = EW_JSON_MAP_LABEL,
	.labels = { "outcome" },
	.values = { "events" },
	.metrics = { "edgeward_ring_events_total" },
	.types = { "counter" },
	.help = { "Events for watch: sent to the ring, lost to a full ring, suppressed by the rate limit." },
};

static const struct ew_group g_feeds = {
	.json = "feeds",
	.style = EW_JSON_ROWS,
	.labels = { "feed", "action" },
	.values = { "hits", "entries" },
	.metrics = { "edgeward_feed_hits_total", "edgeward_feed_entries" },
	.types = { "counter", "gauge" },
	.help = { "Packets whose source a threat feed held, by feed.", "Prefixes loaded from each threat feed." },
};

static const struct ew_group g_detectors = {
	.json = "detectors",
	.style = EW_JSON_ROWS,
	.labels = { "detector", "policy" },
	.values = { "flows" },
	.metrics = { "edgeward_detector_flows_total" },
	.types = { "counter" },
	.help = { "Flows a detector's evidence marked, by detector and its policy." },
};

static const struct ew_group g_rules = {
	.json = "rules",
	.style = EW_JSON_ROWS,
	.labels = { "rule", "action", "label" },
	.values = { "hits" },
	.metrics = { "edgeward_rule_hits_total" },
	.types = { "counter" },
	.help = { "ClientHellos that matched each fingerprint rule." },
};

/* Every group: JSON has each key even when its source has no rows. */
static const struct ew_group *const groups[] = { &g_stats, &g_events, &g_flow_table, &g_blocklist, &g_ring, &g_feeds,
						  &g_detectors, &g_rules };

/* Names of enum ew_counter, as JSON keys and Prometheus event labels. */
static const char *const counter_names[EW_COUNTER_MAX] = {
	[EW_C_FLOW_NEW] = "flows_created",
	[EW_C_FLOW_RACE] = "flow_create_races",
	[EW_C_PFX_LOOKUP] = "prefix_lookups",
	[EW_C_TLS_HELLO] = "tls_hellos",
	[EW_C_TLS_REASM] = "tls_hellos_reassembled",
	[EW_C_TLS_RETRANS] = "tls_retransmits_skipped",
	[EW_C_TLS_NOT_HELLO] = "tls_not_hello",
	[EW_C_TLS_PORT_SKIP] = "tls_port_skipped",
	[EW_C_TLS_INCOMPLETE] = "tls_incomplete",
	[EW_C_TLS_MALFORMED] = "tls_malformed",
	[EW_C_TLS_UNSUPPORTED] = "tls_unsupported",
};

/* --- rows ------------------------------------------------------------------ */

static struct ew_row *row_add(struct ew_counters *c, const struct ew_group *g)
{
	struct ew_row *r;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct ew_row *n = realloc(c->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->rows = n;
		c->cap = cap;
	}
	r = &c->rows[c->n++];
	memset(r, 0, sizeof(*r));
	r->g = g;
	if (c->per_cpu && c->ncpus > 0) {
		r->pc = calloc((size_t)c->ncpus * EW_VALUES_MAX, sizeof(*r->pc));
		if (!r->pc) {
			c->n--;
			return NULL;
		}
	}
	return r;
}

static void row_label(struct ew_row *r, int i, const char *v)
{
	snprintf(r->lv[i], sizeof(r->lv[i]), "%s", v);
}

/* Open a pinned map without complaining: optional sources may be absent. */
static int map_open_quiet(const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", ew_g.pin_dir, name);
	return bpf_obj_get(path);
}

/* --- sources: one per map -------------------------------------------------- */

/* ew_stats: packets and bytes per (hook, reason, action); non-zero rows only. */
static int src_stats(struct ew_counters *c)
{
	int fd = ew_map_open("ew_stats");
	struct ew_ctr *pc;
	int ret = 0;

	if (fd < 0)
		return -1;
	pc = calloc(c->ncpus, sizeof(*pc));
	if (!pc) {
		close(fd);
		return -1;
	}
	for (__u32 h = 0; h < EW_HOOK_MAX && !ret; h++) {
		for (__u32 rs = 0; rs < EW_REASON_MAX && !ret; rs++) {
			for (__u32 a = 0; a < EW_ACTION_MAX; a++) {
				__u32 idx = EW_STAT_IDX(h, rs, a);
				struct ew_ctr s = {};
				struct ew_row *r;

				if (bpf_map_lookup_elem(fd, &idx, pc))
					continue;
				for (int i = 0; i < c->ncpus; i++) {
					s.packets += pc[i].packets;
					s.bytes += pc[i].bytes;
				}
				if (!s.packets)
					continue;
				r = row_add(c, &g_stats);
				if (!r) {
					ret = -1;
					break;
				}
				row_label(r, 0, ew_hook_name(h));
				row_label(r, 1, ew_reason_name(rs));
				row_label(r, 2, ew_action_name(a));
				r->v[0] = s.packets;
				r->v[1] = s.bytes;
				for (int i = 0; r->pc && i < c->ncpus; i++) {
					r->pc[i * EW_VALUES_MAX] = pc[i].packets;
					r->pc[i * EW_VALUES_MAX + 1] = pc[i].bytes;
				}
			}
		}
	}
	free(pc);
	close(fd);
	return ret;
}

/* ew_counters: data-path events by enum ew_counter, every named one. */
static int src_events(struct ew_counters *c)
{
	int fd = ew_map_open("ew_counters");
	__u64 *pv;
	int ret = 0;

	if (fd < 0)
		return -1;
	pv = calloc(c->ncpus, sizeof(*pv));
	for (__u32 i = 0; pv && i < EW_COUNTER_MAX; i++) {
		struct ew_row *r;

		if (!counter_names[i] || bpf_map_lookup_elem(fd, &i, pv))
			continue;
		r = row_add(c, &g_events);
		if (!r) {
			ret = -1;
			break;
		}
		row_label(r, 0, counter_names[i]);
		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			r->v[0] += pv[cpu];
			if (r->pc)
				r->pc[cpu * EW_VALUES_MAX] = pv[cpu];
		}
		if (i == EW_C_FLOW_NEW)
			c->flows_created = r->v[0];
	}
	if (!pv)
		ret = -1;
	free(pv);
	close(fd);
	return ret;
}

/* ew_flows: live entries; entries are only removed by LRU eviction. */
int ew_counters_flows_max_age_s;

/* Counting a million flows takes about 2 s: the daemon reuses a recent count. */
static long flows_live(int fd)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static long cached = -1;
	static time_t at;
	time_t now = time(NULL);
	long n;

	pthread_mutex_lock(&lock);
	if (cached < 0 || !ew_counters_flows_max_age_s || now - at >= ew_counters_flows_max_age_s) {
		cached = ew_flows_count(fd);
		at = now;
	}
	n = cached;
	pthread_mutex_unlock(&lock);
	return n;
}

static int src_flow_table(struct ew_counters *c)
{
	int fd = ew_map_open("ew_flows");
	struct ew_row *r;
	long live;

	if (fd < 0)
		return -1;
	live = flows_live(fd);
	close(fd);
	if (live < 0)
		return -1;
	r = row_add(c, &g_flow_table);
	if (!r)
		return -1;
	r->v[0] = live;
	r->v[1] = c->flows_created > (__u64)live ? c->flows_created - live : 0;
	return 0;
}

/* One aggregate per (label, action) of the block lists. */
static struct ew_row *blocklist_row(struct ew_counters *c, size_t first, const char *label, int action)
{
	struct ew_row *r;

	for (size_t i = first; i < c->n; i++)
		if (!strcmp(c->rows[i].lv[0], label) && !strcmp(c->rows[i].lv[1], ew_action_name(action)))
			return &c->rows[i];
	r = row_add(c, &g_blocklist);
	if (r) {
		row_label(r, 0, label);
		row_label(r, 1, ew_action_name(action));
	}
	return r;
}

static int blocklist_walk(struct ew_counters *c, size_t first, const char *map, size_t key_size)
{
	__u8 key[32], next[32];
	struct ew_pfx_val v;
	void *prev = NULL;
	int fd = map_open_quiet(map);

	if (fd < 0)
		return 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		struct ew_row *r;

		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &v))
			continue;
		v.label[EW_LABEL_LEN - 1] = 0;
		r = blocklist_row(c, first, v.label, v.action);
		if (!r) {
			close(fd);
			return -1;
		}
		r->v[0]++;
		r->v[1] += v.hits;
	}
	close(fd);
	return 0;
}

/* ew_pfx4 / ew_pfx6: prefixes and hits summed by label and action. */
static int src_blocklist(struct ew_counters *c)
{
	size_t first = c->n;

	if (blocklist_walk(c, first, "ew_pfx4", sizeof(struct ew_pfx4_key)))
		return -1;
	return blocklist_walk(c, first, "ew_pfx6", sizeof(struct ew_pfx6_key));
}

/* ew_evstate: events sent, lost and suppressed (absent in pins without events). */
static int src_ring(struct ew_counters *c)
{
	static const char *const names[] = { "sent", "lost", "suppressed" };
	int fd = map_open_quiet("ew_evstate");
	struct ew_evstate *pc;
	__u32 zero = 0;

	if (fd < 0)
		return 0;
	pc = calloc(c->ncpus, sizeof(*pc));
	if (!pc || bpf_map_lookup_elem(fd, &zero, pc)) {
		free(pc);
		close(fd);
		return -1;
	}
	close(fd);
	for (int i = 0; i < 3; i++) {
		struct ew_row *r = row_add(c, &g_ring);

		if (!r) {
			free(pc);
			return -1;
		}
		row_label(r, 0, names[i]);
		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			__u64 v = i == 0 ? pc[cpu].sent : i == 1 ? pc[cpu].lost : pc[cpu].suppressed;

			r->v[0] += v;
			if (r->pc)
				r->pc[cpu * EW_VALUES_MAX] = v;
		}
	}
	free(pc);
	return 0;
}

/* ew_feeds + ew_fd_hits: hits and entries per loaded threat feed (absent in older pins). */
static int src_feeds(struct ew_counters *c)
{
	struct ew_fd_maps m;
	int fd = map_open_quiet("ew_feeds");

	if (fd < 0)
		return 0;
	close(fd);
	if (ew_fd_maps_open(&m))
		return -1;
	for (__u32 id = 0; id < EW_FEEDS_MAX; id++) {
		struct ew_feed f;
		struct ew_row *r;

		if (bpf_map_lookup_elem(m.feeds, &id, &f) || !f.used)
			continue;
		r = row_add(c, &g_feeds);
		if (!r) {
			ew_fd_maps_close(&m);
			return -1;
		}
		f.name[sizeof(f.name) - 1] = 0;
		row_label(r, 0, f.name);
		row_label(r, 1, ew_action_name(f.action));
		r->v[0] = ew_fd_feed_hits(&m, id, &f);
		r->v[1] = (uint64_t)f.entries4 + f.entries6;
	}
	ew_fd_maps_close(&m);
	return 0;
}

/* ew_evcount + ew_detcfg: flows each detector's evidence marked, with its policy. */
static int src_detectors(struct ew_counters *c)
{
	static const char *const policies[] = { [EW_P_FLAG] = "flag", [EW_P_DROP] = "drop", [EW_P_OFF] = "off" };
	struct ew_detect_cfg cfg = {};
	int fd = map_open_quiet("ew_evcount"), cfd;
	__u64 *pv;
	__u32 zero = 0;

	if (fd < 0)
		return 0;
	cfd = map_open_quiet("ew_detcfg");
	if (cfd >= 0) {
		if (bpf_map_lookup_elem(cfd, &zero, &cfg))
			memset(&cfg, 0, sizeof(cfg));
		close(cfd);
	}
	pv = calloc(c->ncpus, sizeof(*pv));
	for (__u32 i = 0; pv && i < EW_EV_MAX; i++) {
		struct ew_row *r;

		if (bpf_map_lookup_elem(fd, &i, pv) || !ew_evidence_name(i))
			continue;
		r = row_add(c, &g_detectors);
		if (!r)
			break;
		row_label(r, 0, ew_evidence_name(i));
		row_label(r, 1, i == 0 ? "rules" : cfg.policy[i] < 3 ? policies[cfg.policy[i]] : "unknown");
		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			r->v[0] += pv[cpu];
			if (r->pc)
				r->pc[cpu * EW_VALUES_MAX] = pv[cpu];
		}
	}
	free(pv);
	close(fd);
	return 0;
}

/* ew_fprules: hits per fingerprint rule (absent until fingerprint rules exist). */
static int src_rules(struct ew_counters *c)
{
	static const char *const kinds[] = { [EW_FR_JA4] = "ja4", [EW_FR_JA4_AB] = "ja4_ab", [EW_FR_JA3] = "ja3" };
	struct ew_fp_key k, next;
	struct ew_fp_val v;
	void *prev = NULL;
	int fd = map_open_quiet("ew_fprules"), plane = ew_fp_plane();

	if (fd < 0)
		return 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct ew_row *r;
		char name[64];

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) || !ew_fp_val_in_force(&v, plane, &v.action))
			continue;
		r = row_add(c, &g_rules);
		if (!r) {
			close(fd);
			return -1;
		}
		snprintf(name, sizeof(name), "%s:%.*s", k.kind <= EW_FR_JA3 && kinds[k.kind] ? kinds[k.kind] : "?",
			 (int)sizeof(k.val), k.val);
		v.label[EW_LABEL_LEN - 1] = 0;
		row_label(r, 0, name);
		row_label(r, 1, ew_action_name(v.action));
		row_label(r, 2, v.label);
		r->v[0] = v.hits;
	}
	close(fd);
	return 0;
}

static const struct {
	const char *name;
	int (*read)(struct ew_counters *c);
} sources[] = {
	{ "ew_stats", src_stats },
	{ "ew_counters", src_events },
	{ "ew_flows", src_flow_table },
	{ "ew_pfx4/ew_pfx6", src_blocklist },
	{ "ew_evstate", src_ring },
	{ "ew_feeds", src_feeds },
	{ "ew_evcount", src_detectors },
	{ "ew_fprules", src_rules },
};

int ew_counters_read(struct ew_counters *c, bool per_cpu)
{
	memset(c, 0, sizeof(*c));
	c->per_cpu = per_cpu;
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0) {
		ew_err("cannot count possible CPUs");
		return -1;
	}
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (sources[i].read(c)) {
			ew_err("reading counters from %s failed", sources[i].name);
			ew_counters_free(c);
			return -1;
		}
	}
	return 0;
}

void ew_counters_free(struct ew_counters *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->rows[i].pc);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}

static int nvalues(const struct ew_group *g)
{
	int n = 0;

	while (n < EW_VALUES_MAX && g->values[n])
		n++;
	return n;
}

static int nlabels(const struct ew_group *g)
{
	int n = 0;

	while (n < EW_LABELS_MAX && g->labels[n])
		n++;
	return n;
}

/* --- JSON ------------------------------------------------------------------ */

static json_object *json_slot(json_object *root, const struct ew_group *g)
{
	json_object *o;

	if (json_object_object_get_ex(root, g->json, &o))
		return o;
	o = g->style == EW_JSON_ROWS ? json_object_new_array() : json_object_new_object();
	json_object_object_add(root, g->json, o);
	return o;
}

json_object *ew_counters_json(const struct ew_counters *c)
{
	json_object *root = json_object_new_object();

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		json_slot(root, groups[g]);

	for (size_t i = 0; i < c->n; i++) {
		const struct ew_row *r = &c->rows[i];
		const struct ew_group *g = r->g;
		json_object *slot = json_slot(root, g), *o;
		int nv = nvalues(g);

		switch (g->style) {
		case EW_JSON_MAP_LABEL:
			json_object_object_add(slot, r->lv[0], json_object_new_int64(r->v[0]));
			break;
		case EW_JSON_MAP_VALUES:
			for (int v = 0; v < nv; v++)
				json_object_object_add(slot, g->values[v], json_object_new_int64(r->v[v]));
			break;
		case EW_JSON_ROWS:
			o = json_object_new_object();
			for (int l = 0; l < nlabels(g); l++)
				json_object_object_add(o, g->labels[l], json_object_new_string(r->lv[l]));
			for (int v = 0; v < nv; v++)
				json_object_object_add(o, g->values[v], json_object_new_int64(r->v[v]));
			if (r->pc) {
				json_object *pc = json_object_new_array();

				for (int cpu = 0; cpu < c->ncpus; cpu++) {
					json_object *e = json_object_new_object();

					json_object_object_add(e, "cpu", json_object_new_int(cpu));
					for (int v = 0; v < nv; v++)
						json_object_object_add(e, g->values[v],
								       json_object_new_int64(r->pc[cpu * EW_VALUES_MAX + v]));
					json_object_array_add(pc, e);
				}
				json_object_object_add(o, "per_cpu", pc);
			}
			json_object_array_add(slot, o);
			break;
		}
	}
	return root;
}

/* --- table ------------------------------------------------------------------ */

static void upper(char *dst, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		dst[i] = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i];
	dst[i] = 0;
}

void ew_counters_table(const struct ew_counters *c, FILE *f)
{
	char h[32];

	for (size_t i = 0; i < c->n; i++) {
		const struct ew_row *r = &c->rows[i];
		const struct ew_group *g = r->g;
		bool first = i == 0 || c->rows[i - 1].g != g, last = i + 1 == c->n || c->rows[i + 1].g != g;
		int nl = nlabels(g), nv = nvalues(g);

		if (g->style == EW_JSON_MAP_LABEL) {
			fprintf(f, "%-24s %llu\n", r->lv[0], (unsigned long long)r->v[0]);
			continue;
		}
		if (g->style == EW_JSON_MAP_VALUES) {
			for (int v = 0; v < nv; v++)
				fprintf(f, "%-24s %llu\n", g->values[v], (unsigned long long)r->v[v]);
			continue;
		}
		if (first) {
			if (c->per_cpu)
				fprintf(f, "%-4s ", "CPU");
			for (int l = 0; l < nl; l++) {
				upper(h, sizeof(h), g->labels[l]);
				fprintf(f, "%-16s ", h);
			}
			for (int v = 0; v < nv; v++) {
				upper(h, sizeof(h), g->values[v]);
				fprintf(f, "%16s", h);
			}
			fputc('\n', f);
		}
		for (int cpu = r->pc ? 0 : -1; cpu < (r->pc ? c->ncpus : 0); cpu++) {
			if (cpu >= 0)
				fprintf(f, "%-4d ", cpu);
			for (int l = 0; l < nl; l++)
				fprintf(f, "%-16s ", r->lv[l][0] ? r->lv[l] : "-");
			for (int v = 0; v < nv; v++)
				fprintf(f, "%16llu",
					(unsigned long long)(cpu >= 0 ? r->pc[cpu * EW_VALUES_MAX + v] : r->v[v]));
			fputc('\n', f);
		}
		if (last)
			fputc('\n', f);
	}
}

/* --- Prometheus text exposition format --------------------------------------- */

static void prom_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_sample(FILE *f, const struct ew_row *r, int v)
{
	const struct ew_group *g = r->g;
	int nl = nlabels(g);

	fputs(g->metrics[v], f);
	if (nl) {
		fputc('{', f);
		for (int l = 0; l < nl; l++) {
			fprintf(f, "%s%s=\"", l ? "," : "", g->labels[l]);
			prom_escape(f, r->lv[l]);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %llu\n", (unsigned long long)r->v[v]);
}

void ew_counters_prometheus(const struct ew_counters *c, FILE *f)
{
	/* Every series of a metric must stand together: walk group by group. */
	for (size_t i = 0; i < c->n;) {
		const struct ew_group *g = c->rows[i].g;
		size_t end = i;

		while (end < c->n && c->rows[end].g == g)
			end++;
		for (int v = 0; v < nvalues(g); v++) {
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", g->metrics[v], g->help[v], g->metrics[v], g->types[v]);
			for (size_t j = i; j < end; j++)
				prom_sample(f, &c->rows[j], v);
		}
		i = end;
	}
}
