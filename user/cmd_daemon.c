// SPDX-License-Identifier: BSD-2-Clause
/*
 * edgeward daemon --config FILE: applies the configuration (interfaces,
 * block list, metrics), then serves metrics, logs events to stderr, and
 * re-reads the configuration on SIGHUP and when its files change. A bad
 * configuration is refused whole and the running one kept. On SIGTERM it
 * exits leaving the pinned data path running, unless told to detach.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "edgeward.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif

static const char usage[] =
	"usage: edgeward daemon --config FILE [--check] [--detach-on-exit]\n"
	"\n"
	"Attaches to the configured interfaces, loads the configured block list,\n"
	"fingerprint rules, threat feeds (with `edgeward feed load`) and detector\n"
	"policy,\n"
	"serves Prometheus metrics (HTTP /metrics and/or a node_exporter textfile),\n"
	"logs a line per data-path event to stderr, and re-reads FILE on SIGHUP and\n"
	"when FILE or a block-file changes. A configuration with errors is refused\n"
	"with FILE:LINE: reason, and the running one is kept. After start-up it\n"
	"keeps only CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON. On SIGTERM or SIGINT it\n"
	"exits and the data path keeps running from its pins.\n"
	"\n"
	"  --config FILE      the configuration (format: README, \"Configuration file\")\n"
	"  --check            parse and check FILE, change nothing, exit 0 if valid\n"
	"  --detach-on-exit   detach the configured interfaces on exit\n";

#define CFG_LABEL "config" /* label of the block-list entries the daemon owns */

struct daemon {
	struct ew_dcfg cur;
	bool have_cur;
	bool detach_on_exit;
	struct ew_metrics_srv *srv;
	struct ew_watch *watch;
	int efd, sfd, ifd, tfd, rfd; /* epoll, signals, inotify, textfile timer, reload timer */
	bool textfile_failing;
	/* Read by the metrics thread. */
	volatile uint64_t reloads_ok, reloads_failed, events_logged;
	volatile uint64_t last_ok_unix;
};

static void extra_metrics(void *ctx, FILE *f)
{
	struct daemon *d = ctx;

	fprintf(f, "# HELP edgeward_daemon_reloads_total Configuration loads, by result.\n"
		   "# TYPE edgeward_daemon_reloads_total counter\n"
		   "edgeward_daemon_reloads_total{result=\"ok\"} %llu\n"
		   "edgeward_daemon_reloads_total{result=\"error\"} %llu\n"
		   "# HELP edgeward_daemon_config_last_success_timestamp_seconds When the running configuration was loaded.\n"
		   "# TYPE edgeward_daemon_config_last_success_timestamp_seconds gauge\n"
		   "edgeward_daemon_config_last_success_timestamp_seconds %llu\n"
		   "# HELP edgeward_daemon_events_logged_total Data-path events the daemon logged.\n"
		   "# TYPE edgeward_daemon_events_logged_total counter\n"
		   "edgeward_daemon_events_logged_total %llu\n",
		(unsigned long long)d->reloads_ok, (unsigned long long)d->reloads_failed,
		(unsigned long long)d->last_ok_unix, (unsigned long long)d->events_logged);
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("edgeward daemon: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- interfaces ---------------------------------------------------------------- */

static const struct ew_dcfg_iface *find_iface(const struct ew_dcfg *c, const char *name)
{
	for (int i = 0; c && i < c->nifaces; i++)
		if (!strcmp(c->ifaces[i].name, name))
			return &c->ifaces[i];
	return NULL;
}

/* Attach what is new or changed, detach what is gone. First apply re-attaches all. */
static int apply_ifaces(const struct ew_dcfg *n, const struct ew_dcfg *old)
{
	int ret = 0;

	for (int i = 0; old && i < old->nifaces; i++) {
		if (find_iface(n, old->ifaces[i].name))
			continue;
		if (ew_detach(old->ifaces[i].name))
			ret = -1;
		else
			logmsg("detached from %s", old->ifaces[i].name);
	}
	for (int i = 0; i < n->nifaces; i++) {
		const struct ew_dcfg_iface *ni = &n->ifaces[i], *oi = find_iface(old, ni->name);
		struct ew_attach_opts o = { .xdp_mode = ni->mode, .monitor = ni->monitor };

		if (oi && oi->mode == ni->mode && oi->monitor == ni->monitor)
			continue;
		if (oi && oi->mode != ni->mode && ew_detach(ni->name)) {
			ret = -1;
			continue;
		}
		if (ew_attach(ni->name, &o)) {
			ret = -1;
			continue;
		}
		logmsg("attached to %s (%s%s)", ni->name, ni->mode == 2 ? "generic" : "native",
		       ni->monitor ? ", monitor" : "");
	}
	return ret;
}

/* --- block list: entries labelled CFG_LABEL are the daemon's --------------------- */

/* A key of ew_pfx4 (space 4), ew_pfx6 (6) or ew_fprules ('f'), for sorting and bsearch. */
struct bkey {
	__u8 space;
	__u8 k[sizeof(struct ew_fp_key)];
};

static int bkey_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct bkey));
}

