#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Operating edgeward end to end: stats (JSON, per CPU, Prometheus), flows
# (counters each way, filters, sorting), watch (events, the kernel's rate
# limit), lookup (the CLI and libedgeward inside a real TLS server), and the
# daemon (metrics over HTTP checked by promtool, textfile, reload on SIGHUP
# and on file change, a broken file refused, capabilities, SIGTERM, kill -9
# under a supervisor loop keeping the counters). Every number is compared
# with the traffic the test sent.
#
# Lab: server namespace; clients 1..3 behind a bridge on the server's one
# interface (198.18.I.2 -> 198.18.I.1).
set -u
EW_TAG=op
. "$(dirname "$0")/lib.sh"
require ops
export EDGEWARD_STATE_DIR=$EW_TMP/state # feed store, never the host's

LIBEW_SERVER=$OUT/examples/tls-server
UDP=9000
TLS=4433
HTTP=8080

lab_server || { fail lab "cannot build the namespace lab"; ew_done; }
lab_client 1 && C1=$CLI_NS
lab_client 2 && C2=$CLI_NS
lab_client 3 && C3=$CLI_NS
udp_sink 0.0.0.0 $UDP "$EW_TMP/sink" || { fail lab "udp sink did not start"; ew_done; }
http_server $HTTP || { fail lab "http.server did not start"; ew_done; }
if ! out=$(ew attach "$EW_SIF" 2>&1); then
	fail ops_attach "attach failed, nothing else can be tested: $out"
	ew_done
fi

# ew_fails ARGS...: edgeward refuses ARGS (non-zero exit).
ew_fails() { ! ew "$@" >/dev/null 2>&1; }
# per_cpu_table: the table of stats --per-cpu has a CPU column.
per_cpu_table() { ew stats --per-cpu | grep -q '^CPU '; }
# promtool_ok FILE: promtool accepts a metrics page.
promtool_ok() { promtool check metrics <"$1" >/dev/null 2>&1; }
# jq-like helper over a JSON file: jf FILE EXPR.
jf() { json_get "$2" <"$1"; }
# prom_value FILE SERIES: the value of one exact series line of a metrics page, or "none".
prom_value() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$1"; }

# --- stats: exact counts of what was sent, JSON, per CPU, Prometheus -----------------
t_stats() {
	local j=$EW_TMP/stats.json p=$EW_TMP/stats.prom pc=$EW_TMP/stats-cpu.json n=50 size=100 frame
	local pk0 by0 pk by
	frame=$((14 + 20 + 8 + size))
	ew stats -j >"$j"
	pk0=$(jf "$j" "sum(r['packets'] for r in d['counters'] if (r['hook'], r['reason'], r['action']) == ('xdp', 'none', 'pass'))")
	by0=$(jf "$j" "sum(r['bytes'] for r in d['counters'] if (r['hook'], r['reason'], r['action']) == ('xdp', 'none', 'pass'))")
	traffic "$C1" 10 udp-send --src 198.18.1.2 --dst 198.18.1.1 --port $UDP --count $n --size $size >/dev/null
	ew stats -j >"$j"
	pk=$(jf "$j" "sum(r['packets'] for r in d['counters'] if (r['hook'], r['reason'], r['action']) == ('xdp', 'none', 'pass'))")
	by=$(jf "$j" "sum(r['bytes'] for r in d['counters'] if (r['hook'], r['reason'], r['action']) == ('xdp', 'none', 'pass'))")
	check stats_json_counts_sent_traffic "xdp/none/pass went $pk0/$by0 -> $pk/$by, sent $n x $frame bytes" \
		[ $((pk - pk0)) -eq $n -a $((by - by0)) -eq $((n * frame)) ]
	check stats_json_totals "total_xdp $(jf "$j" "d['total_xdp']") below the rows" \
		[ "$(jf "$j" "d['total_xdp']['packets'] == sum(r['packets'] for r in d['counters'] if r['hook'] == 'xdp')")" = True ]
	check stats_json_fields "missing keys in $(jf "$j" "sorted(d)")" \
		[ "$(jf "$j" "all(k in d for k in ('counters', 'events', 'total_xdp', 'total_tc', 'ring', 'blocklist')) and 'flows_live' in d['events']")" = True ]

	ew stats -j --per-cpu >"$pc"
	check stats_per_cpu_sums "per-CPU shares do not add up: $(jf "$pc" "d['counters'][0]")" \
		[ "$(jf "$pc" "all(sum(c['packets'] for c in r['per_cpu']) == r['packets'] and sum(c['bytes'] for c in r['per_cpu']) == r['bytes'] for r in d['counters']) and len(d['counters'][0]['per_cpu']) > 0")" = True ]
	check stats_per_cpu_table "stats --per-cpu has no CPU column" per_cpu_table

	ew stats --prometheus >"$p"
	check stats_prometheus_matches_json "prometheus says $(prom_value "$p" 'edgeward_packets_total{hook="xdp",reason="none",action="pass"}'), json $pk" \
		[ "$(prom_value "$p" 'edgeward_packets_total{hook="xdp",reason="none",action="pass"}')" = "$pk" ]
	if command -v promtool >/dev/null; then
		check stats_prometheus_promtool "$(promtool check metrics <"$p" 2>&1 | head -5)" promtool_ok "$p"
	else
		fail stats_prometheus_promtool "promtool missing (Debian package prometheus; scripts/install-deps.sh)"
	fi
	check stats_json_prometheus_exclusive "stats -j --prometheus was accepted" ew_fails stats -j --prometheus
}

