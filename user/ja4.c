// SPDX-License-Identifier: BSD-2-Clause
/*
 * ClientHello fingerprints in user space: JA4 (FoxIO's JA4.md, TLS over
 * TCP) and JA3, from one TLS record. The reference the data path's
 * bpf/lib/tls.h is tested against: written apart from it (no shared code,
 * no list caps, OpenSSL's SHA-256 and MD5), and used by `edgeward fp hello`
 * and `edgeward fp add` to check rule values.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "edgeward.h"

#define GREASE(v) (((v) & 0x0f0f) == 0x0a0a && ((v) >> 8) == ((v) & 0xff))

struct u16v {
	uint16_t *v;
	size_t n;
};

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad;
};

static uint32_t rd_n(struct rd *r, int bytes)
{
	uint32_t v = 0;

	if (r->bad || r->off + bytes > r->len) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off++];
	return v;
}

/* A sub-reader of n bytes at the cursor; the cursor moves past them. */
static struct rd rd_sub(struct rd *r, size_t n)
{
	struct rd s = { .bad = true };

	if (r->bad || r->off + n > r->len) {
		r->bad = true;
		return s;
	}
	s = (struct rd){ .p = r->p + r->off, .len = n };
	r->off += n;
	return s;
}

/*
 * Extensions whose contents the fingerprints read (SNI, ALPN, signature
 * algorithms, groups, point formats, supported versions): a second copy
 * makes the fingerprint ambiguous, so such a hello is malformed, as in
 * bpf/lib/tls.h. Other types may repeat and count as often as they come.
 */
static uint32_t once_bit(uint16_t type)
{
	switch (type) {
	case 0x0000: return 1u << 0;
	case 0x0010: return 1u << 1;
	case 0x000d: return 1u << 2;
	case 0x000a: return 1u << 3;
	case 0x000b: return 1u << 4;
	case 0x002b: return 1u << 5;
	}
	return 0;
}

static void push(struct u16v *l, uint16_t v)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (l->v)
		l->v[l->n++] = v;
}

/* A u16 list with a 1- or 2-byte length prefix, GREASE removed. */
static bool read_list16(struct rd *ext, int lb, struct u16v *out)
{
	uint32_t ll = rd_n(ext, lb);
	struct rd l = rd_sub(ext, ll);

	if (ext->bad || (ll & 1))
		return false;
	while (l.off < l.len) {
		uint16_t v = rd_n(&l, 2);

		if (!GREASE(v))
			push(out, v);
	}
	return !l.bad;
}

static int cmp16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void sha12(const char *s, char out[13])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 6; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* Append a list: hex ("%04x", ',') or decimal ("%u", '-'). */
static void join(char **buf, size_t *len, const uint16_t *v, size_t n, bool hex)
{
	for (size_t i = 0; i < n; i++) {
		char t[8];
		int k = snprintf(t, sizeof(t), hex ? "%s%04x" : "%s%u", i ? (hex ? "," : "-") : "", v[i]);

		*buf = realloc(*buf, *len + k + 1);
		memcpy(*buf + *len, t, k + 1);
		*len += k;
	}
}

static void append(char **buf, size_t *len, const char *s)
{
	size_t k = strlen(s);

	*buf = realloc(*buf, *len + k + 1);
	memcpy(*buf + *len, s, k + 1);
	*len += k;
}

static const char *version_code(uint16_t v)
{
	switch (v) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	}
	return "00";
}

void ew_ja4_alpn_chars(const uint8_t *v, size_t n, char out[3])
{
	static const char hex[] = "0123456789abcdef";

	if (!n) {
		strcpy(out, "00");
		return;
	}
	if (isalnum(v[0]) && v[0] < 0x80 && isalnum(v[n - 1]) && v[n - 1] < 0x80) {
		out[0] = v[0];
		out[1] = v[n - 1];
	} else {
		out[0] = hex[v[0] >> 4];
		out[1] = hex[v[n - 1] & 15];
	}
	out[2] = 0;
}

