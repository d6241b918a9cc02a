# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Harness sourced by every end-to-end test (and by scripts/demo.sh): a lab of
# network namespaces joined by veth, real servers and clients, the real CLI.
#
# - Names are unique per run: namespaces "$EW_ID-NAME", interfaces "${EW_ID}sN"
#   (EW_ID is $EW_TAG plus this shell's pid; EW_TAG defaults to "ewt").
# - EDGEWARD_PIN_DIR is always a private pin dir, /sys/fs/bpf/ew-$EW_TAG-$$,
#   so a test never touches a real deployment's pins.
# - A trap detaches, kills the servers and deletes the namespaces on every exit.
# - Addresses only from 198.18.0.0/15 and 2001:db8::/32; IPv6 with nodad and
#   static neighbours both ways, so traffic starts at once and no ARP/ND
#   packet mixes with what a test counts.
# - `ew ARGS` runs edgeward in the server namespace with nsenter (never
#   `ip netns exec`, which remounts /sys and hides the bpffs pins).
# - Every client and server runs under `timeout` (servers up to 10 minutes).

EW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$EW_ROOT/$OUT ;; esac
EW_BIN=$OUT/edgeward
EW_TRAFFIC=$EW_ROOT/tests/e2e/traffic.py
EW_TAG=${EW_TAG:-ewt}
EW_ID=$EW_TAG$(($$ % 100000))
export EDGEWARD_PIN_DIR=${EW_PIN_DIR:-/sys/fs/bpf/ew-$EW_TAG-$$}
EW_PIN=$EDGEWARD_PIN_DIR
# The pin dir must be new: the trap removes it, so it must never be someone's.
if [ -e "$EW_PIN" ]; then
	echo "FAIL harness: pin dir $EW_PIN already exists; a test uses a fresh one of its own"
	exit 1
fi
EW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ew-e2e.XXXXXX")
EW_PY=${EW_PY:-python3}

EW_SRV=$EW_ID-srv  # server namespace
EW_SW=$EW_ID-sw    # switch namespace (one bridge)
EW_SIF=${EW_ID}s0  # the server's interface on the switch
EW_SRV_MAC=02:00:00:00:ff:00

EW_NETNS=()  # namespaces to delete
EW_PIDS=()   # background processes to kill
EW_FAILED=0
EW_PASSED=0