static void bkey_of(struct bkey *bk, const struct ew_prefix *p)
{
	struct ew_pfx4_key k4;
	struct ew_pfx6_key k6;
	void *k = ew_pfx_key(p, &k4, &k6);

	memset(bk, 0, sizeof(*bk));
	bk->space = p->family;
	memcpy(bk->k, k, p->family == 4 ? sizeof(k4) : sizeof(k6));
}

/*
 * Delete the daemon's entries (label CFG_LABEL at label_off in the value) of
 * one map that the new configuration lacks. want is sorted.
 */
static long prune(int fd, int space, size_t ks, size_t label_off, const struct bkey *want, size_t nwant)
{
	struct bkey cur, next, *gone = NULL;
	char v[256];
	size_t ngone = 0, cap = 0;
	void *prev = NULL;
	long n = 0;

	memset(&cur, 0, sizeof(cur));
	memset(&next, 0, sizeof(next));
	cur.space = next.space = space;
	/* Collect first: deleting while walking restarts the walk. */
	while (bpf_map_get_next_key(fd, prev, next.k) == 0) {
		memcpy(cur.k, next.k, ks);
		prev = cur.k;
		if (bpf_map_lookup_elem(fd, cur.k, v) || strncmp(v + label_off, CFG_LABEL, EW_LABEL_LEN))
			continue;
		if (bsearch(&cur, want, nwant, sizeof(*want), bkey_cmp))
			continue;
		if (ngone == cap) {
			struct bkey *g = realloc(gone, (cap = cap ? cap * 2 : 64) * sizeof(*g));

			if (!g)
				break;
			gone = g;
		}
		gone[ngone++] = cur;
	}
	for (size_t i = 0; i < ngone; i++)
		if (bpf_map_delete_elem(fd, gone[i].k) == 0)
			n++;
	free(gone);
	return n;
}

static int apply_blocks(const struct ew_dcfg *c)
{
	struct bkey *want = calloc(c->nblocks ? c->nblocks : 1, sizeof(*want));
	int fd4 = -1, fd6 = -1, ret = -1;
	long changed = 0;

	if (!want)
		return -1;
	if (!c->nblocks && !ew_pins_exist()) {
		free(want);
		return 0;
	}
	fd4 = ew_map_open("ew_pfx4");
	fd6 = fd4 < 0 ? -1 : ew_map_open("ew_pfx6");
	if (fd4 < 0 || fd6 < 0)
		goto out;
	for (size_t i = 0; i < c->nblocks; i++)
		bkey_of(&want[i], &c->blocks[i].p);
	qsort(want, c->nblocks, sizeof(*want), bkey_cmp);
	changed += prune(fd4, 4, sizeof(struct ew_pfx4_key), offsetof(struct ew_pfx_val, label), want, c->nblocks);
	changed += prune(fd6, 6, sizeof(struct ew_pfx6_key), offsetof(struct ew_pfx_val, label), want, c->nblocks);
	for (size_t i = 0; i < c->nblocks; i++) {
		const struct ew_dcfg_block *b = &c->blocks[i];
		struct ew_pfx4_key k4;
		struct ew_pfx6_key k6;
		struct ew_pfx_val v;
		int fd = b->p.family == 4 ? fd4 : fd6;

		if (bpf_map_lookup_elem(fd, ew_pfx_key(&b->p, &k4, &k6), &v) == 0 && v.action == b->action &&
		    !strncmp(v.label, CFG_LABEL, EW_LABEL_LEN))
			continue;
		if (ew_pfx_put(fd4, fd6, &b->p, b->action, CFG_LABEL)) {
			char buf[64];

			ew_prefix_fmt(&b->p, buf, sizeof(buf));
			ew_err("adding %s to the block list: %s", buf, strerror(errno));
			goto out;
		}
		changed++;
	}
	if (changed && ew_rules_changed())
		goto out;
	if (changed)
		logmsg("block list: %ld entries changed, %zu configured", changed, c->nblocks);
	ret = 0;
out:
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	free(want);
	return ret;
}

