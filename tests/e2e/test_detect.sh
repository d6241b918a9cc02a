#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The detectors end to end: a TLS server (openssl s_server) with edgeward
# attached; a direct client; a client behind a delay line and a real SOCKS5
# proxy (microsocks), then an HTTP CONNECT proxy (tinyproxy); SYNs of a
# Windows-like and a macOS-like stack crafted with scapy; a connection burst;
# many sources with one stack. SYN signatures and OS labels are compared with
# p0f's own reading of the same SYNs.
set -u
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
require detect openssl p0f tcpdump microsocks tinyproxy /usr/bin/python3
E2E=$EW_ROOT/tests/e2e
PORT=8443
DELAY_MS=50

flows() { ew flows -j; }
# flows_where PYEXPR: the flows (JSON list) for which PYEXPR holds over f.
flows_where() {
	flows | "$EW_PY" -c 'import json, sys
d = json.load(sys.stdin)
print(json.dumps([f for f in d if eval(sys.argv[1])]))' "$1"
}
# check_relayed NAME FLOWS: the proxy's flows to the server (JSON list, the
# three requests of one client behind the delay line) are all flagged relay_rtt;
# the TCP round trip is the proxy's (under half the delay) and the TLS round
# trip the client's (at least the delay line's two ways, under 6 times one).
check_relayed() {
	local rtts
	rtts=$(echo "$2" | json_get "' '.join('%s/%s' % (f['tcp_rtt_us'], f['tls_rtt_us']) for f in d)")
	echo "# $1: client behind ${DELAY_MS} ms each way, tcp_rtt_us/tls_rtt_us: $rtts"
	check "$1_relay_rtt" "flows: $2" \
		[ "$(echo "$2" | json_get "len(d) == 3 and all('relay_rtt' in f['reasons'] for f in d)")" = True ]
	check "$1_rtts" "tcp_rtt_us/tls_rtt_us $rtts, delay $DELAY_MS ms each way" \
		[ "$(echo "$2" | json_get "len(d) == 3 and all(f['tcp_rtt_us'] is not None and f['tls_rtt_us'] is not None
			and f['tcp_rtt_us'] < $DELAY_MS * 500 and $DELAY_MS * 2000 <= f['tls_rtt_us'] < $DELAY_MS * 6000 for f in d)")" = True ]
}
# p0f_field PCAP PORT FIELD: raw_sig / os that p0f prints for the SYN from PORT.
p0f_field() {
	p0f -r "$1" 2>/dev/null | awk -v port="$2" -v field="$3" '
		/\| client   = / { split($0, a, "/"); cur = a[2] + 0 }
		$0 ~ "\\| " field " *= " && cur == port { sub(/.*= /, ""); print; exit }'
}

lab_server || { fail detect_lab "cannot build the lab"; ew_done; }
lab_client 1 && C1=$CLI_NS || fail detect_lab "client 1"
lab_client 2 && PX=$CLI_NS && PX_IF=$CLI_IF || fail detect_lab "proxy"
lab_client 3 && C3=$CLI_NS && C3_IF=$CLI_IF || fail detect_lab "far client"
lab_client 4 && C4=$CLI_NS && C4_IF=$CLI_IF || fail detect_lab "crafted stacks"
lab_client 5 && C5=$CLI_NS || fail detect_lab "burst"
lab_client 6 && C6=$CLI_NS && C6_IF=$CLI_IF || fail detect_lab "fan-out"
# the far client reaches the proxy across the switch
ip -n "$C3" route add 198.18.2.2/32 dev "$C3_IF"
ip -n "$PX" route add 198.18.3.2/32 dev "$PX_IF"
neigh_add "$C3" "$C3_IF" 198.18.2.2 02:00:00:00:00:02
neigh_add "$PX" "$PX_IF" 198.18.3.2 02:00:00:00:00:03

if ! out=$(ew attach "$EW_SIF" 2>&1); then
	fail detect_attach "attach failed: $out"
	ew_done
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$EW_TMP/key.pem" \
	-out "$EW_TMP/crt.pem" -days 1 -subj /CN=edgeward-test >/dev/null 2>&1
bg "$EW_SRV" 300 openssl s_server -accept "$PORT" -cert "$EW_TMP/crt.pem" -key "$EW_TMP/key.pem" -www -quiet
wait_for 10 listening "$EW_SRV" tcp "$PORT" || fail detect_tls_server "openssl s_server did not start"