# --- results ----------------------------------------------------------------
pass() { echo "PASS $1"; EW_PASSED=$((EW_PASSED + 1)); }
# fail NAME WHY: the reason is cut to 1000 characters (a verifier log is longer).
fail() {
	local why=${*:2}
	[ ${#why} -gt 1000 ] && why="${why:0:1000} [...]"
	echo "FAIL $1: $why"
	EW_FAILED=$((EW_FAILED + 1))
}
skip() { echo "SKIP $1: ${*:2}"; }
# check NAME WHY COMMAND...: PASS if the command succeeds, FAIL with WHY if not.
check() {
	local name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}
# Exit status of the test: non-zero if anything failed.
ew_done() {
	[ "$EW_FAILED" -eq 0 ]
	exit $?
}

# --- cleanup ------------------------------------------------------------------
ew_cleanup() {
	local pid ns
	trap - EXIT INT TERM HUP
	for pid in "${EW_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${EW_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	# Detach what is still attached, so links and clsact go the normal way.
	if [ -e "$EW_PIN/ew_ifaces" ] && ip netns list | grep -qw "$EW_SRV"; then
		local ifs
		ifs=$(ew status -j 2>/dev/null | json_get '" ".join(i["name"] for i in d.get("interfaces", []))')
		[ -n "$ifs" ] && ew detach $ifs >/dev/null 2>&1
	fi
	for ns in "${EW_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	# Whatever a failed test left (e.g. overwritten ABI version): remove it.
	[ -d "$EW_PIN" ] && rm -rf "$EW_PIN"
	rm -rf "$EW_TMP"
}
trap ew_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- running things -------------------------------------------------------------
# nsrun NS CMD...: run CMD in namespace NS (bpffs stays visible).
nsrun() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}
# ew ARGS...: edgeward in the server namespace.
ew() { nsrun "$EW_SRV" "$EW_BIN" "$@"; }
# bg NS SECONDS CMD...: start CMD in NS in the background, bounded; pid in EW_LAST_PID.
bg() {
	local ns=$1 secs=$2
	shift 2
	# A simple command, not a function: $! is then timeout itself (nsenter
	# execs it), and killing it ends the server too.
	nsenter --net="/run/netns/$ns" -- timeout "$secs" "$@" &
	EW_LAST_PID=$!
	EW_PIDS+=("$EW_LAST_PID")
}
# stop PID: end one background process and wait for it.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
# json_get EXPR: evaluate a Python expression over `d`, the JSON on stdin.
json_get() {
	"$EW_PY" -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# --- the lab ----------------------------------------------------------------------
# netns_add NAME: create a namespace with lo up.
netns_add() {
	ip netns add "$1" || return 1
	EW_NETNS+=("$1")
	ip -n "$1" link set lo up
}
# addr_add NS IFACE ADDR/LEN: add an IPv4 or IPv6 address (IPv6 without DAD).
addr_add() {
	case $3 in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*) ip -n "$1" addr add "$3" dev "$2" ;;
	esac
}
# neigh_add NS IFACE ADDR MAC: a permanent neighbour entry.
neigh_add() { ip -n "$1" neigh replace "$3" lladdr "$4" dev "$2" nud permanent; }

# lab_server: the server namespace, and a switch namespace with a bridge that
# the server's interface $EW_SIF joins. Clients are added with lab_client.
lab_server() {
	netns_add "$EW_SRV" && netns_add "$EW_SW" || return 1
	ip -n "$EW_SW" link add br0 type bridge || return 1
	ip -n "$EW_SW" link set br0 up
	ip -n "$EW_SRV" link add "$EW_SIF" address "$EW_SRV_MAC" type veth peer name p0 netns "$EW_SW" || return 1
	ip -n "$EW_SW" link set p0 master br0 up
	ip -n "$EW_SRV" link set "$EW_SIF" up
}

# lab_client I [direct]: client namespace "$EW_ID-cI" at 198.18.I.2/24 and
# 2001:db8:I::2/64; the server answers on 198.18.I.1 and 2001:db8:I::1. The
# client joins the switch, or with "direct" gets its own veth into the server
# (server side "${EW_ID}sI"). Sets CLI_NS, CLI_IF, SRV_IF.
lab_client() {
	local i=$1 mode=${2:-switch} cmac smac
	CLI_NS=$EW_ID-c$i
	CLI_IF=${EW_ID}c$i
	cmac=$(printf '02:00:00:00:00:%02x' "$i")
	netns_add "$CLI_NS" || return 1
	if [ "$mode" = direct ]; then
		SRV_IF=${EW_ID}s$i
		smac=$(printf '02:00:00:00:ff:%02x' "$i")
		ip -n "$CLI_NS" link add "$CLI_IF" address "$cmac" type veth \
			peer name "$SRV_IF" address "$smac" netns "$EW_SRV" || return 1
		ip -n "$EW_SRV" link set "$SRV_IF" up
	else
		SRV_IF=$EW_SIF
		smac=$EW_SRV_MAC
		ip -n "$CLI_NS" link add "$CLI_IF" address "$cmac" type veth peer name "p$i" netns "$EW_SW" || return 1
		ip -n "$EW_SW" link set "p$i" master br0 up
	fi
	ip -n "$CLI_NS" link set "$CLI_IF" up
	addr_add "$CLI_NS" "$CLI_IF" "198.18.$i.2/24"
	addr_add "$CLI_NS" "$CLI_IF" "2001:db8:$i::2/64"
	addr_add "$EW_SRV" "$SRV_IF" "198.18.$i.1/24"
	addr_add "$EW_SRV" "$SRV_IF" "2001:db8:$i::1/64"
	neigh_add "$CLI_NS" "$CLI_IF" "198.18.$i.1" "$smac"
	neigh_add "$CLI_NS" "$CLI_IF" "2001:db8:$i::1" "$smac"
	neigh_add "$EW_SRV" "$SRV_IF" "198.18.$i.2" "$cmac"
	neigh_add "$EW_SRV" "$SRV_IF" "2001:db8:$i::2" "$cmac"
}

# listening NS PROTO PORT: something listens on PORT (PROTO tcp or udp).
listening() {
	local opt=-ltnH
	[ "$2" = udp ] && opt=-lunH
	[ -n "$(nsrun "$1" ss $opt "sport = :$3")" ]
}

# http_server PORT [SECONDS]: python's http.server on all addresses (v4 and v6)
# in the server namespace, serving a small file /hello.txt.
http_server() {
	local port=$1 dir=$EW_TMP/www
	mkdir -p "$dir"
	echo "hello from edgeward's lab" >"$dir/hello.txt"
	bg "$EW_SRV" "${2:-600}" "$EW_PY" -m http.server --bind :: --directory "$dir" "$port" \
		>"$EW_TMP/http-$port.log" 2>&1
	wait_for 5 listening "$EW_SRV" tcp "$port"
}
# http_get NS URL: the HTTP status code a client in NS gets ("000" on failure).
http_get() {
	nsrun "$1" timeout 8 curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 "$2" 2>/dev/null
	return 0
}
# http_expect NAME NS URL CODE [NS URL CODE]...: one request per triple; PASS
# if every status code is the expected one ("000": no answer), else FAIL
# listing them all.
http_expect() {
	local name=$1 ok=1 got why=""
	shift
	while [ $# -ge 3 ]; do
		got=$(http_get "$1" "$2")
		why+="$2 from $1: $got (want $3); "
		[ "$got" = "$3" ] || ok=0
		shift 3
	done
	if [ $ok = 1 ]; then pass "$name"; else fail "$name" "$why"; fi
}
# udp_sink ADDR PORT FILE: count datagrams to ADDR:PORT, one line each in FILE.
udp_sink() {
	bg "$EW_SRV" 600 "$EW_PY" -u "$EW_TRAFFIC" udp-sink --bind "$1" --port "$2" >"$3" 2>&1
	wait_for 5 listening "$EW_SRV" udp "$2"
}
# tcp_echo ADDR PORT: an echo server.
tcp_echo() {
	bg "$EW_SRV" 600 "$EW_PY" "$EW_TRAFFIC" tcp-echo --bind "$1" --port "$2" >"$EW_TMP/echo-$2.log" 2>&1
	wait_for 5 listening "$EW_SRV" tcp "$2"
}
# traffic NS SECONDS ARGS...: run traffic.py in NS, bounded.
traffic() {
	local ns=$1 secs=$2
	shift 2
	nsrun "$ns" timeout "$secs" "$EW_PY" "$EW_TRAFFIC" "$@"
}

# --- reading edgeward ---------------------------------------------------------------
# stat_pkts HOOK REASON ACTION [FIELD]: packets (or bytes) in one row of
# `edgeward stats -j`; 0 if the row is absent.
stat_pkts() {
	ew stats -j | json_get "sum(r['${4:-packets}'] for r in d['counters'] if (r['hook'], r['reason'], r['action']) == ('$1', '$2', '$3'))"
}
# abi_enum NAME: value of an enumerator or #define in include/edgeward/abi.h.
abi_enum() {
	"$EW_PY" - "$EW_ROOT/include/edgeward/abi.h" "$1" <<'EOF'
import re, sys
txt = re.sub(r"/\*.*?\*/", "", open(sys.argv[1]).read(), flags=re.S)
vals = {}
for m in re.finditer(r"#define\s+(EW_\w+)\s+(\d+)\s*$", txt, re.M):
    vals[m.group(1)] = int(m.group(2))
for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", txt, re.S):
    n = 0
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, val = item.partition("=")
        if val.strip():
            v = val.strip()
            n = eval(re.sub(r"(\d)u\b", r"\1", v.strip()))
        vals[name.strip()] = n
        n += 1
print(vals[sys.argv[2]])
EOF
}
# stat_idx HOOK REASON ACTION (enumerator names): EW_STAT_IDX() of abi.h.
stat_idx() {
	local h r a rmax amax
	h=$(abi_enum "$1") r=$(abi_enum "$2") a=$(abi_enum "$3")
	rmax=$(abi_enum EW_REASON_MAX) amax=$(abi_enum EW_ACTION_MAX)
	echo $(((h * rmax + r) * amax + a))
}
# bpf_stat HOOK REASON ACTION [FIELD]: the same counter read with bpftool from
# the pinned ew_stats, summed over CPUs, bypassing the CLI.
bpf_stat() {
	local idx
	idx=$(stat_idx "$1" "$2" "$3")
	bpftool -j map dump pinned "$EW_PIN/ew_stats" |
		json_get "sum(v['value']['${4:-packets}'] for e in d if e['formatted']['key'] == $idx for v in e['formatted']['values'])"
}
# flow_get SRC SPORT DST DPORT PROTO FIELD: one field of one flow from
# `edgeward flows -j`, or "none".
flow_get() {
	ew flows -j | json_get "next((f['$6'] for f in d if (f['src'], f['sport'], f['dst'], f['dport'], f['proto']) == ('$1', $2, '$3', $4, '$5')), 'none')"
}

# --- preconditions -----------------------------------------------------------------
# require NAME [TOOL...]: skip the whole test (with a SKIP line) unless we
# are root; fail it if a tool it needs (beyond the harness's own) is missing.
require() {
	local t name=$1
	shift
	if [ "$(id -u)" -ne 0 ]; then
		skip "$name" "needs root (network namespaces, BPF)"
		exit 0
	fi
	for t in ip nsenter curl bpftool timeout ss "$EW_PY" "$@"; do
		if ! command -v "$t" >/dev/null; then
			fail "$name" "$t is missing (scripts/install-deps.sh installs it)"
			exit 1
		fi
	done
	if [ ! -x "$EW_BIN" ]; then
		fail "$name" "$EW_BIN is not built (make OUT=$OUT)"
		exit 1
	fi
}
