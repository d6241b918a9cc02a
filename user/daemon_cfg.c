// SPDX-License-Identifier: BSD-2-Clause
/*
 * The daemon's configuration file: parsed whole and checked before anything
 * is applied, errors as FILE:LINE: reason. One directive per line, words
 * separated by blanks, `#` starts a comment. The format is documented in
 * README.md ("Configuration file") and scripts/edgeward.conf.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include "edgeward.h"

#define MAX_WORDS 64

struct parse {
	struct ew_dcfg *c;
	const char *file;
	int line;
	int errors;
};

static void perr(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", p->file, p->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	p->errors++;
}

static int split(char *s, char **w)
{
	int n = 0;
	char *save;

	for (char *t = strtok_r(s, " \t\r\n", &save); t && n < MAX_WORDS; t = strtok_r(NULL, " \t\r\n", &save))
		w[n++] = t;
	return n;
}

static int yes_no(struct parse *p, const char *key, int n, char **w, bool *out)
{
	if (n != 2 || (strcmp(w[1], "yes") && strcmp(w[1], "no"))) {
		perr(p, "%s takes yes or no", key);
		return -1;
	}
	*out = !strcmp(w[1], "yes");
	return 0;
}

static int add_block(struct parse *p, const char *spec, const char *where_file, int where_line)
{
	struct ew_dcfg *c = p->c;
	struct ew_dcfg_block *b;
	char err[256];
	bool cleared;

	if (c->nblocks == c->cap_blocks) {
		size_t cap = c->cap_blocks ? c->cap_blocks * 2 : 64;
		struct ew_dcfg_block *n = realloc(c->blocks, cap * sizeof(*n));

		if (!n) {
			perr(p, "out of memory");
			return -1;
		}
		c->blocks = n;
		c->cap_blocks = cap;
	}
	b = &c->blocks[c->nblocks];
	if (ew_block_spec_parse(spec, &b->p, &b->action, &cleared, err, sizeof(err))) {
		if (where_file)
			fprintf(stderr, "%s:%d: %s\n", where_file, where_line, err);
		else
			perr(p, "%s", err);
		p->errors += where_file ? 1 : 0;
		return -1;
	}
	c->nblocks++;
	return 0;
}

/* A block file: one PREFIX[=ACTION] per line, # comments; errors name that file's lines. */
static void block_file(struct parse *p, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int ln = 0;

	if (!f) {
		perr(p, "block-file %s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *w[MAX_WORDS], *hash = strchr(line, '#');
		int n;

		ln++;
		if (hash)
			*hash = 0;
		n = split(line, w);
		for (int i = 0; i < n; i++)
			add_block(p, w[i], path, ln);
	}
	fclose(f);
	if (p->c->nfiles < EW_DCFG_FILES_MAX)
		snprintf(p->c->files[p->c->nfiles++], sizeof(p->c->files[0]), "%s", path);
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	char *end;
	size_t hl;
	long port;

	if (!colon || (hl = colon - s) >= sizeof(host) || hl == 0)
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || !colon[1] || port <= 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (void *)ss;

		host[hl - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*len = sizeof(*a);
		return 0;
	}
	{
		struct sockaddr_in *a = (void *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -1;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*len = sizeof(*a);
	}
	return 0;
}

/* feed NAME FILE [format FMT] [action ACT] [min-score N]: loaded with `edgeward feed load`. */
static void feed(struct parse *p, int n, char **w)
{
	struct ew_dcfg *c = p->c;
	struct ew_dcfg_feed *f;

	if (n < 3 || (n - 3) % 2) {
		perr(p, "feed takes NAME FILE [format FMT] [action drop|flag|allow] [min-score N]");
		return;
	}
	if (c->nfeeds == EW_FEEDS_MAX) {
		perr(p, "more than %d feeds", EW_FEEDS_MAX);
		return;
	}
	f = &c->feeds[c->nfeeds];
	memset(f, 0, sizeof(*f));
	if (strlen(w[1]) >= sizeof(f->name) || strlen(w[2]) >= sizeof(f->file)) {
		perr(p, "feed name or file too long");
		return;
	}
	for (int i = 0; i < c->nfeeds; i++)
		if (!strcmp(c->feeds[i].name, w[1])) {
			perr(p, "feed %s is configured twice", w[1]);
			return;
		}
	if (access(w[2], R_OK)) {
		perr(p, "feed %s: %s: %s", w[1], w[2], strerror(errno));
		return;
	}
	strcpy(f->name, w[1]);
	strcpy(f->file, w[2]);
	for (int i = 3; i < n; i += 2) {
		char *dst = !strcmp(w[i], "format") ? f->format : !strcmp(w[i], "action") ? f->action
			  : !strcmp(w[i], "min-score") ? f->min_score : NULL;

		if (!dst) {
			perr(p, "feed option '%s' is not format, action or min-score", w[i]);
			return;
		}
		if (strlen(w[i + 1]) >= sizeof(f->format)) {
			perr(p, "feed %s value '%s' too long", w[i], w[i + 1]);
			return;
		}
		strcpy(dst, w[i + 1]);
	}
	if (f->action[0] && ew_action_parse(f->action) < 0) {
		perr(p, "feed action must be drop, flag or allow, not '%s'", f->action);
		return;
	}
	c->nfeeds++;
	if (c->nfiles < EW_DCFG_FILES_MAX)
		memcpy(c->files[c->nfiles++], w[2], strlen(w[2]) + 1);
}

/* fp ja4|ja3 VALUE[=drop|flag|allow]...: fingerprint rules (default drop), as `edgeward fp add`. */
static void fp_rules(struct parse *p, int n, char **w)
{
	struct ew_dcfg *c = p->c;

	if (n < 3 || (strcmp(w[1], "ja4") && strcmp(w[1], "ja3"))) {
		perr(p, "fp takes ja4|ja3 VALUE[=drop|flag|allow]...");
		return;
	}
	for (int i = 2; i < n; i++) {
		char v[64], *eq;
		int action = EW_A_DROP;
		bool ab = false, ok;

		snprintf(v, sizeof(v), "%s", w[i]);
		if ((eq = strchr(v, '='))) {
			*eq = 0;
			action = ew_action_parse(eq + 1);
			if (action < 0) {
				perr(p, "fp %s: action '%s' is not drop, flag or allow", v, eq + 1);
				continue;
			}
		}
		if (!strcmp(w[1], "ja3")) {
			for (char *q = v; *q; q++)
				*q = tolower((unsigned char)*q);
			ok = ew_ja3_valid(v);
		} else {
			ok = strlen(w[i]) < sizeof(v) && ew_ja4_valid(v, &ab);
		}
		if (!ok) {
			perr(p, "fp: '%s' is not a %s", v, !strcmp(w[1], "ja3") ? "JA3 (32 hex digits)" :
				"JA4 (t13d1516h2_8daaf6152771_e5627efa2ab1) or its a_b part");
			continue;
		}
		if (c->nfps == c->cap_fps) {
			size_t cap = c->cap_fps ? c->cap_fps * 2 : 16;
			struct ew_dcfg_fp *nf = realloc(c->fps, cap * sizeof(*nf));

			if (!nf) {
				perr(p, "out of memory");
				return;
			}
			c->fps = nf;
			c->cap_fps = cap;
		}
		ew_fp_key_make(&c->fps[c->nfps].k, !strcmp(w[1], "ja3") ? EW_FR_JA3 : ab ? EW_FR_JA4_AB : EW_FR_JA4, v);
		c->fps[c->nfps].action = action;
		c->nfps++;
	}
}

/* policy REASON drop|flag|off, as `edgeward policy set`. */
static void policy(struct parse *p, int n, char **w)
{
	int bit = n == 3 ? ew_evidence_parse(w[1]) : -1;

	if (n != 3) {
		perr(p, "policy takes REASON drop|flag|off");
		return;
	}
	/* fp_rule follows the rules' own actions; the detectors' reasons have a policy. */
	if (bit <= 0 || bit >= EW_EV_MAX) {
		perr(p, "policy: '%s' is not relay_rtt, tunnel_mss, stack_mismatch, conn_rate or fanout", w[1]);
		return;
	}
	if (strcmp(w[2], "drop") && strcmp(w[2], "flag") && strcmp(w[2], "off")) {
		perr(p, "policy %s: '%s' is not drop, flag or off", w[1], w[2]);
		return;
	}
	strcpy(p->c->policy[bit], w[2]);
}

/* threshold NAME VALUE, as `edgeward policy threshold`. */
static void threshold(struct parse *p, int n, char **w)
{
	static const char *const names[] = { "relay-gap-us", "relay-ratio-pct", "rate-per-s", "rate-burst",
					     "rate-v4-prefix", "rate-v6-prefix", "fanout-sources" };
	struct ew_dcfg *c = p->c;
	bool known = false;
	char *end;

	if (n != 3) {
		perr(p, "threshold takes NAME VALUE");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		known |= !strcmp(names[i], w[1]);
	if (!known) {
		perr(p, "threshold: unknown name '%s' (`edgeward policy --help` lists them)", w[1]);
		return;
	}
	if (strtoul(w[2], &end, 10), *end || !*w[2] || strlen(w[2]) >= sizeof(c->thresholds[0].value)) {
		perr(p, "threshold %s: '%s' is not a number", w[1], w[2]);
		return;
	}
	if (c->nthresholds == (int)(sizeof(c->thresholds) / sizeof(c->thresholds[0]))) {
		perr(p, "too many thresholds");
		return;
	}
	strcpy(c->thresholds[c->nthresholds].name, w[1]);
	strcpy(c->thresholds[c->nthresholds].value, w[2]);
	c->nthresholds++;
}

static void directive(struct parse *p, int n, char **w)
{
	struct ew_dcfg *c = p->c;
	const char *k = w[0];
	char *end;

	if (!strcmp(k, "interface")) {
		struct ew_dcfg_iface *i;

		if (n < 2) {
			perr(p, "interface needs a name");
			return;
		}
		if (c->nifaces == EW_DCFG_IFACES_MAX) {
			perr(p, "more than %d interfaces", EW_DCFG_IFACES_MAX);
			return;
		}
		if (strlen(w[1]) >= EW_IFNAME_LEN) {
			perr(p, "interface name '%s' too long", w[1]);
			return;
		}
		if (!if_nametoindex(w[1])) {
			perr(p, "no interface named '%s'", w[1]);
			return;
		}
		for (int j = 0; j < c->nifaces; j++)
			if (!strcmp(c->ifaces[j].name, w[1])) {
				perr(p, "interface %s is configured twice", w[1]);
				return;
			}
		i = &c->ifaces[c->nifaces];
		memset(i, 0, sizeof(*i));
		snprintf(i->name, sizeof(i->name), "%s", w[1]);
		i->mode = 1;
		for (int j = 2; j < n; j++) {
			if (!strcmp(w[j], "native"))
				i->mode = 1;
			else if (!strcmp(w[j], "generic"))
				i->mode = 2;
			else if (!strcmp(w[j], "monitor"))
				i->monitor = true;
			else {
				perr(p, "interface option '%s' is not native, generic or monitor", w[j]);
				return;
			}
		}
		c->nifaces++;
	} else if (!strcmp(k, "block")) {
		if (n < 2)
			perr(p, "block needs PREFIX[=drop|flag|allow]");
		for (int j = 1; j < n; j++)
			add_block(p, w[j], NULL, 0);
	} else if (!strcmp(k, "block-file")) {
		if (n != 2)
			perr(p, "block-file takes one FILE");
		else
			block_file(p, w[1]);
	} else if (!strcmp(k, "metrics")) {
		if (n != 2 || parse_listen(w[1], &c->metrics_addr, &c->metrics_len))
			perr(p, "metrics takes ADDR:PORT or [ADDR]:PORT (e.g. 127.0.0.1:9470)");
		else
			snprintf(c->metrics, sizeof(c->metrics), "%s", w[1]);
	} else if (!strcmp(k, "metrics-textfile")) {
		if (n != 2 || w[1][0] != '/')
			perr(p, "metrics-textfile takes an absolute FILE");
		else
			snprintf(c->textfile, sizeof(c->textfile), "%s", w[1]);
	} else if (!strcmp(k, "metrics-interval")) {
		c->interval_s = n == 2 ? strtol(w[1], &end, 10) : 0;
		if (n != 2 || *end || c->interval_s < 1 || c->interval_s > 3600)
			perr(p, "metrics-interval takes seconds, 1..3600");
	} else if (!strcmp(k, "log-events")) {
		yes_no(p, k, n, w, &c->log_events);
	} else if (!strcmp(k, "detach-on-exit")) {
		yes_no(p, k, n, w, &c->detach_on_exit);
	} else if (!strcmp(k, "drop-capabilities")) {
		yes_no(p, k, n, w, &c->drop_caps);
	} else if (!strcmp(k, "feed")) {
		feed(p, n, w);
	} else if (!strcmp(k, "policy")) {
		policy(p, n, w);
	} else if (!strcmp(k, "threshold")) {
		threshold(p, n, w);
	} else if (!strcmp(k, "fp")) {
		fp_rules(p, n, w);
	} else if (!strcmp(k, "detector")) {
		perr(p, "'%s' is not supported in this build", k);
	} else {
		perr(p, "unknown directive '%s'", k);
	}
}

void ew_dcfg_free(struct ew_dcfg *c)
{
	free(c->blocks);
	free(c->fps);
	memset(c, 0, sizeof(*c));
}

int ew_dcfg_parse(const char *path, struct ew_dcfg *c)
{
	struct parse p = { .c = c, .file = path };
	char line[4096];
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->interval_s = 15;
	c->log_events = true;
	c->drop_caps = true;
	snprintf(c->path, sizeof(c->path), "%s", path);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *w[MAX_WORDS], *hash = strchr(line, '#');
		int n;

		p.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			perr(&p, "line longer than %zu bytes", sizeof(line) - 1);
			while (fgets(line, sizeof(line), f) && !strchr(line, '\n'))
				;
			continue;
		}
		if (hash)
			*hash = 0;
		n = split(line, w);
		if (n)
			directive(&p, n, w);
	}
	fclose(f);
	if (p.errors) {
		ew_dcfg_free(c);
		return -1;
	}
	return 0;
}
