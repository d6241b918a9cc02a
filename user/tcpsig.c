// SPDX-License-Identifier: BSD-2-Clause
/*
 * TCP SYN signatures in p0f v3's text form: formatting what the data path
 * extracted (raw_sig, as p0f prints it, and the database form with the
 * initial TTL), parsing exact signatures for rules, and compiling a p0f.fp
 * [tcp:request] database into the kernel's lookup maps (bpf/lib/tcpsig.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const char *const quirk_names[EW_Q_COUNT] = {
	"df", "id+", "id-", "ecn", "0+", "flow", "seq-", "ack+", "ack-", "uptr+",
	"urgf+", "pushf+", "ts1-", "ts2+", "opt+", "exws", "bad",
};

static const struct {
	uint8_t kind;
	const char *name;
} opt_names[] = {
	{ 1, "nop" }, { 2, "mss" }, { 3, "ws" }, { 4, "sok" }, { 5, "sack" }, { 8, "ts" },
};

#define APPEND(...)                                                             \
	do {                                                                    \
		int n_ = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__); \
		if (n_ < 0)                                                     \
			return -1;                                              \
		off += n_;                                                      \
	} while (0)

/* Everything after "ver:ttl:" — the part both forms share. */
static int fmt_tail(const struct ew_tcp_sig *s, char *buf, size_t len, size_t off)
{
	bool first = true;

	APPEND("%u:%u:", s->olen, s->mss);
	if (s->win_type == EW_WIN_MSS || s->win_type == EW_WIN_MTU)
		APPEND("%s*%u", s->win_type == EW_WIN_MSS ? "mss" : "mtu", s->win);
	else
		APPEND("%u", s->win);
	APPEND(",%u:", s->wscale);
	for (unsigned int i = 0; i < s->ocnt && i < EW_TCP_OPT_MAX; i++) {
		const char *nm = NULL;

		for (size_t j = 0; j < sizeof(opt_names) / sizeof(opt_names[0]); j++)
			if (opt_names[j].kind == s->layout[i])
				nm = opt_names[j].name;
		if (s->layout[i] == 0)
			APPEND("%seol+%u", i ? "," : "", s->eol_pad);
		else if (nm)
			APPEND("%s%s", i ? "," : "", nm);
		else
			APPEND("%s?%u", i ? "," : "", s->layout[i]);
	}
	APPEND(":");
	for (int q = 0; q < EW_Q_COUNT; q++) {
		if (!(s->quirks & (1u << q)))
			continue;
		APPEND("%s%s", first ? "" : ",", quirk_names[q]);
		first = false;
	}
	APPEND(":%s", s->pclass ? "+" : "0");
	return off < len ? 0 : -1;
}

int ew_tcp_raw_sig(const struct ew_tcp_fp *fp, char *buf, size_t len)
{
	unsigned int dist = fp->sig.ittl - fp->ttl;
	size_t off = 0;

	if (!(fp->os_flags & EW_OSM_SEEN))
		return -1;
	if (dist > EW_MAX_DIST)
		APPEND("%u:%u+?:", fp->sig.ver, fp->ttl);
	else
		APPEND("%u:%u+%u:", fp->sig.ver, fp->ttl, dist);
	return fmt_tail(&fp->sig, buf, len, off);
}

int ew_tcp_sig_fmt(const struct ew_tcp_sig *s, char *buf, size_t len)
{
	size_t off = 0;

	APPEND("%u:%u:", s->ver, s->ittl);
	return fmt_tail(s, buf, len, off);
}

/* --- parsing p0f signature text ------------------------------------------ */

/* One parsed database signature, wildcards included. */
struct p0f_sig {
	struct ew_os_sig k;     /* kernel form */
	struct ew_os_key layout;
};

static int parse_num(const char **p, long max, long *out)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return -1;
	errno = 0;
	*out = strtol(*p, &end, 10);
	if (errno || *out > max)
		return -1;
	*p = end;
	return 0;
}

#define EXPECT(c)               \
	do {                    \
		if (*p != (c))  \
			goto bad; \
		p++;            \
	} while (0)

