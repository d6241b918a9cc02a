// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests: the daemon's configuration file (user/daemon_cfg.c). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "lib/test.h"
#include "edgeward.h"

/* Write text to a temporary file; its path in path (caller unlinks). */
static bool write_tmp(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/ew-cfg-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return false;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* Parse text; what the parser printed on stderr lands in err. */
static int parse_text(const char *text, struct ew_dcfg *c, char *path, char *err, size_t errlen)
{
	char epath[] = "/tmp/ew-cfg-err-XXXXXX";
	int efd = mkstemp(epath), saved = dup(2), ret;
	ssize_t n;

	if (!write_tmp(path, text) || efd < 0)
		return -2;
	fflush(stderr);
	dup2(efd, 2);
	ret = ew_dcfg_parse(path, c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(efd, err, errlen - 1, 0);
	err[n > 0 ? n : 0] = 0;
	close(efd);
	unlink(epath);
	return ret;
}

EW_TEST(daemon_cfg_valid)
{
	char path[64], err[1024], bpath[64], text[768];
	struct ew_dcfg c;
	bool ok;

	CHECK(write_tmp(bpath, "# block file\n198.18.5.0/24=flag\n\n2001:db8:5::/48 # drop by default\n"));
	snprintf(text, sizeof(text),
		 "# comment\n"
		 "interface lo generic monitor\n"
		 "block 198.18.0.77/32=drop 2001:db8::77=allow   # two\n"
		 "block-file %s\n"
		 "metrics [::1]:19470\n"
		 "metrics-textfile /tmp/x.prom\n"
		 "metrics-interval 5\n"
		 "log-events no\n"
		 "detach-on-exit yes\n"
		 "feed tor %s format cidr action flag\n"
		 "policy conn_rate drop\n"
		 "threshold rate-per-s 50\n"
		 "fp ja4 t13d1516h2_8daaf6152771=allow t13d1516h2_8daaf6152771_e5627efa2ab1\n",
		 bpath, bpath);
	ok = ASSERT_EQ(parse_text(text, &c, path, err, sizeof(err)), 0) && ASSERT_STREQ(err, "") &&
	     ASSERT_EQ(c.nifaces, 1) && ASSERT_STREQ(c.ifaces[0].name, "lo") && ASSERT_EQ(c.ifaces[0].mode, 2) &&
	     ASSERT_TRUE(c.ifaces[0].monitor) && ASSERT_EQ(c.nblocks, 4) && ASSERT_EQ(c.blocks[0].action, EW_A_DROP) &&
	     ASSERT_EQ(c.blocks[1].action, EW_A_ALLOW) && ASSERT_EQ(c.blocks[2].action, EW_A_FLAG) &&
	     ASSERT_EQ(c.blocks[3].p.len, 48) && ASSERT_STREQ(c.metrics, "[::1]:19470") &&
	     ASSERT_EQ(c.metrics_addr.ss_family, AF_INET6) && ASSERT_EQ(c.interval_s, 5) && ASSERT_TRUE(!c.log_events) &&
	     ASSERT_TRUE(c.detach_on_exit) && ASSERT_TRUE(c.drop_caps) && ASSERT_EQ(c.nfeeds, 1) &&
	     ASSERT_STREQ(c.feeds[0].format, "cidr") && ASSERT_STREQ(c.feeds[0].action, "flag") && ASSERT_EQ(c.nfiles, 2) &&
	     ASSERT_STREQ(c.policy[ew_evidence_parse("conn_rate")], "drop") && ASSERT_STREQ(c.policy[1], "") &&
	     ASSERT_EQ(c.nthresholds, 1) && ASSERT_STREQ(c.thresholds[0].value, "50") && ASSERT_EQ(c.nfps, 2) &&
	     ASSERT_EQ(c.fps[0].k.kind, EW_FR_JA4_AB) && ASSERT_EQ(c.fps[0].action, EW_A_ALLOW) &&
	     ASSERT_EQ(c.fps[1].k.kind, EW_FR_JA4) && ASSERT_EQ(c.fps[1].action, EW_A_DROP);
	ew_dcfg_free(&c);
	unlink(path);
	unlink(bpath);
	return ok;
}

/* Each bad line is reported as FILE:LINE: reason, and the file is refused whole. */
EW_TEST(daemon_cfg_errors_name_file_and_line)
{
	static const struct {
		const char *text;
		int line;
		const char *reason;
	} rows[] = {
		{ "interface lo\nbogus 1\n", 2, "unknown directive 'bogus'" },
		{ "\n\ninterface no-such-if0\n", 3, "no interface named 'no-such-if0'" },
		{ "interface lo turbo\n", 1, "not native, generic or monitor" },
		{ "interface lo\ninterface lo\n", 2, "configured twice" },
		{ "block 198.18.0.300\n", 1, "198.18.0.300" },
		{ "block 198.18.0.1=explode\n", 1, "explode" },
		{ "metrics 127.0.0.1\n", 1, "metrics takes ADDR:PORT" },
		{ "metrics-interval 0\n", 1, "1..3600" },
		{ "log-events maybe\n", 1, "yes or no" },
		{ "metrics-textfile relative.prom\n", 1, "absolute" },
		{ "detector x\n", 1, "'detector' is not supported in this build" },
		{ "fp ja4 t13d=drop\n", 1, "is not a JA4" },
		{ "fp ja3 abc\n", 1, "is not a JA3" },
		{ "fp ja5 t13d1516h2_8daaf6152771\n", 1, "fp takes ja4|ja3" },
		{ "fp ja4 t13d1516h2_8daaf6152771=boom\n", 1, "not drop, flag or allow" },
		{ "policy conn_rate explode\n", 1, "not drop, flag or off" },
		{ "policy fp_rule drop\n", 1, "is not relay_rtt" },
		{ "threshold rate-per-s fast\n", 1, "not a number" },
		{ "threshold warp-speed 9\n", 1, "unknown name 'warp-speed'" },
		{ "feed tor /nonexistent/tor.txt\n", 1, "feed tor: /nonexistent/tor.txt: No such file" },
		{ "feed tor /dev/null speed 3\n", 1, "not format, action or min-score" },
		{ "feed tor /dev/null action explode\n", 1, "drop, flag or allow" },
		{ "block-file /nonexistent/block.txt\n", 1, "No such file" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char path[64], err[1024], want[128];
		struct ew_dcfg c;
		int r = parse_text(rows[i].text, &c, path, err, sizeof(err));

		snprintf(want, sizeof(want), "%s:%d: ", path, rows[i].line);
		unlink(path);
		if (!ASSERT_EQ(r, -1) || !ASSERT_TRUE(strstr(err, want) == err) ||
		    !ASSERT_TRUE(strstr(err, rows[i].reason) != NULL)) {
			EW_FAILF("row %zu: stderr was: %s", i, err);
			return false;
		}
	}
	return true;
}
