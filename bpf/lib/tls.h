/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ClientHello of a TCP flow: reassembly of its first client data, the
 * hello parser, JA4 (FoxIO's JA4.md, TLS over TCP) and JA3, and the
 * fingerprint rules. BPF only, XDP ingress.
 *
 * Only a flow's first client data is looked at (ew_flow.tls says whether it
 * is still to come), on the ports in ew_tls_ports (all when it has no key 0).
 * A hello that fits its segment is copied to this CPU's scratch and parsed
 * there; a longer one (up to EW_TLS_BUF bytes, any number of segments) is
 * gathered in ew_tls_reasm by next expected sequence number: a retransmitted
 * segment is skipped, a gap, an out-of-order segment or a FIN/RST ends the
 * attempt (counted incomplete). Only
 * the first handshake record is read; later hellos of the flow (after a
 * HelloRetryRequest) are never looked at, and with ECH the outer hello is
 * the one fingerprinted.
 *
 * Every failure passes: the flow is marked done, the connection records the
 * ew_tls_state, a counter and the packet's reason say why. Buffer indexes
 * are masked to the buffer size wherever a length read from the packet
 * drives them; the masks never change a value that the explicit length
 * checks let through.
 */
#ifndef EW_TLS_H
#define EW_TLS_H

#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "flow.h"
#include "tcpsig.h"
#include "sha256.h"
#include "md5.h"

#define EW_TLS_GREASE(v) (((v) & 0x0f0f) == 0x0a0a && ((v) >> 8) == ((v) & 0xff))
/*
 * List entries handled per bpf_loop() iteration: a callback's call and
 * return cost far more than its work (return thunks of CPU mitigations).
 */
#define EW_TLS_CHUNK 8
#define EW_TLS_EXT_RAW (EW_TLS_MAX_EXT + 16) /* extension entries walked, GREASE included */

/* A verdict packed for return: reason << 8 | action. */
#define EW_TLS_RES(reason, action) (((__u32)(reason) << 8) | (action))
#define EW_TLS_PASS EW_TLS_RES(EW_R_NONE, EW_A_PASS)
#define EW_TLS_CLASSIFIED (1u << 16)  /* with the verdict: a hello was fingerprinted */
#define EW_TLS_READY (1u << 17)	      /* a whole record waits in the scratch */
#define EW_TLS_READY_REASM (1u << 18) /* ... in the flow's ew_tls_reasm entry */

/* bpf_loop() context: pointers only (the cursors are in s->cur, see tls_scratch.h). */
struct ew_tls_pctx {
	struct ew_tls_scratch *s;
	const __u8 *b;	     /* the record: b[0] is its content type */
	const __u16 *list;   /* list being sorted or printed */
	__u16 *dst;	     /* list being filled */
	__u16 *cnt;	     /* its entry count */
};

static __always_inline __u32 ew_b8(const __u8 *b, __u32 off)
{
	return b[off & EW_TLS_MASK];
}

static __always_inline __u32 ew_b16(const __u8 *b, __u32 off)
{
	return ew_b8(b, off) << 8 | ew_b8(b, off + 1);
}

static __always_inline char ew_hexc(__u32 n)
{
	n &= 15;
	return n < 10 ? '0' + n : 'a' + n - 10;
}

/* Iteration i of a list of c->s->cur.n entries: entries j = i * EW_TLS_CHUNK ... */
#define EW_TLS_EACH(c, i, j)                                                                        \
	_Pragma("unroll") for (__u32 q_ = 0, j = (i) * EW_TLS_CHUNK; q_ < EW_TLS_CHUNK; q_++, j++)  \
		if (j < (c)->s->cur.n)

/* --- parser ---------------------------------------------------------------- */

/* Cipher suites (c->s->cur.n from c->s->cur.off), GREASE removed, into h.cs. */
static long ew_tls_cs_cb(__u32 i, void *arg)
{
	struct ew_tls_pctx *c = arg;
	struct ew_tls_scratch *s = c->s;

	EW_TLS_EACH(c, i, j) {
		__u32 v = ew_b16(c->b, s->cur.off + 2 * j);

		if (EW_TLS_GREASE(v))
			continue;
		if (s->h.ncs >= EW_TLS_MAX_CS) {
			s->cur.err = EW_TLS_UNSUPPORTED;
			return 1;
		}
		s->h.cs[s->h.ncs & (EW_TLS_MAX_CS - 1)] = v;
		s->h.ncs++;
	}
	return 0;
}

/* A u16 list (c->s->cur.n entries from c->s->cur.ld), GREASE removed, into c->dst. */
static long ew_tls_l16_cb(__u32 i, void *arg)
{
	struct ew_tls_pctx *c = arg;
	struct ew_tls_scratch *s = c->s;
	__u16 *n = c->cnt;

	EW_TLS_EACH(c, i, j) {
		__u32 v = ew_b16(c->b, s->cur.ld + 2 * j);

		if (EW_TLS_GREASE(v))
			continue;
		if (*n >= EW_TLS_MAX_LIST) {
			s->cur.err = EW_TLS_UNSUPPORTED;
			return 1;
		}
		c->dst[*n & (EW_TLS_MAX_LIST - 1)] = v;
		(*n)++;
	}
	return 0;
}

/* A u16 list with a 1- or 2-byte length prefix, GREASE removed, into dst. */
static __always_inline void ew_tls_list16(struct ew_tls_pctx *c, __u32 d, __u32 len, __u32 lb,
					  __u16 *dst, __u16 *n)
{
	struct ew_tls_scratch *s = c->s;
	__u32 ll = lb == 1 ? ew_b8(c->b, d) : ew_b16(c->b, d);

	if (len < lb || lb + ll > len || (ll & 1)) {
		s->cur.err = EW_TLS_MALFORMED;
		return;
	}
	s->cur.ld = d + lb;
	s->cur.n = ll / 2;
	c->dst = dst;
	c->cnt = n;
	bpf_loop((ll / 2 + EW_TLS_CHUNK - 1) / EW_TLS_CHUNK, ew_tls_l16_cb, c, 0);
}

