/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TCP SYN fingerprint in p0f v3's terms, and its OS label. BPF only.
 *
 * ew_tcp_syn_fp() extracts what p0f's raw_sig shows (initial TTL guess, IP
 * option length, MSS, window or its MSS/MTU multiple, window scale, option
 * layout, quirks, payload class) into struct ew_tcp_fp; user space formats
 * the string. ew_tcp_os_match() then applies p0f's matching rules to the
 * compiled database: ew_oskey maps the option layout (p0f only ever compares
 * signatures with the same layout) to a span of ew_ossig, checked in database
 * order by a bpf_loop, so the label is on the connection before its data.
 */
#ifndef EW_TCPSIG_H
#define EW_TCPSIG_H

#include "maps.h"
#include "parse.h"

#define EW_TCP_OPT_BYTES 40
#define EW_TCPF_FIN 0x01
#define EW_TCPF_SYN 0x02
#define EW_TCPF_RST 0x04
#define EW_TCPF_PSH 0x08
#define EW_TCPF_ACK 0x10
#define EW_TCPF_URG 0x20
#define EW_TCPF_ECE 0x40
#define EW_TCPF_CWR 0x80

/* A pure SYN: p0f's tcp_type == SYN, without silly flag combinations. */
static __always_inline bool ew_is_syn(__u8 flags)
{
	return (flags & (EW_TCPF_SYN | EW_TCPF_ACK | EW_TCPF_FIN | EW_TCPF_RST)) == EW_TCPF_SYN;
}

#define EW_OPTB(w, i) ((w)->buf[(i) & 63])

/* bpf_loop's context must live on the stack (6.1): it points to the scratch. */
struct ew_optctx {
	struct ew_optwalk *w;
};

/* One option, exactly as p0f's parse_packet() reads it; 1 stops the walk. */
static long ew_opt_step(__u32 i, void *arg)
{
	struct ew_optwalk *w = ((struct ew_optctx *)arg)->w;
	__u32 pos = w->pos, len = w->len, oc = w->ocnt;
	__u8 kind, olen;

	if (pos >= len || pos >= EW_TCP_OPT_BYTES || oc >= EW_TCP_OPT_MAX)
		return 1;
	kind = EW_OPTB(w, pos);
	w->layout[oc] = kind;
	w->ocnt = oc + 1;
	pos++;
	switch (kind) {
	case 0: /* EOL: the rest is padding, note any non-zero byte */
		w->eol_pad = len - pos;
		for (int k = 0; k < EW_TCP_OPT_BYTES; k++) {
			if (pos >= len)
				break;
			pos++;
			if (EW_OPTB(w, pos - 1))
				break;
		}
		if (pos != len) {
			w->quirks |= EW_Q_OPT_EOL_NZ;
			pos = len;
		}
		break;
	case 1: /* NOP */
		break;
	case 2: /* MSS */
		if (pos + 3 > len)
			goto abort;
		if (EW_OPTB(w, pos) != 4)
			w->quirks |= EW_Q_BAD;
		w->mss = (__u16)EW_OPTB(w, pos + 1) << 8 | EW_OPTB(w, pos + 2);
		pos += 3;
		break;
	case 3: /* window scale */
		if (pos + 2 > len)
			goto abort;
		if (EW_OPTB(w, pos) != 3)
			w->quirks |= EW_Q_BAD;
		w->wscale = EW_OPTB(w, pos + 1);
		if (w->wscale > 14)
			w->quirks |= EW_Q_EXWS;
		pos += 2;
		break;
	case 4: /* SACK permitted */
		if (pos + 1 > len)
			goto abort;
		if (EW_OPTB(w, pos) != 2)
			w->quirks |= EW_Q_BAD;
		pos++;
		break;
	case 5: /* SACK */
		if (pos == len)
			goto abort;
		olen = EW_OPTB(w, pos);
		if (olen < 10 || olen > 34 || pos - 1 + olen > len)
			goto abort;
		pos += olen - 1;
		break;
	case 8: /* timestamps */
		if (pos + 9 > len)
			goto abort;
		if (EW_OPTB(w, pos) != 10)
			w->quirks |= EW_Q_BAD;
		w->ts1 = (__u32)EW_OPTB(w, pos + 1) << 24 | (__u32)EW_OPTB(w, pos + 2) << 16 |
			 (__u32)EW_OPTB(w, pos + 3) << 8 | EW_OPTB(w, pos + 4);
		if (!w->ts1)
			w->quirks |= EW_Q_TS1_ZERO;
		if (EW_OPTB(w, pos + 5) | EW_OPTB(w, pos + 6) | EW_OPTB(w, pos + 7) | EW_OPTB(w, pos + 8))
			w->quirks |= EW_Q_TS2_NZ;
		pos += 9;
		break;
	default:
		if (pos == len)
			goto abort;
		olen = EW_OPTB(w, pos);
		if (olen < 2 || olen > 40 || pos - 1 + olen > len)
			goto abort;
		pos += olen - 1;
		break;
	}
	w->pos = pos;
	return 0;
abort:
	/* p0f stops at a malformed option and reports "bad". */
	w->quirks |= EW_Q_BAD;
	w->pos = len + 1;
	return 1;
}

