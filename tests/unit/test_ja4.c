// SPDX-License-Identifier: BSD-2-Clause
/*
 * user/ja4.c, the user-space JA4/JA3 reference the BPF tests compare the
 * kernel with. Expected values come from outside this project:
 *  - JA4.md (FoxIO, technical_details): its worked example and the ALPN
 *    character table;
 *  - FoxIO's python/ja4.py (commit 0e54bc8) and tshark 4.0.17's
 *    tls.handshake.ja3, both run on a capture of exactly these hellos.
 * Where FoxIO's code departs from JA4.md (a one-character or non-ASCII ALPN,
 * an empty signature algorithm list) the value follows the text; the python
 * value is noted beside it.
 */
#include "lib/test.h"
#include "lib/hello.h"
#include "edgeward.h"

static uint8_t rec[16384];

static const uint16_t spec_cs[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
				    0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
static const uint16_t spec_sigs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };

/* JA4.md's example: its 15 ciphers, its 16 extensions in its order, its signature algorithms. */
static size_t spec_hello(size_t nsigs)
{
	static const uint16_t groups[] = { 0x001d, 0x0017, 0x0018 }, vers[] = { 0x0304, 0x0303 };
	struct hb h = {};

	hb_ext(&h, 0x001b, "\x02\0\x02", 3);
	hb_sni(&h, "example.com");
	hb_ext(&h, 0x0033, "\0\x06\0\x1d\0\x02\x11\x22", 8);
	hb_alpn_raw(&h, 2, "h2", (size_t)2, "http/1.1", (size_t)8);
	hb_ext(&h, 0x4469, "\0\x03\x02h2", 6);
	hb_ext(&h, 0x0017, NULL, 0);
	hb_ext(&h, 0x002d, "\x01\x01", 2);
	hb_u16list(&h, 0x000d, 2, spec_sigs, nsigs);
	hb_ext(&h, 0x0005, "\x01\0\0\0\0", 5);
	hb_ext(&h, 0x0023, NULL, 0);
	hb_ext(&h, 0x0012, NULL, 0);
	hb_u16list(&h, 0x002b, 1, vers, 2);
	hb_ext(&h, 0xff01, "\0", 1);
	hb_u8list(&h, 0x000b, (const uint8_t[]){ 0 }, 1);
	hb_u16list(&h, 0x000a, 2, groups, 3);
	hb_ext(&h, 0x0015, "\0\0\0", 3);
	return hb_record(&h, 0x0303, spec_cs, 15, rec, sizeof(rec));
}

static size_t alpn_hello(const char *p, size_t n)
{
	struct hb h = {};

	hb_sni(&h, "alpn.example.com");
	hb_alpn_raw(&h, 1, p, n);
	return hb_record(&h, 0x0303, spec_cs, 5, rec, sizeof(rec));
}

static size_t tls12_hello(void)
{
	static const uint16_t groups[] = { 0x001d, 0x0017 }, sigs[] = { 0x0401, 0x0501 };
	struct hb h = {};

	hb_sni(&h, "old.example.com");
	hb_u16list(&h, 0x000a, 2, groups, 2);
	hb_u8list(&h, 0x000b, (const uint8_t[]){ 0, 1, 2 }, 3);
	hb_u16list(&h, 0x000d, 2, sigs, 2);
	return hb_record(&h, 0x0303, (const uint16_t[]){ 0xc02b, 0xc02f }, 2, rec, sizeof(rec));
}

static bool fp_is(size_t len, const char *ja4, const char *ja3)
{
	struct ew_ja4 o;

	return ASSERT_EQ(ew_ja4_compute(rec, len, &o), EW_TLS_OK) && ASSERT_STREQ(o.ja4, ja4) &&
	       (!ja3 || ASSERT_STREQ(o.ja3, ja3));
}

EW_TEST(ja4_spec_example)
{
	/* JA4.md: "JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1"; python/ja4.py agrees. */
	return fp_is(spec_hello(8), "t13d1516h2_8daaf6152771_e5627efa2ab1", "c000e2caf3a25423f9de6c8a4b12a975");
}

EW_TEST(ja4_spec_no_sigalgs)
{
	/* JA4.md: no signature algorithms, no underscore: "... = 6d807ffa2a79" (python adds "_"). */
	struct ew_ja4 o;

	return ASSERT_EQ(ew_ja4_compute(rec, spec_hello(0), &o), EW_TLS_OK) &&
	       ASSERT_STREQ(o.ja4 + 24, "6d807ffa2a79");
}