static long ew_tls_ver_cb(__u32 j, void *arg)
{
	struct ew_tls_scratch *s = ((struct ew_tls_pctx *)arg)->s;
	__u32 v = ew_b16(((struct ew_tls_pctx *)arg)->b, s->cur.ld + 2 * j);

	if (EW_TLS_GREASE(v))
		return 0;
	if (v > s->h.sv_max)
		s->h.sv_max = v;
	if (s->h.nver < 7) {
		s->fp.versions[s->h.nver & 7] = v;
		s->h.nver++;
	}
	return 0;
}

/* supported_versions: the highest entry for JA4, the first seven for display. */
static __always_inline void ew_tls_versions(struct ew_tls_pctx *c, __u32 d, __u32 len)
{
	struct ew_tls_scratch *s = c->s;
	__u32 ll = ew_b8(c->b, d);

	if (len < 1 || 1 + ll > len || (ll & 1)) {
		s->cur.err = EW_TLS_MALFORMED;
		return;
	}
	s->cur.ld = d + 1;
	bpf_loop(ll / 2, ew_tls_ver_cb, c, 0);
}

/* server_name: presence makes JA4 "d"; the first host_name is kept (64 bytes). */
static __always_inline void ew_tls_sni(struct ew_tls_pctx *c, __u32 d, __u32 len)
{
	struct ew_tls_scratch *s = c->s;
	__u32 ll, nl;

	s->h.has_sni = 1;
	if (len == 0)
		return;
	ll = ew_b16(c->b, d);
	if (len < 5 || 2 + ll > len || ll < 3)
		goto bad;
	nl = ew_b16(c->b, d + 3);
	if (3 + nl > ll)
		goto bad;
	if (ew_b8(c->b, d + 2) != 0)
		return;
	for (__u32 j = 0; j < 64; j++) {
		if (j >= nl)
			break;
		s->fp.sni[j] = ew_b8(c->b, d + 5 + j);
	}
	return;
bad:
	s->cur.err = EW_TLS_MALFORMED;
}

/* ALPN: the first protocol's first and last bytes for JA4, 15 bytes kept. */
static __always_inline void ew_tls_alpn(struct ew_tls_pctx *c, __u32 d, __u32 len)
{
	struct ew_tls_scratch *s = c->s;
	__u32 ll, pl;

	if (len < 2)
		goto bad;
	ll = ew_b16(c->b, d);
	if (2 + ll > len)
		goto bad;
	if (ll == 0 || s->h.alpn_seen)
		return;
	pl = ew_b8(c->b, d + 2);
	if (1 + pl > ll)
		goto bad;
	s->h.alpn_seen = 1;
	if (pl == 0)
		return;
	s->h.alpn_len = pl;
	s->h.alpn_first = ew_b8(c->b, d + 3);
	s->h.alpn_last = ew_b8(c->b, d + 3 + pl - 1);
	for (__u32 j = 0; j < 15; j++) {
		if (j >= pl)
			break;
		s->fp.alpn[j] = ew_b8(c->b, d + 3 + j);
	}
	return;
bad:
	s->cur.err = EW_TLS_MALFORMED;
}

static __always_inline void ew_tls_pf(struct ew_tls_pctx *c, __u32 d, __u32 len)
{
	struct ew_tls_scratch *s = c->s;
	__u32 ll = ew_b8(c->b, d);

	if (len < 1 || 1 + ll > len) {
		s->cur.err = EW_TLS_MALFORMED;
		return;
	}
	if (ll > EW_TLS_MAX_PF) {
		s->cur.err = EW_TLS_UNSUPPORTED;
		return;
	}
	for (__u32 j = 0; j < EW_TLS_MAX_PF; j++) {
		if (j >= ll)
			break;
		s->h.pf[j] = ew_b8(c->b, d + 1 + j);
	}
	s->h.npf = ll;
}

/*
 * Extensions whose contents the fingerprints read (SNI, ALPN, signature
 * algorithms, groups, point formats, supported versions) may come once
 * (RFC 8446 4.2): a second copy would make the fingerprint ambiguous, so the
 * hello is malformed. user/ja4.c applies the same rule.
 */
static __always_inline __u32 ew_tls_once_bit(__u32 type)
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

/* One extension per iteration: type, length, and the ones fingerprints read. */
static long ew_tls_ext_cb(__u32 i, void *arg)
{
	struct ew_tls_pctx *c = arg;
	struct ew_tls_scratch *s = c->s;
	struct ew_tls_hello *h = &s->h;
	__u32 off = s->cur.off, end = s->cur.end, type, len, d;

	if (off >= end)
		return 1;
	if (off + 4 > end)
		goto bad;
	type = ew_b16(c->b, off);
	len = ew_b16(c->b, off + 2);
	d = off + 4;
	if (d + len > end)
		goto bad;
	s->cur.off = d + len;
	if (EW_TLS_GREASE(type))
		return 0;
	if (s->cur.seen & ew_tls_once_bit(type))
		goto bad;
	s->cur.seen |= ew_tls_once_bit(type);
	if (h->next >= EW_TLS_MAX_EXT) {
		s->cur.err = EW_TLS_UNSUPPORTED;
		return 1;
	}
	h->ext[h->next & (EW_TLS_MAX_EXT - 1)] = type;
	h->next++;
	if (type != 0x0000 && type != 0x0010) {
		/* JA4 c's list: extensions but SNI and ALPN */
		s->tmp[s->cur.nt & (EW_TLS_MAX_EXT - 1)] = type;
		s->cur.nt++;
	}
	switch (type) {
	case 0x0000:
		ew_tls_sni(c, d, len);
		break;
	case 0x0010:
		ew_tls_alpn(c, d, len);
		break;
	case 0x000d:
		ew_tls_list16(c, d, len, 2, h->sig, &h->nsig);
		break;
	case 0x000a:
		ew_tls_list16(c, d, len, 2, h->grp, &h->ngrp);
		break;
	case 0x000b:
		ew_tls_pf(c, d, len);
		break;
	case 0x002b:
		ew_tls_versions(c, d, len);
		break;
	}
	return s->cur.err ? 1 : 0;
bad:
	s->cur.err = EW_TLS_MALFORMED;
	return 1;
}