/*
 * Parse "ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass" as p0f.fp
 * writes it (wildcards allowed when wild). raw_sig's "ttl+dist" and "ttl+?"
 * are accepted too: the initial TTL is then ttl+dist, or the guess.
 */
static int parse_sig(const char *text, bool wild, struct p0f_sig *o, char *err, size_t errlen)
{
	const char *p = text;
	long v;

	memset(o, 0, sizeof(*o));
	if (*p == '4' || *p == '6')
		o->k.ver = *p - '0';
	else if (*p == '*' && wild)
		o->k.ver = 0;
	else
		goto bad;
	p++;
	EXPECT(':');
	if (parse_num(&p, 255, &v) || v < 1)
		goto bad;
	o->k.ittl = v;
	if (*p == '-' && wild) {
		o->k.flags |= EW_OSS_BAD_TTL;
		p++;
	} else if (*p == '+' && p[1] == '?') {
		p += 2;
		o->k.ittl = v <= 32 ? 32 : v <= 64 ? 64 : v <= 128 ? 128 : 255;
	} else if (*p == '+') {
		long d;

		p++;
		if (parse_num(&p, 255, &d) || v + d > 255)
			goto bad;
		o->k.ittl = v + d;
	}
	EXPECT(':');
	if (parse_num(&p, 255, &v))
		goto bad;
	o->k.olen = v;
	EXPECT(':');
	if (*p == '*' && wild) {
		o->k.any |= EW_OSA_MSS;
		p++;
	} else {
		if (parse_num(&p, 65535, &v))
			goto bad;
		o->k.mss = v;
	}
	EXPECT(':');
	if (*p == '*' && wild) {
		o->k.win_type = EW_WIN_ANY;
		p++;
	} else if (*p == '%' && wild) {
		p++;
		if (parse_num(&p, 65535, &v) || v < 2)
			goto bad;
		o->k.win_type = EW_WIN_MOD;
		o->k.win = v;
	} else if (!strncmp(p, "mss*", 4) || !strncmp(p, "mtu*", 4)) {
		o->k.win_type = p[1] == 's' ? EW_WIN_MSS : EW_WIN_MTU;
		p += 4;
		if (parse_num(&p, 1000, &v) || v < 1)
			goto bad;
		o->k.win = v;
	} else {
		if (parse_num(&p, 65535, &v))
			goto bad;
		o->k.win_type = EW_WIN_NORMAL;
		o->k.win = v;
	}
	EXPECT(',');
	if (*p == '*' && wild) {
		o->k.any |= EW_OSA_WSCALE;
		p++;
	} else {
		if (parse_num(&p, 255, &v))
			goto bad;
		o->k.wscale = v;
	}
	EXPECT(':');
	while (*p != ':') {
		uint8_t kind = 0;
		bool known = false;

		if (o->layout.ocnt >= EW_TCP_OPT_MAX)
			goto bad;
		if (!strncmp(p, "eol+", 4)) {
			p += 4;
			if (parse_num(&p, 255, &v) || *p != ':')
				goto bad;
			o->k.eol_pad = v;
			kind = 0;
			known = true;
		} else if (*p == '?') {
			p++;
			if (parse_num(&p, 255, &v))
				goto bad;
			kind = v;
			known = true;
		} else {
			for (size_t j = 0; j < sizeof(opt_names) / sizeof(opt_names[0]); j++) {
				size_t n = strlen(opt_names[j].name);

				if (!strncmp(p, opt_names[j].name, n) && (p[n] == ',' || p[n] == ':')) {
					kind = opt_names[j].kind;
					p += n;
					known = true;
					break;
				}
			}
		}
		if (!known)
			goto bad;
		o->layout.layout[o->layout.ocnt++] = kind;
		if (*p == ',')
			p++;
		else if (*p != ':')
			goto bad;
	}
	p++;
	while (*p != ':') {
		int q;

		for (q = 0; q < EW_Q_COUNT; q++) {
			size_t n = strlen(quirk_names[q]);

			if (!strncmp(p, quirk_names[q], n) && (p[n] == ',' || p[n] == ':')) {
				p += n;
				break;
			}
		}
		if (q == EW_Q_COUNT)
			goto bad;
		if (o->k.ver == 6 && ((1u << q) & EW_Q_V4_ONLY))
			goto bad;
		if (o->k.ver == 4 && (1u << q) == EW_Q_FLOW)
			goto bad;
		o->k.quirks |= 1u << q;
		if (*p == ',')
			p++;
		else if (*p != ':')
			goto bad;
	}
	p++;
	if (!strcmp(p, "*") && wild)
		o->k.any |= EW_OSA_PCLASS;
	else if (!strcmp(p, "0"))
		o->k.pclass = 0;
	else if (!strcmp(p, "+"))
		o->k.pclass = 1;
	else
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "malformed signature at \"%.20s\"", p);
	return -1;
}

