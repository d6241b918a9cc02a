// SPDX-License-Identifier: BSD-2-Clause
/*
 * Threat-feed files as their publishers ship them: plain lists, Spamhaus DROP
 * (text and NDJSON), FireHOL netsets, Tor's exit lists, ipsum, AWS and GCP
 * ranges (JSON, through json-c), JA4 lists, FoxIO's ja4+ mapping CSV and
 * abuse.ch's SSLBL JA3 CSV. Every rejected line is reported as FILE:LINE.
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "feeds.h"

static const char *const fmt_names[EW_FF_MAX] = {
	[EW_FF_AUTO] = "auto",
	[EW_FF_CIDR] = "cidr",
	[EW_FF_SPAMHAUS] = "spamhaus",
	[EW_FF_SPAMHAUS_JSON] = "spamhaus-json",
	[EW_FF_FIREHOL] = "firehol",
	[EW_FF_TOR_EXITS] = "tor-exits",
	[EW_FF_TOR_ADDRS] = "tor-exit-addresses",
	[EW_FF_IPSUM] = "ipsum",
	[EW_FF_AWS] = "aws",
	[EW_FF_GCP] = "gcp",
	[EW_FF_JA4] = "ja4",
	[EW_FF_JA4_CSV] = "ja4-mapping-csv",
	[EW_FF_JA3_SSLBL] = "ja3-sslbl",
};

const char *ew_feed_fmt_name(int fmt)
{
	return fmt >= 0 && fmt < EW_FF_MAX ? fmt_names[fmt] : "unknown";
}

int ew_feed_fmt_parse(const char *s)
{
	for (int i = 0; i < EW_FF_MAX; i++)
		if (!strcmp(s, fmt_names[i]))
			return i;
	return -1;
}

bool ew_feed_fmt_is_fp(int fmt)
{
	return fmt == EW_FF_JA4 || fmt == EW_FF_JA4_CSV || fmt == EW_FF_JA3_SSLBL;
}

struct pctx {
	const char *name;
	FILE *diag;
	const struct ew_feed_opts *o;
	struct ew_feed_data *d;
	size_t warned;
};

static void __attribute__((format(printf, 3, 4))) reject(struct pctx *c, size_t line, const char *fmt, ...)
{
	va_list ap;

	c->d->bad++;
	fprintf(c->diag, "%s:%zu: ", c->name, line);
	va_start(ap, fmt);
	vfprintf(c->diag, fmt, ap);
	va_end(ap);
	fputc('\n', c->diag);
}

#define EW_FEED_WARN_MAX 20

static void __attribute__((format(printf, 3, 4))) warn(struct pctx *c, size_t line, const char *fmt, ...)
{
	va_list ap;

	if (c->warned++ >= EW_FEED_WARN_MAX)
		return;
	fprintf(c->diag, "%s:%zu: warning: ", c->name, line);
	va_start(ap, fmt);
	vfprintf(c->diag, fmt, ap);
	va_end(ap);
	fputc('\n', c->diag);
}

/* Room for one more element in a growing array; -1 when out of memory. */
static int grow(void **arr, size_t n, size_t *cap, size_t elem)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 1024) * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = *cap ? *cap * 2 : 1024;
	return 0;
}

static int push_prefix(struct pctx *c, const struct ew_prefix *p)
{
	struct ew_feed_data *d = c->d;

	if (grow((void **)&d->pfx, d->npfx, &d->pfx_cap, sizeof(*p)))
		return -1;
	d->pfx[d->npfx++] = *p;
	return 0;
}

/* One prefix from the text s (not NUL-terminated, n bytes) on line `line`. */
static int add_prefix(struct pctx *c, size_t line, const char *s, size_t n)
{
	char buf[128], err[256], out[64];
	struct ew_prefix p;
	bool cleared;

	if (n >= sizeof(buf)) {
		reject(c, line, "'%.40s...' is not an IP address or prefix", s);
		return 0;
	}
	memcpy(buf, s, n);
	buf[n] = 0;
	if (ew_prefix_parse(buf, &p, &cleared, err, sizeof(err))) {
		reject(c, line, "%s", err);
		return 0;
	}
	if (p.len == 0) {
		reject(c, line, "'%s' is a /0: a feed may not match every address", buf);
		return 0;
	}
	if (cleared) {
		c->d->cleared++;
		ew_prefix_fmt(&p, out, sizeof(out));
		warn(c, line, "host bits set in '%s': using %s", buf, out);
	}
	return push_prefix(c, &p);
}

