// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests: threat-feed file formats and validation (user/feed_parse.c).
 * Sample files in tests/data/feeds/ follow each publisher's format; malformed
 * input is built in memory. Run from the repository root.
 */
#include <stdlib.h>
#include <unistd.h>
#include "lib/test.h"
#include "feeds.h"

#define DATA "tests/data/feeds/"

static const struct ew_feed_opts defaults = { .min_score = 1, .max_bad_pct = 1.0 };

/* Messages go to a memory stream so that tests can look at them. */
struct diag {
	char *buf;
	size_t len;
	FILE *f;
};

static struct ew_feed_opts with_diag(struct ew_feed_opts o, struct diag *d)
{
	d->buf = NULL;
	d->len = 0;
	d->f = open_memstream(&d->buf, &d->len);
	o.diag = d->f;
	return o;
}

static const char *diag_text(struct diag *d)
{
	fflush(d->f);
	return d->buf ? d->buf : "";
}

static void diag_free(struct diag *d)
{
	fclose(d->f);
	free(d->buf);
}

static bool has_prefix(const struct ew_feed_data *d, const char *want)
{
	char buf[64];

	for (size_t i = 0; i < d->npfx; i++) {
		ew_prefix_fmt(&d->pfx[i], buf, sizeof(buf));
		if (!strcmp(buf, want))
			return true;
	}
	EW_FAILF("prefix %s not found among %zu", want, d->npfx);
	return false;
}

struct sample {
	const char *file;
	int format;
	size_t n4, n6, nfps;
	const char *has; /* one prefix (or fingerprint) that must be there */
};

static const struct sample samples[] = {
	{ "plain.txt", EW_FF_CIDR, 3, 2, 0, "198.51.100.7/32" },
	{ "spamhaus-drop.txt", EW_FF_SPAMHAUS, 4, 0, 0, "198.18.64.0/18" },
	{ "spamhaus-drop-v4.json", EW_FF_SPAMHAUS_JSON, 4, 0, 0, "203.0.113.0/24" },
	{ "spamhaus-drop-v6.json", EW_FF_SPAMHAUS_JSON, 0, 2, 0, "2001:db8:2000::/35" },
	{ "firehol_level1.netset", EW_FF_FIREHOL, 5, 0, 0, "0.0.0.0/8" },
	{ "tor-bulk-exit-list.txt", EW_FF_TOR_EXITS, 4, 1, 0, "2001:db8:7::10/128" },
	{ "tor-exit-addresses.txt", EW_FF_TOR_ADDRS, 3, 1, 0, "198.18.5.2/32" },
	{ "ipsum.txt", EW_FF_IPSUM, 6, 0, 0, "198.18.9.1/32" },
	{ "aws-ip-ranges.json", EW_FF_AWS, 2, 2, 0, "2001:db8:a100::/56" },
	{ "gcp-cloud.json", EW_FF_GCP, 2, 1, 0, "198.19.16.0/22" },
	{ "ja4.txt", EW_FF_JA4, 0, 0, 3, "t13d190900_9dc949149365_97f8aa674fd9" },
	{ "ja4plus-mapping.csv", EW_FF_JA4_CSV, 0, 0, 3, "t13i181000_85036bcba153_d41ae481755e" },
	{ "sslbl-ja3.csv", EW_FF_JA3_SSLBL, 0, 0, 3, "8991a387e4cc841740f25d6f5139f92d" },
};

static bool check_sample(const struct sample *s, int format)
{
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	char path[256];
	bool ok;

	o.format = format;
	snprintf(path, sizeof(path), DATA "%s", s->file);
	if (!ASSERT_EQ(ew_feed_read(path, &o, &d), 0)) {
		EW_FAILF("%s", path);
		return false;
	}
	ok = ASSERT_EQ(d.format, s->format) && ASSERT_EQ(d.n4, s->n4) && ASSERT_EQ(d.n6, s->n6) &&
	     ASSERT_EQ(d.nfps, s->nfps) && ASSERT_EQ(d.bad, 0);
	if (ok && s->nfps) {
		bool found = false;

		for (size_t i = 0; i < d.nfps; i++)
			found |= !strcmp(d.fps[i].fp, s->has);
		ok = ASSERT_TRUE(found);
	} else if (ok) {
		ok = has_prefix(&d, s->has);
	}
	if (!ok)
		EW_FAILF("%s as %s", path, ew_feed_fmt_name(format));
	ew_feed_data_free(&d);
	return ok;
}

EW_TEST(feed_samples_recognised_by_auto)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		CHECK(check_sample(&samples[i], EW_FF_AUTO));
	return true;
}

EW_TEST(feed_samples_parse_with_explicit_format)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		CHECK(check_sample(&samples[i], samples[i].format));
	return true;
}