int ew_ja4_compute(const uint8_t *rec, size_t len, struct ew_ja4 *o)
{
	struct rd r = { .p = rec, .len = len }, hs, body, exts;
	struct u16v cs = {}, ext = {}, sig = {}, grp = {}, pf = {}, sv = {};
	uint16_t legacy, best = 0;
	const uint8_t *alpn = NULL;
	size_t alpn_len = 0, b_len = 0, c_len = 0, j_len = 0;
	bool sni = false, alpn_seen = false;
	char *b = NULL, *c = NULL, *j = NULL, a[16], alpn_c[3], h[13];
	uint32_t n;
	int ret = EW_TLS_MALFORMED;

	memset(o, 0, sizeof(*o));
	if (rd_n(&r, 1) != 0x16 || rd_n(&r, 1) != 3)
		return EW_TLS_NONE;
	rd_n(&r, 1);
	n = rd_n(&r, 2);
	body = rd_sub(&r, n);
	if (r.bad)
		return EW_TLS_MALFORMED;
	if (rd_n(&body, 1) != 1)
		return body.bad ? EW_TLS_MALFORMED : EW_TLS_NONE;
	n = rd_n(&body, 3);
	hs = rd_sub(&body, n);
	legacy = rd_n(&hs, 2);
	rd_sub(&hs, 32);
	rd_sub(&hs, rd_n(&hs, 1));
	n = rd_n(&hs, 2);
	if (n & 1)
		goto out;
	{
		struct rd l = rd_sub(&hs, n);

		while (!l.bad && l.off < l.len) {
			uint16_t v = rd_n(&l, 2);

			if (!GREASE(v))
				push(&cs, v);
		}
	}
	rd_sub(&hs, rd_n(&hs, 1));
	if (hs.bad)
		goto out;
	if (hs.off < hs.len) {
		exts = rd_sub(&hs, rd_n(&hs, 2));
		uint32_t seen = 0;

		while (!exts.bad && exts.off < exts.len) {
			uint16_t type = rd_n(&exts, 2);
			struct rd e = rd_sub(&exts, rd_n(&exts, 2));

			if (exts.bad)
				break;
			if (GREASE(type))
				continue;
			/* A field the fingerprints read may come once (RFC 8446 4.2): see once_bit(). */
			if (once_bit(type) & seen)
				goto out;
			seen |= once_bit(type);
			push(&ext, type);
			switch (type) {
			case 0x0000:
				sni = true;
				if (e.len) {
					struct rd l = rd_sub(&e, rd_n(&e, 2));
					uint8_t t = rd_n(&l, 1);
					struct rd nm = rd_sub(&l, rd_n(&l, 2));

					if (e.bad || l.bad)
						goto out;
					if (t == 0)
						snprintf(o->sni, sizeof(o->sni), "%.*s", (int)(nm.len > 64 ? 64 : nm.len),
							 (const char *)nm.p);
				}
				break;
			case 0x0010: {
				struct rd l = rd_sub(&e, rd_n(&e, 2));

				if (e.bad)
					goto out;
				if (l.len && !alpn_seen) {
					struct rd p = rd_sub(&l, rd_n(&l, 1));

					if (l.bad)
						goto out;
					alpn_seen = true;
					alpn = p.p;
					alpn_len = p.len;
					memcpy(o->alpn, p.p, p.len > 15 ? 15 : p.len);
				}
				break;
			}
			case 0x000d:
				if (!read_list16(&e, 2, &sig))
					goto out;
				break;
			case 0x000a:
				if (!read_list16(&e, 2, &grp))
					goto out;
				break;
			case 0x000b: {
				struct rd l = rd_sub(&e, rd_n(&e, 1));

				if (e.bad)
					goto out;
				while (l.off < l.len)
					push(&pf, rd_n(&l, 1));
				break;
			}
			case 0x002b:
				if (!read_list16(&e, 1, &sv))
					goto out;
				for (size_t i = 0; i < sv.n; i++) {
					if (sv.v[i] > best)
						best = sv.v[i];
					if (i < 7)
						o->versions[i] = sv.v[i];
				}
				break;
			}
		}
		if (exts.bad)
			goto out;
	}

	/* a */
	ew_ja4_alpn_chars(alpn, alpn_len, alpn_c);
	snprintf(a, sizeof(a), "t%s%c%02zu%02zu%s", version_code(best ? best : legacy), sni ? 'd' : 'i',
		 cs.n > 99 ? 99 : cs.n, ext.n > 99 ? 99 : ext.n, alpn_c);
	/* b */
	{
		uint16_t *sorted = malloc((cs.n + 1) * sizeof(*sorted));

		memcpy(sorted, cs.v, cs.n * sizeof(*sorted));
		qsort(sorted, cs.n, sizeof(*sorted), cmp16);
		join(&b, &b_len, sorted, cs.n, true);
		free(sorted);
	}
	/* c */
	{
		uint16_t *sorted = malloc((ext.n + 1) * sizeof(*sorted));
		size_t m = 0;

		for (size_t i = 0; i < ext.n; i++)
			if (ext.v[i] != 0x0000 && ext.v[i] != 0x0010)
				sorted[m++] = ext.v[i];
		qsort(sorted, m, sizeof(*sorted), cmp16);
		join(&c, &c_len, sorted, m, true);
		if (m && sig.n) {
			append(&c, &c_len, "_");
			join(&c, &c_len, sig.v, sig.n, true);
		}
		free(sorted);
		if (!m)
			append(&c, &c_len, "");
	}
	if (!b)
		append(&b, &b_len, "");
	snprintf(o->ja4, sizeof(o->ja4), "%s_", a);
	if (cs.n) {
		sha12(b, h);
		strcat(o->ja4, h);
	} else {
		strcat(o->ja4, "000000000000");
	}
	strcat(o->ja4, "_");
	if (c_len) {
		sha12(c, h);
		strcat(o->ja4, h);
	} else {
		strcat(o->ja4, "000000000000");
	}
	snprintf(o->ja4_r, sizeof(o->ja4_r), "%s_%s_%s", a, b, c);

	/* JA3 */
	{
		char t[8];
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdn = 0;

		snprintf(t, sizeof(t), "%u,", legacy);
		append(&j, &j_len, t);
		join(&j, &j_len, cs.v, cs.n, false);
		append(&j, &j_len, ",");
		join(&j, &j_len, ext.v, ext.n, false);
		append(&j, &j_len, ",");
		join(&j, &j_len, grp.v, grp.n, false);
		append(&j, &j_len, ",");
		join(&j, &j_len, pf.v, pf.n, false);
		EVP_Digest(j, j_len, md, &mdn, EVP_md5(), NULL);
		for (int i = 0; i < 16; i++)
			sprintf(o->ja3 + 2 * i, "%02x", md[i]);
		snprintf(o->ja3_r, sizeof(o->ja3_r), "%s", j);
	}
	o->ciphers = cs.n;
	o->extensions = ext.n;
	ret = EW_TLS_OK;
out:
	free(cs.v);
	free(ext.v);
	free(sig.v);
	free(grp.v);
	free(pf.v);
	free(sv.v);
	free(b);
	free(c);
	free(j);
	return ret;
}

