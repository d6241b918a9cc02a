/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS ClientHello records for tests, well-formed or broken on purpose. User
 * space only, header-only. Extensions are appended in order to a struct hb,
 * then hb_record() wraps them with the ciphers into handshake and record:
 *
 *	struct hb h = {};
 *	hb_sni(&h, "example.com");
 *	hb_alpn(&h, "h2", "http/1.1", NULL);
 *	len = hb_record(&h, 0x0303, cs, ncs, buf, sizeof(buf));
 *
 * Fields a test breaks on purpose: hb.rec_len_adj / hb.hs_len_adj add to the
 * record / handshake length fields; hb.no_ext omits the extension block.
 */
#ifndef EW_TEST_HELLO_H
#define EW_TEST_HELLO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HB_GREASE(i) ((uint16_t)(0x0a0a + 0x1010 * ((i) & 15)))

struct hb {
	uint8_t ext[16384];
	size_t elen;
	bool no_ext;	 /* no extension block at all */
	int rec_len_adj; /* added to the record length field */
	int hs_len_adj;	 /* added to the handshake length field */
	int ext_len_adj; /* added to the extension block length field */
};

static inline void hb_put(uint8_t *b, size_t *n, uint32_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		b[(*n)++] = v >> (8 * i);
}

static inline void hb_ext(struct hb *h, uint16_t type, const void *d, size_t n)
{
	hb_put(h->ext, &h->elen, type, 2);
	hb_put(h->ext, &h->elen, n, 2);
	if (n)
		memcpy(h->ext + h->elen, d, n);
	h->elen += n;
}

static inline void hb_sni(struct hb *h, const char *name)
{
	uint8_t d[300];
	size_t n = 0, l = strlen(name);

	hb_put(d, &n, l + 3, 2);
	d[n++] = 0;
	hb_put(d, &n, l, 2);
	memcpy(d + n, name, l);
	hb_ext(h, 0x0000, d, n + l);
}

/* ALPN with the protocols given as bytes (p, len) pairs: hb_alpn_raw(h, 2, "h2", 2, "x", 1). */
static inline void hb_alpn_raw(struct hb *h, int count, ...)
{
	uint8_t d[512];
	size_t n = 2;
	va_list ap;

	va_start(ap, count);
	for (int i = 0; i < count; i++) {
		const char *p = va_arg(ap, const char *);
		size_t l = va_arg(ap, size_t);

		d[n++] = l;
		memcpy(d + n, p, l);
		n += l;
	}
	va_end(ap);
	d[0] = (n - 2) >> 8;
	d[1] = n - 2;
	hb_ext(h, 0x0010, d, n);
}

/* A list of u16 with a 1- or 2-byte length prefix (groups, signature algorithms, versions). */
static inline void hb_u16list(struct hb *h, uint16_t type, int lb, const uint16_t *v, size_t cnt)
{
	uint8_t d[1024];
	size_t n = 0;

	hb_put(d, &n, cnt * 2, lb);
	for (size_t i = 0; i < cnt; i++)
		hb_put(d, &n, v[i], 2);
	hb_ext(h, type, d, n);
}

static inline void hb_u8list(struct hb *h, uint16_t type, const uint8_t *v, size_t cnt)
{
	uint8_t d[256];

	d[0] = cnt;
	memcpy(d + 1, v, cnt);
	hb_ext(h, type, d, cnt + 1);
}

/* Record (type 22, version 0x0301) + handshake (ClientHello) around ciphers and extensions. */
static inline size_t hb_record(const struct hb *h, uint16_t legacy, const uint16_t *cs, size_t ncs,
			       uint8_t *out, size_t cap)
{
	size_t n = 0, body;

	if (cap < 64 + ncs * 2 + h->elen)
		return 0;
	out[n++] = 0x16;
	hb_put(out, &n, 0x0301, 2);
	n += 2; /* record length */
	out[n++] = 1;
	n += 3; /* handshake length */
	body = n;
	hb_put(out, &n, legacy, 2);
	for (int i = 0; i < 32; i++)
		out[n++] = 0x40 + i; /* random */
	out[n++] = 32;		     /* session id */
	for (int i = 0; i < 32; i++)
		out[n++] = 0x80 + i;
	hb_put(out, &n, ncs * 2, 2);
	for (size_t i = 0; i < ncs; i++)
		hb_put(out, &n, cs[i], 2);
	out[n++] = 1; /* compression: null */
	out[n++] = 0;
	if (!h->no_ext) {
		hb_put(out, &n, h->elen + h->ext_len_adj, 2);
		memcpy(out + n, h->ext, h->elen);
		n += h->elen;
	}
	{
		size_t t = 3;

		hb_put(out, &t, n - 5 + h->rec_len_adj, 2);
		t = 6;
		hb_put(out, &t, n - body + h->hs_len_adj, 3);
	}
	return n;
}

/*
 * A browser-like hello: GREASE in ciphers, extensions, groups, versions and
 * signature algorithms; SNI, ALPN h2 + http/1.1, a key share of keyshare_len
 * bytes (1216 makes a post-quantum-sized hello over 1500 bytes).
 */