static int push_fp(struct pctx *c, char kind, const char *fp, const char *label)
{
	struct ew_feed_data *d = c->d;
	struct ew_fp_entry *e;

	if (grow((void **)&d->fps, d->nfps, &d->fps_cap, sizeof(*e)))
		return -1;
	e = &d->fps[d->nfps++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->fp, sizeof(e->fp), "%s", fp);
	snprintf(e->label, sizeof(e->label), "%s", label ? label : "");
	return 0;
}

/* A full JA4 (feeds list whole fingerprints; `edgeward fp` also takes a_b). */
static bool ja4_valid(const char *s)
{
	bool ab;

	return ew_ja4_valid(s, &ab) && !ab;
}

/* --- lines ----------------------------------------------------------------- */
struct line {
	char *s; /* NUL-terminated copy, comment and CR stripped, trimmed */
	size_t no;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/*
 * Iterate lines of buf: strips a BOM and CRs, rejects overlong lines and
 * binary bytes, cuts comments starting with any char of `comments`. Calls
 * fn for each non-empty data line; comment-only and blank lines are skipped.
 */
typedef int (*line_fn)(struct pctx *c, struct line *l, void *arg);

static int for_lines(struct pctx *c, const char *buf, size_t len, const char *comments, line_fn fn,
		     void *arg)
{
	char *tmp = malloc(EW_FEED_LINE_MAX + 2);
	size_t pos = 0, no = 0;
	int ret = 0;

	if (!tmp)
		return -1;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < len && !ret) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		struct line l = { .no = ++no };
		bool binary = false;
		char *s;

		if (n > EW_FEED_LINE_MAX) {
			c->d->lines++;
			reject(c, no, "line longer than %d bytes", EW_FEED_LINE_MAX);
			pos += n + 1;
			continue;
		}
		memcpy(tmp, buf + pos, n);
		tmp[n] = 0;
		pos += n + 1;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = tmp[i];

			if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f)
				binary = true;
		}
		if (n && tmp[n - 1] == '\r')
			tmp[n - 1] = 0;
		if (binary) {
			c->d->lines++;
			reject(c, no, "binary data (control bytes) in line");
			continue;
		}
		if (comments && comments[0])
			tmp[strcspn(tmp, comments)] = 0;
		s = trim(tmp);
		if (!*s)
			continue;
		c->d->lines++;
		l.s = s;
		ret = fn(c, &l, arg);
	}
	free(tmp);
	return ret;
}

/* cidr, firehol, tor-exits, spamhaus (comment already cut): one prefix per line. */
static int line_prefix(struct pctx *c, struct line *l, void *arg)
{
	size_t n = strcspn(l->s, " \t");

	if (l->s[n]) {
		reject(c, l->no, "unexpected text after '%.*s'", (int)n, l->s);
		return 0;
	}
	return add_prefix(c, l->no, l->s, n);
}

static int line_tor_addrs(struct pctx *c, struct line *l, void *arg)
{
	char *kw = strtok(l->s, " \t"), *addr;

	if (!strcmp(kw, "ExitNode") || !strcmp(kw, "Published") || !strcmp(kw, "LastStatus"))
		return 0;
	if (strcmp(kw, "ExitAddress")) {
		reject(c, l->no, "unknown keyword '%.40s' (want ExitNode, Published, LastStatus, ExitAddress)", kw);
		return 0;
	}
	addr = strtok(NULL, " \t");
	if (!addr) {
		reject(c, l->no, "ExitAddress without an address");
		return 0;
	}
	return add_prefix(c, l->no, addr, strlen(addr));
}