# --- a direct client, its SYNs captured for p0f -------------------------------------
bg "$EW_SRV" 60 tcpdump --immediate-mode -U -n -i "$EW_SIF" -w "$EW_TMP/linux.pcap" "tcp dst port $PORT and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
TCPDUMP=$EW_LAST_PID
sleep 1
for i in 1 2 3 4 5; do
	nsrun "$C1" timeout 10 curl -sk -o /dev/null "https://198.18.1.1:$PORT/"
done
sleep 0.5
stop "$TCPDUMP"

direct=$(flows_where "f['src'] == '198.18.1.2' and f['dport'] == $PORT")
n_direct=$(echo "$direct" | json_get "len(d)")
check detect_direct_flows "direct flows: $direct" [ "$n_direct" -ge 5 ]
bad=$(echo "$direct" | json_get "sum(1 for f in d if set(f['reasons']) & {'relay_rtt', 'stack_mismatch', 'tunnel_mss', 'conn_rate', 'fanout'})")
check detect_direct_no_reason "direct clients got reasons: $direct" [ "$bad" = 0 ]
rtts=$(echo "$direct" | json_get "' '.join('%s/%s' % (f['tcp_rtt_us'], f['tls_rtt_us']) for f in d)")
echo "# direct client tcp_rtt_us/tls_rtt_us: $rtts"
check detect_direct_rtts "direct flows lack round trips: $rtts" \
	[ "$(echo "$direct" | json_get "all(f['tcp_rtt_us'] is not None and f['tls_rtt_us'] is not None for f in d)")" = True ]

# Linux's own SYN: edgeward's tcp_sig and os are p0f's
sport=$(echo "$direct" | json_get "d[0]['sport']")
ours=$(echo "$direct" | json_get "d[0]['tcp_sig']")
theirs=$(p0f_field "$EW_TMP/linux.pcap" "$sport" raw_sig)
check detect_linux_sig_is_p0f "edgeward '$ours', p0f '$theirs'" [ -n "$theirs" -a "$ours" = "$theirs" ]
ours=$(echo "$direct" | json_get "d[0]['os'] or '???'")
theirs=$(p0f_field "$EW_TMP/linux.pcap" "$sport" os)
check detect_linux_os_is_p0f "edgeward '$ours', p0f '$theirs'" [ -n "$theirs" -a "$ours" = "$theirs" ]

# --- a client behind a delay line and a SOCKS5 proxy ----------------------------------
bg "$PX" 120 microsocks -i 198.18.2.2 -p 1080
bg "$C3" 120 /usr/bin/python3 "$E2E/delayline.py" 127.0.0.1 1080 198.18.2.2 1080 "$DELAY_MS"
wait_for 10 listening "$PX" tcp 1080 && wait_for 10 listening "$C3" tcp 1080 ||
	fail detect_proxy "microsocks or the delay line did not start"
for i in 1 2 3; do
	nsrun "$C3" timeout 20 curl -sk -o /dev/null --socks5 127.0.0.1:1080 "https://198.18.2.1:$PORT/" ||
		fail detect_proxied_request "curl through the proxy failed"
done
check_relayed detect_proxied "$(flows_where "f['src'] == '198.18.2.2' and f['dport'] == $PORT")"

# --- the same client behind the delay line and an HTTP CONNECT proxy (tinyproxy) ------------
# tinyproxy connects to the server from a second address of the proxy namespace
# (Bind), so its flows are told from microsocks' and from the client's own: a
# request that bypassed it would leave none. It stays in the foreground (-d),
# writes only into the test's temp dir and is ended by the harness's trap.
TP_PORT=8888
addr_add "$PX" "$PX_IF" 198.18.2.3/24
neigh_add "$EW_SRV" "$EW_SIF" 198.18.2.3 02:00:00:00:00:02
cat >"$EW_TMP/tinyproxy.conf" <<EOF
Port $TP_PORT
Listen 198.18.2.2
Bind 198.18.2.3
Allow 198.18.3.0/24
ConnectPort $PORT
MaxClients 8
Timeout 30
LogFile "$EW_TMP/tinyproxy.log"
LogLevel Connect
PidFile "$EW_TMP/tinyproxy.pid"
EOF
bg "$PX" 120 tinyproxy -d -c "$EW_TMP/tinyproxy.conf"
TP_WRAP=$EW_LAST_PID
bg "$C3" 120 /usr/bin/python3 "$E2E/delayline.py" 127.0.0.1 "$TP_PORT" 198.18.2.2 "$TP_PORT" "$DELAY_MS"
TP_DELAY=$EW_LAST_PID
wait_for 10 listening "$PX" tcp "$TP_PORT" && wait_for 10 listening "$C3" tcp "$TP_PORT" ||
	fail detect_connect_proxy "tinyproxy or its delay line did not start: $(cat "$EW_TMP/tinyproxy.log" 2>&1)"