EW_TEST(feed_detect_ja4_with_label)
{
	static const char text[] = "t13d190900_9dc949149365_97f8aa674fd9 GoLang net/http\n";

	return ASSERT_EQ(ew_feed_detect(text, sizeof(text) - 1), EW_FF_JA4);
}

EW_TEST(feed_format_names_round_trip)
{
	for (int f = 0; f < EW_FF_MAX; f++)
		CHECK(ASSERT_EQ(ew_feed_fmt_parse(ew_feed_fmt_name(f)), f));
	CHECK(ASSERT_EQ(ew_feed_fmt_parse("json"), -1));
	CHECK(ASSERT_TRUE(ew_feed_fmt_is_fp(EW_FF_JA3_SSLBL) && !ew_feed_fmt_is_fp(EW_FF_AWS)));
	return true;
}

EW_TEST(feed_ipsum_min_score)
{
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;

	o.min_score = 3;
	CHECK(ASSERT_EQ(ew_feed_read(DATA "ipsum.txt", &o, &d), 0));
	CHECK(ASSERT_EQ(d.n4, 3) && ASSERT_EQ(d.skipped, 3) && has_prefix(&d, "198.51.100.3/32"));
	ew_feed_data_free(&d);
	return true;
}

EW_TEST(feed_labels_from_csv)
{
	struct ew_feed_data d;
	bool sliver = false, dridex = false;

	CHECK(ASSERT_EQ(ew_feed_read(DATA "ja4plus-mapping.csv", &defaults, &d), 0));
	for (size_t i = 0; i < d.nfps; i++)
		sliver |= !strcmp(d.fps[i].label, "Sliver Agent, C2"); /* quoted comma */
	ew_feed_data_free(&d);
	CHECK(ASSERT_EQ(ew_feed_read(DATA "sslbl-ja3.csv", &defaults, &d), 0));
	for (size_t i = 0; i < d.nfps; i++)
		dridex |= !strcmp(d.fps[i].label, "Dridex") && d.fps[i].kind == '3';
	ew_feed_data_free(&d);
	return ASSERT_TRUE(sliver) && ASSERT_TRUE(dridex);
}

/* --- malformed input ---------------------------------------------------------------- */
static int parse(const char *text, size_t len, struct ew_feed_opts o, struct ew_feed_data *d, struct diag *dg)
{
	o = with_diag(o, dg);
	return ew_feed_parse_buf("feed.txt", text, len, &o, d);
}

#define PARSE(text, o, d, dg) parse(text, sizeof(text) - 1, o, d, dg)

EW_TEST(feed_crlf_bom_comments_whitespace)
{
	static const char text[] = "\xef\xbb\xbf# list\r\n198.18.0.1\r\n  198.18.1.0/24 \t# trailing\r\n"
				   "; semicolon comment\r\n\r\n2001:db8::1\r\n";
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	ok = ASSERT_EQ(PARSE(text, defaults, &d, &dg), 0) && ASSERT_EQ(d.bad, 0) && ASSERT_EQ(d.n4, 2) &&
	     ASSERT_EQ(d.n6, 1) && has_prefix(&d, "198.18.1.0/24") && ASSERT_EQ(d.format, EW_FF_CIDR);
	if (!ok)
		EW_FAILF("diag: %s", diag_text(&dg));
	ew_feed_data_free(&d);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_rejects_report_file_and_line)
{
	static const char text[] = "198.18.0.1\nfe80::1%eth0\n198.18.0.0/33\n0.0.0.0/0\nexample.com\n"
				   "198.18.0.2 junk\n";
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	const char *t;
	bool ok;

	o.max_bad_pct = 100;
	ok = ASSERT_EQ(PARSE(text, o, &d, &dg), 0) && ASSERT_EQ(d.bad, 5) && ASSERT_EQ(d.lines, 6) &&
	     ASSERT_EQ(d.n4, 1);
	t = diag_text(&dg);
	ok = ok && ASSERT_TRUE(strstr(t, "feed.txt:2: ") && strstr(t, "zone")) &&
	     ASSERT_TRUE(strstr(t, "feed.txt:3: ") != NULL) &&
	     ASSERT_TRUE(strstr(t, "feed.txt:4: ") && strstr(t, "/0")) &&
	     ASSERT_TRUE(strstr(t, "feed.txt:5: ") != NULL) &&
	     ASSERT_TRUE(strstr(t, "feed.txt:6: unexpected text") != NULL) &&
	     ASSERT_TRUE(strstr(t, "feed.txt:1:") == NULL);
	if (!ok)
		EW_FAILF("diag: %s", t);
	ew_feed_data_free(&d);
	diag_free(&dg);
	return ok;
}