static inline size_t hb_browser(uint8_t *out, size_t cap, const char *sni, size_t keyshare_len)
{
	static const uint16_t cs[] = { HB_GREASE(1), 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c,
				       0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
				       0x0035 };
	static const uint16_t groups[] = { HB_GREASE(3), 0x11ec, 0x001d, 0x0017, 0x0018 };
	static const uint16_t sigs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };
	static const uint16_t vers[] = { HB_GREASE(5), 0x0304, 0x0303 };
	static const uint8_t pf[] = { 0 };
	static uint8_t ks[12288]; /* the "record over 8 KiB" case asks for 8300 bytes */
	struct hb h = {};
	size_t kn = 0;

	if (keyshare_len + 6 > sizeof(ks))
		return 0;

	hb_ext(&h, HB_GREASE(2), NULL, 0);
	if (sni)
		hb_sni(&h, sni);
	hb_ext(&h, 0x0017, NULL, 0);
	hb_ext(&h, 0xff01, "\0", 1);
	hb_u16list(&h, 0x000a, 2, groups, 5);
	hb_u8list(&h, 0x000b, pf, 1);
	hb_ext(&h, 0x0023, NULL, 0);
	hb_alpn_raw(&h, 2, "h2", (size_t)2, "http/1.1", (size_t)8);
	hb_ext(&h, 0x0005, "\x01\0\0\0\0", 5);
	hb_u16list(&h, 0x000d, 2, sigs, 8);
	hb_ext(&h, 0x0012, NULL, 0);
	hb_put(ks, &kn, keyshare_len + 4, 2);
	hb_put(ks, &kn, 0x11ec, 2);
	hb_put(ks, &kn, keyshare_len, 2);
	for (size_t i = 0; i < keyshare_len; i++)
		ks[kn++] = i * 7;
	hb_ext(&h, 0x0033, ks, kn);
	hb_ext(&h, 0x002d, "\x01\x01", 2);
	hb_u16list(&h, 0x002b, 1, vers, 3);
	hb_ext(&h, 0x001b, "\x02\0\x02", 3);
	hb_ext(&h, 0x4469, "\0\x03\x02h2", 6);
	hb_ext(&h, HB_GREASE(4), "\0", 1);
	return hb_record(&h, 0x0303, cs, sizeof(cs) / 2, out, cap);
}

/*
 * Safari 17's hello (Apple's TLS stack on macOS and iOS): 20 ciphers, 14
 * extensions with SNI, signature algorithms with 0805 twice; JA4
 * t13d2014h2_a09f3c656075_14788d8d241b (t13i2013h2_... without SNI).
 */
static inline size_t hb_safari(uint8_t *out, size_t cap, const char *sni)
{
	static const uint16_t cs[] = { HB_GREASE(6), 0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9,
				       0xc030, 0xc02f, 0xcca8, 0xc00a, 0xc009, 0xc014, 0xc013, 0x009d,
				       0x009c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a };
	static const uint16_t groups[] = { HB_GREASE(7), 0x001d, 0x0017, 0x0018, 0x0019 };
	static const uint16_t sigs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0203, 0x0805,
					 0x0805, 0x0501, 0x0806, 0x0601, 0x0201 };
	static const uint16_t vers[] = { HB_GREASE(8), 0x0304, 0x0303, 0x0302, 0x0301 };
	static const uint8_t pf[] = { 0 };
	uint8_t ks[64];
	struct hb h = {};
	size_t kn = 0;

	hb_ext(&h, HB_GREASE(9), NULL, 0);
	if (sni)
		hb_sni(&h, sni);
	hb_ext(&h, 0x0017, NULL, 0);
	hb_ext(&h, 0xff01, "\0", 1);
	hb_u16list(&h, 0x000a, 2, groups, 5);
	hb_u8list(&h, 0x000b, pf, 1);
	hb_alpn_raw(&h, 2, "h2", (size_t)2, "http/1.1", (size_t)8);
	hb_ext(&h, 0x0005, "\x01\0\0\0\0", 5);
	hb_u16list(&h, 0x000d, 2, sigs, 11);
	hb_ext(&h, 0x0012, NULL, 0);
	hb_put(ks, &kn, 5 + 36, 2); /* a GREASE share of one byte, then X25519 */
	hb_put(ks, &kn, HB_GREASE(7), 2);
	hb_put(ks, &kn, 1, 2);
	ks[kn++] = 0;
	hb_put(ks, &kn, 0x001d, 2);
	hb_put(ks, &kn, 32, 2);
	for (int i = 0; i < 32; i++)
		ks[kn++] = 0x11 * i;
	hb_ext(&h, 0x0033, ks, kn);
	hb_ext(&h, 0x002d, "\x01\x01", 2);
	hb_u16list(&h, 0x002b, 1, vers, 5);
	hb_ext(&h, 0x001b, "\x02\0\x01", 3);
	hb_ext(&h, HB_GREASE(10), "\0", 1);
	hb_ext(&h, 0x0015, "\0\0\0\0\0\0\0\0", 8);
	return hb_record(&h, 0x0303, cs, sizeof(cs) / 2, out, cap);
}

#endif
