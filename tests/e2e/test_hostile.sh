#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Hostile traffic end to end, against a server attached with a small flow
# table (attach --flows 4096):
#  - a SYN flood of HOSTILE_SYNS raw frames from random spoofed sources in
#    198.18.128.0/17 and 2001:db8:8000::/33 (tests/e2e/flood.py syn): the flow
#    table and ew_conns stay within their size, evictions are counted and add
#    up (created = live + evicted, read with bpftool), a legitimate client's
#    HTTP requests succeed during and after it, `edgeward stats` answers
#    quickly throughout, and a blocked prefix stays blocked (its datagrams
#    never reach the server's socket);
#  - a connection given a sticky drop by a JA4 rule before the flood stays
#    dropped after the flood has pushed its flow entry out (ew_dropped);
#  - a flood of half-sent ClientHellos (first segment of two, then FIN, or
#    left open): ew_tls_reasm stays within its size, the hangs-up are counted
#    incomplete, and complete hellos (one in two segments, one from curl) are
#    still fingerprinted.
#
# Lab: client 1 legitimate (198.18.1.2), client 2 the flooder, client 3 in a
# blocked /24; all behind the switch on the server's one interface.
set -u
. "$(dirname "$0")/lib.sh"
require hostile openssl
FLOOD=$EW_ROOT/tests/e2e/flood.py
HOSTILE_SYNS=${HOSTILE_SYNS:-300000}
HALF_FIN=${HALF_FIN:-3000}
HALF_OPEN=${HALF_OPEN:-1500}
FLOWS=4096
HTTP=8080
ECHO=7000
SINK=8443
TLS=8444
UDP=9999
URL=http://198.18.1.1:$HTTP/hello.txt

lab_server || { fail hostile_lab "cannot build the namespace lab"; ew_done; }
lab_client 1 && C1=$CLI_NS
lab_client 2 && C2=$CLI_NS && C2_IF=$CLI_IF
lab_client 3 && C3=$CLI_NS
http_server $HTTP || { fail hostile_lab "http.server did not start"; ew_done; }
tcp_echo 198.18.1.1 $ECHO || { fail hostile_lab "echo server did not start"; ew_done; }
udp_sink 198.18.3.1 $UDP "$EW_TMP/blocked.txt" || { fail hostile_lab "udp sink did not start"; ew_done; }
if ! out=$(ew attach "$EW_SIF" --flows $FLOWS 2>&1); then
	fail hostile_attach "attach --flows $FLOWS: $out"
	ew_done
fi
ew block add 198.18.3.0/24 --label hostile >/dev/null || fail hostile_block "block add failed"

# ev NAME: one event value of `edgeward stats -j` (0 if absent).
ev() { ew stats -j | json_get "d['events'].get('$1', 0)"; }
# map_entries NAME: entries of a pinned map, counted from a bpftool dump.
map_entries() { bpftool -j map dump pinned "$EW_PIN/$1" | json_get "len(d)"; }
# counter_bpf IDX: ew_counters[IDX] summed over CPUs, read with bpftool.
counter_bpf() {
	bpftool -j map dump pinned "$EW_PIN/ew_counters" |
		json_get "sum(v['value'] for e in d if e['formatted']['key'] == $1 for v in e['formatted']['values'])"
}
# reasm_entries: entries of ew_tls_reasm (not pinned: found through the XDP program).
reasm_entries() {
	local id
	id=$(ew status -j | json_get "d['interfaces'][0]['xdp_prog_id']")
	"$EW_PY" "$FLOOD" count-map --prog-id "$id" --name ew_tls_reasm | json_get "d['entries']"
}
lines() { wc -l <"$1" | tr -d ' '; }
now_ms() { date +%s%3N; }

http_expect hostile_http_before "$C1" "$URL" 200

# --- a long-lived connection given a sticky drop ---------------------------------------
bg "$C1" 170 "$EW_PY" "$FLOOD" hold --dst 198.18.1.1 --port $ECHO --seconds 160 --interval 0.2 \
	>"$EW_TMP/hold.txt" 2>&1