int ew_tcp_sig_parse(const char *text, struct ew_tcp_sig *s, char *err, size_t errlen)
{
	struct p0f_sig o;

	if (parse_sig(text, false, &o, err, errlen))
		return -1;
	if (o.k.flags & EW_OSS_BAD_TTL) {
		snprintf(err, errlen, "a rule needs an exact signature");
		return -1;
	}
	memset(s, 0, sizeof(*s));
	memcpy(s->layout, o.layout.layout, EW_TCP_OPT_MAX);
	s->ocnt = o.layout.ocnt;
	s->quirks = o.k.quirks;
	s->mss = o.k.mss;
	s->win = o.k.win;
	s->win_type = o.k.win_type;
	s->ver = o.k.ver;
	s->ittl = o.k.ittl;
	s->olen = o.k.olen;
	s->eol_pad = o.k.eol_pad;
	s->wscale = o.k.wscale;
	s->pclass = o.k.pclass;
	return 0;
}

/* --- the p0f database ---------------------------------------------------- */

uint8_t ew_os_family_of(const char *name)
{
	static const struct {
		const char *prefix;
		uint8_t fam;
	} fams[] = {
		{ "Windows", EW_OS_WINDOWS }, { "Linux", EW_OS_LINUX }, { "Android", EW_OS_LINUX },
		{ "Mac OS", EW_OS_MACOS },    { "MacOS", EW_OS_MACOS },	{ "iOS", EW_OS_MACOS },
		{ "FreeBSD", EW_OS_BSD },     { "OpenBSD", EW_OS_BSD },	{ "NetBSD", EW_OS_BSD },
	};

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		if (!strncmp(name, fams[i].prefix, strlen(fams[i].prefix)))
			return fams[i].fam;
	return EW_OS_OTHER;
}

static const char *const family_names[EW_OS_MAX] = {
	"unknown", "windows", "linux", "macos", "bsd", "other",
};

const char *ew_os_family_name(unsigned int f)
{
	return f < EW_OS_MAX ? family_names[f] : "?";
}

int ew_os_family_parse(const char *s)
{
	for (int i = 1; i < EW_OS_MAX; i++)
		if (!strcmp(s, family_names[i]))
			return i;
	return -1;
}

void ew_osdb_init(struct ew_osdb *db)
{
	memset(db, 0, sizeof(*db));
	db->nlabels = 1; /* index 0: no label */
}