bool ew_ja4_valid(const char *s, bool *ab)
{
	size_t n = strlen(s);

	if (n != 23 && n != 36)
		return false;
	if (!strchr("tqd", s[0]) || !isalnum((unsigned char)s[1]) || !isalnum((unsigned char)s[2]) ||
	    (s[3] != 'd' && s[3] != 'i'))
		return false;
	for (int i = 4; i < 8; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	if (!isalnum((unsigned char)s[8]) || !isalnum((unsigned char)s[9]) || s[10] != '_')
		return false;
	for (size_t i = 11; i < n; i++) {
		if (i == 23) {
			if (s[i] != '_')
				return false;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	}
	*ab = n == 23;
	return true;
}

bool ew_ja3_valid(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

void ew_fp_key_make(struct ew_fp_key *k, int kind, const char *val)
{
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	memcpy(k->val, val, strnlen(val, sizeof(k->val)));
}

int ew_fp_key_parse(const char *kind, const char *val, struct ew_fp_key *k, char *err, size_t errlen)
{
	char v[64];
	bool ab = false;

	snprintf(v, sizeof(v), "%s", val);
	if (!strcmp(kind, "ja3")) {
		for (char *p = v; *p; p++)
			*p = tolower((unsigned char)*p);
		if (!ew_ja3_valid(v)) {
			snprintf(err, errlen, "'%s' is not a JA3 (32 hex digits)", val);
			return -1;
		}
		ew_fp_key_make(k, EW_FR_JA3, v);
		return 0;
	}
	if (strcmp(kind, "ja4")) {
		snprintf(err, errlen, "'%s': fingerprint kind must be ja4 or ja3", kind);
		return -1;
	}
	if (strlen(val) >= sizeof(v) || !ew_ja4_valid(v, &ab)) {
		snprintf(err, errlen, "'%s' is not a JA4 (t13d1516h2_8daaf6152771_e5627efa2ab1) or its a_b part "
			 "(t13d1516h2_8daaf6152771)", val);
		return -1;
	}
	ew_fp_key_make(k, ab ? EW_FR_JA4_AB : EW_FR_JA4, v);
	return 0;
}