for i in 1 2 3; do
	nsrun "$C3" timeout 20 curl -sk -o /dev/null -x "http://127.0.0.1:$TP_PORT" "https://198.18.2.1:$PORT/" ||
		fail detect_connect_request "curl through tinyproxy failed: $(tail -5 "$EW_TMP/tinyproxy.log" 2>&1)"
done
check_relayed detect_connect "$(flows_where "f['src'] == '198.18.2.3' and f['dport'] == $PORT")"
# The trap ends every server by killing its timeout wrapper; that must end
# tinyproxy itself (one that forked away from it would outlive the test).
tp=$(cat "$EW_TMP/tinyproxy.pid" 2>/dev/null)
stop "$TP_WRAP"
stop "$TP_DELAY"
check detect_connect_proxy_stopped "tinyproxy (pid '$tp' in its pid file) outlived its wrapper" \
	[ -n "$tp" -a ! -d "/proc/$tp" ]

# --- SYNs of other stacks, crafted with scapy ---------------------------------------------
for kind in windows macos; do
	nsrun "$C4" timeout 20 /usr/bin/python3 "$E2E/craft_syn.py" "$C4_IF" "$EW_SRV_MAC" 198.18.4.2 198.18.4.1 \
		"$PORT" "$EW_TMP/$kind.pcap" "$kind" || fail "detect_${kind}_craft" "scapy failed"
done
sleep 0.5
for kind in windows:50001 macos:50002; do
	name=${kind%:*} sport=${kind#*:}
	f=$(flows_where "f['src'] == '198.18.4.2' and f['sport'] == $sport")
	ours=$(echo "$f" | json_get "d[0]['tcp_sig'] if d else None")
	theirs=$(p0f_field "$EW_TMP/$name.pcap" "$sport" raw_sig)
	check "detect_${name}_sig_is_p0f" "edgeward '$ours', p0f '$theirs'" [ -n "$theirs" -a "$ours" = "$theirs" ]
	ours=$(echo "$f" | json_get "(d[0]['os'] or '???') if d else None")
	theirs=$(p0f_field "$EW_TMP/$name.pcap" "$sport" os)
	check "detect_${name}_os_is_p0f" "edgeward '$ours', p0f '$theirs'" [ -n "$theirs" -a "$ours" = "$theirs" ]
done

# --- SYN rules: the macOS-like stack by its OS label, through the CLI ----------------------
ew fp add os "Mac OS X" --action flag --label mac-test >/dev/null
nsrun "$C4" timeout 20 /usr/bin/python3 "$E2E/craft_syn.py" "$C4_IF" "$EW_SRV_MAC" 198.18.4.2 198.18.4.1 \
	"$PORT" "$EW_TMP/macos2.pcap" macos
sleep 0.5
r=$(flows_where "f['src'] == '198.18.4.2' and f['sport'] == 50002" | json_get "d[0]['reasons'] if d else None")
check detect_os_rule "macOS-like SYN after 'fp add os \"Mac OS X\"': reasons $r" \
	[ "$(ew fp list -j | json_get "any(f['kind'] == 'os' and f['value'] == 'Mac OS X' and f['hits'] >= 1 for f in d)")" = True ]
ew fp del os "Mac OS X" >/dev/null

# --- stack mismatch: the direct client's JA4 declared a Windows browser's -----------------
ja4=$(echo "$direct" | json_get "d[0]['ja4']")
if [ "$ja4" = None ] || [ -z "$ja4" ]; then
	fail detect_stack_mismatch "no JA4 on the direct flows (the ClientHello parser is not in this build)"
else
	echo "$ja4 windows" >"$EW_TMP/tls-os.txt"
	ew osdb tls-os "$EW_TMP/tls-os.txt" >/dev/null
	nsrun "$C1" timeout 10 curl -sk -o /dev/null "https://198.18.1.1:$PORT/"
	n=$(flows_where "f['src'] == '198.18.1.2' and 'stack_mismatch' in f['reasons']" | json_get "len(d)")
	check detect_stack_mismatch "a Windows JA4 over Linux's stack (TTL 64) is not flagged" [ "$n" -ge 1 ]
fi
# The default table came with attach; FAMILY none takes a row out.
safari=t13d2014h2_a09f3c656075_14788d8d241b
fam_of() { ew osdb list -j | json_get "next((t['family'] for t in d['tls_os'] if t['ja4'] == '$1'), 'absent')"; }
check detect_tlsos_default "after attach, Safari's JA4 maps to '$(fam_of $safari)'" [ "$(fam_of $safari)" = macos ]
echo "$safari none" >"$EW_TMP/tls-os-none.txt"
ew osdb tls-os "$EW_TMP/tls-os-none.txt" >/dev/null
check detect_tlsos_none "after '$safari none', it maps to '$(fam_of $safari)'" [ "$(fam_of $safari)" = absent ]

# --- a burst over the rate ------------------------------------------------------------------
ew policy threshold rate-per-s 5 >/dev/null && ew policy threshold rate-burst 10 >/dev/null
# `watch` sees each flagged connection once, as a detector event.
nsenter --net="/run/netns/$EW_SRV" -- timeout 30 "$EW_BIN" watch -j --type detect --timeout 25 >"$EW_TMP/watch.json" 2>&1 &
wpid=$!
EW_PIDS+=("$wpid")
sleep 0.5
nsrun "$C5" timeout 20 "$EW_PY" -c '
import socket
for i in range(40):
    s = socket.create_connection(("198.18.5.1", '"$PORT"'), timeout=2)
    s.close()'
n=$(flows_where "f['src'] == '198.18.5.2' and 'conn_rate' in f['reasons']" | json_get "len(d)")
check detect_conn_rate "40 connections at once, burst 10: $n flagged" [ "$n" -ge 25 -a "$n" -le 31 ]
sleep 0.5
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
ev=$("$EW_PY" -c 'import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.startswith("{") for e in [json.loads(l)]
          if e["type"] == "detect" and e["src"] == "198.18.5.2" and "conn_rate" in e["evidence"]))' "$EW_TMP/watch.json")
