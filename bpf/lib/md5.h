/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MD5 (RFC 1321) for JA3. BPF only. Same shape as sha256.h: pad in place
 * (ew_hash_pad), then one bpf_loop() iteration per 64-byte block. The BPF target is
 * little-endian, MD5's byte order, so words load directly.
 */
#ifndef EW_MD5_H
#define EW_MD5_H

#include "sha256.h" /* ew_hash_pad() */

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "md5.h loads little-endian words directly"
#endif

static __always_inline void ew_md5_init(__u32 *st)
{
	st[0] = 0x67452301;
	st[1] = 0xefcdab89;
	st[2] = 0x98badcfe;
	st[3] = 0x10325476;
}

static const __u32 ew_md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const __u8 ew_md5_r[16] = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 };

/*
 * Compress the 64-byte block at p (4-byte aligned) into st; m: 16 words of
 * map memory. The rounds are unrolled: constants, shifts and word indexes
 * are immediates. The words are read through a volatile pointer as they
 * are needed, else clang 14-19 keep them all live and spill.
 */
static __always_inline void ew_md5_block(__u32 *st, const __u8 *p, __u32 *m)
{
	volatile __u32 *mv = m;
	__u32 a = st[0], b = st[1], c = st[2], d = st[3];

#pragma unroll
	for (int i = 0; i < 16; i++)
		mv[i] = *(const __u32 *)(p + 4 * i);
#pragma unroll
	for (int i = 0; i < 64; i++) {
		__u32 f, t, sh = ew_md5_r[(i >> 4) << 2 | (i & 3)];
		int g;

		if (i < 16) {
			f = d ^ (b & (c ^ d));
			g = i;
		} else if (i < 32) {
			f = c ^ (d & (b ^ c));
			g = (5 * i + 1) & 15;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) & 15;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) & 15;
		}
		t = a + f + ew_md5_k[i] + mv[g];
		a = d;
		d = c;
		c = b;
		b = b + ((t << sh) | (t >> (32 - sh)));
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

#endif