static int line_ipsum(struct pctx *c, struct line *l, void *arg)
{
	char *ip = strtok(l->s, " \t"), *cnt = strtok(NULL, " \t"), *end;
	unsigned long v;

	if (!cnt || strtok(NULL, " \t")) {
		reject(c, l->no, "want 'ADDRESS<TAB>COUNT'");
		return 0;
	}
	errno = 0;
	v = strtoul(cnt, &end, 10);
	if (*end || errno || !isdigit((unsigned char)cnt[0])) {
		reject(c, l->no, "count '%.20s' is not a number", cnt);
		return 0;
	}
	if (v < c->o->min_score) {
		c->d->skipped++;
		return 0;
	}
	return add_prefix(c, l->no, ip, strlen(ip));
}

static int line_spamhaus_json(struct pctx *c, struct line *l, void *arg)
{
	enum json_tokener_error jerr;
	json_object *o = json_tokener_parse_verbose(l->s, &jerr), *v;
	int ret = 0;

	if (!o || !json_object_is_type(o, json_type_object)) {
		reject(c, l->no, "not a JSON object%s%s", o ? "" : ": ",
		       o ? "" : json_tokener_error_desc(jerr));
	} else if (json_object_object_get_ex(o, "cidr", &v) && json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		ret = add_prefix(c, l->no, s, strlen(s));
	} else if (json_object_object_get_ex(o, "type", &v) &&
		   !strcmp(json_object_get_string(v), "metadata")) {
		c->d->lines--; /* the trailer describes the file: not an entry */
	} else {
		reject(c, l->no, "object without a \"cidr\" string");
	}
	json_object_put(o);
	return ret;
}

static int line_ja4(struct pctx *c, struct line *l, void *arg)
{
	char *fp = strtok(l->s, " \t"), *label = strtok(NULL, "");

	if (!ja4_valid(fp)) {
		reject(c, l->no, "'%.40s' is not a JA4 fingerprint", fp);
		return 0;
	}
	return push_fp(c, '4', fp, label ? trim(label) : NULL);
}

/* Split a CSV record in place (RFC 4180 quoting). Returns the field count. */
static int csv_split(char *s, char **f, int max)
{
	int n = 0;

	while (n < max) {
		char *w = s;

		f[n++] = w;
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s)
					break;
				if (*s == '"' && s[1] == '"') {
					*w++ = '"';
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					*w++ = *s++;
				}
			}
			while (*s && *s != ',')
				s++;
		} else {
			while (*s && *s != ',')
				*w++ = *s++;
		}
		if (*s != ',') {
			*w = 0;
			break;
		}
		s++;
		*w = 0;
	}
	return n;
}

#define CSV_MAX 32

struct ja4csv {
	int ja4_col, label_cols[4];
	bool header;
};

static int line_ja4_csv(struct pctx *c, struct line *l, void *arg)
{
	static const char *const label_names[4] = { "Application", "Library", "Device", "OS" };
	struct ja4csv *h = arg;
	char *f[CSV_MAX];
	const char *label = "";
	int n = csv_split(l->s, f, CSV_MAX);

	if (!h->header) {
		h->header = true;
		c->d->lines--;
		for (int i = 0; i < n; i++) {
			if (!strcmp(trim(f[i]), "ja4"))
				h->ja4_col = i;
			for (int k = 0; k < 4; k++)
				if (!strcmp(f[i], label_names[k]))
					h->label_cols[k] = i;
		}
		if (h->ja4_col < 0) {
			reject(c, l->no, "header has no \"ja4\" column");
			return -1;
		}
		return 0;
	}
	if (h->ja4_col >= n || !*trim(f[h->ja4_col])) {
		c->d->skipped++; /* a row for another fingerprint type */
		return 0;
	}
	if (!ja4_valid(f[h->ja4_col])) {
		reject(c, l->no, "'%.40s' is not a JA4 fingerprint", f[h->ja4_col]);
		return 0;
	}
	for (int k = 0; k < 4 && !*label; k++)
		if (h->label_cols[k] >= 0 && h->label_cols[k] < n)
			label = trim(f[h->label_cols[k]]);
	return push_fp(c, '4', f[h->ja4_col], label);
}

