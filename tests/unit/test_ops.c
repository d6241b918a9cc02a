// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests of the operating pieces: flow keys from socket addresses and
 * per-CPU sums (lib/lookup.c), the rendering of counters as JSON, table and
 * Prometheus text (user/counters.c), and event lines (user/events.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "lib/test.h"
#include "edgeward.h"
#include "edgeward/lookup.h"

static struct sockaddr_in sin4(const char *a, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static struct sockaddr_in6 sin6(const char *a, int port)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, a, &s.sin6_addr);
	return s;
}

EW_TEST(lookup_key_ipv4_is_mapped)
{
	struct sockaddr_in c = sin4("198.18.0.1", 40000), s = sin4("198.18.0.2", 443);
	struct ew_flow_key k;
	static const __u8 want[16] = { [10] = 0xff, [11] = 0xff, [12] = 198, [13] = 18, [14] = 0, [15] = 1 };

	CHECK(ASSERT_EQ(ew_lookup_make_key(&k, (void *)&c, (void *)&s, 6), 0));
	return ASSERT_EQ(memcmp(k.saddr, want, 16), 0) && ASSERT_EQ(k.daddr[15], 2) &&
	       ASSERT_EQ(ntohs(k.sport), 40000) && ASSERT_EQ(ntohs(k.dport), 443) && ASSERT_EQ(k.family, 4) &&
	       ASSERT_EQ(k.proto, 6) && ASSERT_EQ(k.pad[0] | k.pad[1], 0);
}

EW_TEST(lookup_key_ipv6_and_mapped_socket)
{
	struct sockaddr_in6 c = sin6("2001:db8::1", 5555), s = sin6("2001:db8::2", 443);
	struct sockaddr_in6 mc = sin6("::ffff:198.18.0.1", 40000), ms = sin6("::ffff:198.18.0.2", 443);
	struct sockaddr_in v4 = sin4("198.18.0.2", 443);
	struct ew_flow_key k, k4;

	CHECK(ASSERT_EQ(ew_lookup_make_key(&k, (void *)&c, (void *)&s, 17), 0));
	CHECK(ASSERT_EQ(k.family, 6) && ASSERT_EQ(k.saddr[15], 1) && ASSERT_EQ(k.proto, 17));
	/* A dual-stack socket's IPv4 peer keys like a plain IPv4 socket's. */
	CHECK(ASSERT_EQ(ew_lookup_make_key(&k, (void *)&mc, (void *)&ms, 6), 0));
	CHECK(ASSERT_EQ(k.family, 4));
	CHECK(ASSERT_EQ(ew_lookup_make_key(&k4, (void *)&(struct sockaddr_in){ .sin_family = AF_INET }, (void *)&v4, 6), 0));
	/* Mixed families cannot be one flow. */
	return ASSERT_EQ(ew_lookup_make_key(&k, (void *)&c, (void *)&v4, 6), -EAFNOSUPPORT);
}

EW_TEST(lookup_flow_sum_over_cpus)
{
	struct ew_flow pc[3] = {
		{ .packets = { 1, 2 }, .bytes = { 100, 200 }, .first_ns = 50, .last_ns = 60, .gen = 1, .verdict = EW_A_PASS, .tcp_flags = { 2, 0 } },
		{}, /* a CPU that never saw the flow */
		{ .packets = { 3, 0 }, .bytes = { 300, 0 }, .first_ns = 40, .last_ns = 90, .gen = 1, .verdict = EW_A_DROP,
		  .reason = EW_R_PREFIX, .tcp_flags = { 0x10, 0 } },
	};
	struct ew_flow s;

	ew_flow_sum(&s, pc, 3, sizeof(pc[0]));
	return ASSERT_EQ(s.packets[0], 4) && ASSERT_EQ(s.packets[1], 2) && ASSERT_EQ(s.bytes[0], 400) &&
	       ASSERT_EQ(s.first_ns, 40) && ASSERT_EQ(s.last_ns, 90) && ASSERT_EQ(s.verdict, EW_A_DROP) &&
	       ASSERT_EQ(s.reason, EW_R_PREFIX) && ASSERT_EQ(s.tcp_flags[0], 0x12) &&
	       ASSERT_STREQ(ew_lookup_action_name(s.verdict), "drop") && ASSERT_STREQ(ew_lookup_action_name(9), "unknown");
}

static const struct ew_group g_test = {
	.json = "counters",
	.style = EW_JSON_ROWS,
	.labels = { "hook", "label" },
	.values = { "packets", "bytes" },
	.metrics = { "edgeward_t_packets_total", "edgeward_t_bytes_total" },
	.types = { "counter", "counter" },
	.help = { "Test packets.", "Test bytes." },
};