static void add_fd(struct daemon *d, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	epoll_ctl(d->efd, EPOLL_CTL_ADD, fd, &ev);
}

/* Fingerprint rules: like the block list, the entries labelled CFG_LABEL are the daemon's. */
static int apply_fps(const struct ew_dcfg *c)
{
	struct bkey *want;
	long changed = 0;
	int fd, ret = -1;

	if (!c->nfps && !ew_pins_exist())
		return 0;
	fd = ew_map_open("ew_fprules");
	if (fd < 0)
		return -1;
	want = calloc(c->nfps ? c->nfps : 1, sizeof(*want));
	if (!want)
		goto out;
	for (size_t i = 0; i < c->nfps; i++) {
		want[i].space = 'f';
		memcpy(want[i].k, &c->fps[i].k, sizeof(c->fps[i].k));
	}
	qsort(want, c->nfps, sizeof(*want), bkey_cmp);
	changed += prune(fd, 'f', sizeof(struct ew_fp_key), offsetof(struct ew_fp_val, label), want, c->nfps);
	for (size_t i = 0; i < c->nfps; i++) {
		struct ew_fp_val v = {}, old;

		if (bpf_map_lookup_elem(fd, &c->fps[i].k, &old) == 0) {
			if (old.action == c->fps[i].action && !strncmp(old.label, CFG_LABEL, EW_LABEL_LEN))
				continue;
			v.hits = old.hits;
		}
		v.action = c->fps[i].action;
		snprintf(v.label, sizeof(v.label), "%s", CFG_LABEL);
		if (bpf_map_update_elem(fd, &c->fps[i].k, &v, BPF_ANY)) {
			ew_err("adding fingerprint rule %.*s: %s", (int)sizeof(c->fps[i].k.val), c->fps[i].k.val,
			       strerror(errno));
			goto out;
		}
		changed++;
	}
	if (changed && ew_rules_changed())
		goto out;
	if (changed)
		logmsg("fingerprint rules: %ld changed, %zu configured", changed, c->nfps);
	ret = 0;
out:
	free(want);
	close(fd);
	return ret;
}

/* --- feeds: `edgeward feed` does the work, in a child -------------------------------- */