check detect_watch_events "watch printed $ev conn_rate events for $n flagged connections: $(head -c 400 "$EW_TMP/watch.json")" \
	[ "$n" -ge 1 -a "$ev" = "$n" ]

# --- fan-out: one stack from 150 sources -----------------------------------------------------
ew policy threshold fanout-sources 100 >/dev/null
nsrun "$C6" timeout 30 /usr/bin/python3 "$E2E/craft_syn.py" "$C6_IF" "$EW_SRV_MAC" 198.19 198.18.6.1 \
	"$PORT" "$EW_TMP/fanout.pcap" fanout 150 || fail detect_fanout_craft "scapy failed"
sleep 0.5
sig="4:64:0:1400:7777,3:mss,nop,ws:df,id+:0"
fp=$(ew fingerprints -j | json_get "json.dumps([f for f in d if f['fingerprint'] == '$sig'])")
check detect_fingerprints_sources "fingerprints: $fp" \
	[ "$(echo "$fp" | json_get "len(d) == 1 and d[0]['connections'] == 150 and 120 <= d[0]['sources'] <= 180")" = True ]
n=$(flows_where "f['src'].startswith('198.19.') and 'fanout' in f['reasons']" | json_get "len(d)")
check detect_fanout "150 sources, threshold 100: $n flows flagged" [ "$n" -ge 30 -a "$n" -le 70 ]
ew policy list -j | json_get "[r for r in d['reasons'] if r['reason'] == 'fanout'][0]['flows']" >"$EW_TMP/n"
check detect_policy_counts "policy list counts $(cat "$EW_TMP/n") fanout flows, flows say $n" [ "$(cat "$EW_TMP/n")" = "$n" ]

# --- policy: drop on fanout drops the flow -----------------------------------------------------
ew policy set fanout drop >/dev/null
before=$(stat_pkts xdp fanout drop)
nsrun "$C6" timeout 30 /usr/bin/python3 "$E2E/craft_syn.py" "$C6_IF" "$EW_SRV_MAC" 198.19 198.18.6.1 \
	"$PORT" "$EW_TMP/fanout2.pcap" fanout 5
after=$(stat_pkts xdp fanout drop)
check detect_policy_drop "fanout drops: $before -> $after" [ "$after" -ge $((before + 5)) ]
ew_done