static int line_ja3_sslbl(struct pctx *c, struct line *l, void *arg)
{
	char *f[CSV_MAX];
	int n = csv_split(l->s, f, CSV_MAX);

	if (!ew_ja3_valid(trim(f[0]))) {
		reject(c, l->no, "'%.40s' is not a JA3 MD5 (32 lowercase hex digits)", f[0]);
		return 0;
	}
	return push_fp(c, '3', f[0], n >= 4 ? trim(f[3]) : "");
}

/* --- whole-document JSON (AWS, GCP) ------------------------------------------- */
static size_t line_of(const char *buf, size_t off)
{
	size_t no = 1;

	for (size_t i = 0; i < off; i++)
		no += buf[i] == '\n';
	return no;
}

/* Line of the next occurrence of "value" at or after *cur; advances *cur. */
static size_t locate(const char *buf, size_t len, size_t *cur, size_t *curline, const char *value)
{
	char pat[160];
	const char *hit;

	snprintf(pat, sizeof(pat), "\"%s\"", value);
	hit = memmem(buf + *cur, len - *cur, pat, strlen(pat));
	if (!hit)
		return *curline;
	*curline += line_of(buf + *cur, hit - (buf + *cur)) - 1;
	*cur = hit - buf;
	return *curline;
}

static int json_ranges(struct pctx *c, const char *buf, size_t len, int fmt)
{
	static const struct {
		const char *array, *key4, *key6;
	} aws[] = { { "prefixes", "ip_prefix", NULL }, { "ipv6_prefixes", NULL, "ipv6_prefix" } },
	  gcp[] = { { "prefixes", "ipv4Prefix", "ipv6Prefix" } };
	const typeof(aws[0]) *tab = fmt == EW_FF_AWS ? aws : gcp;
	int ntab = fmt == EW_FF_AWS ? 2 : 1;
	struct json_tokener *tok = json_tokener_new();
	json_object *root;
	size_t cur = 0, curline = 1;
	int ret = 0;

	if (!tok)
		return -1;
	root = json_tokener_parse_ex(tok, buf, len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		c->d->lines++;
		reject(c, line_of(buf, json_tokener_get_parse_end(tok)), "JSON: %s",
		       e == json_tokener_continue ? "document ends early" : json_tokener_error_desc(e));
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object)) {
		c->d->lines++;
		reject(c, 1, "JSON: top level is not an object");
		json_object_put(root);
		return -1;
	}
	for (int t = 0; t < ntab && !ret; t++) {
		json_object *arr;
		size_t n;

		if (!json_object_object_get_ex(root, tab[t].array, &arr))
			continue;
		if (!json_object_is_type(arr, json_type_array)) {
			c->d->lines++;
			reject(c, 1, "JSON: \"%s\" is not an array", tab[t].array);
			continue;
		}
		n = json_object_array_length(arr);
		for (size_t i = 0; i < n && !ret; i++) {
			json_object *e = json_object_array_get_idx(arr, i), *v = NULL;
			const char *s;

			c->d->lines++;
			if (!json_object_is_type(e, json_type_object) ||
			    !((tab[t].key4 && json_object_object_get_ex(e, tab[t].key4, &v)) ||
			      (tab[t].key6 && json_object_object_get_ex(e, tab[t].key6, &v))) ||
			    !json_object_is_type(v, json_type_string)) {
				reject(c, curline, "\"%s\" entry %zu has no %s%s%s string", tab[t].array, i,
				       tab[t].key4 ? tab[t].key4 : "", tab[t].key4 && tab[t].key6 ? " or " : "",
				       tab[t].key6 ? tab[t].key6 : "");
				continue;
			}
			s = json_object_get_string(v);
			ret = add_prefix(c, locate(buf, len, &cur, &curline, s), s, strlen(s));
		}
	}
	json_object_put(root);
	return ret;
}

/* --- recognising a format ------------------------------------------------------- */
static bool has_line_starting(const char *buf, size_t len, const char *pfx)
{
	size_t n = strlen(pfx);

	for (size_t pos = 0; pos + n <= len;) {
		const char *nl;

		if (!memcmp(buf + pos, pfx, n))
			return true;
		nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			break;
		pos = nl - buf + 1;
	}
	return false;
}