/* p0f's guess of the initial TTL. */
static __always_inline __u8 ew_ittl_guess(__u8 ttl)
{
	if (ttl <= 32)
		return 32;
	if (ttl <= 64)
		return 64;
	if (ttl <= 128)
		return 128;
	return 255;
}

/* p0f's detect_win_multi() for a SYN: window as a multiple of MSS or MTU. */
static __always_inline void ew_win_multi(struct ew_tcp_sig *s, __u16 win, __u32 ts1, __u32 tot_hdr)
{
	__u32 mss = s->mss, d[10];
	int n = 0;

	s->win_type = EW_WIN_NORMAL;
	s->win = win;
	if (!win || mss < 100)
		return;
	d[0] = mss;
	d[1] = ts1 ? mss - 12 : 0;
	d[2] = 1460;
	d[3] = 1448;
	d[4] = s->ver == 6 ? 1440 : 0;
	d[5] = s->ver == 6 ? 1428 : 0;
	/* from here on the divisor is an MTU */
	d[6] = mss + 40;
	d[7] = mss + tot_hdr;
	d[8] = s->ver == 6 ? mss + 60 : 0;
	d[9] = 1500;
#pragma unroll
	for (n = 0; n < 10; n++) {
		if (d[n] && !(win % d[n])) {
			s->win_type = n < 6 ? EW_WIN_MSS : EW_WIN_MTU;
			s->win = win / d[n];
			return;
		}
	}
}

/*
 * Fingerprint a pure SYN into fp. Returns 0, or -1 when p0f would not
 * fingerprint it (IP fragment, IPv6 extension headers, lengths that lie).
 */