HOLD=$EW_LAST_PID
echoes() { grep -c '^echo' "$EW_TMP/hold.txt"; }
echoing() { [ "$(echoes)" -ge 3 ]; }
wait_for 10 echoing || fail hostile_hold "the held connection got no echoes: $(cat "$EW_TMP/hold.txt")"
hold_flow=$(ew flows -j | json_get "next(('%s %s' % (f['sport'], f['ja4']) for f in d if f['src'] == '198.18.1.2' and f['dport'] == $ECHO), '0 None')")
hold_sport=${hold_flow% *}
hold_ja4=${hold_flow#* }
if [ -z "$hold_ja4" ] || [ "$hold_ja4" = None ]; then
	fail hostile_hold_ja4 "the held connection has no JA4: $hold_flow"
else
	ew fp add ja4 "$hold_ja4" --action drop --label hostile-hold >/dev/null ||
		fail hostile_hold_rule "fp add ja4 $hold_ja4 failed"
fi
sleep 1
e1=$(echoes)
sleep 1
check hostile_hold_dropped "echoes went on after the drop rule: $e1 then $(echoes)" [ "$(echoes)" = "$e1" ]

# --- SYN flood, with a legitimate client, stats and a blocked prefix alongside -------------
created0=$(counter_bpf "$(abi_enum EW_C_FLOW_NEW)")
bg "$C2" 150 "$EW_PY" "$FLOOD" syn --iface "$C2_IF" --dmac "$EW_SRV_MAC" --dst4 198.18.2.1 \
	--dst6 2001:db8:2::1 --port $HTTP --count "$HOSTILE_SYNS" >"$EW_TMP/syn.json" 2>&1
SYNF=$EW_LAST_PID
http_ok=0 http_n=0 stats_max=0 udp_sent=0 rounds=0
while kill -0 "$SYNF" 2>/dev/null; do
	t0=$(now_ms)
	ew stats -j >/dev/null || fail hostile_stats "stats -j failed during the flood"
	dt=$(($(now_ms) - t0))
	[ "$dt" -gt "$stats_max" ] && stats_max=$dt
	code=$(http_get "$C1" "$URL")
	http_n=$((http_n + 1))
	[ "$code" = 200 ] && http_ok=$((http_ok + 1))
	traffic "$C3" 10 udp-send --src 198.18.3.2 --dst 198.18.3.1 --port $UDP --count 5 >/dev/null &&
		udp_sent=$((udp_sent + 5))
	rounds=$((rounds + 1))
	sleep 0.2
done
wait "$SYNF" 2>/dev/null
sent=$(json_get "d['sent']" <"$EW_TMP/syn.json" 2>/dev/null || echo 0)
echo "# SYN flood: $(cat "$EW_TMP/syn.json")"
echo "# during it: $http_ok/$http_n HTTP requests answered, slowest stats -j ${stats_max} ms, $udp_sent datagrams from the blocked /24"
check hostile_syn_flood_sent "the flood sent $sent of $HOSTILE_SYNS frames" [ "$sent" -ge $((HOSTILE_SYNS * 95 / 100)) ]

live=$(map_entries ew_flows)
created=$(counter_bpf "$(abi_enum EW_C_FLOW_NEW)")
stats=$(ew stats -j)
cli_live=$(echo "$stats" | json_get "d['events']['flows_live']")
cli_evicted=$(echo "$stats" | json_get "d['events']['flows_evicted']")
echo "# flow table after it: live $live (stats: $cli_live) of $FLOWS, created $created, evicted $cli_evicted"
check hostile_flows_bounded "live flows: bpftool $live, stats $cli_live, table $FLOWS" \
	[ "$live" -le $FLOWS -a "$cli_live" -le $FLOWS ]
check hostile_flows_created "created $((created - created0)) flows for $sent spoofed SYNs" \
	[ $((created - created0)) -ge $((sent * 9 / 10)) ]
check hostile_flows_evicted_counted "evicted $cli_evicted, created $created, live $live" \
	[ "$cli_evicted" -gt 0 -a "$created" -eq $((live + cli_evicted)) ]
conns=$(ew status -j | json_get "'%d %d' % (d['maps']['ew_conns']['entries'], d['maps']['ew_conns']['max_entries'])")
echo "# ew_conns after it: ${conns% *} entries of ${conns#* }"
check hostile_conns_bounded "ew_conns: $conns" [ "${conns% *}" -le "${conns#* }" -a "${conns% *}" -gt 0 ]
check hostile_http_during_flood "$http_ok of $http_n requests answered during the flood" \
	[ "$http_n" -ge 3 -a "$http_ok" = "$http_n" ]
http_expect hostile_http_after_flood "$C1" "$URL" 200
check hostile_stats_responsive "slowest stats -j during the flood: ${stats_max} ms" [ "$stats_max" -lt 5000 ]
xdp_drops=$(stat_pkts xdp prefix drop)
check hostile_blocked_prefix "sink got $(lines "$EW_TMP/blocked.txt") of $udp_sent datagrams; XDP prefix drops $xdp_drops" \
	[ "$udp_sent" -gt 0 -a "$(lines "$EW_TMP/blocked.txt")" = 0 -a "$xdp_drops" -ge "$udp_sent" ]

# The held connection's flow entry is gone, its drop is not.
sleep 1
gone=$(flow_get 198.18.1.2 "$hold_sport" 198.18.1.1 $ECHO tcp packets)
check hostile_hold_evicted "the held connection's flow is still in the table ($gone packets): the flood proved nothing" \
	[ "$gone" = none ]
sleep 2
check hostile_drop_survives_flood "echoes came back after the flood: $e1 before, $(echoes) now" [ "$(echoes)" = "$e1" ]
check hostile_drop_remembered "ew_dropped holds $(map_entries ew_dropped) flows" [ "$(map_entries ew_dropped)" -ge 1 ]
stop "$HOLD"

# --- half-sent ClientHellos ----------------------------------------------------------------
bg "$EW_SRV" 160 "$EW_PY" "$FLOOD" sink --port $SINK >"$EW_TMP/sink.log" 2>&1
wait_for 5 listening "$EW_SRV" tcp $SINK || fail hostile_sink "the hello sink did not start"
incomplete0=$(ev tls_incomplete)
reasm0=$(ev tls_hellos_reassembled)
out=$(nsrun "$C1" timeout 120 "$EW_PY" "$FLOOD" half-hello --dst 198.18.1.1 --port $SINK --count "$HALF_FIN" --close fin)
echo "# half hellos, then FIN: $out"
fin_n=$(echo "$out" | json_get "d['connections']")
bg "$C2" 100 "$EW_PY" "$FLOOD" half-hello --dst 198.18.2.1 --port $SINK --count "$HALF_OPEN" --close open \
	--hold 60 >"$EW_TMP/open.json" 2>&1
OPENF=$EW_LAST_PID
wait_for 90 [ -s "$EW_TMP/open.json" ] || fail hostile_half_open "the open half-hello flood did not finish"
echo "# half hellos left open: $(cat "$EW_TMP/open.json")"
incomplete=$(($(ev tls_incomplete) - incomplete0))
reasm=$(reasm_entries)
echo "# tls_incomplete +$incomplete for $fin_n hung-up hellos; ew_tls_reasm holds $reasm of 1024"
check hostile_half_hello_counted "tls_incomplete +$incomplete for $fin_n hellos hung up" \
	[ "$fin_n" -ge $((HALF_FIN * 9 / 10)) -a "$incomplete" -ge $((fin_n * 9 / 10)) ]
check hostile_reasm_bounded "ew_tls_reasm holds $reasm entries (1024 max)" [ "$reasm" -le 1024 -a "$reasm" -ge 500 ]
# A complete hello in two segments is still reassembled and fingerprinted.
out=$(nsrun "$C1" timeout 20 "$EW_PY" "$FLOOD" half-hello --dst 198.18.1.1 --port $SINK --count 1 --close complete)
sleep 0.5
check hostile_reasm_still_works "tls_hellos_reassembled did not grow: $out" [ "$(ev tls_hellos_reassembled)" -gt "$reasm0" ]
# curl's hello, against a real TLS server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$EW_TMP/key.pem" \
	-out "$EW_TMP/crt.pem" -days 1 -subj /CN=edgeward-test >/dev/null 2>&1
bg "$EW_SRV" 60 openssl s_server -accept $TLS -cert "$EW_TMP/crt.pem" -key "$EW_TMP/key.pem" -www -quiet
wait_for 10 listening "$EW_SRV" tcp $TLS || fail hostile_tls_server "openssl s_server did not start"
nsrun "$C1" timeout 10 curl -sk -o /dev/null "https://198.18.1.1:$TLS/"
ja4=$(ew flows -j | json_get "next((f['ja4'] for f in d if f['src'] == '198.18.1.2' and f['dport'] == $TLS and f['ja4']), '')")
check hostile_hello_fingerprinted "no JA4 on curl's flow after the half-hello flood" [ -n "$ja4" ]
stop "$OPENF"

ew_done
