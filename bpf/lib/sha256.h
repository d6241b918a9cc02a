/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SHA-256 (FIPS 180-4) for the JA4 b and c hashes. BPF only. The message is
 * padded in place in a buffer of `cap` bytes (a power of two); blocks are
 * compressed one per bpf_loop() iteration by the caller, which keeps each
 * verifier walk to one unrolled block.
 */
#ifndef EW_SHA256_H
#define EW_SHA256_H


static __always_inline void ew_sha256_init(__u32 *st)
{
	st[0] = 0x6a09e667;
	st[1] = 0xbb67ae85;
	st[2] = 0x3c6ef372;
	st[3] = 0xa54ff53a;
	st[4] = 0x510e527f;
	st[5] = 0x9b05688c;
	st[6] = 0x1f83d9ab;
	st[7] = 0x5be0cd19;
}

/*
 * Merkle-Damgard padding in place, shared with md5.h: 0x80, zeros, and the
 * bit length, big-endian (SHA-256) or little-endian (MD5), for the len-byte
 * message at buf (mask = cap - 1, len + 72 <= cap). Returns 64-byte blocks.
 */
static __always_inline __u32 ew_hash_pad(__u8 *buf, __u32 len, __u32 mask, bool big_endian)
{
	__u32 nblk = (len + 8) / 64 + 1;
	__u32 end = nblk * 64;
	__u64 bits = (__u64)len * 8;

	buf[len & mask] = 0x80;
#pragma unroll
	for (int i = 1; i < 64; i++) {
		if (len + i >= end - 8)
			break;
		buf[(len + i) & mask] = 0;
	}
#pragma unroll
	for (int i = 0; i < 8; i++)
		buf[(end - 8 + i) & mask] = bits >> (big_endian ? 56 - 8 * i : 8 * i);
	return nblk;
}

static const __u32 ew_sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/*
 * x in both halves of a 64-bit word: a rotation right by n < 32 is then
 * one shift of it (its low 32 bits), where a 32-bit rotation costs BPF two
 * shifts and an or. The barrier keeps clang from making it a rotation
 * again, or a multiplication by 2^32 + 1 (slower on the rounds' chain).
 */
static __always_inline __u64 ew_dup32(__u32 x)
{
	__u64 v = (__u64)x << 32;

	barrier_var(v);
	return v | x;
}

/*
 * Compress the 64-byte block at p (4-byte aligned) into st; w is 16 words of
 * map memory for the message schedule. The rounds are unrolled: the round
 * constants are immediates and the state never moves between registers.
 * w is read and written through a volatile pointer, one word at a time:
 * otherwise clang 14-19 keep the whole schedule live and spill past the
 * 512-byte stack. Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and a round's
 * a ^ b is the next round's b ^ c.
 */
static __always_inline void ew_sha256_block(__u32 *st, const __u8 *p, __u32 *w)
{
	volatile __u32 *wv = w;
	__u32 a = st[0], b = st[1], c = st[2], d = st[3];
	__u32 e = st[4], f = st[5], g = st[6], h = st[7];
	__u32 ab, bc = b ^ c;

#pragma unroll
	for (int i = 0; i < 16; i++)
		wv[i] = bpf_ntohl(*(const __u32 *)(p + 4 * i));
#pragma unroll
	for (int i = 0; i < 64; i++) {
		__u32 t1, t2, wi;
		__u64 ee = ew_dup32(e), aa = ew_dup32(a);

		if (i < 16) {
			wi = wv[i];
		} else {
			__u64 w15 = ew_dup32(wv[(i - 15) & 15]), w2 = ew_dup32(wv[(i - 2) & 15]);
			__u32 s0 = (w15 >> 7) ^ (w15 >> 18) ^ ((__u32)w15 >> 3);
			__u32 s1 = (w2 >> 17) ^ (w2 >> 19) ^ ((__u32)w2 >> 10);

			wi = wv[i & 15] + s0 + wv[(i - 7) & 15] + s1;
			wv[i & 15] = wi;
		}
		t1 = h + (__u32)((ee >> 6) ^ (ee >> 11) ^ (ee >> 25)) + (g ^ (e & (f ^ g))) + ew_sha256_k[i] + wi;
		ab = a ^ b;
		t2 = (__u32)((aa >> 2) ^ (aa >> 13) ^ (aa >> 22)) + (b ^ (ab & bc));
		bc = ab;
		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	st[4] += e;
	st[5] += f;
	st[6] += g;
	st[7] += h;
}

#endif