static __always_inline int ew_tcp_syn_fp(struct xdp_md *ctx, const struct ew_pkt *p,
					 struct ew_optwalk *w, struct ew_tcp_fp *fp)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ew_tcp_sig *s = &fp->sig;
	__u32 l3 = p->l3_off & 0x3f, l4 = p->l4_off & 0xff, have, iphl, doff, tot, olen;
	struct tcphdr *th;
	__u8 *ip = data + l3;
	__u8 tflags, *tb;

	__builtin_memset(fp, 0, sizeof(*fp));
	if (ip + 40 > (__u8 *)data_end)
		return -1;
	have = p->len - l3;
	if (p->family == 4) {
		__u16 frag = (__u16)ip[6] << 8 | ip[7];

		iphl = (ip[0] & 0x0f) * 4;
		tot = (__u16)ip[2] << 8 | ip[3];
		if (frag & ~(0x4000 | 0x8000))
			return -1;
		s->ver = 4;
		s->olen = iphl - 20;
		fp->tos = ip[1] >> 2;
		if (ip[1] & 3)
			s->quirks |= EW_Q_ECN;
		if (frag & 0x8000)
			s->quirks |= EW_Q_NZ_MBZ;
		if (frag & 0x4000) {
			s->quirks |= EW_Q_DF;
			if (ip[4] | ip[5])
				s->quirks |= EW_Q_NZ_ID;
		} else if (!(ip[4] | ip[5])) {
			s->quirks |= EW_Q_ZERO_ID;
		}
	} else {
		__u32 vt = (__u32)ip[0] << 24 | (__u32)ip[1] << 16 | (__u32)ip[2] << 8 | ip[3];

		iphl = 40;
		tot = ((__u16)ip[4] << 8 | ip[5]) + 40;
		if (ip[6] != IPPROTO_TCP)
			return -1;
		s->ver = 6;
		fp->tos = (vt >> 22) & 0x3f;
		if (vt & 0xfffff)
			s->quirks |= EW_Q_FLOW;
		if ((vt >> 20) & 3)
			s->quirks |= EW_Q_ECN;
	}
	/* p0f trusts the IP length over the frame (Ethernet padding)... */
	if (have > tot)
		have = tot;
	/* ...and gives up when the IP length claims more than arrived. */
	if (tot > have)
		return -1;

	th = data + l4;
	if ((void *)(th + 1) > data_end)
		return -1;
	tb = (__u8 *)th;
	doff = th->doff * 4;
	tflags = tb[13];
	fp->ttl = p->ttl;
	fp->raw_win = bpf_ntohs(th->window);
	s->ittl = ew_ittl_guess(p->ttl);
	if ((tflags & (EW_TCPF_ECE | EW_TCPF_CWR)) || (tb[12] & 1))
		s->quirks |= EW_Q_ECN;
	if (!th->seq)
		s->quirks |= EW_Q_ZERO_SEQ;
	/*
	 * p0f 3.09b tests `RD32(tcp->ack) & !(flags & RST)`: a bitwise AND with
	 * 1, so only the lowest bit of the ACK field's first byte counts (on the
	 * little-endian hosts p0f runs on). Reproduced so raw_sig matches p0f.
	 */
	if (tb[8] & 1)
		s->quirks |= EW_Q_NZ_ACK;
	if (tflags & EW_TCPF_URG)
		s->quirks |= EW_Q_URG;
	else if (th->urg_ptr)
		s->quirks |= EW_Q_NZ_URG;
	if (tflags & EW_TCPF_PSH)
		s->quirks |= EW_Q_PUSH;
	if (iphl + doff > have)
		return -1;
	s->pclass = have > iphl + doff;

	w->pos = 0;
	w->len = doff - 20;
	w->quirks = 0;
	w->ts1 = 0;
	w->mss = 0;
	w->wscale = 0;
	w->ocnt = 0;
	w->eol_pad = 0;
	/* the scratch is per CPU: a longer layout from an earlier SYN must not leak into the key */
	__builtin_memset(w->layout, 0, sizeof(w->layout));
	olen = doff - 20;
	/*
	 * Linux 6.1's verifier does not narrow a size to non-zero on a 32-bit
	 * "== 0" test and rejects a possibly-zero size for the helper. Knowing
	 * olen is a multiple of 4, clang turns "olen >= 4" into that test: hide
	 * what it knows so a range compare stays (clang 14, 16, 19; kernel 6.1).
	 */
	asm volatile("" : "+r"(olen));
	if (olen > EW_TCP_OPT_BYTES)
		return -1;
	if (olen >= 4 && bpf_xdp_load_bytes(ctx, l4 + 20, w->buf, olen))
		return -1;
	{
		struct ew_optctx oc = { .w = w };

		bpf_loop(EW_TCP_OPT_BYTES + 1, ew_opt_step, &oc, 0);
	}
	if (w->pos != w->len)
		w->quirks |= EW_Q_BAD;
	__builtin_memcpy(s->layout, w->layout, EW_TCP_OPT_MAX);
	s->quirks |= w->quirks;
	s->mss = w->mss;
	s->wscale = w->wscale;
	s->ocnt = w->ocnt;
	s->eol_pad = w->eol_pad;
	ew_win_multi(s, fp->raw_win, w->ts1, iphl + doff);
	fp->os_flags = EW_OSM_SEEN;
	return 0;
}

/* p0f's tcp_find_match() over one layout's span of signatures. */
struct ew_osmatch {
	const struct ew_tcp_fp *fp;
	__u32 first;
	__s32 exact;   /* signature index of a specific match, -1 none */
	__s32 generic; /* first generic match */
	__s32 fuzzy;   /* first fuzzy match */
};

