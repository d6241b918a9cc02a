#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make demo`: a namespace lab that shows edgeward working, then removes
# itself. A server namespace runs an HTTP server; two client namespaces on
# 198.18.1.0/24 and 198.18.2.0/24 reach it through a bridge. edgeward is
# attached to the server's interface, real traffic flows, one prefix is
# blocked, and the CLI and bpftool show what the data path saw. Last, a TLS
# server using libedgeward logs the JA4 of clients reaching it directly and
# through real proxies (tinyproxy, microsocks).
#
#   scripts/demo.sh [--pin-dir DIR]     (as root; OUT=build-dir to pick a build)
#
# Unattended, bounded (well under a minute), and it leaves nothing behind:
# namespaces, servers and pins go on every exit path. Each step is a
# function; later labs add steps to main().
set -u

usage() { echo "usage: $0 [--pin-dir DIR]  (DIR must not exist yet; default: a private one)"; }
while [ $# -gt 0 ]; do
	case $1 in
	--pin-dir) EW_PIN_DIR=${2:?--pin-dir needs a directory}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
if [ -n "${EW_PIN_DIR:-}" ] && [ -e "$EW_PIN_DIR" ]; then
	echo "demo: $EW_PIN_DIR exists; the demo only uses a pin dir of its own" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it creates network namespaces and loads BPF programs)" >&2
	exit 1
fi
EW_TAG=${EW_TAG:-demo}
. "$(dirname "$0")/../tests/e2e/lib.sh"

HTTP=8080
DEMO_ERRORS=0

if [ ! -x "$EW_BIN" ]; then
	echo "demo: $EW_BIN is not built (make OUT=${OUT#"$EW_ROOT"/})" >&2
	exit 1
fi
# After the harness's cleanup, say whether anything is left.
demo_leftovers() {
	local left
	left=$(ip netns list | grep -c "^$EW_ID-")
	[ -e "$EW_PIN" ] && left=$((left + 1))
	if [ "$left" -eq 0 ]; then
		echo "cleaned up: no namespace, server or pin left"
	else
		echo "demo: $left namespaces or pins left behind" >&2
		exit 1
	fi
}
trap 'ew_cleanup; demo_leftovers' EXIT

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
# run_ew ARGS...: show and run an edgeward command in the server namespace.
run_ew() {
	echo "\$ edgeward $*"
	ew "$@"
}
# run_ns CMD...: show and run a command in the server namespace.
run_ns() {
	echo "\$ $*"
	nsrun "$EW_SRV" "$@"
}
# expect WHAT GOT WANT: report a mismatch (the demo then exits non-zero).
expect() {
	if [ "$2" = "$3" ]; then
		echo "   ok: $1 ($2)"
	else
		echo "   UNEXPECTED: $1: got $2, want $3"
		DEMO_ERRORS=$((DEMO_ERRORS + 1))
	fi
}
# try I WANT: one HTTP request from client I ("000": no answer), checked.
try() {
	local code
	code=$(http_get "$EW_ID-c$1" "http://198.18.$1.1:$HTTP/hello.txt")
	expect "client $1 (198.18.$1.2): curl http://198.18.$1.1:$HTTP/hello.txt" "HTTP $code" "HTTP $2"
}

step_lab() {
	say "Lab: server $EW_SRV, clients $EW_ID-c1 (198.18.1.2) and $EW_ID-c2 (198.18.2.2), pins in $EW_PIN"
	lab_server && lab_client 1 && lab_client 2 || { echo "demo: cannot build the lab" >&2; exit 1; }
	http_server $HTTP 60 || { echo "demo: the HTTP server did not start" >&2; exit 1; }
	tcp_echo :: 7000 || { echo "demo: the echo server did not start" >&2; exit 1; }
	echo "   python3 -m http.server on port $HTTP, a TCP echo server on port 7000"
}

step_attach() {
	say "Attach edgeward to the server's interface (XDP ingress + TC egress)"
	run_ew attach "$EW_SIF" || exit 1
	run_ew status
}

step_traffic() {
	say "Real traffic from both clients"
	try 1 200
	try 2 200
	echo "   client 2 sends 10 UDP datagrams and a 2000-byte TCP echo exchange"
	traffic "$EW_ID-c2" 10 udp-send --src 198.18.2.2 --dst 198.18.2.1 --port 9999 --count 10 --size 100 >/dev/null
	traffic "$EW_ID-c2" 10 tcp-send --src 198.18.2.2 --dst 198.18.2.1 --port 7000 --size 2000 >/dev/null
}

step_block() {
	say "Block client 1's prefix"
	run_ew block add 198.18.1.0/24 --label demo-c1
	try 1 000
	try 2 200
	run_ew block list
}