/* n good lines and `bad` bad ones; returns the parse result. */
static int bad_share(int good, int bad, double pct)
{
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	size_t cap = (good + bad) * 24 + 1, len = 0;
	char *text = malloc(cap);
	int ret;

	for (int i = 0; i < good; i++)
		len += snprintf(text + len, cap - len, "198.18.%d.%d\n", i / 250, i % 250 + 1);
	for (int i = 0; i < bad; i++)
		len += snprintf(text + len, cap - len, "not-an-ip-%d\n", i);
	o.max_bad_pct = pct;
	ret = parse(text, len, o, &d, &dg);
	ew_feed_data_free(&d);
	diag_free(&dg);
	free(text);
	return ret;
}

EW_TEST(feed_bad_line_threshold)
{
	CHECK(ASSERT_EQ(bad_share(199, 1, 1.0), 0));  /* 0.5% */
	CHECK(ASSERT_EQ(bad_share(198, 2, 1.0), 0));  /* exactly 1% */
	CHECK(ASSERT_EQ(bad_share(197, 3, 1.0), -1)); /* 1.5% */
	CHECK(ASSERT_EQ(bad_share(197, 3, 2.0), 0));  /* configurable */
	CHECK(ASSERT_EQ(bad_share(100, 1, 0), -1));   /* strict */
	return true;
}

EW_TEST(feed_binary_garbage_refused)
{
	char text[4096];
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)(i * 7919 % 251);
	ok = ASSERT_EQ(parse(text, sizeof(text), defaults, &d, &dg), -1) &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "binary") != NULL) && ASSERT_EQ(d.npfx, 0);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_long_line_rejected)
{
	size_t n = EW_FEED_LINE_MAX + 100;
	char *text = malloc(n + 64);
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	bool ok;
	int len;

	memset(text, '1', n);
	len = n + sprintf(text + n, "\n198.18.0.1\n");
	o.max_bad_pct = 50;
	ok = ASSERT_EQ(parse(text, len, o, &d, &dg), 0) && ASSERT_EQ(d.bad, 1) && ASSERT_EQ(d.n4, 1) &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "feed.txt:1: line longer") != NULL);
	ew_feed_data_free(&d);
	diag_free(&dg);
	free(text);
	return ok;
}