/* Run another command's entry point in a child: its exit() and getopt state stay there. */
static int run_cmd(int (*fn)(int, char **), char **argv)
{
	int argc = 0, st;
	pid_t pid;

	while (argv[argc])
		argc++;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		optind = 0;
		ew_g.json = false;
		ew_g.cmd = argv[0];
		st = fn(argc, argv);
		fflush(NULL);
		_exit(st ? 1 : 0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* `feed load NAME FILE [options] [--check]` for one configured feed. */
static int feed_load(const struct ew_dcfg_feed *f, bool check)
{
	char *argv[16];
	int n = 0;

	argv[n++] = "feed";
	argv[n++] = "load";
	argv[n++] = (char *)f->name;
	argv[n++] = (char *)f->file;
	if (f->format[0]) {
		argv[n++] = "--format";
		argv[n++] = (char *)f->format;
	}
	if (f->action[0]) {
		argv[n++] = "--action";
		argv[n++] = (char *)f->action;
	}
	if (f->min_score[0]) {
		argv[n++] = "--min-score";
		argv[n++] = (char *)f->min_score;
	}
	if (check)
		argv[n++] = "--check";
	argv[n] = NULL;
	return run_cmd(cmd_feed, argv);
}

static bool has_feed(const struct ew_dcfg *c, const char *name)
{
	for (int i = 0; c && i < c->nfeeds; i++)
		if (!strcmp(c->feeds[i].name, name))
			return true;
	return false;
}

/* Load every configured feed (a reload re-reads the files); delete those that left. */
static int apply_feeds(const struct ew_dcfg *n, const struct ew_dcfg *old)
{
	int ret = 0;

	for (int i = 0; old && i < old->nfeeds; i++) {
		char *argv[] = { "feed", "del", (char *)old->feeds[i].name, NULL };

		if (has_feed(n, old->feeds[i].name))
			continue;
		if (run_cmd(cmd_feed, argv))
			ret = -1;
		else
			logmsg("feed %s deleted", old->feeds[i].name);
	}
	for (int i = 0; i < n->nfeeds; i++)
		if (feed_load(&n->feeds[i], false))
			ret = -1;
	return ret;
}

/* Detector policy and thresholds through `edgeward policy`. A reason that
 * leaves the file goes back to flag, the default; thresholds keep their value. */
static int apply_policy(const struct ew_dcfg *n, const struct ew_dcfg *old)
{
	int ret = 0;

	for (int bit = 1; bit < EW_EV_MAX; bit++) {
		const char *want = n->policy[bit][0] ? n->policy[bit] : old && old->policy[bit][0] ? "flag" : NULL;
		char *argv[] = { "policy", "set", (char *)ew_evidence_name(bit), (char *)want, NULL };

		if (want && run_cmd(cmd_policy, argv))
			ret = -1;
	}
	for (int i = 0; i < n->nthresholds; i++) {
		char *argv[] = { "policy", "threshold", (char *)n->thresholds[i].name, (char *)n->thresholds[i].value,
				 NULL };

		if (run_cmd(cmd_policy, argv))
			ret = -1;
	}
	return ret;
}

/* --- watching the files ---------------------------------------------------------- */

static void watch_files(struct daemon *d, const struct ew_dcfg *c)
{
	char buf[4200];

	/* One instance for the daemon's life: events between reloads are never lost. */
	if (d->ifd < 0) {
		d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (d->ifd < 0) {
			ew_warn("inotify: %s; reload with SIGHUP", strerror(errno));
			return;
		}
		add_fd(d, d->ifd);
	}
	/* Watch directories: editors replace files by renaming over them. */
	for (int i = -1; i < c->nfiles; i++) {
		snprintf(buf, sizeof(buf), "%s", i < 0 ? c->path : c->files[i]);
		if (inotify_add_watch(d->ifd, dirname(buf), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
			ew_warn("watching %s: %s", buf, strerror(errno));
	}
}

/* Did the inotify events name one of the configuration's files? */
static bool files_changed(struct daemon *d)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t len;

	while ((len = read(d->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *e = (const void *)p;

			for (int i = -1; e->len && i < d->cur.nfiles; i++) {
				char tmp[4200];

				snprintf(tmp, sizeof(tmp), "%s", i < 0 ? d->cur.path : d->cur.files[i]);
				if (!strcmp(basename(tmp), e->name))
					hit = true;
			}
			p += sizeof(*e) + e->len;
		}
	}
	return hit;
}

static void textfile_timer(struct daemon *d, const struct ew_dcfg *c)
{
	struct itimerspec its = { 0 };

	if (c->textfile[0]) {
		its.it_value.tv_nsec = 1; /* now, then every interval */
		its.it_interval.tv_sec = c->interval_s;
	}
	timerfd_settime(d->tfd, 0, &its, NULL);
}

/* --- loading ------------------------------------------------------------------------ */

/* Parse, check, apply. On any error before the data path changes, nothing changes. */
static int load(struct daemon *d, const char *path)
{
	struct ew_dcfg n;
	struct ew_metrics_srv *srv = NULL;
	bool new_srv;
	int ret = 0;

	if (ew_dcfg_parse(path, &n)) {
		logmsg("%s refused%s", path, d->have_cur ? ": keeping the running configuration" : "");
		d->reloads_failed++;
		return -1;
	}
	if (n.nblocks && !n.nifaces && !ew_pins_exist()) {
		fprintf(stderr, "%s: block entries need an interface or an attached edgeward\n", path);
		d->reloads_failed++;
		ew_dcfg_free(&n);
		return -1;
	}
	/* Feed files are checked whole before anything changes, as the configuration is. */
	for (int i = 0; i < n.nfeeds; i++) {
		if (feed_load(&n.feeds[i], true)) {
			fprintf(stderr, "%s: feed %s (%s) refused (see above)\n", path, n.feeds[i].name, n.feeds[i].file);
			d->reloads_failed++;
			logmsg("%s refused%s", path, d->have_cur ? ": keeping the running configuration" : "");
			ew_dcfg_free(&n);
			return -1;
		}
	}
	/* A new metrics address must bind before anything changes. */
	new_srv = strcmp(n.metrics, d->have_cur ? d->cur.metrics : "");
	if (new_srv && n.metrics[0]) {
		if (d->srv && d->have_cur && d->cur.metrics[0]) {
			ew_metrics_stop(d->srv);
			d->srv = NULL;
		}
		srv = ew_metrics_start((struct sockaddr *)&n.metrics_addr, n.metrics_len, extra_metrics, d);
		if (!srv) {
			fprintf(stderr, "%s: metrics %s: cannot listen (%s)\n", path, n.metrics, strerror(errno));
			d->reloads_failed++;
			ew_dcfg_free(&n);
			if (d->have_cur && d->cur.metrics[0])
				d->srv = ew_metrics_start((struct sockaddr *)&d->cur.metrics_addr, d->cur.metrics_len,
							  extra_metrics, d);
			return -1;
		}
	}
	if (apply_ifaces(&n, d->have_cur ? &d->cur : NULL) || apply_blocks(&n) || apply_fps(&n) ||
	    apply_feeds(&n, d->have_cur ? &d->cur : NULL) || apply_policy(&n, d->have_cur ? &d->cur : NULL))
		ret = -1;
	if (new_srv) {
		ew_metrics_stop(d->srv);
		d->srv = srv;
		if (srv)
			logmsg("serving metrics on http://%s/metrics", n.metrics);
	}
	if (ret) {
		logmsg("%s applied with errors (see above)", path);
		d->reloads_failed++;
	} else {
		logmsg("%s loaded: %d interfaces, %zu block entries, %zu fingerprint rules, %d feeds%s%s", path,
		       n.nifaces, n.nblocks, n.nfps, n.nfeeds, n.textfile[0] ? ", textfile " : "", n.textfile);
		d->reloads_ok++;
		d->last_ok_unix = time(NULL);
	}
	textfile_timer(d, &n);
	watch_files(d, &n);
	if (d->have_cur)
		ew_dcfg_free(&d->cur);
	d->cur = n;
	d->have_cur = true;
	return ret;
}

/* --- privileges ------------------------------------------------------------------------ */

/* Keep what re-attaching on reload needs; drop every other capability for good. */
static int drop_caps(void)
{
	static const cap_value_t keep[] = { CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON };
	cap_t c;
	char *txt;
	int ret = 0;

	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		bool k = false;

		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			k |= keep[i] == v;
		if (!k && CAP_IS_SUPPORTED(v) && cap_drop_bound(v) && errno != EINVAL)
			ret = -1;
	}
	c = cap_init();
	if (!c || cap_set_flag(c, CAP_PERMITTED, 3, keep, CAP_SET) || cap_set_flag(c, CAP_EFFECTIVE, 3, keep, CAP_SET) ||
	    cap_set_proc(c)) {
		ew_err("dropping capabilities: %s", strerror(errno));
		cap_free(c);
		return -1;
	}
	cap_free(c);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	c = cap_get_proc();
	txt = c ? cap_to_text(c, NULL) : NULL;
	logmsg("capabilities now: %s%s", txt ? txt : "?", ret ? " (bounding set not fully dropped)" : "");
	cap_free(txt);
	cap_free(c);
	return 0;
}

/* --- events ---------------------------------------------------------------------------- */

static int on_event(void *ctx, const struct ew_event *e)
{
	struct daemon *d = ctx;
	char line[512];

	if (!d->cur.log_events)
		return 0;
	ew_event_line(line, sizeof(line), e);
	fprintf(stderr, "event: %s\n", line);
	d->events_logged++;
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "detach-on-exit", no_argument, NULL, 'd' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct daemon d = { .efd = -1, .sfd = -1, .ifd = -1, .tfd = -1, .rfd = -1 };
	const char *path = NULL;
	bool check = false, running = true;
	sigset_t mask;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'd':
			d.detach_on_exit = true;
			break;
		default:
			ew_usage_error(usage, "bad option");
		}
	}
	if (!path)
		ew_usage_error(usage, "--config FILE is required");
	if (optind < argc)
		ew_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (check) {
		struct ew_dcfg n;

		if (ew_dcfg_parse(path, &n))
			return 1;
		printf("%s: ok (%d interfaces, %zu block entries)\n", path, n.nifaces, n.nblocks);
		ew_dcfg_free(&n);
		return 0;
	}
	if (ew_require_caps(EW_NEED_BPF | EW_NEED_NET) || ew_abi_check())
		return 1;
	/* Scrapes come every few seconds; counting a big flow table takes seconds. */
	ew_counters_flows_max_age_s = 30;
	setvbuf(stderr, NULL, _IOLBF, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.efd = epoll_create1(EPOLL_CLOEXEC);
	d.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d.rfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d.sfd < 0 || d.efd < 0 || d.tfd < 0 || d.rfd < 0) {
		ew_err("setting up: %s", strerror(errno));
		return 1;
	}
	add_fd(&d, d.sfd);
	add_fd(&d, d.tfd);
	add_fd(&d, d.rfd);
	if (load(&d, path)) {
		if (!d.reloads_ok && !d.have_cur)
			return 1;
		if (!d.reloads_ok) {
			ret = 1;
			goto out;
		}
	}
	if (d.cur.drop_caps && drop_caps()) {
		ret = 1;
		goto out;
	}
	if (ew_pins_exist()) {
		d.watch = ew_watch_open(on_event, &d);
		if (d.watch)
			add_fd(&d, ew_watch_fd(d.watch));
	}
	logmsg("running (pid %d)", (int)getpid());
	while (running) {
		struct epoll_event evs[8];
		int n = epoll_wait(d.efd, evs, 8, -1);

		if (n < 0 && errno != EINTR) {
			ew_err("epoll: %s", strerror(errno));
			ret = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == d.sfd) {
				struct signalfd_siginfo si;

				if (read(d.sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					logmsg("SIGHUP: reloading %s", path);
					load(&d, path);
				} else {
					logmsg("%s: exiting", strsignal(si.ssi_signo));
					running = false;
				}
			} else if (fd == d.ifd) {
				/* Let a writer finish: reload 200 ms after the last change. */
				struct itimerspec its = { .it_value.tv_nsec = 200000000 };

				if (files_changed(&d))
					timerfd_settime(d.rfd, 0, &its, NULL);
			} else if (fd == d.rfd) {
				uint64_t ticks;

				if (read(d.rfd, &ticks, sizeof(ticks)) > 0) {
					logmsg("configuration files changed: reloading %s", path);
					load(&d, path);
				}
			} else if (fd == d.tfd) {
				uint64_t ticks;
				bool failing;

				if (read(d.tfd, &ticks, sizeof(ticks)) <= 0 || !d.cur.textfile[0])
					continue;
				failing = ew_metrics_textfile(d.cur.textfile, extra_metrics, &d) != 0;
				if (failing != d.textfile_failing)
					logmsg("textfile %s: %s", d.cur.textfile, failing ? "not written (see above)" : "written again");
				d.textfile_failing = failing;
			} else if (d.watch) {
				ew_watch_poll(d.watch, 0);
			}
		}
		/* The first attach may come with a reload: start reading events then. */
		if (!d.watch && ew_pins_exist()) {
			d.watch = ew_watch_open(on_event, &d);
			if (d.watch)
				add_fd(&d, ew_watch_fd(d.watch));
		}
	}
out:
	if (d.detach_on_exit || (d.have_cur && d.cur.detach_on_exit)) {
		for (int i = 0; i < d.cur.nifaces; i++)
			if (ew_detach(d.cur.ifaces[i].name) == 0)
				logmsg("detached from %s", d.cur.ifaces[i].name);
	} else {
		logmsg("the data path keeps running from %s", ew_g.pin_dir);
	}
	ew_watch_close(d.watch);
	ew_metrics_stop(d.srv);
	if (d.have_cur)
		ew_dcfg_free(&d.cur);
	close(d.efd);
	close(d.sfd);
	close(d.tfd);
	close(d.rfd);
	if (d.ifd >= 0)
		close(d.ifd);
	return ret;
}