# --- flows: both directions, seen times, filters and sorting -----------------------------
t_flows() {
	local j=$EW_TMP/flows.json n=20 size=200 out
	traffic "$C2" 10 udp-send --src 198.18.2.2 --sport 40002 --dst 198.18.2.1 --port $UDP --count $n --size $size >/dev/null
	check flows_http "HTTP got $(http_get "$C1" "http://198.18.1.1:$HTTP/hello.txt")" \
		[ "$(http_get "$C1" "http://198.18.1.1:$HTTP/hello.txt")" = 200 ]
	ew flows -j >"$j"
	check flows_udp_exact "udp flow: $(jf "$j" "[f for f in d if f['sport'] == 40002]")" \
		[ "$(jf "$j" "[(f['packets_in'], f['bytes_in'], f['packets_out'], f['proto'], f['dport']) for f in d if f['src'] == '198.18.2.2' and f['sport'] == 40002]")" \
		= "[($n, $((n * (14 + 20 + 8 + size))), 0, 'udp', $UDP)]" ]
	check flows_tcp_both_ways "http flow: $(jf "$j" "[f for f in d if f['dport'] == $HTTP]")" \
		[ "$(jf "$j" "all(f['packets_in'] >= 5 and f['packets_out'] >= 4 and f['bytes_out'] > 200 and 'S' in f['tcp_flags_in'] and 'S' in f['tcp_flags_out'] for f in d if f['dport'] == $HTTP) and any(f['dport'] == $HTTP for f in d)")" = True ]
	check flows_seen_times "first/last seen: $(jf "$j" "[(f['first_seen_unix_ms'], f['last_seen_unix_ms']) for f in d]")" \
		[ "$(jf "$j" "all(f['first_seen_unix_ms'] <= f['last_seen_unix_ms'] and abs(f['last_seen_unix_ms'] / 1000 - __import__('time').time()) < 60 for f in d)")" = True ]
	check flows_fields "a flow lacks fields: $(jf "$j" "sorted(d[0])")" \
		[ "$(jf "$j" "all(all(k in f for k in ('src', 'sport', 'dst', 'dport', 'proto', 'packets_in', 'bytes_in', 'packets_out', 'bytes_out', 'age_ms', 'idle_ms', 'verdict', 'reason', 'reasons', 'ja4', 'ja3', 'sni', 'alpn')) for f in d)")" = True ]
	check flows_round_trips "http flow: $(jf "$j" "[(f.get('tcp_rtt_us'), f.get('tls_rtt_us')) for f in d if f['dport'] == $HTTP]")" \
		[ "$(jf "$j" "all(isinstance(f['tcp_rtt_us'], int) and f['tcp_rtt_us'] > 0 and 'tls_rtt_us' in f for f in d if f['dport'] == $HTTP)")" = True ]
	out=$(ew flows -j --addr 198.18.2.2 | json_get "sorted(set(f['src'] for f in d))")
	check flows_filter_addr "--addr 198.18.2.2 gave $out" [ "$out" = "['198.18.2.2']" ]
	out=$(ew flows -j --src 198.18.0.0/15 --port $HTTP | json_get "sorted(set((f['src'], f['dport']) for f in d))")
	check flows_filter_prefix_port "--src 198.18.0.0/15 --port $HTTP gave $out" [ "$out" = "[('198.18.1.2', $HTTP)]" ]
	out=$(ew flows -j --sort packets | json_get "[f['packets_in'] + f['packets_out'] for f in d]")
	check flows_sort_packets "--sort packets gave $out" \
		[ "$(ew flows -j --sort packets | json_get "all(a >= b for a, b in zip([f['packets_in'] + f['packets_out'] for f in d], [f['packets_in'] + f['packets_out'] for f in d][1:]))")" = True ]
	check flows_sort_age "--sort age is not oldest first" \
		[ "$(ew flows -j --sort age | json_get "all(a >= b for a, b in zip([f['age_ms'] for f in d], [f['age_ms'] for f in d][1:]))")" = True ]
	check flows_top "--top 1 gave $(ew flows -j --top 1 | json_get 'len(d)') flows" [ "$(ew flows -j --top 1 | json_get 'len(d)')" = 1 ]
	local all top
	all=$(ew flows -j --sort packets | json_get "[f['packets_in'] + f['packets_out'] for f in d][:3]")
	top=$(ew flows -j --sort packets --top 3 | json_get "[f['packets_in'] + f['packets_out'] for f in d]")
	check flows_top_is_head_of_sort "--top 3 gave $top, the sorted table starts $all" [ "$top" = "$all" ]

	# A flagged source: its flow carries the verdict and reason; the filters find it alone.
	ew block add 198.18.3.2 --action flag --label ops-flag >/dev/null
	traffic "$C3" 10 udp-send --src 198.18.3.2 --sport 40003 --dst 198.18.3.1 --port $UDP --count 3 >/dev/null
	out=$(ew flows -j --verdict flag | json_get "[(f['src'], f['reason'], f['reasons']) for f in d]")
	check flows_filter_verdict "--verdict flag gave $out" [ "$out" = "[('198.18.3.2', 'prefix', ['prefix'])]" ]
	out=$(ew flows -j --reason prefix | json_get "[f['src'] for f in d]")
	check flows_filter_reason "--reason prefix gave $out" [ "$out" = "['198.18.3.2']" ]
	out=$(ew flows -j --fp t13d | json_get "[f['ja4'] for f in d]")
	check flows_filter_fp "--fp t13d gave $out (no TLS yet)" [ "$out" = "[]" ]
	check flows_bad_filter "--verdict nonsense was accepted" ew_fails flows --verdict nonsense
	ew block del 198.18.3.2 >/dev/null
}

# --- watch: verdict events, and the kernel's rate limit under a flood -------------------------
t_watch() {
	local w=$EW_TMP/watch.json s0=$EW_TMP/ring0.json s1=$EW_TMP/ring1.json wpid n d0 d1 sent supp lost
	ew block add 198.18.3.2 --label ops-drop >/dev/null
	nsenter --net="/run/netns/$EW_SRV" -- timeout 10 "$EW_BIN" watch -j --type verdict --count 3 >"$w" 2>&1 &
	wpid=$!
	EW_PIDS+=("$wpid")
	sleep 0.5
	traffic "$C3" 10 udp-send --src 198.18.3.2 --sport 40013 --dst 198.18.3.1 --port $UDP --count 5 --interval 0.05 >/dev/null
	wait "$wpid"
	n=$(grep -c '"type":"verdict"' "$w")
	check watch_verdict_events "watch printed: $(head -c 600 "$w")" \
		[ "$n" = 3 -a "$(head -1 "$w" | json_get "(d['src'], d['sport'], d['dst'], d['dport'], d['proto'], d['action'], d['reason'], d['hook'])")" \
		= "('198.18.3.2', 40013, '198.18.3.1', $UDP, 'udp', 'drop', 'prefix', 'xdp')" ]

	# A flood from the blocked source: every dropped packet tries one event;
	# the per-CPU bucket admits a burst, the rest are counted, none vanish.
	ew stats -j >"$s0"
	d0=$(stat_pkts xdp prefix drop)
	traffic "$C3" 20 udp-send --src 198.18.3.2 --dst 198.18.3.1 --port $UDP --count 3000 --size 20 >/dev/null
	ew stats -j >"$s1"
	d1=$(stat_pkts xdp prefix drop)
	sent=$(($(jf "$s1" "d['ring']['sent']") - $(jf "$s0" "d['ring']['sent']")))
	supp=$(($(jf "$s1" "d['ring']['suppressed']") - $(jf "$s0" "d['ring']['suppressed']")))
	lost=$(($(jf "$s1" "d['ring']['lost']") - $(jf "$s0" "d['ring']['lost']")))
	check watch_flood_rate_limited "3000 drops ($((d1 - d0)) counted): sent $sent suppressed $supp lost $lost" \
		[ $((d1 - d0)) -eq 3000 -a $((sent + supp + lost)) -eq 3000 -a "$supp" -gt 0 -a "$sent" -le $((2 * $(abi_enum EW_EVENT_BURST) + 2000)) ]
	local p=$EW_TMP/ring.prom
	ew stats --prometheus >"$p"
	check watch_ring_metrics "edgeward_ring_events_total: $(grep ring_events "$p" | tr '\n' ' ')" \
		[ "$(prom_value "$p" 'edgeward_ring_events_total{outcome="suppressed"}')" = "$(jf "$s1" "d['ring']['suppressed']")" ]
	ew block del 198.18.3.2 >/dev/null
}

# --- lookup: the CLI, and libedgeward inside a real TLS server ---------------------------------
t_lookup() {
	local crt=$EW_TMP/cert.pem key=$EW_TMP/key.pem body log=$EW_TMP/tls.log line port j=$EW_TMP/lookup.json
	if [ ! -x "$LIBEW_SERVER" ]; then
		fail lookup_tls_server "$LIBEW_SERVER is not built (make OUT=$OUT tests-build)"
		return
	fi
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$key" -out "$crt" \
		-days 2 -subj /CN=api.edgeward.test >/dev/null 2>&1
	bg "$EW_SRV" 30 "$LIBEW_SERVER" --cert "$crt" --key "$key" --listen 198.18.1.1:$TLS --count 1 >"$log" 2>&1
	wait_for 5 listening "$EW_SRV" tcp $TLS
	body=$(nsrun "$C1" timeout 5 curl -sk --resolve api.edgeward.test:$TLS:198.18.1.1 "https://api.edgeward.test:$TLS/account/42")
	wait "$EW_LAST_PID" 2>/dev/null
	line=$(grep '^client=' "$log")
	port=$(echo "$body" | json_get "d['client'].split(':')[1]")
	check lookup_tls_server_logs_request "server log: $(cat "$log") body: $body" \
		grep -q "^client=198.18.1.2:$port request=\"GET /account/42 HTTP/1.1\" ja4=.* verdict=pass" "$log"
	check lookup_tls_server_counters "body: $body" \
		[ "$(echo "$body" | json_get "d['verdict'] == 'pass' and d['packets_in'] >= 4 and d['bytes_in'] > 300")" = True ]
	ew lookup -j 198.18.1.2:"$port" 198.18.1.1:$TLS >"$j"
	check lookup_cli_same_connection "lookup: $(cat "$j"); server saw $body" \
		[ "$(jf "$j" "(d['in_flow_table'], d['src'], d['sport'], d['dport'], d['packets_in'] >= $(echo "$body" | json_get "d['packets_in']"))")" \
		= "(True, '198.18.1.2', $port, $TLS, True)" ]
	# The JA4 the server logged is the one edgeward's lookup shows, and a real one.
	local fja4 sja4
	fja4=$(jf "$j" "d['ja4'] or '-'")
	sja4=$(echo "$line" | sed -n 's/.* ja4=\([^ ]*\) .*/\1/p')
	check lookup_tls_server_ja4 "server logged ja4=$sja4, edgeward lookup says $fja4" [ -n "$sja4" -a "$sja4" = "$fja4" ]
	check lookup_tls_server_ja4_fingerprinted "server logged ja4=$sja4 (curl's TLS 1.3 hello over TCP)" \
		sh -c "echo '$sja4' | grep -Eq '^t13d[0-9]{4}[a-z0-9]{2}_[0-9a-f]{12}_[0-9a-f]{12}$'"
	check lookup_tls_server_sni "server log: $line" sh -c "echo '$line' | grep -q ' sni=api.edgeward.test '"
	check lookup_cli_absent "lookup of an unknown connection succeeded" ew_fails lookup 198.18.1.2:1 198.18.1.1:1
	check lookup_cli_bad_input "lookup accepted a bad endpoint" ew_fails lookup 198.18.1.2 198.18.1.1:1
}

# --- daemon ---------------------------------------------------------------------------------------
MPORT=19470
CONF=$EW_TMP/edgeward.conf
DLOG=$EW_TMP/daemon.log
DPID=

daemon_start() {
	nsenter --net="/run/netns/$EW_SRV" -- "$EW_BIN" daemon --config "$CONF" "$@" >>"$DLOG" 2>&1 &
	DPID=$!
	EW_PIDS+=("$DPID")
	wait_for 5 grep -q "running (pid $DPID)" "$DLOG"
}
metrics_get() { nsrun "$EW_SRV" timeout 5 curl -sf "http://127.0.0.1:$MPORT/metrics" >"$1"; }
cfg_blocks() { ew block list -j | json_get "sorted(e['prefix'] for e in d if e['label'] == 'config')"; }
cfg_check() { ew daemon --config "$1" --check >/dev/null; }
cfg_is() { [ "$(cfg_blocks)" = "$1" ]; }
# drops_grew M BEFORE: the drop counter of metrics page M is above BEFORE (and both are numbers).
drops_above() {
	local v
	v=$(prom_value "$1" 'edgeward_packets_total{hook="xdp",reason="prefix",action="drop"}')
	[ "$v" != none ] && [ "$2" != none ] && [ "$v" -gt "$2" ]
}

t_daemon() {
	local m=$EW_TMP/metrics.prom caps pk
	cat >"$CONF" <<EOF
# ops test
interface $EW_SIF
block 198.18.3.0/24=drop
metrics 127.0.0.1:$MPORT
metrics-textfile $EW_TMP/textfile.prom
metrics-interval 1
feed opsfeed $EW_TMP/feed.txt format cidr action flag
policy conn_rate drop
threshold rate-burst 77
fp ja4 t13d1516h2_8daaf6152771_e5627efa2ab1=flag
fp ja3 E7D705A3286E19EA42F587B344EE6865
EOF
	printf '# ops test feed\n198.18.2.0/24\n' >"$EW_TMP/feed.txt"
	check daemon_check_ok "--check refused a good file" cfg_check "$CONF"
	sed "s/^interface eth0 /interface $EW_SIF /" "$EW_ROOT/scripts/edgeward.conf" >"$EW_TMP/example.conf"
	check daemon_example_config "scripts/edgeward.conf: $(ew daemon --config "$EW_TMP/example.conf" --check 2>&1)" \
		cfg_check "$EW_TMP/example.conf"
	if ! daemon_start; then
		fail daemon_start "daemon did not start: $(cat "$DLOG")"
		return
	fi
	pass daemon_start
	check daemon_applies_block "config entries: $(cfg_blocks)" [ "$(cfg_blocks)" = "['198.18.3.0/24']" ]
	check daemon_block_drops "client 3 got $(http_get "$C3" "http://198.18.3.1:$HTTP/hello.txt")" \
		[ "$(http_get "$C3" "http://198.18.3.1:$HTTP/hello.txt")" = 000 ]

	# /metrics over HTTP: valid exposition format, the same counts as stats.
	if metrics_get "$m"; then
		pk=$(stat_pkts xdp prefix drop)
		check daemon_metrics_promtool "$(promtool check metrics <"$m" 2>&1 | head -5)" promtool_ok "$m"
		check daemon_metrics_values "metrics drop $(prom_value "$m" 'edgeward_packets_total{hook="xdp",reason="prefix",action="drop"}'), stats $pk" \
			[ "$(prom_value "$m" 'edgeward_packets_total{hook="xdp",reason="prefix",action="drop"}')" = "$pk" ]
		check daemon_metrics_own "daemon series missing" grep -q '^edgeward_daemon_reloads_total{result="ok"} 1$' "$m"
	else
		fail daemon_metrics_http "GET /metrics failed; log: $(tail -5 "$DLOG")"
	fi
	wait_for 3 test -s "$EW_TMP/textfile.prom"
	check daemon_textfile "textfile: $(head -3 "$EW_TMP/textfile.prom" 2>&1)" promtool_ok "$EW_TMP/textfile.prom"
	check daemon_logs_events "no event line in the log: $(tail -3 "$DLOG")" \
		grep -q "^event: .* verdict xdp 198.18.3.2:[0-9]* -> 198.18.3.1:$HTTP tcp reason=prefix action=drop" "$DLOG"

	# The configured feed is loaded and counted per feed, in stats and on /metrics.
	local fs=$EW_TMP/feeds.json
	http_get "$C2" "http://198.18.2.1:$HTTP/hello.txt" >/dev/null
	ew stats -j >"$fs"
	check daemon_feed_loaded "feeds: $(jf "$fs" "d['feeds']")" \
		[ "$(jf "$fs" "[(f['feed'], f['action'], f['entries'], f['hits'] >= 1) for f in d['feeds']]")" = "[('opsfeed', 'flag', 1, True)]" ]
	check daemon_feed_flags_flow "flows --reason feed: $(ew flows -j --reason feed | json_get "[f['src'] for f in d]")" \
		[ "$(ew flows -j --reason feed | json_get "sorted(set(f['src'] for f in d))")" = "['198.18.2.2']" ]
	metrics_get "$m"
	check daemon_feed_metrics "metrics: $(grep feed_ "$m" | tr '\n' ' ')" \
		[ "$(prom_value "$m" 'edgeward_feed_hits_total{feed="opsfeed",action="flag"}')" = "$(jf "$fs" "d['feeds'][0]['hits']")" ]
	# A broken feed file is refused like a broken configuration: the feed keeps its entries.
	cp "$EW_TMP/feed.txt" "$EW_TMP/feed.good"
	printf 'not-an-address\nnor-this\n198.18.2.0/24\n' >"$EW_TMP/feed.txt"
	wait_for 5 grep -q "feed opsfeed .* refused" "$DLOG"
	check daemon_feed_broken_refused "log: $(tail -4 "$DLOG")" grep -q "feed opsfeed .* refused" "$DLOG"
	check daemon_feed_broken_keeps "feeds: $(ew stats -j | json_get "d['feeds']")" \
		[ "$(ew stats -j | json_get "[(f['feed'], f['entries']) for f in d['feeds']]")" = "[('opsfeed', 1)]" ]
	cp "$EW_TMP/feed.good" "$EW_TMP/feed.txt"

	# Detector policy and thresholds from the file, and per-detector series on /metrics.
	check daemon_policy_applied "policy list: $(ew policy list -j)" \
		[ "$(ew policy list -j | json_get "([r['action'] for r in d['reasons'] if r['reason'] == 'conn_rate'], d['thresholds']['rate-burst'])")" = "(['drop'], 77)" ]
	check daemon_detector_metrics "detector series: $(grep detector_ "$m" | tr '\n' ' ')" \
		grep -q '^edgeward_detector_flows_total{detector="conn_rate",policy="drop"} [0-9]' "$m"

	# Fingerprint rules from the file are the daemon's (label config), with per-rule series.
	check daemon_fp_rules "fp list: $(ew fp list -j)" \
		[ "$(ew fp list -j | json_get "sorted((r['action'], r['label']) for r in d)")" = "[('drop', 'config'), ('flag', 'config')]" ]
	check daemon_rule_metrics "rule series: $(grep rule_hits "$m" | tr '\n' ' ')" \
		grep -q '^edgeward_rule_hits_total{rule="ja4:t13d1516h2_8daaf6152771_e5627efa2ab1",action="flag",label="config"} [0-9]' "$m"

	# It dropped to the capabilities it needs: CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39).
	caps=$(awk '/^CapEff/ { print $2 }' "/proc/$DPID/status")
	check daemon_capabilities "CapEff $caps" [ "$caps" = 000000c000001000 ]

	# SIGHUP with a broken file: refused with FILE:LINE, the running configuration stays.
	sed -i 's|^block 198.18.3.0/24=drop|block 198.18.3.0/24=drop 198.18.2.0/24\nbogus-directive 1|' "$CONF"
	kill -HUP "$DPID"
	wait_for 3 grep -q "$CONF:4: unknown directive 'bogus-directive'" "$DLOG"
	check daemon_broken_config_refused "log: $(tail -3 "$DLOG")" grep -q "$CONF:4: unknown directive 'bogus-directive'" "$DLOG"
	check daemon_broken_config_keeps_old "config entries after a broken reload: $(cfg_blocks)" \
		[ "$(cfg_blocks)" = "['198.18.3.0/24']" -a "$(http_get "$C2" "http://198.18.2.1:$HTTP/hello.txt")" = 200 ]
	check daemon_still_serving "metrics after the broken reload" metrics_get "$m"

	# Fixing the file is enough: inotify reloads it (no signal).
	sed -i '/^bogus-directive/d' "$CONF"
	wait_for 5 cfg_is "['198.18.2.0/24', '198.18.3.0/24']"
	check daemon_inotify_reload "config entries after the fix: $(cfg_blocks); log: $(tail -3 "$DLOG")" \
		[ "$(cfg_blocks)" = "['198.18.2.0/24', '198.18.3.0/24']" ]
	# An entry leaving the file leaves the block list; `block add` entries are not the daemon's.
	ew block add 198.18.9.9 --label manual >/dev/null
	sed -i 's| 198.18.2.0/24||; /^policy conn_rate drop/d; /^fp ja3/d' "$CONF"
	kill -HUP "$DPID"
	wait_for 5 cfg_is "['198.18.3.0/24']"
	check daemon_reload_removes "config entries: $(cfg_blocks), manual kept: $(ew block list -j | grep -c 198.18.9.9)" \
		[ "$(cfg_blocks)" = "['198.18.3.0/24']" -a "$(ew block list -j | grep -c 198.18.9.9)" = 1 ]
	check daemon_reload_removes_fp "fp list: $(ew fp list -j)" [ "$(ew fp list -j | json_get "len(d)")" = 1 ]
	check daemon_reload_policy_default "conn_rate after its line left: $(ew policy list -j | json_get "[r['action'] for r in d['reasons'] if r['reason'] == 'conn_rate']")" \
		[ "$(ew policy list -j | json_get "[r['action'] for r in d['reasons'] if r['reason'] == 'conn_rate']")" = "['flag']" ]
	ew block del 198.18.9.9 >/dev/null

	# Under a supervisor loop, kill -9 and restart: the pinned counters carry on.
	kill "$DPID"
	wait "$DPID"
	check daemon_sigterm_exit "daemon exit status $?" [ $? -eq 0 ]
	check daemon_sigterm_leaves_datapath "status: $(ew status -j | json_get "[i['name'] for i in d.get('interfaces', [])]")" \
		[ "$(ew status -j | json_get "[i['name'] for i in d['interfaces']]")" = "['$EW_SIF']" ]
	local sup=$EW_TMP/supervisor.sh before after
	cat >"$sup" <<EOF
#!/bin/sh
# restart the daemon whenever it dies, at most 5 times
i=0
while [ \$i -lt 5 ]; do
	nsenter --net=/run/netns/$EW_SRV -- "$EW_BIN" daemon --config "$CONF" >>"$DLOG" 2>&1 &
	echo \$! >"$EW_TMP/daemon.pid"
	wait \$!
	i=\$((i + 1))
done
EOF
	timeout 60 sh "$sup" 2>>"$DLOG" &
	EW_PIDS+=("$!")
	local supervisor=$!
	wait_for 5 metrics_get "$m"
	http_get "$C3" "http://198.18.3.1:$HTTP/hello.txt" >/dev/null
	metrics_get "$m"
	before=$(prom_value "$m" 'edgeward_packets_total{hook="xdp",reason="prefix",action="drop"}')
	kill -9 "$(cat "$EW_TMP/daemon.pid")"
	sleep 0.5
	wait_for 5 metrics_get "$m"
	after=$(prom_value "$m" 'edgeward_packets_total{hook="xdp",reason="prefix",action="drop"}')
	check daemon_restart_keeps_counters "drops before kill -9: $before, after restart: $after" \
		drops_above "$m" $((before - 1))
	http_get "$C3" "http://198.18.3.1:$HTTP/hello.txt" >/dev/null
	metrics_get "$m"
	check daemon_restart_counts_on "drops after more traffic: $(prom_value "$m" 'edgeward_packets_total{hook="xdp",reason="prefix",action="drop"}') vs $after" \
		drops_above "$m" "$after"
	kill "$supervisor" 2>/dev/null
	kill "$(cat "$EW_TMP/daemon.pid")" 2>/dev/null
	wait "$supervisor" 2>/dev/null

	# A broken file at start-up: refused, exit 1, nothing attached anew.
	printf 'interface nosuch0\n' >"$EW_TMP/bad.conf"
	local rc
	ew daemon --config "$EW_TMP/bad.conf" 2>"$EW_TMP/bad.err"
	rc=$?
	check daemon_bad_start_refused "exit $rc stderr: $(cat "$EW_TMP/bad.err")" \
		grep -q "^$EW_TMP/bad.conf:1: no interface named 'nosuch0'" "$EW_TMP/bad.err"
	check daemon_bad_start_exit "exit $rc" [ "$rc" -ne 0 ]
}

t_stats
t_flows
t_watch
t_lookup
t_daemon
ew_done