EW_TEST(feed_duplicates_overlaps_host_bits_mapped)
{
	static const char text[] = "198.18.0.0/16\n198.18.1.0/24\n198.18.1.0/24\n198.18.1.77/24\n"
				   "::ffff:198.18.2.1\n198.18.2.1\n2001:db8::/32\n2001:db8:0::/32\n";
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	ok = ASSERT_EQ(PARSE(text, defaults, &d, &dg), 0) && ASSERT_EQ(d.bad, 0) &&
	     ASSERT_EQ(d.npfx, 4) && ASSERT_EQ(d.dups, 4) && ASSERT_EQ(d.cleared, 1) &&
	     has_prefix(&d, "198.18.0.0/16") && has_prefix(&d, "198.18.1.0/24") && /* overlap kept */
	     has_prefix(&d, "198.18.2.1/32") &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "feed.txt:4: warning: host bits") != NULL);
	/* sorted: IPv4 first, by address */
	ok = ok && ASSERT_EQ(d.pfx[0].family, 4) && ASSERT_EQ(d.pfx[3].family, 6);
	ew_feed_data_free(&d);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_empty_refused_unless_allowed)
{
	static const char text[] = "# nothing here\n\n; still nothing\n";
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	ok = ASSERT_EQ(PARSE(text, o, &d, &dg), -1) && ASSERT_TRUE(strstr(diag_text(&dg), "no entries") != NULL);
	diag_free(&dg);
	o.allow_empty = true;
	ok = ok && ASSERT_EQ(PARSE(text, o, &d, &dg), 0) && ASSERT_EQ(d.npfx, 0);
	ew_feed_data_free(&d);
	diag_free(&dg);
	o.allow_empty = false;
	ok = ok && ASSERT_EQ(parse("", 0, o, &d, &dg), -1);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_files_must_be_regular_and_bounded)
{
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	o = with_diag(o, &dg);
	ok = ASSERT_EQ(ew_feed_read("/dev/null", &o, &d), -1) && ASSERT_EQ(ew_feed_read(DATA, &o, &d), -1) &&
	     ASSERT_EQ(ew_feed_read(DATA "no-such-file", &o, &d), -1) &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "not a regular file") != NULL);
	o.max_bytes = 100;
	ok = ok && ASSERT_EQ(ew_feed_read(DATA "aws-ip-ranges.json", &o, &d), -1) &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "--max-size") != NULL);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_json_errors_have_lines)
{
	static const char aws[] = "{\n  \"syncToken\": \"1\",\n  \"createDate\": \"x\",\n  \"prefixes\": [\n"
				  "    { \"ip_prefix\": \"198.18.0.0/24\" },\n    { \"ip_prefix\": \"198.18.300.0/24\" },\n"
				  "    { \"ip_prefix\": \"198.18.1.0/24\" }\n  ]\n}\n";
	static const char broken[] = "{\n  \"syncToken\": \"1\",\n  \"prefixes\": [\n    { \"ip_prefix\": \"198.18.0.0/24\" }\n";
	static const char ndjson[] = "{\"cidr\":\"198.18.0.0/24\",\"sblid\":\"SBL1\"}\n{\"cidr\":\n"
				     "{\"sblid\":\"SBL2\"}\n{\"type\":\"metadata\",\"records\":3}\n";
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	o.max_bad_pct = 50;
	ok = ASSERT_EQ(PARSE(aws, o, &d, &dg), 0) && ASSERT_EQ(d.format, EW_FF_AWS) && ASSERT_EQ(d.n4, 2) &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "feed.txt:6: ") != NULL);
	if (!ok)
		EW_FAILF("diag: %s", diag_text(&dg));
	ew_feed_data_free(&d);
	diag_free(&dg);
	o.format = EW_FF_AWS;
	ok = ok && ASSERT_EQ(PARSE(broken, o, &d, &dg), -1) && ASSERT_TRUE(strstr(diag_text(&dg), "JSON") != NULL);
	diag_free(&dg);
	o.format = EW_FF_AUTO;
	o.max_bad_pct = 100;
	ok = ok && ASSERT_EQ(PARSE(ndjson, o, &d, &dg), 0) && ASSERT_EQ(d.format, EW_FF_SPAMHAUS_JSON) &&
	     ASSERT_EQ(d.n4, 1) && ASSERT_EQ(d.bad, 2) && ASSERT_EQ(d.lines, 3) &&
	     ASSERT_TRUE(strstr(diag_text(&dg), "feed.txt:2: ") && strstr(diag_text(&dg), "feed.txt:3: "));
	ew_feed_data_free(&d);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_format_specific_rejects)
{
	static const char tor[] = "ExitNode ABC\nPublished 2026-01-01 00:00:00\nExitAddress 198.18.0.1 x\n"
				  "Bogus line\nExitAddress\n";
	static const char ja4[] = "t13d1516h2_8daaf6152771_02713d6af862\nt13d1516h2_8daaf6152771\n"
				  "x13d1516h2_8daaf6152771_02713d6af862\n";
	static const char ja3[] = "# ja3_md5,Firstseen,Lastseen,Listingreason\n"
				  "b386946a5a44d1ddcc843bc75336dfce,2017-07-14,2019-07-27,Dridex\n"
				  "B386946A5A44D1DDCC843BC75336DFCE,2017-07-14,2019-07-27,Upper\nzzzz,1,2,3\n";
	static const char ipsum[] = "# IPsum\n198.18.0.1\t3\n198.18.0.2\n198.18.0.3\tx\n";
	struct ew_feed_opts o = defaults;
	struct ew_feed_data d;
	struct diag dg;
	bool ok;

	o.max_bad_pct = 100;
	ok = ASSERT_EQ(PARSE(tor, o, &d, &dg), 0) && ASSERT_EQ(d.format, EW_FF_TOR_ADDRS) && ASSERT_EQ(d.n4, 1) &&
	     ASSERT_EQ(d.bad, 2) && ASSERT_TRUE(strstr(diag_text(&dg), "feed.txt:4: unknown keyword") != NULL);
	ew_feed_data_free(&d);
	diag_free(&dg);
	ok = ok && ASSERT_EQ(PARSE(ja4, o, &d, &dg), 0) && ASSERT_EQ(d.format, EW_FF_JA4) && ASSERT_EQ(d.nfps, 1) &&
	     ASSERT_EQ(d.bad, 2);
	ew_feed_data_free(&d);
	diag_free(&dg);
	ok = ok && ASSERT_EQ(PARSE(ja3, o, &d, &dg), 0) && ASSERT_EQ(d.format, EW_FF_JA3_SSLBL) &&
	     ASSERT_EQ(d.nfps, 1) && ASSERT_EQ(d.bad, 2);
	ew_feed_data_free(&d);
	diag_free(&dg);
	ok = ok && ASSERT_EQ(PARSE(ipsum, o, &d, &dg), 0) && ASSERT_EQ(d.format, EW_FF_IPSUM) && ASSERT_EQ(d.n4, 1) &&
	     ASSERT_EQ(d.bad, 2);
	ew_feed_data_free(&d);
	diag_free(&dg);
	return ok;
}

EW_TEST(feed_checksum_is_sha256_of_the_file)
{
	static const uint8_t abc[32] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
					 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
					 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
	uint8_t out[32];

	ew_sha256("abc", 3, out);
	return ASSERT_TRUE(!memcmp(out, abc, 32));
}