/*
 * Parse the record of `need` bytes at c->b (content type, version and length
 * already checked) into c->s->h and the display fields of c->s->fp. Returns
 * 0 or an enum ew_tls_state failure.
 */
static __always_inline int ew_tls_parse(struct ew_tls_pctx *c, __u32 need)
{
	struct ew_tls_scratch *s = c->s;
	const __u8 *b = c->b;
	__u32 hs_end, off, n, ext_len;

	__builtin_memset(&s->h, 0, sizeof(s->h));
	__builtin_memset(&s->fp, 0, sizeof(s->fp));
	s->cur.err = 0;
	s->cur.seen = 0;
	s->cur.nt = 0;
	/* The handshake must lie within the record. */
	if (ew_b8(b, 5) != 1)
		return EW_TLS_MALFORMED; /* not a ClientHello after all */
	hs_end = 9 + (ew_b8(b, 6) << 16 | ew_b16(b, 7));
	if (hs_end > need)
		return EW_TLS_MALFORMED;
	if (9 + 2 + 32 + 1 > hs_end)
		return EW_TLS_MALFORMED;
	s->h.legacy = ew_b16(b, 9);
	off = 9 + 2 + 32;
	off += 1 + ew_b8(b, off); /* session id */
	if (off + 2 > hs_end)
		return EW_TLS_MALFORMED;
	n = ew_b16(b, off);
	off += 2;
	if ((n & 1) || off + n > hs_end)
		return EW_TLS_MALFORMED;
	s->cur.off = off;
	s->cur.n = n / 2;
	bpf_loop((n / 2 + EW_TLS_CHUNK - 1) / EW_TLS_CHUNK, ew_tls_cs_cb, c, 0);
	if (s->cur.err)
		return s->cur.err;
	off += n;
	if (off + 1 > hs_end)
		return EW_TLS_MALFORMED;
	off += 1 + ew_b8(b, off); /* compression methods */
	if (off > hs_end)
		return EW_TLS_MALFORMED;
	if (off == hs_end)
		return 0; /* no extensions */
	if (off + 2 > hs_end)
		return EW_TLS_MALFORMED;
	ext_len = ew_b16(b, off);
	off += 2;
	if (off + ext_len > hs_end)
		return EW_TLS_MALFORMED;
	s->cur.off = off;
	s->cur.end = off + ext_len;
	bpf_loop(EW_TLS_EXT_RAW, ew_tls_ext_cb, c, 0);
	if (s->cur.err)
		return s->cur.err;
	if (s->cur.off != s->cur.end)
		return EW_TLS_UNSUPPORTED; /* more extension entries than walked */
	return 0;
}

/* --- strings and hashes ---------------------------------------------------- */

/*
 * Insertion sort, EW_TLS_CHUNK entries per iteration: entry j goes into
 * sorted[0..j) after every entry not above it, so the work is the list's
 * inversions, not its length squared (hellos list most of their ciphers and
 * extensions in ascending order). Equal entries are indistinguishable in
 * the output.
 */
static long ew_tls_ins_cb(__u32 i, void *arg)
{
	struct ew_tls_pctx *c = arg;
	__u16 *d = c->s->sorted;
	__u32 n = c->s->cur.n;

#pragma unroll
	for (int q = 0; q < EW_TLS_CHUNK; q++) {
		__u32 j = i * EW_TLS_CHUNK + q, k = j, v;

		if (j >= n)
			break;
		v = c->list[j & (EW_TLS_MAX_CS - 1)];
		for (__u32 m = 0; m < EW_TLS_MAX_CS; m++) {
			__u32 u;

			if (k == 0)
				break;
			u = d[(k - 1) & (EW_TLS_MAX_CS - 1)];
			if (u <= v)
				break;
			d[k & (EW_TLS_MAX_CS - 1)] = u;
			k--;
		}
		d[k & (EW_TLS_MAX_CS - 1)] = v;
	}
	return 0;
}

static __always_inline void ew_tls_putc(struct ew_tls_scratch *s, char ch)
{
	s->str[s->cur.pos & EW_TLS_STR_MASK] = ch;
	s->cur.pos++;
}

/*
 * Append the first n (<= 8) bytes of the little-endian word w with one
 * 8-byte store; the bytes after them are overwritten by later appends or
 * by ew_hash_pad(). Near the end of str the store is moved back to fit:
 * only strings that fail the callers' length checks get there.
 */
static __always_inline void ew_tls_put8(struct ew_tls_scratch *s, __u64 w, __u32 n)
{
	__u32 pos = s->cur.pos & EW_TLS_STR_MASK;

	if (pos > EW_TLS_STR - 8)
		pos = EW_TLS_STR - 8;
	*(__u64 *)(s->str + pos) = w;
	s->cur.pos += n;
}


/* v's 4 lowercase hex digits as the bytes of a word, first digit lowest. */
static __always_inline __u64 ew_hex4(__u32 v)
{
	__u64 t = (v >> 12 & 0xf) | (v >> 8 & 0xf) << 8 | (v >> 4 & 0xf) << 16 | (__u64)(v & 0xf) << 24;
	__u64 ge10 = ((t + 0x06060606) >> 4) & 0x01010101; /* 1 in each byte >= 10 */

	return t + 0x30303030 + ge10 * ('a' - '0' - 10);
}