static bool contains(const char *buf, size_t len, const char *s)
{
	return memmem(buf, len, s, strlen(s)) != NULL;
}

int ew_feed_detect(const char *buf, size_t len)
{
	size_t pos = 0, n = len < 65536 ? len : 65536;
	bool comments = false, bare = true, tabbed = true, any = false;
	const char *p;

	if (n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < n && isspace((unsigned char)buf[pos]))
		pos++;
	p = buf + pos;
	n -= pos;
	if (n && *p == '{') {
		const char *nl = memchr(p, '\n', n);
		size_t first = nl ? (size_t)(nl - p) : n;

		if (contains(p, first, "\"cidr\""))
			return EW_FF_SPAMHAUS_JSON;
		if (contains(p, n, "\"ip_prefix\"") || contains(p, n, "\"ipv6_prefix\"") ||
		    contains(p, n, "\"createDate\""))
			return EW_FF_AWS;
		if (contains(p, n, "\"ipv4Prefix\"") || contains(p, n, "\"ipv6Prefix\"") ||
		    contains(p, n, "\"creationTime\""))
			return EW_FF_GCP;
		return EW_FF_CIDR;
	}
	if (has_line_starting(p, n, "ExitNode ") || has_line_starting(p, n, "ExitAddress "))
		return EW_FF_TOR_ADDRS;
	if (contains(p, n, "SSLBL") || contains(p, n, "ja3_md5"))
		return EW_FF_JA3_SSLBL;
	if (has_line_starting(p, n, "Application,") || contains(p, n, ",ja4,") ||
	    has_line_starting(p, n, "ja4,"))
		return EW_FF_JA4_CSV;
	if (contains(p, n, "IPsum"))
		return EW_FF_IPSUM;
	if (contains(p, n, "Spamhaus") || contains(p, n, "; SBL"))
		return EW_FF_SPAMHAUS;
	if (contains(p, n, "FireHOL") || contains(p, n, "ipset"))
		return EW_FF_FIREHOL;
	/* No publisher's mark: look at the data lines. */
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (p + i)) : n - i;
		char line[128];

		if (l && p[i] != '#' && p[i] != ';' && l < sizeof(line)) {
			memcpy(line, p + i, l);
			line[l] = 0;
			trim(line);
			if (*line) {
				char *tab = strchr(line, '\t');

				any = true;
				if (strcspn(line, " \t") == 36) {
					char tok[37];

					memcpy(tok, line, 36);
					tok[36] = 0;
					if (ja4_valid(tok))
						return EW_FF_JA4;
				}
				if (strchr(line, '/') || strpbrk(line, " #;"))
					bare = false;
				if (!tab || !isdigit((unsigned char)tab[1]))
					tabbed = false;
			}
		} else if (l) {
			comments = true;
		}
		if (!nl)
			break;
		i += l + 1;
	}
	if (any && tabbed)
		return EW_FF_IPSUM;
	if (any && bare && !comments)
		return EW_FF_TOR_EXITS;
	return EW_FF_CIDR;
}

/* --- sorting ---------------------------------------------------------------------- */
int ew_prefix_cmp(const void *a, const void *b)
{
	const struct ew_prefix *x = a, *y = b;
	int r;

	if (x->family != y->family)
		return x->family - y->family;
	r = memcmp(x->addr, y->addr, 16);
	if (r)
		return r;
	return (int)x->len - (int)y->len;
}

size_t ew_prefix_sort_unique(struct ew_prefix *p, size_t *n)
{
	size_t w = 0;

	if (!*n)
		return 0;
	qsort(p, *n, sizeof(*p), ew_prefix_cmp);
	for (size_t i = 1; i < *n; i++)
		if (ew_prefix_cmp(&p[w], &p[i]))
			p[++w] = p[i];
	w++;
	size_t dups = *n - w;
	*n = w;
	return dups;
}

/* --- entry points ------------------------------------------------------------------- */
void ew_feed_data_free(struct ew_feed_data *d)
{
	free(d->pfx);
	free(d->fps);
	memset(d, 0, sizeof(*d));
}