static const struct ew_group g_test_map = {
	.json = "events",
	.style = EW_JSON_MAP_LABEL,
	.labels = { "event" },
	.values = { "count" },
	.metrics = { "edgeward_t_events_total" },
	.types = { "counter" },
	.help = { "Test events." },
};

static char *render(const struct ew_counters *c, int how)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (how == 0)
		ew_counters_prometheus(c, f);
	else
		ew_counters_table(c, f);
	fclose(f);
	return buf;
}

EW_TEST(counters_render_prometheus_json_table)
{
	struct ew_row rows[3] = {
		{ .g = &g_test, .lv = { "xdp", "tor \"exits\"\\" }, .v = { 3, 300 } },
		{ .g = &g_test, .lv = { "tc", "b" }, .v = { 1, 10 } },
		{ .g = &g_test_map, .lv = { "flows_created" }, .v = { 7 } },
	};
	struct ew_counters c = { .rows = rows, .n = 3, .ncpus = 1 };
	json_object *j = ew_counters_json(&c), *arr, *ev, *v;
	char *prom = render(&c, 0), *tab = render(&c, 1);
	bool ok;

	ok = ASSERT_TRUE(strstr(prom, "# HELP edgeward_t_packets_total Test packets.\n"
				      "# TYPE edgeward_t_packets_total counter\n"
				      "edgeward_t_packets_total{hook=\"xdp\",label=\"tor \\\"exits\\\"\\\\\"} 3\n"
				      "edgeward_t_packets_total{hook=\"tc\",label=\"b\"} 1\n") != NULL) &&
	     ASSERT_TRUE(strstr(prom, "edgeward_t_bytes_total{hook=\"tc\",label=\"b\"} 10\n") != NULL) &&
	     ASSERT_TRUE(strstr(prom, "edgeward_t_events_total{event=\"flows_created\"} 7\n") != NULL) &&
	     ASSERT_TRUE(strstr(tab, "flows_created") != NULL) && ASSERT_TRUE(strstr(tab, "PACKETS") != NULL) &&
	     ASSERT_TRUE(json_object_object_get_ex(j, "counters", &arr)) &&
	     ASSERT_EQ(json_object_array_length(arr), 2) &&
	     ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(arr, 1), "bytes", &v)) &&
	     ASSERT_EQ(json_object_get_int64(v), 10) && ASSERT_TRUE(json_object_object_get_ex(j, "events", &ev)) &&
	     ASSERT_TRUE(json_object_object_get_ex(ev, "flows_created", &v)) && ASSERT_EQ(json_object_get_int64(v), 7);
	free(prom);
	free(tab);
	json_object_put(j);
	return ok;
}

EW_TEST(event_line_and_json)
{
	struct ew_event e = { .type = EW_EVT_HELLO, .hook = EW_HOOK_XDP, .reason = EW_R_NONE, .action = EW_A_FLAG,
			      .evidence = EW_E_RELAY_RTT };
	struct sockaddr_in c = sin4("198.18.0.9", 41000), s = sin4("198.18.0.2", 443);
	json_object *o, *v;
	char line[512];
	bool ok;

	ew_lookup_make_key(&e.key, (void *)&c, (void *)&s, 6);
	strcpy(e.u.tls.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	strcpy(e.u.tls.sni, "api.example");
	ew_event_line(line, sizeof(line), &e);
	o = ew_event_json(&e);
	ok = ASSERT_TRUE(strstr(line, "hello") != NULL) && ASSERT_TRUE(strstr(line, "198.18.0.9:41000 -> 198.18.0.2:443") != NULL) &&
	     ASSERT_TRUE(strstr(line, "ja4=t13d1516h2_8daaf6152771_e5627efa2ab1") != NULL) &&
	     ASSERT_TRUE(strstr(line, "evidence=relay_rtt") != NULL) && ASSERT_TRUE(strstr(line, "action=flag") != NULL) &&
	     ASSERT_STREQ(ew_json_field(o, "sni"), "api.example") && ASSERT_STREQ(ew_json_field(o, "ja3"), "-") &&
	     ASSERT_TRUE(json_object_object_get_ex(o, "evidence", &v)) && ASSERT_EQ(json_object_array_length(v), 1) &&
	     ASSERT_EQ(ew_event_type_parse("detect"), EW_EVT_DETECT) && ASSERT_EQ(ew_event_type_parse("x"), -1);
	json_object_put(o);
	return ok;
}
