#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make demo`: a namespace lab that shows edgeward working, then removes
# itself. A server namespace runs an HTTP server; two client namespaces on
# 198.18.1.0/24 and 198.18.2.0/24 reach it through a bridge. edgeward is
# attached to the server's interface, real traffic flows, one prefix is
# blocked, and the CLI and bpftool show what the data path saw.
#
#   scripts/demo.sh [--pin-dir DIR]     (as root; OUT=build-dir to pick a build)
#
# Unattended, bounded (well under a minute), and it leaves nothing behind:
# namespaces, servers and pins go on every exit path. Each step is a
# function; later labs (TLS servers, proxies) add steps to main().
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
	step_unblock
	say "Done in $((SECONDS - t0)) s; the lab is removed on exit"
	[ "$DEMO_ERRORS" -eq 0 ]
}

main