int ew_feed_parse_buf(const char *name, const char *buf, size_t len, const struct ew_feed_opts *o,
		      struct ew_feed_data *d)
{
	struct pctx c = { .name = name, .diag = o->diag ? o->diag : stderr, .o = o, .d = d };
	struct ja4csv h = { .ja4_col = -1, .label_cols = { -1, -1, -1, -1 } };
	int fmt = o->format ? o->format : ew_feed_detect(buf, len);
	double pct = o->max_bad_pct;
	int ret;

	memset(d, 0, sizeof(*d));
	d->format = fmt;
	d->bytes = len;
	ew_sha256(buf, len, d->sha256);
	switch (fmt) {
	case EW_FF_CIDR:
	case EW_FF_FIREHOL:
	case EW_FF_TOR_EXITS:
	case EW_FF_SPAMHAUS:
		ret = for_lines(&c, buf, len, "#;", line_prefix, NULL);
		break;
	case EW_FF_TOR_ADDRS:
		ret = for_lines(&c, buf, len, "#", line_tor_addrs, NULL);
		break;
	case EW_FF_IPSUM:
		ret = for_lines(&c, buf, len, "#", line_ipsum, NULL);
		break;
	case EW_FF_SPAMHAUS_JSON:
		ret = for_lines(&c, buf, len, NULL, line_spamhaus_json, NULL);
		break;
	case EW_FF_AWS:
	case EW_FF_GCP:
		ret = json_ranges(&c, buf, len, fmt);
		break;
	case EW_FF_JA4:
		ret = for_lines(&c, buf, len, "#", line_ja4, NULL);
		break;
	case EW_FF_JA4_CSV:
		ret = for_lines(&c, buf, len, NULL, line_ja4_csv, &h);
		break;
	case EW_FF_JA3_SSLBL:
		ret = for_lines(&c, buf, len, "#", line_ja3_sslbl, NULL);
		break;
	default:
		fprintf(c.diag, "%s: unknown format %d\n", name, fmt);
		ret = -1;
	}
	if (c.warned > EW_FEED_WARN_MAX)
		fprintf(c.diag, "%s: %zu more warnings not shown\n", name, c.warned - EW_FEED_WARN_MAX);
	if (ret)
		goto refuse;
	if (d->bad && (double)d->bad * 100.0 > pct * (double)d->lines) {
		fprintf(c.diag, "%s: %zu of %zu lines rejected (%.2f%%), above the %.2f%% allowed: refused\n",
			name, d->bad, d->lines, 100.0 * d->bad / (d->lines ? d->lines : 1), pct);
		goto refuse;
	}
	d->dups = ew_prefix_sort_unique(d->pfx, &d->npfx);
	for (size_t i = 0; i < d->npfx; i++)
		*(d->pfx[i].family == 4 ? &d->n4 : &d->n6) += 1;
	if (!d->npfx && !d->nfps && !o->allow_empty) {
		fprintf(c.diag, "%s: no entries (%s format): refused (--allow-empty loads an empty feed)\n",
			name, ew_feed_fmt_name(fmt));
		goto refuse;
	}
	return 0;
refuse:
	ew_feed_data_free(d);
	d->format = fmt;
	return -1;
}

int ew_feed_read(const char *path, const struct ew_feed_opts *o, struct ew_feed_data *d)
{
	FILE *diag = o->diag ? o->diag : stderr;
	uint64_t max = o->max_bytes ? o->max_bytes : EW_FEED_MAX_BYTES_DEFAULT;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, ret = -1;

	memset(d, 0, sizeof(*d));
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(diag, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		fprintf(diag, "%s: %s\n", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(diag, "%s: not a regular file\n", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		fprintf(diag, "%s: %lld bytes, more than the %llu allowed (--max-size)\n", path,
			(long long)st.st_size, (unsigned long long)max);
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		fprintf(diag, "%s: out of memory\n", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(diag, "%s: %s\n", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += r;
	}
	buf[got] = 0;
	ret = ew_feed_parse_buf(path, buf, got, o, d);
out:
	free(buf);
	close(fd);
	return ret;
}