void ew_osdb_free(struct ew_osdb *db)
{
	free(db->sigs);
	free(db->keys);
	free(db->labels);
	memset(db, 0, sizeof(*db));
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int ew_osdb_load(struct ew_osdb *db, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024], err[128];
	bool in_req = false, have_label = false;
	uint8_t lflags = 0;
	unsigned int lineno = 0;
	int label = -1;

	if (!f) {
		ew_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line), *eq, *key, *val;

		lineno++;
		if (!*l || *l == ';' || *l == '#')
			continue;
		if (*l == '[') {
			in_req = !strcmp(l, "[tcp:request]");
			have_label = false;
			continue;
		}
		if (!in_req)
			continue;
		eq = strchr(l, '=');
		if (!eq) {
			ew_err("%s:%u: expected KEY = VALUE", path, lineno);
			goto fail;
		}
		*eq = 0;
		key = trim(l);
		val = trim(eq + 1);
		if (!strcmp(key, "label")) {
			/* [sg]:class:name:flavor; class "!" marks a user tool */
			char *cls, *name, *flavor;
			struct ew_os_label *lab;

			if ((val[0] != 's' && val[0] != 'g') || val[1] != ':' ||
			    !(cls = val + 2, name = strchr(cls, ':')) || !(flavor = strchr(name + 1, ':'))) {
				ew_err("%s:%u: malformed label '%s'", path, lineno, val);
				goto fail;
			}
			*name++ = 0;
			*flavor++ = 0;
			lflags = (val[0] == 'g' ? EW_OSS_GENERIC : 0) | (!strcmp(cls, "!") ? EW_OSS_APP : 0);
			if (db->nlabels >= EW_OS_LABELS_MAX) {
				ew_err("%s:%u: more than %d labels", path, lineno, EW_OS_LABELS_MAX - 1);
				goto fail;
			}
			db->labels = realloc(db->labels, (db->nlabels + 1) * sizeof(*db->labels));
			lab = &db->labels[db->nlabels];
			memset(lab, 0, sizeof(*lab));
			snprintf(lab->name, sizeof(lab->name), "%s%s%s", name, *flavor ? " " : "", flavor);
			lab->family = lflags & EW_OSS_APP ? EW_OS_OTHER : ew_os_family_of(name);
			lab->flags = lflags;
			label = db->nlabels++;
			have_label = true;
		} else if (!strcmp(key, "sig")) {
			struct p0f_sig ps;

			if (!have_label) {
				ew_err("%s:%u: sig before any label", path, lineno);
				goto fail;
			}
			if (parse_sig(val, true, &ps, err, sizeof(err))) {
				ew_err("%s:%u: %s", path, lineno, err);
				goto fail;
			}
			if (db->nsigs >= EW_OS_SIGS_MAX) {
				ew_err("%s:%u: more than %d signatures", path, lineno, EW_OS_SIGS_MAX);
				goto fail;
			}
			ps.k.label = label;
			ps.k.flags |= lflags & (EW_OSS_GENERIC | EW_OSS_APP);
			db->sigs = realloc(db->sigs, (db->nsigs + 1) * sizeof(*db->sigs));
			db->keys = realloc(db->keys, (db->nsigs + 1) * sizeof(*db->keys));
			db->sigs[db->nsigs] = ps.k;
			db->keys[db->nsigs] = ps.layout;
			db->nsigs++;
		} else if (!strcmp(key, "sys")) {
			continue;
		} else {
			ew_err("%s:%u: unknown key '%s'", path, lineno, key);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

static int key_cmp(const struct ew_os_key *a, const struct ew_os_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

int ew_osdb_install(const struct ew_osdb *db, int key_fd, int sig_fd, int label_fd)
{
	uint32_t *order = calloc(db->nsigs ? db->nsigs : 1, sizeof(*order));
	uint32_t n = 0;
	int ret = -1;

	if (!order)
		return -1;
	/* Group by layout, keeping database order inside each group. */
	for (uint32_t i = 0; i < db->nsigs; i++) {
		bool seen = false;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = !key_cmp(&db->keys[i], &db->keys[j]);
		if (seen)
			continue;
		struct ew_os_span span = { .first = n };

		for (uint32_t j = i; j < db->nsigs; j++) {
			if (key_cmp(&db->keys[i], &db->keys[j]))
				continue;
			if (bpf_map_update_elem(sig_fd, &n, &db->sigs[j], BPF_ANY))
				goto out;
			n++;
			span.count++;
		}
		if (bpf_map_update_elem(key_fd, &db->keys[i], &span, BPF_ANY))
			goto out;
	}
	for (uint32_t i = 1; i < db->nlabels; i++)
		if (bpf_map_update_elem(label_fd, &i, &db->labels[i], BPF_ANY))
			goto out;
	ret = 0;
out:
	if (ret)
		ew_err("loading the OS signatures: %s", strerror(errno));
	free(order);
	return ret;
}

/* Empty the layout index (signatures and labels are overwritten in place). */
int ew_osdb_clear(int key_fd)
{
	struct ew_os_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(key_fd, prev, &next)) {
		k = next;
		if (bpf_map_delete_elem(key_fd, &k) && errno != ENOENT)
			return -1;
		prev = NULL;
	}
	return 0;
}