static long ew_os_step(__u32 i, void *arg)
{
	struct ew_osmatch *m = arg;
	const struct ew_tcp_fp *fp = m->fp;
	const struct ew_tcp_sig *s = &fp->sig;
	__u32 idx = m->first + i, rq, diff;
	struct ew_os_sig *r = bpf_map_lookup_elem(&ew_ossig, &idx);
	bool fuzzy = false;

	if (!r)
		return 1;
	/* p0f does not compare IP versions: it only drops the other one's quirks */
	rq = r->quirks;
	if (!r->ver)
		rq &= s->ver == 4 ? ~EW_Q_FLOW : ~(__u32)(EW_Q_DF | EW_Q_NZ_ID | EW_Q_ZERO_ID);
	if (rq != s->quirks) {
		diff = rq ^ s->quirks;
		/* only 'df'/'id+' disappearing or 'id-'/'ecn' appearing is fuzzy */
		if (m->fuzzy >= 0 || (diff & rq & ~(__u32)(EW_Q_DF | EW_Q_NZ_ID)) ||
		    (diff & s->quirks & ~(__u32)(EW_Q_ZERO_ID | EW_Q_ECN)))
			return 0;
		fuzzy = true;
	}
	if (r->eol_pad != s->eol_pad || r->olen != s->olen)
		return 0;
	if (r->flags & EW_OSS_BAD_TTL) {
		if (r->ittl < fp->ttl)
			return 0;
	} else if (r->ittl < fp->ttl || r->ittl - fp->ttl > EW_MAX_DIST) {
		fuzzy = true;
	}
	if (!(r->any & EW_OSA_MSS) && r->mss != s->mss)
		return 0;
	if (!(r->any & EW_OSA_WSCALE) && r->wscale != s->wscale)
		return 0;
	if (!(r->any & EW_OSA_PCLASS) && r->pclass != s->pclass)
		return 0;
	switch (r->win_type) {
	case EW_WIN_NORMAL:
		if (r->win != fp->raw_win)
			return 0;
		break;
	case EW_WIN_MOD:
		if (!r->win || fp->raw_win % r->win)
			return 0;
		break;
	case EW_WIN_MSS:
	case EW_WIN_MTU:
		if (s->win_type != r->win_type || s->win != r->win)
			return 0;
		break;
	default: /* EW_WIN_ANY */
		break;
	}
	if (!fuzzy) {
		if (!(r->flags & EW_OSS_GENERIC)) {
			m->exact = idx;
			return 1;
		}
		if (m->generic < 0)
			m->generic = idx;
	} else if (m->fuzzy < 0) {
		m->fuzzy = idx;
	}
	return 0;
}

/* Label fp with the database's answer: os_id, os_family, os_flags. */
static __always_inline void ew_tcp_os_match(struct ew_tcp_fp *fp)
{
	struct ew_osmatch m = { .fp = fp, .exact = -1, .generic = -1, .fuzzy = -1 };
	struct ew_os_key k = {};
	struct ew_os_span *span;
	struct ew_os_sig *r;
	struct ew_os_label *l;
	__u32 idx, lab;
	__u8 flags = 0;

	__builtin_memcpy(k.layout, fp->sig.layout, EW_TCP_OPT_MAX);
	k.ocnt = fp->sig.ocnt;
	span = bpf_map_lookup_elem(&ew_oskey, &k);
	if (!span)
		return;
	m.first = span->first;
	bpf_loop(span->count < EW_OS_SIGS_MAX ? span->count : EW_OS_SIGS_MAX, ew_os_step, &m, 0);
	if (m.exact >= 0) {
		idx = m.exact;
	} else if (m.generic >= 0) {
		idx = m.generic;
		flags = EW_OSM_GENERIC;
	} else if (m.fuzzy >= 0) {
		idx = m.fuzzy;
		flags = EW_OSM_FUZZY;
	} else {
		return;
	}
	r = bpf_map_lookup_elem(&ew_ossig, &idx);
	if (!r)
		return;
	/* p0f gives user tools no fuzzy matches */
	if ((flags & EW_OSM_FUZZY) && (r->flags & EW_OSS_APP))
		return;
	if (r->flags & EW_OSS_APP)
		flags |= EW_OSM_APP;
	lab = r->label;
	l = bpf_map_lookup_elem(&ew_oslabel, &lab);
	fp->os_id = lab;
	fp->os_family = l ? l->family : EW_OS_UNKNOWN;
	fp->os_flags |= flags;
}

#endif