/* Append list entries as 4 lowercase hex digits, comma-separated. */
static long ew_tls_hex_cb(__u32 i, void *arg)
{
	struct ew_tls_pctx *c = arg;

	EW_TLS_EACH(c, i, j) {
		__u64 w = ew_hex4(c->list[j & (EW_TLS_MAX_CS - 1)]);

		if (j)
			ew_tls_put8(c->s, w << 8 | ',', 5);
		else
			ew_tls_put8(c->s, w, 4);
	}
	return 0;
}

/*
 * v (< 65536) in decimal as the bytes of a word, first digit lowest, after
 * the byte sep unless it is 0; *n: the bytes used. Digits come from
 * multiplications: (x * 0xcccd) >> 19 is x / 10 for x < 81920.
 */
static __always_inline __u64 ew_dec5(__u32 v, __u32 sep, __u32 *n)
{
	__u64 q1 = ((__u64)v * 0xcccd) >> 19, q2 = (q1 * 0xcccd) >> 19;
	__u64 q3 = (q2 * 0xcccd) >> 19, q4 = (q3 * 0xcccd) >> 19;
	__u64 w = q4 | (q3 - 10 * q4) << 8 | (q2 - 10 * q3) << 16 | (q1 - 10 * q2) << 24 |
		  ((__u64)v - 10 * q1) << 32;
	__u32 lead = (v < 10000) + (v < 1000) + (v < 100) + (v < 10); /* zeros to drop */

	w = (w + 0x3030303030ull) >> (8 * lead);
	*n = 5 - lead;
	if (sep) {
		w = w << 8 | sep;
		*n += 1;
	}
	return w;
}

static __always_inline void ew_tls_putdec(struct ew_tls_scratch *s, __u32 v)
{
	__u32 n;
	__u64 w = ew_dec5(v, 0, &n);

	ew_tls_put8(s, w, n);
}

/* Append list entries in decimal, dash-separated (JA3). */
static long ew_tls_dec_cb(__u32 i, void *arg)
{
	struct ew_tls_pctx *c = arg;

	EW_TLS_EACH(c, i, j) {
		__u32 n;
		__u64 w = ew_dec5(c->list[j & (EW_TLS_MAX_CS - 1)], j ? '-' : 0, &n);

		ew_tls_put8(c->s, w, n);
	}
	return 0;
}

static __always_inline void ew_tls_sort(struct ew_tls_pctx *c, const __u16 *list, __u32 n)
{
	c->list = list;
	c->s->cur.n = n;
	bpf_loop((n + EW_TLS_CHUNK - 1) / EW_TLS_CHUNK, ew_tls_ins_cb, c, 0);
}

static __always_inline void ew_tls_hexlist(struct ew_tls_pctx *c, const __u16 *list, __u32 n)
{
	c->list = list;
	c->s->cur.n = n;
	bpf_loop((n + EW_TLS_CHUNK - 1) / EW_TLS_CHUNK, ew_tls_hex_cb, c, 0);
}

static __always_inline void ew_tls_declist(struct ew_tls_pctx *c, const __u16 *list, __u32 n)
{
	c->list = list;
	c->s->cur.n = n;
	bpf_loop((n + EW_TLS_CHUNK - 1) / EW_TLS_CHUNK, ew_tls_dec_cb, c, 0);
}

static long ew_tls_sha_cb(__u32 i, void *arg)
{
	struct ew_tls_scratch *s = ((struct ew_tls_pctx *)arg)->s;

	ew_sha256_block(s->st, (const __u8 *)s->str + ((i * 64) & (EW_TLS_STR - 64)), s->w);
	return 0;
}

static long ew_tls_md5_cb(__u32 i, void *arg)
{
	struct ew_tls_scratch *s = ((struct ew_tls_pctx *)arg)->s;

	ew_md5_block(s->st, (const __u8 *)s->str + ((i * 64) & (EW_TLS_STR - 64)), s->w);
	return 0;
}

/*
 * The padded string (nblk blocks) as an ew_tls_digests key: zeros after it
 * up to EW_TLS_DKEY (two blocks). False if it is longer.
 */
_Static_assert(EW_TLS_DKEY == 128, "ew_tls_dkey() zeroes one block after a one-block string");
static __always_inline bool ew_tls_dkey(struct ew_tls_scratch *s, __u32 nblk)
{
	if (nblk > 2)
		return false;
	if (nblk == 1)
		__builtin_memset(s->str + 64, 0, 64);
	return true;
}

/*
 * SHA-256 of s->str[0..pos), its first 12 hex digits at out. A string short
 * enough for an ew_tls_digests key is looked up there first, and its
 * digest stored there once computed.
 */
static __always_inline void ew_tls_sha12(struct ew_tls_pctx *c, char *out)
{
	struct ew_tls_scratch *s = c->s;
	__u32 nblk = ew_hash_pad((__u8 *)s->str, s->cur.pos, EW_TLS_STR_MASK, true), st0, st1;
	bool keyed = ew_tls_dkey(s, nblk);
	struct ew_tls_digest *d = keyed ? bpf_map_lookup_elem(&ew_tls_digests, s->str) : NULL;

	if (d) {
		st0 = d->d[0];
		st1 = d->d[1];
	} else {
		ew_sha256_init(s->st);
		bpf_loop(nblk, ew_tls_sha_cb, c, 0);
		st0 = s->st[0];
		st1 = s->st[1];
		if (keyed) {
			s->dig.d[0] = st0;
			s->dig.d[1] = st1;
			bpf_map_update_elem(&ew_tls_digests, s->str, &s->dig, BPF_ANY);
		}
	}
#pragma unroll
	for (int k = 0; k < 8; k++)
		out[k] = ew_hexc(st0 >> (28 - 4 * k));
#pragma unroll
	for (int k = 0; k < 4; k++)
		out[8 + k] = ew_hexc(st1 >> (28 - 4 * k));
}