step_monitor() {
	say "Monitor mode: the same block, counted as would_drop instead of enforced"
	run_ew attach --monitor "$EW_SIF"
	try 1 200
	echo "\$ edgeward stats | grep ' prefix '"
	ew stats | grep ' prefix '
	run_ew attach "$EW_SIF"
	try 1 000
}

step_read() {
	say "What edgeward saw"
	run_ew stats
	echo
	run_ew flows
}

step_bpftool() {
	local idx
	say "The same maps with bpftool (pinned in $EW_PIN, BTF-typed)"
	run_ns bpftool map show pinned "$EW_PIN/ew_stats"
	idx=$(stat_idx EW_HOOK_XDP EW_R_PREFIX EW_A_DROP)
	echo "   ew_stats index = (hook * 32 + reason) * 5 + action; xdp/prefix/drop = (0*32+12)*5+4 = $idx"
	run_ns bpftool map lookup pinned "$EW_PIN/ew_stats" key $idx 0 0 0
	run_ns bpftool map dump pinned "$EW_PIN/ew_pfx4"
	run_ns bpftool map dump pinned "$EW_PIN/ew_config"
	run_ns bpftool prog show name ew_xdp
	run_ns bpftool net show
	echo "\$ bpftool map dump pinned $EW_PIN/ew_flows   (first 30 lines)"
	nsrun "$EW_SRV" bpftool map dump pinned "$EW_PIN/ew_flows" | head -30
}

step_tls_proxy() {
	local crt=$EW_TMP/demo-cert.pem key=$EW_TMP/demo-key.pem log=$EW_TMP/tls-server.log c2=$EW_ID-c2 url
	say "A TLS server that asks edgeward about each connection (libedgeward), reached directly and through proxies"
	if [ ! -x "$OUT/examples/tls-server" ] || ! command -v tinyproxy >/dev/null || ! command -v microsocks >/dev/null; then
		echo "   (skipped: needs build/examples/tls-server, tinyproxy and microsocks; scripts/install-deps.sh)"
		return
	fi
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$key" -out "$crt" \
		-days 1 -subj /CN=api.demo.test >/dev/null 2>&1
	bg "$EW_SRV" 30 "$OUT/examples/tls-server" --cert "$crt" --key "$key" --listen 198.18.2.1:4433 >"$log" 2>&1
	printf 'Port 8888\nListen 127.0.0.1\nAllow 127.0.0.1\nConnectPort 4433\nMaxClients 4\nLogLevel Critical\n' \
		>"$EW_TMP/tinyproxy.conf"
	bg "$c2" 30 tinyproxy -d -c "$EW_TMP/tinyproxy.conf" >/dev/null 2>&1
	bg "$c2" 30 microsocks -i 127.0.0.1 -p 1080 >/dev/null 2>&1
	wait_for 5 listening "$EW_SRV" tcp 4433 && wait_for 5 listening "$c2" tcp 8888 && wait_for 5 listening "$c2" tcp 1080
	url=https://api.demo.test:4433/account/42
	echo "   tls-server on 198.18.2.1:4433; tinyproxy (HTTP CONNECT) and microsocks (SOCKS5) in client 2's namespace"
	local how
	for how in direct "HTTP CONNECT via tinyproxy" "SOCKS5 via microsocks"; do
		local opt=(--resolve api.demo.test:4433:198.18.2.1)
		case $how in
		HTTP*) opt=(--proxy http://127.0.0.1:8888 --connect-to api.demo.test:4433:198.18.2.1:4433) ;;
		SOCKS*) opt+=(--socks5 127.0.0.1:1080) ;;
		esac
		echo "\$ curl -sk ${opt[*]} $url   (client 2, $how)"
		nsrun "$c2" timeout 5 curl -sk "${opt[@]}" "$url"
	done
	echo "\$ cat tls-server.log   (each request with what edgeward knows of its connection)"
	grep '^client=' "$log"
	expect "requests the TLS server logged with edgeward's view" "$(grep -c '^client=.* verdict=pass' "$log")" 3
	run_ew flows --port 4433
	run_ew stats
}

step_unblock() {
	say "Unblock and detach"
	run_ew block del 198.18.1.0/24
	try 1 200
	run_ew detach "$EW_SIF"
	expect "pin dir after the last detach" "$([ -e "$EW_PIN" ] && echo present || echo gone)" gone
}

main() {
	local t0=$SECONDS
	step_lab
	step_attach
	step_traffic
	step_block
	step_monitor
	step_read
	step_bpftool
	step_tls_proxy
	step_unblock
	say "Done in $((SECONDS - t0)) s; the lab is removed on exit"
	[ "$DEMO_ERRORS" -eq 0 ]
}

main
