/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Layouts of the ClientHello parser's private maps (ew_tls_reasm, ew_tls_scr):
 * data-path working memory, never pinned nor read by user space. BPF only;
 * included by maps.h so the maps can be declared there, used by tls.h.
 */
#ifndef EW_TLS_SCRATCH_H
#define EW_TLS_SCRATCH_H

#define EW_TLS_BUF 8192		/* record bytes kept: hellos up to 8 KiB */
#define EW_TLS_MASK (EW_TLS_BUF - 1)
#define EW_TLS_MAX_CS 128	/* cipher suites kept (GREASE removed) */
#define EW_TLS_MAX_EXT 64	/* extensions kept (GREASE removed) */
#define EW_TLS_MAX_LIST 64	/* signature algorithms, groups kept */
#define EW_TLS_MAX_PF 16	/* EC point formats kept */
#define EW_TLS_STR 2048		/* string hashed for JA4 b / c and JA3 */
#define EW_TLS_STR_MASK (EW_TLS_STR - 1)
#define EW_TLS_DKEY 128		/* JA4 strings padded to 2 blocks or less have their digest cached */

/* An ew_tls_digests key: a padded string, zeros after the padding. */
struct ew_tls_dkey {
	__u8 b[EW_TLS_DKEY];
};

/* A cached JA4 digest: its first two words (the 12 hex digits kept). */
struct ew_tls_digest {
	__u32 d[2];
};

/* A hello being reassembled from several TCP segments, per flow. */
struct ew_tls_reasm {
	__u32 next_seq; /* sequence number of the next byte expected */
	__u16 have;	/* record bytes in buf */
	__u16 need;	/* 5 + record length */
	__u8 segs;	/* segments taken */
	__u8 pad[7];
	__u8 buf[EW_TLS_BUF];
};

/* What the parser extracted from one hello. */
struct ew_tls_hello {
	__u16 cs[EW_TLS_MAX_CS];     /* cipher suites in order */
	__u16 ext[EW_TLS_MAX_EXT];   /* extension types in order */
	__u16 sig[EW_TLS_MAX_LIST];  /* signature algorithms in order */
	__u16 grp[EW_TLS_MAX_LIST];  /* supported groups in order */
	__u8 pf[EW_TLS_MAX_PF];	     /* EC point formats in order */
	__u16 ncs, cs_total;	     /* kept; counted for JA4 */
	__u16 next, ext_total;
	__u16 nsig, ngrp;
	__u16 npf, legacy;	     /* legacy_version */
	__u16 sv_max;		     /* highest supported_versions entry, 0 if none */
	__u8 has_sni, alpn_len;	     /* alpn_len: length of the first ALPN value */
	__u8 alpn_first, alpn_last;
	__u8 nver, alpn_seen;
};

/*
 * The parser's cursors. They live in map memory, not in registers or on the
 * stack: the verifier tracks stack and register scalars precisely, and a
 * cursor that grows in a loop or a bpf_loop() callback would make every
 * iteration's state look new (1M-instruction limit on kernel 6.18 with
 * clang 14-19); a value loaded from a map is just "unknown".
 */
struct ew_tls_cur {
	__u32 off;	/* cursor in the record */
	__u32 end;	/* end of the extension block */
	__u32 n;	/* entries in the list being read, sorted or printed */
	__u32 pos;	/* length of str */
	__u32 err;	/* enum ew_tls_state of a failure, 0 while fine */
	__u32 nt;	/* entries in tmp */
	__u32 ld;	/* start of the list being read */
	__u32 need;	/* bytes of the record to parse */
	__u32 seen;	/* ew_tls_once_bit()s of the extensions met so far */
};

/* Per-CPU working memory of one hello: the only large buffers the parser uses. */
struct ew_tls_scratch {
	struct ew_tls_cur cur;
	struct ew_tls_reasm r;	     /* a single-segment hello, or a new reassembly */
	struct ew_tls_hello h;
	__u16 sorted[EW_TLS_MAX_CS]; /* a list being sorted */
	__u16 tmp[EW_TLS_MAX_EXT];   /* extensions without SNI and ALPN */
	__u32 st[8];		     /* hash state */
	__u32 w[16];		     /* SHA-256 message schedule, MD5 block words */
	struct ew_fp_key key;	     /* fingerprint rule lookups */
	struct ew_tls_digest dig;    /* a digest to cache */
	char str[EW_TLS_STR];	     /* the string being hashed, padded in place */
	struct ew_tls_fp fp;	     /* the result */
};

#endif