EW_TEST(ja4_browser_grease)
{
	/* GREASE in every list; python/ja4.py and tshark on the same bytes. */
	return fp_is(hb_browser(rec, sizeof(rec), "www.example.com", 32), "t13d1515h2_8daaf6152771_f37e75b10bcc",
		     "048e8224114c8d3dd805d2663676fe9a") &&
	       fp_is(hb_browser(rec, sizeof(rec), NULL, 32), "t13i1514h2_8daaf6152771_f37e75b10bcc",
		     "aa1de075e05a5787c2e84fdf48821e8d");
}

EW_TEST(ja4_tls12_only)
{
	return fp_is(tls12_hello(), "t12d020400_b6f57f3be927_637ee6fc4330", "d17868876e7f5350029e661acba53620");
}

EW_TEST(ja4_alpn_text_rule)
{
	/* python/ja4.py gives t12d0502h_... and t12d050299_...: JA4.md's rule gives these. */
	return fp_is(alpn_hello("h", 1), "t12d0502hh_e133e205ac38_000000000000", "3bea0563af3224770a0df9fb50a1fe62") &&
	       fp_is(alpn_hello("\xab\xcd", 2), "t12d0502ad_e133e205ac38_000000000000", NULL) &&
	       fp_is(alpn_hello("", 0), "t12d050200_e133e205ac38_000000000000", NULL);
}

EW_TEST(ja4_alpn_chars_table)
{
	/* The examples of JA4.md's "ALPN Extension Value". */
	static const struct {
		const char *v;
		size_t n;
		const char *want;
	} t[] = {
		{ "\xab", 1, "ab" }, { "\x20", 1, "20" }, { "\xab\xcd", 2, "ad" }, { "\x20\x61", 2, "21" },
		{ "\x30\xab", 2, "3b" }, { "\x61\x20", 2, "60" }, { "\x30\x31\xab\xcd", 4, "3d" },
		{ "\x30\xab\xcd\x31", 4, "01" }, { "h2", 2, "h2" }, { "http/1.1", 8, "h1" }, { "", 0, "00" },
	};
	bool ok = true;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[3];

		ew_ja4_alpn_chars((const uint8_t *)t[i].v, t[i].n, out);
		ok &= ASSERT_STREQ(out, t[i].want);
	}
	return ok;
}

EW_TEST(ja4_rejects_broken_hellos)
{
	struct hb a = { .hs_len_adj = 40 }, b = { .ext_len_adj = 9 };
	struct ew_ja4 o;
	size_t n;
	bool ok;

	hb_sni(&a, "x.example.com");
	hb_sni(&b, "x.example.com");
	n = hb_record(&a, 0x0303, spec_cs, 5, rec, sizeof(rec));
	ok = ASSERT_EQ(ew_ja4_compute(rec, n, &o), EW_TLS_MALFORMED);
	n = hb_record(&b, 0x0303, spec_cs, 5, rec, sizeof(rec));
	ok &= ASSERT_EQ(ew_ja4_compute(rec, n, &o), EW_TLS_MALFORMED);
	ok &= ASSERT_EQ(ew_ja4_compute((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &o), EW_TLS_NONE);
	return ok && ASSERT_EQ(ew_ja4_compute(rec, n - 20, &o), EW_TLS_MALFORMED);
}

EW_TEST(ja4_rule_values)
{
	bool ab = false;

	return ASSERT_TRUE(ew_ja4_valid("t13d1516h2_8daaf6152771_e5627efa2ab1", &ab)) && ASSERT_TRUE(!ab) &&
	       ASSERT_TRUE(ew_ja4_valid("t13d1516h2_8daaf6152771", &ab)) && ASSERT_TRUE(ab) &&
	       ASSERT_TRUE(!ew_ja4_valid("t13d1516h2_8DAAF6152771", &ab)) &&
	       ASSERT_TRUE(!ew_ja4_valid("t13d1516h2-8daaf6152771", &ab)) &&
	       ASSERT_TRUE(!ew_ja4_valid("x13d1516h2_8daaf6152771_e5627efa2ab1", &ab)) &&
	       ASSERT_TRUE(ew_ja3_valid("048e8224114c8d3dd805d2663676fe9a")) &&
	       ASSERT_TRUE(!ew_ja3_valid("048e8224114c8d3dd805d2663676fe9")) &&
	       ASSERT_TRUE(!ew_ja3_valid("048e8224114c8d3dd805d2663676fe9g"));
}