static __always_inline void ew_tls_zero12(char *out)
{
#pragma unroll
	for (int k = 0; k < 12; k++)
		out[k] = '0';
}

static __always_inline bool ew_tls_alnum(__u32 ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* JA4 part a: t, version, d/i, cipher and extension counts, ALPN characters. */
static __always_inline void ew_tls_ja4_a(const struct ew_tls_hello *h, char *o)
{
	__u32 ver = h->sv_max ? h->sv_max : h->legacy;
	__u32 nc = h->ncs > 99 ? 99 : h->ncs, ne = h->next > 99 ? 99 : h->next;
	char v0 = '0', v1 = '0';

	switch (ver) {
	case 0x0304: v0 = '1'; v1 = '3'; break;
	case 0x0303: v0 = '1'; v1 = '2'; break;
	case 0x0302: v0 = '1'; v1 = '1'; break;
	case 0x0301: v0 = '1'; v1 = '0'; break;
	case 0x0300: v0 = 's'; v1 = '3'; break;
	case 0x0002: v0 = 's'; v1 = '2'; break;
	case 0xfeff: v0 = 'd'; v1 = '1'; break;
	case 0xfefd: v0 = 'd'; v1 = '2'; break;
	case 0xfefc: v0 = 'd'; v1 = '3'; break;
	}
	o[0] = 't';
	o[1] = v0;
	o[2] = v1;
	o[3] = h->has_sni ? 'd' : 'i';
	o[4] = '0' + nc / 10;
	o[5] = '0' + nc % 10;
	o[6] = '0' + ne / 10;
	o[7] = '0' + ne % 10;
	/* JA4.md: "00" when absent or empty; alphanumeric ends as they are, else
	 * the first and last hex digits of the value. */
	if (!h->alpn_len) {
		o[8] = '0';
		o[9] = '0';
	} else if (ew_tls_alnum(h->alpn_first) && ew_tls_alnum(h->alpn_last)) {
		o[8] = h->alpn_first;
		o[9] = h->alpn_last;
	} else {
		o[8] = ew_hexc(h->alpn_first >> 4);
		o[9] = ew_hexc(h->alpn_last);
	}
	o[10] = '_';
}

/* JA4 a and b: counts, version, ALPN; the sorted cipher list's hash. */
static __always_inline void ew_tls_ja4_ab(struct ew_tls_pctx *c)
{
	struct ew_tls_scratch *s = c->s;
	struct ew_tls_hello *h = &s->h;
	char *ja4 = s->fp.ja4;

	ew_tls_ja4_a(h, ja4);
	if (h->ncs) {
		ew_tls_sort(c, h->cs, h->ncs);
		s->cur.pos = 0;
		ew_tls_hexlist(c, s->sorted, h->ncs);
		ew_tls_sha12(c, ja4 + 11);
	} else {
		ew_tls_zero12(ja4 + 11);
	}
	ja4[23] = '_';
}

/* JA4 c: sorted extensions but SNI and ALPN, then signature algorithms as sent. */
static __always_inline void ew_tls_ja4_c(struct ew_tls_pctx *c)
{
	struct ew_tls_scratch *s = c->s;
	struct ew_tls_hello *h = &s->h;
	char *ja4 = s->fp.ja4;

	if (s->cur.nt) {
		ew_tls_sort(c, s->tmp, s->cur.nt);
		s->cur.pos = 0;
		ew_tls_hexlist(c, s->sorted, s->cur.nt);
		if (h->nsig) {
			ew_tls_putc(s, '_');
			ew_tls_hexlist(c, h->sig, h->nsig);
		}
		ew_tls_sha12(c, ja4 + 24);
	} else {
		ew_tls_zero12(ja4 + 24);
	}
	ja4[36] = 0;
}

/* JA3: MD5 of version,ciphers,extensions,groups,point formats. 0 or EW_TLS_UNSUPPORTED. */
static __always_inline int ew_tls_ja3(struct ew_tls_pctx *c)
{
	struct ew_tls_scratch *s = c->s;
	struct ew_tls_hello *h = &s->h;

	s->cur.pos = 0;
	ew_tls_putdec(s, h->legacy);
	ew_tls_putc(s, ',');
	ew_tls_declist(c, h->cs, h->ncs);
	ew_tls_putc(s, ',');
	ew_tls_declist(c, h->ext, h->next);
	ew_tls_putc(s, ',');
	ew_tls_declist(c, h->grp, h->ngrp);
	ew_tls_putc(s, ',');
	for (__u32 i = 0; i < EW_TLS_MAX_PF; i++)
		s->tmp[i] = h->pf[i];
	ew_tls_declist(c, s->tmp, h->npf);
	if (s->cur.pos + 72 > EW_TLS_STR)
		return EW_TLS_UNSUPPORTED;
	ew_md5_init(s->st);
	bpf_loop(ew_hash_pad((__u8 *)s->str, s->cur.pos, EW_TLS_STR_MASK, false), ew_tls_md5_cb, c, 0);
#pragma unroll
	for (int w = 0; w < 4; w++) {
#pragma unroll
		for (int k = 0; k < 4; k++) {
			__u32 byte = s->st[w] >> (8 * k);

			s->fp.ja3[8 * w + 2 * k] = ew_hexc(byte >> 4);
			s->fp.ja3[8 * w + 2 * k + 1] = ew_hexc(byte);
		}
	}
	s->fp.ja3[32] = 0;
	return 0;
}

/* --- rules ----------------------------------------------------------------- */

/* A feed's rule is in force in the planes it is in; plane: ew_fd_state.fp_active, read once per hello. */
static __always_inline __u8 ew_fp_rule(const struct ew_fp_key *k, __u8 *best, bool count, __u32 plane)
{
	struct ew_fp_val *r = bpf_map_lookup_elem(&ew_fprules, k);
	__u8 action;

	if (!r)
		return 0;
	if (!ew_fp_val_in_force(r, plane, &action))
		return 0; /* a feed's rule outside the plane in force */
	if (count)
		__sync_fetch_and_add(&r->hits, 1);
	/* allow > drop > flag */
	if (action == EW_A_ALLOW || *best == EW_A_ALLOW)
		*best = EW_A_ALLOW;
	else if (action > *best)
		*best = action;
	return 1;
}

/*
 * The fingerprint rules' verdict for a fingerprinted hello: the full JA4,
 * its a_b part and the JA3 are looked up; allow wins, then drop, then flag
 * (drop as written: the caller applies --monitor). k: key space (map memory
 * or stack). count: add to the matched rules' hits (the hello itself, not
 * re-decisions).
 */
static __always_inline __u32 ew_fp_decide(const struct ew_tls_fp *fp, struct ew_fp_key *k, bool count)
{
	__u32 zero = 0, plane = 0;
	struct ew_fd_state *st = bpf_map_lookup_elem(&ew_fd_state, &zero);
	__u8 act = EW_A_PASS, hit = 0;

	/* One plane for all three lookups: the hello sees one whole feed set. */
	if (st)
		plane = *(volatile __u8 *)&st->fp_active & 1;
	__builtin_memset(k, 0, sizeof(*k));
	k->kind = EW_FR_JA4;
	__builtin_memcpy(k->val, fp->ja4, sizeof(k->val));
	hit |= ew_fp_rule(k, &act, count, plane);
	k->kind = EW_FR_JA4_AB;
	__builtin_memset(k->val + 23, 0, sizeof(k->val) - 23);
	hit |= ew_fp_rule(k, &act, count, plane);
	k->kind = EW_FR_JA3;
	__builtin_memcpy(k->val, fp->ja3, 32);
	__builtin_memset(k->val + 32, 0, sizeof(k->val) - 32);
	hit |= ew_fp_rule(k, &act, count, plane);
	if (!hit)
		return EW_TLS_PASS;
	return EW_TLS_RES(EW_R_FP_RULE, act);
}

/*
 * A flow re-decided after a rule change: its stored fingerprint under the
 * current rules. Global: its stack is not added to ew_xdp's.
 */
__noinline __u32 ew_tls_redecide(const struct ew_flow_key *kp)
{
	EW_KEY_ARG(kp, 0, EW_KS_TLS_REDECIDE);
	struct ew_conn *c;
	struct ew_fp_key key;

	if (!k)
		return EW_TLS_PASS;
	c = bpf_map_lookup_elem(&ew_conns, k);
	if (!c || c->tls.state != EW_TLS_OK)
		return EW_TLS_PASS;
	return ew_fp_decide(&c->tls, &key, false);
}

/* --- the flow -------------------------------------------------------------- */

/* Client payload bytes by the IP length (padding excluded); -1 if it overruns the frame. */
static __always_inline int ew_tls_plen(struct xdp_md *ctx, const struct ew_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *ip = data + (p->l3_off & 0xff);
	__u32 end;

	if ((void *)(ip + 6) > data_end)
		return -1;
	if (p->family == 4)
		end = p->l3_off + ((__u32)ip[2] << 8 | ip[3]);
	else
		end = p->l3_off + 40 + ((__u32)ip[4] << 8 | ip[5]);
	if (end > p->len || end < p->payload_off)
		return -1;
	return end - p->payload_off;
}

/* Sequence number of the segment's first payload byte. */
static __always_inline __u32 ew_tls_seq(struct xdp_md *ctx, const struct ew_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__be32 *seq = data + (p->l4_off & 0x1ff) + 4;

	if ((void *)(seq + 1) > data_end)
		return 0;
	return bpf_ntohl(*seq) + ((p->tcp_flags & 0x02) ? 1 : 0); /* SYN data: ISN + 1 */
}

/*
 * Copy len bytes of payload at `from` to buf + at, in power-of-two pieces: a
 * piece's constant size is what lets the verifier see at + size <= EW_TLS_BUF
 * (bpf_xdp_load_bytes() needs a bounded size; clang 14-19, kernel 6.1). Each
 * piece's offset derives from len alone, so no state carries from piece to
 * piece and the verifier walks them in line.
 */
static __always_inline int ew_tls_copy(struct xdp_md *ctx, __u32 from, __u8 *buf, __u32 at, __u32 len)
{
#pragma unroll
	for (int k = 12; k >= 0; k--) {
		const __u32 sz = 1u << k;
		__u32 o = len & ~((sz << 1) - 1); /* bytes of the larger pieces */
		__u32 dst = at + o;

		if (!(len & sz))
			continue;
		barrier_var(dst); /* keep buf + dst whole: clang 14 splits it past the check */
		if (dst > EW_TLS_BUF - sz)
			return -1;
		if (bpf_xdp_load_bytes(ctx, from + o, buf + dst, sz))
			return -1;
	}
	return 0;
}

/* The connection's evidence entry, created with s->fp as its TLS part if absent. */
static __always_inline struct ew_conn *ew_tls_conn(const struct ew_flow_key *k)
{
	struct ew_conn *c = bpf_map_lookup_elem(&ew_conns, k);
	__u32 zero = 0;
	struct ew_tls_scratch *s;

	if (c)
		return c;
	s = bpf_map_lookup_elem(&ew_tls_scr, &zero);
	if (!s)
		return NULL;
	/* The scratch string buffer is free now: zero an ew_conn there to insert. */
	__builtin_memset(s->str, 0, sizeof(struct ew_conn));
	bpf_map_update_elem(&ew_conns, k, s->str, BPF_NOEXIST);
	return bpf_map_lookup_elem(&ew_conns, k); /* NULL: table full, the fingerprint is lost */
}

static __always_inline __u32 ew_tls_fail(const struct ew_flow_key *k, struct ew_flow *f, int st)
{
	struct ew_conn *c = ew_tls_conn(k);
	__u32 ctr = EW_C_TLS_UNSUPPORTED, reason = EW_R_TLS_UNSUPPORTED;

	f->tls = EW_FT_DONE;
	if (c)
		c->tls.state = st;
	if (st == EW_TLS_INCOMPLETE) {
		ctr = EW_C_TLS_INCOMPLETE;
		reason = EW_R_TLS_INCOMPLETE;
	} else if (st == EW_TLS_MALFORMED) {
		ctr = EW_C_TLS_MALFORMED;
		reason = EW_R_TLS_MALFORMED;
	}
	ew_count_event(ctr);
	return EW_TLS_RES(reason, EW_A_PASS);
}

/*
 * The hello's work in three global functions, each called from ew_xdp in
 * turn with the scratch carrying the state between them: the bpf_loop()
 * callbacks (SHA-256 spills 104 bytes) then stack on one small frame, and
 * all frames share 512 bytes (kernel 6.1-6.18, clang 14-19). Global
 * functions are also verified once, whatever their callers.
 */

/* Parse the whole record waiting in the scratch or the flow's reassembly entry. */
__noinline int ew_tls_parse_rec(const struct ew_flow_key *kp, __u32 ready)
{
	EW_KEY_ARG(kp, 0, EW_KS_TLS_PARSE_REC);
	struct ew_tls_pctx c = {};
	struct ew_tls_reasm *r;
	__u32 zero = 0;
	int st;

	c.s = bpf_map_lookup_elem(&ew_tls_scr, &zero);
	if (!c.s || !k)
		return EW_TLS_UNSUPPORTED;
	c.b = c.s->r.buf;
	if (!(ready & EW_TLS_READY_REASM))
		return ew_tls_parse(&c, c.s->cur.need);
	r = bpf_map_lookup_elem(&ew_tls_reasm, k);
	if (!r)
		return EW_TLS_UNSUPPORTED;
	c.b = r->buf;
	st = ew_tls_parse(&c, c.s->cur.need);
	bpf_map_delete_elem(&ew_tls_reasm, k);
	return st;
}

/* The fingerprints of the parsed hello into the scratch's fp, in three steps. */
#define EW_TLS_HASH_STEP(name, body)                                   \
	__noinline int name(void)                                      \
	{                                                              \
		struct ew_tls_pctx c = {};                             \
		__u32 zero = 0;                                        \
									       \
		c.s = bpf_map_lookup_elem(&ew_tls_scr, &zero);         \
		if (!c.s)                                              \
			return EW_TLS_UNSUPPORTED;                     \
		body;                                                  \
	}

EW_TLS_HASH_STEP(ew_tls_hash_ab, ew_tls_ja4_ab(&c); return 0)
EW_TLS_HASH_STEP(ew_tls_hash_c, ew_tls_ja4_c(&c); return 0)
EW_TLS_HASH_STEP(ew_tls_hash_ja3, return ew_tls_ja3(&c))

/*
 * Settle the hello: a failure (st) is recorded and passes; a fingerprint is
 * stored on the connection and looked up in the rules, whose verdict is
 * returned with EW_TLS_CLASSIFIED.
 */
__noinline __u32 ew_tls_finish(const struct ew_flow_key *kp, struct ew_flow *f, int st, __u8 monitor)
{
	EW_KEY_ARG(kp, 0, EW_KS_TLS_FINISH);
	struct ew_tls_scratch *s;
	struct ew_conn *conn;
	__u32 zero = 0, res;

	if (!k || !f)
		return EW_TLS_PASS;
	s = bpf_map_lookup_elem(&ew_tls_scr, &zero);
	if (!s)
		return EW_TLS_PASS;
	if (st)
		return ew_tls_fail(k, f, st);
	s->fp.state = EW_TLS_OK;
	f->tls = EW_FT_DONE;
	ew_count_event(EW_C_TLS_HELLO);
	res = ew_fp_decide(&s->fp, &s->key, true);
	conn = ew_tls_conn(k);
	if (conn) {
		__u8 act = res & 0xff;

		__builtin_memcpy(&conn->tls, &s->fp, sizeof(conn->tls));
		if (act != EW_A_PASS) {
			conn->reasons |= EW_E_FP_RULE;
			conn->verdict = act == EW_A_DROP && monitor ? EW_A_WOULD_DROP : act;
		}
	}
	return res | EW_TLS_CLASSIFIED;
}

/*
 * A data segment of a TCP flow whose hello is unsettled. Returns
 * EW_TLS_READY (| EW_TLS_READY_REASM) when a whole record waits for
 * ew_tls_parse_rec(), a pass with an EW_R_TLS_* reason when the hello failed,
 * or EW_TLS_PASS (more segments to come, or not a hello).
 * A global function: the verifier checks it once, not once per caller and
 * caller state, and its stack stays out of ew_xdp's.
 */
__noinline __u32 ew_tls_data(struct xdp_md *ctx, const struct ew_pkt *p, const struct ew_flow_key *kp,
			     struct ew_flow *f)
{
	EW_KEY_ARG(kp, 0, EW_KS_TLS_DATA);
	struct ew_tls_scratch *s;
	struct ew_tls_reasm *r;
	struct ew_conn *conn;
	__u32 zero = 0, seq, need, take;
	__u16 port;
	__u8 *hd;
	int plen;

	if (!p || !k || !f)
		return EW_TLS_PASS;
	port = bpf_ntohs(p->dport);
	plen = ew_tls_plen(ctx, p);
	r = bpf_map_lookup_elem(&ew_tls_reasm, k);
	if (plen == 0) {
		/* Closed before its hello was whole: incomplete, and its slot is freed. */
		if (r && (p->tcp_flags & (EW_TCPF_FIN | EW_TCPF_RST))) {
			bpf_map_delete_elem(&ew_tls_reasm, k);
			return ew_tls_fail(k, f, EW_TLS_INCOMPLETE);
		}
		return EW_TLS_PASS;
	}
	s = bpf_map_lookup_elem(&ew_tls_scr, &zero);
	if (!s)
		return EW_TLS_PASS;
	if (plen < 0) {
		/* The IP length overruns the frame: malformed if a hello was under way
		 * or starts here, else this is not a hello. */
		if (r) {
			bpf_map_delete_elem(&ew_tls_reasm, k);
			return ew_tls_fail(k, f, EW_TLS_MALFORMED);
		}
		f->tls = EW_FT_DONE;
		if (!bpf_xdp_load_bytes(ctx, p->payload_off, s->r.buf, 1) && s->r.buf[0] == 0x16)
			return ew_tls_fail(k, f, EW_TLS_MALFORMED);
		ew_count_event(EW_C_TLS_NOT_HELLO);
		return EW_TLS_PASS;
	}
	seq = ew_tls_seq(ctx, p);

	if (r) {
		/* A continuation: in order, a retransmission, or a gap. */
		__u32 skip = 0;

		if ((__s32)(seq - r->next_seq) > 0) {
			bpf_map_delete_elem(&ew_tls_reasm, k);
			return ew_tls_fail(k, f, EW_TLS_INCOMPLETE);
		}
		if ((__s32)(seq + plen - r->next_seq) <= 0) {
			ew_count_event(EW_C_TLS_RETRANS);
			return EW_TLS_PASS;
		}
		skip = r->next_seq - seq;
		take = plen - skip;
		/* need is 0 until the record header (5 bytes) is in. */
		need = r->need ? r->need : EW_TLS_BUF;
		if (need > EW_TLS_BUF || r->have >= need) {
			bpf_map_delete_elem(&ew_tls_reasm, k);
			return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
		}
		if (take > need - r->have)
			take = need - r->have;
		if (ew_tls_copy(ctx, p->payload_off + skip, r->buf, r->have, take)) {
			bpf_map_delete_elem(&ew_tls_reasm, k);
			return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
		}
		r->have += take;
		r->next_seq += take;
		r->segs++;
		if (!r->need && r->have >= 5) {
			r->need = need = 5 + (r->buf[3] << 8 | r->buf[4]);
			if (r->buf[1] != 3 || need < 9 + 38 || need > EW_TLS_BUF) {
				bpf_map_delete_elem(&ew_tls_reasm, k);
				return ew_tls_fail(k, f, need > EW_TLS_BUF ? EW_TLS_UNSUPPORTED : EW_TLS_MALFORMED);
			}
		}
		if (!r->need || r->have < need)
			return EW_TLS_PASS;
		ew_count_event(EW_C_TLS_REASM);
		s->cur.need = need;
		return EW_TLS_READY | EW_TLS_READY_REASM;
	}

	/* The flow's first data, unless another CPU settled the hello already. */
	conn = bpf_map_lookup_elem(&ew_conns, k);
	if (conn && conn->tls.state != EW_TLS_NONE) {
		f->tls = EW_FT_DONE;
		return EW_TLS_PASS;
	}
	f->tls = EW_FT_DONE;
	if (bpf_map_lookup_elem(&ew_tls_ports, &(__u16){ 0 }) && !bpf_map_lookup_elem(&ew_tls_ports, &port)) {
		ew_count_event(EW_C_TLS_PORT_SKIP);
		return EW_TLS_PASS;
	}
	/*
	 * A handshake record (TLS 1.0-1.3 record version) holding a ClientHello.
	 * A first segment shorter than the headers is taken on trust when its
	 * first byte is right; the rest is checked once it is in.
	 */
	hd = s->r.buf;
	if (bpf_xdp_load_bytes(ctx, p->payload_off, hd, 1) || hd[0] != 0x16 ||
	    (plen >= 6 && (bpf_xdp_load_bytes(ctx, p->payload_off, hd, 6) || hd[1] != 3 || hd[5] != 1))) {
		ew_count_event(EW_C_TLS_NOT_HELLO);
		return EW_TLS_PASS;
	}
	need = 0;
	if (plen >= 6) {
		need = 5 + ((__u32)hd[3] << 8 | hd[4]);
		if (need < 9 + 38)
			return ew_tls_fail(k, f, EW_TLS_MALFORMED);
		if (need > EW_TLS_BUF)
			return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
	}
	if (need && (__u32)plen >= need) {
		if (bpf_xdp_load_bytes(ctx, p->payload_off, s->r.buf, need))
			return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
		s->cur.need = need;
		return EW_TLS_READY;
	}
	/* The record goes on in later segments: keep what is here. */
	/*
	 * 1 <= take < EW_TLS_BUF, shown to the verifier as a bound on take - 1:
	 * clang compiles "take < 1" to "take == 0", which Linux 6.1's verifier
	 * does not use to prove the helper's size non-zero (clang 14, 16, 19).
	 */
	take = plen - 1;
	barrier_var(take);
	if (take >= EW_TLS_BUF - 1)
		return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
	take += 1;
	if (bpf_xdp_load_bytes(ctx, p->payload_off, s->r.buf, take))
		return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
	s->r.next_seq = seq + take;
	s->r.have = take;
	s->r.need = need;
	s->r.segs = 1;
	if (bpf_map_update_elem(&ew_tls_reasm, k, &s->r, BPF_ANY))
		return ew_tls_fail(k, f, EW_TLS_UNSUPPORTED);
	f->tls = EW_FT_PENDING;
	return EW_TLS_PASS;
}

/* Cheap test on every client packet: does this flow still wait for its hello? */
static __always_inline bool ew_tls_pending(const struct ew_flow *f, const struct ew_pkt *p)
{
	return f->tls == EW_FT_PENDING && p->proto == IPPROTO_TCP;
}

#endif
