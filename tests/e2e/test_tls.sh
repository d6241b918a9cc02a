#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# TLS fingerprints end to end: a real TLS server (openssl s_server, a
# self-signed certificate made here), real clients (openssl s_client TLS 1.3
# and 1.2, curl). `edgeward flows --json` must show, for each connection, the
# JA4 that user space computes (`edgeward fp hello`, the reference in
# user/ja4.c) from the hello as captured by tcpdump and cut out by tshark,
# and the JA3 that tshark itself computes (tshark 4.0 has no JA4). Then a drop
# rule on curl's JA4 stops curl while openssl s_client still connects.
set -u
EW_TAG=${EW_TAG:-tl}
. "$(dirname "$0")/lib.sh"
require tls openssl tshark tcpdump

PORT=8443
lab_server || { fail lab "cannot build the lab"; ew_done; }
lab_client 1 || { fail lab "cannot add client 1"; ew_done; }
lab_client 2 || { fail lab "cannot add client 2"; ew_done; }
check attach "attach failed" ew attach "$EW_SIF" --mode generic

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=lab.example -keyout "$EW_TMP/key.pem" -out "$EW_TMP/cert.pem" >/dev/null 2>&1
bg "$EW_SRV" 120 openssl s_server -accept "$PORT" -cert "$EW_TMP/cert.pem" -key "$EW_TMP/key.pem" -www -quiet
wait_for 5 listening "$EW_SRV" tcp "$PORT" || fail server "openssl s_server is not listening"
bg "$EW_SRV" 60 tcpdump --immediate-mode -i "$EW_SIF" -U -s 0 -w "$EW_TMP/cap.pcap" tcp port "$PORT"
DUMP=$EW_LAST_PID
sleep 1

# s_client NS ADDR ARGS...: one TLS connection; succeeds if the handshake completed.
s_client() {
	local ns=$1 addr=$2
	shift 2
	echo Q | nsrun "$ns" timeout 5 openssl s_client -connect "$addr:${SPORT:-$PORT}" -servername lab.example "$@" \
		2>/dev/null | grep -q '^New, TLS'
}
curl_get() {
	nsrun "$1" timeout 6 curl -sk -o /dev/null --max-time 4 --resolve "lab.example:${SPORT:-$PORT}:$2" \
		"https://lab.example:${SPORT:-$PORT}/"
}

check s_client_tls13 "openssl s_client -tls1_3 failed" s_client "$EW_ID-c1" 198.18.1.1 -tls1_3
check s_client_tls12 "openssl s_client -tls1_2 failed" s_client "$EW_ID-c1" 198.18.1.1 -tls1_2 -alpn http/1.1
check curl "curl failed" curl_get "$EW_ID-c2" 198.18.2.1
sleep 0.5
stop "$DUMP"

# The expectation per client port: JA4 from the captured hello, JA3 from tshark.
tshark -r "$EW_TMP/cap.pcap" -Y 'tls.handshake.type == 1' -T fields -e tcp.srcport -e tcp.payload \
	-e tls.handshake.ja3 >"$EW_TMP/hellos.txt" 2>/dev/null
flows=$(ew flows --json)
n=0
while read -r sport hex ja3; do
	want=$(echo "$hex" | "$EW_BIN" fp hello -j | json_get "d['ja4']")
	got=$(echo "$flows" | json_get "next((f['ja4'], f['ja3']) for f in d if f['sport'] == $sport)")
	n=$((n + 1))
	check "ja4_hello_$n" "flow from port $sport: got $got, want ($want, $ja3)" [ "$got" = "('$want', '$ja3')" ]
done <"$EW_TMP/hellos.txt"
check hellos_captured "$n hellos in the capture, want 3" [ "$n" -eq 3 ]
sni=$(echo "$flows" | json_get "sorted(set(str(f['sni']) for f in d if f['dport'] == $PORT))")
check sni "SNI seen: $sni" [ "$sni" = "['lab.example']" ]

# Drop curl's fingerprint: curl is stopped at its hello, openssl still connects.
# (A second server: s_server serves one connection at a time, and a client
# whose hello is dropped holds it until it gives up.)
curl_ja4=$(echo "$flows" | json_get "next(f['ja4'] for f in d if f['src'] == '198.18.2.2' and f['ja4'])")
check fp_add "fp add failed" ew fp add ja4 "$curl_ja4" --action drop --label curl
SPORT=$((PORT + 1))
bg "$EW_SRV" 60 openssl s_server -accept "$SPORT" -cert "$EW_TMP/cert.pem" -key "$EW_TMP/key.pem" -www -quiet
wait_for 5 listening "$EW_SRV" tcp "$SPORT" || fail server2 "second s_server is not listening"
check s_client_still_connects "openssl s_client blocked too" s_client "$EW_ID-c1" 198.18.1.1 -tls1_3
if curl_get "$EW_ID-c2" 198.18.2.1; then fail curl_dropped "curl still connects"; else pass curl_dropped; fi
hits=$(ew fp list -j | json_get "d[0]['hits']")
check fp_hits "rule hits $hits, want >= 1" [ "$hits" -ge 1 ]

# A bad value changes nothing; deleting the rule lets curl through again (on a
# fresh server: the dropped connection still holds the second one).
ew fp add ja4 t13d1516h2_NOTAHASH0000 --action drop >/dev/null 2>&1
rc=$?
rules=$(ew fp list -j | json_get 'len(d)')
check fp_bad_refused "a bad JA4: exit $rc, $rules rules" [ "$rc" != 0 -a "$rules" = 1 ]
check fp_del "fp del failed" ew fp del ja4 "$curl_ja4"
SPORT=$((PORT + 2))
bg "$EW_SRV" 60 openssl s_server -accept "$SPORT" -cert "$EW_TMP/cert.pem" -key "$EW_TMP/key.pem" -www -quiet
wait_for 5 listening "$EW_SRV" tcp "$SPORT" || fail server3 "third s_server is not listening"
check curl_after_del "curl still dropped after fp del" curl_get "$EW_ID-c2" 198.18.2.1

# A port set without this port: the hello is not looked at.
check fp_ports_add "fp ports add failed" ew fp ports add 9999
check s_client_other_port "s_client failed" s_client "$EW_ID-c1" 198.18.1.1 -tls1_3
unseen=$(ew flows --json | json_get "[f['ja4'] for f in d if f['dport'] == $SPORT and f['src'] == '198.18.1.2']")
check fp_ports_skip "hellos to port $SPORT with a port set of 9999: $unseen" [ "$unseen" = "[None]" ]
check fp_ports_del "fp ports del failed" ew fp ports del 9999
check fp_ports_empty "port set after del: $(ew fp ports list -j)" [ "$(ew fp ports list -j)" = "[]" ]
ew_done
