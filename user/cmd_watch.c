// SPDX-License-Identifier: BSD-2-Clause
/* edgeward watch: data-path events as lines, until interrupted. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "edgeward.h"

static const char usage[] =
	"usage: edgeward watch [-j] [--type hello|verdict|detect]... [--count N] [--timeout SEC]\n"
	"                      [--backlog]\n"
	"\n"
	"Prints the data path's events as they happen, one per line: classified TLS\n"
	"hellos (JA4, JA3, SNI, ALPN), flag/drop/would_drop verdicts, detector hits.\n"
	"The kernel admits at most 2000 events a second per CPU (bursts of 500);\n"
	"when events were suppressed by that limit or lost to a full ring, a line\n"
	"says how many. The ring has one reader: while `edgeward daemon` runs, its\n"
	"log has the events.\n"
	"\n"
	"  --type T      only events of type T (repeatable)\n"
	"  --backlog     also the events queued in the ring before watch started\n"
	"  --count N     exit after N events\n"
	"  --timeout S   exit after S seconds\n";

static volatile sig_atomic_t stop;

struct watch_ctx {
	unsigned int types; /* bit per enum ew_event_type; 0: all */
	long count, seen;
	bool backlog;
	__u64 start_ns; /* CLOCK_MONOTONIC at start, the events' clock */
};

static void on_signal(int sig)
{
	stop = 1;
}

static int on_event(void *ctx, const struct ew_event *e)
{
	struct watch_ctx *w = ctx;
	char line[512];

	if ((w->types && !(w->types & (1u << e->type))) || (w->count > 0 && w->seen >= w->count))
		return 0;
	if (!w->backlog && e->ts_ns < w->start_ns)
		return 0; /* queued before we started */
	if (ew_g.json) {
		ew_json_print(ew_event_json(e));
	} else {
		ew_event_line(line, sizeof(line), e);
		puts(line);
	}
	w->seen++;
	if (w->count > 0 && w->seen >= w->count)
		stop = 1;
	return 0;
}

/* Say how many events the kernel could not deliver since the last look. */
static void report_gap(struct ew_evstate *last)
{
	struct ew_evstate now;
	json_object *o;

	if (ew_evstate_read(&now))
		return;
	if (now.lost != last->lost || now.suppressed != last->suppressed) {
		if (ew_g.json) {
			o = json_object_new_object();
			json_object_object_add(o, "type", json_object_new_string("gap"));
			json_object_object_add(o, "suppressed", json_object_new_int64(now.suppressed - last->suppressed));
			json_object_object_add(o, "lost", json_object_new_int64(now.lost - last->lost));
			ew_json_print(o);
		} else {
			printf("-- %llu events suppressed by the rate limit, %llu lost to a full ring\n",
			       (unsigned long long)(now.suppressed - last->suppressed),
			       (unsigned long long)(now.lost - last->lost));
		}
	}
	*last = now;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "backlog", no_argument, NULL, 'b' },
		EW_COMMON_LONGOPTS,
		{},
	};
	struct watch_ctx w = {};
	struct ew_evstate last;
	struct ew_watch *ww;
	struct timespec start, now;
	double timeout = 0;
	char *end;
	int c, t, ret = 0;

	while ((c = getopt_long(argc, argv, EW_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (ew_common_opt(c, usage))
			continue;
		switch (c) {
		case 't':
			t = ew_event_type_parse(optarg);
			if (t < 0)
				ew_usage_error(usage, "--type must be hello, verdict or detect, not '%s'", optarg);
			w.types |= 1u << t;
			break;
		case 'n':
			w.count = strtol(optarg, &end, 10);
			if (*end || w.count <= 0)
				ew_usage_error(usage, "--count must be a number > 0, not '%s'", optarg);
			break;
		case 'b':
			w.backlog = true;
			break;
		case 'T':
			timeout = strtod(optarg, &end);
			if (*end || timeout <= 0)
				ew_usage_error(usage, "--timeout must be seconds > 0, not '%s'", optarg);
			break;
		default:
			ew_usage_error(usage, "bad option");
		}
	}
	if (optind < argc)
		ew_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (ew_require_caps(EW_NEED_BPF) || ew_abi_check())
		return 1;
	ww = ew_watch_open(on_event, &w);
	if (!ww || ew_evstate_read(&last)) {
		ew_watch_close(ww);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	w.start_ns = (__u64)start.tv_sec * 1000000000ull + start.tv_nsec;
	while (!stop) {
		if (ew_watch_poll(ww, 1000) < 0) {
			ew_err("reading events failed");
			ret = 1;
			break;
		}
		report_gap(&last);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout > 0 && (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 >= timeout)
			break;
	}
	ew_watch_close(ww);
	return ret;
}
