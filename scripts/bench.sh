#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`: edgeward against what operators would use instead, in one run
# on one machine; medians and ratios, written as markdown to $OUT/bench.md and
# printed. Four parts:
#   1. per-packet cost with BPF_PROG_TEST_RUN: edgeward, an empty XDP program
#      and xdp-filter (xdp-tools' packaged object), interleaved ($OUT/tests/bench pkt);
#   2. throughput on veth: live frames (BPF_F_TEST_XDP_LIVE_FRAMES) from one
#      namespace into another whose receiver drops a blocklisted source with
#      edgeward, nftables netdev ingress + set, iptables raw + ipset, or
#      nothing; the receiving NAPI thread's CPU time per packet, rounds
#      interleaved, medians;
#   3. feed load and reload beside `ipset restore` and `nft -f` (scripts/bench-feeds.sh);
#   4. kernel memory per flow and per prefix.
# Every knob is an environment variable (BN_*); tests/e2e/test_bench_smoke.sh
# runs it with tiny sizes. Traffic stays in two namespaces this script
# creates (198.18.0.0/15 only); a trap removes them and the pins on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-build}
BENCH=$OUT/tests/bench
EW=$OUT/edgeward
BN_REPEAT=${BN_REPEAT:-1000000}	  # BPF_PROG_TEST_RUN repeat per measurement
BN_RUNS=${BN_RUNS:-5}		  # runs per median (per-packet part)
BN_SIZES=${BN_SIZES:-0,10000,1000000}  # block-list sizes, per-packet part
BN_FLOWS=${BN_FLOWS:-1000000}	  # flow table: max_entries and fill
BN_ONESHOT=${BN_ONESHOT:-2000}	  # fresh flows per one-shot row
BN_LOAD_SIZES=${BN_LOAD_SIZES:-10000 100000 1000000}  # feed load/reload part (bench-feeds.sh)
# Its per-packet part (feeds vs an LPM trie). Each BPF_PROG_TEST_RUN with
# repeat > 1 swaps the kernel's XDP dispatcher twice (two RCU grace periods,
# milliseconds on a busy machine): few frames, many repeats.
BN_FEED_LOOKUP_SIZES=${BN_FEED_LOOKUP_SIZES:-0,1000000}
BN_FEED_FRAMES=${BN_FEED_FRAMES:-64}
BN_FEED_REPEAT=${BN_FEED_REPEAT:-10000}
BN_LIVE_PFX=${BN_LIVE_PFX:-1000000}	  # the veth part's block list
BN_LIVE_COUNT=${BN_LIVE_COUNT:-3000000}  # frames sent per veth measurement
BN_LIVE_ROUNDS=${BN_LIVE_ROUNDS:-3}	  # interleaved rounds, veth part
BN_MD=${BN_MD:-$OUT/bench.md}

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP, nftables)"
for t in "$BENCH" "$EW"; do [ -x "$t" ] || die "$t missing: run make tests-build"; done
for c in nft ipset iptables nsenter ip awk; do
	command -v "$c" >/dev/null || die "$c missing: run scripts/install-deps.sh"
done
XF_OBJ=
for d in /usr/lib/bpf /usr/lib/*/bpf /usr/local/lib/bpf; do
	[ -e "$d/xdpfilt_alw_all.o" ] && XF_OBJ=$d/xdpfilt_alw_all.o && break
done
[ -n "$XF_OBJ" ] || die "xdp-filter's BPF object (xdpfilt_alw_all.o) not found: install xdp-tools"

# --- lab: two namespaces, one veth pair between them, a spare veth in the receiver --
ID=$(($$ % 100000))
NS_TX=bn-tx-$ID NS_RX=bn-rx-$ID
IF_TX=bnt$ID IF_RX=bnr$ID IF_DUM=bnk$ID  # bnk: a spare veth that keeps edgeward's pins
MAC_RX=02:00:00:00:00:02
export EDGEWARD_PIN_DIR=/sys/fs/bpf/ew-bn-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ew-bench.XXXXXX")
export EDGEWARD_STATE_DIR=$TMP/state

cleanup() {
	trap - EXIT INT TERM HUP
	if [ -e "$EDGEWARD_PIN_DIR/ew_ifaces" ]; then
		rx "$EW" detach "$IF_RX" >/dev/null 2>&1 || true
		rx "$EW" detach "$IF_DUM" >/dev/null 2>&1 || true
	fi
	ip netns del "$NS_TX" 2>/dev/null || true
	ip netns del "$NS_RX" 2>/dev/null || true
	[ -d "$EDGEWARD_PIN_DIR" ] && rm -rf "$EDGEWARD_PIN_DIR"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

rx() { nsenter --net="/run/netns/$NS_RX" "$@"; }
tx() { nsenter --net="/run/netns/$NS_TX" "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt_n() { awk -v n="$1" 'BEGIN { if (n >= 1e6 && n % 1e6 == 0) print n / 1e6 "M"; else if (n >= 1e3 && n % 1e3 == 0) print n / 1e3 "k"; else print n }'; }

lab_up() {
	echo "bench: lab namespaces $NS_TX $NS_RX" >&2
	ip netns add "$NS_TX"
	ip netns add "$NS_RX"
	# No IPv6 autoconfiguration chatter among the counted frames.
	for ns in "$NS_TX" "$NS_RX"; do
		nsenter --net="/run/netns/$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add "$IF_TX" netns "$NS_TX" address 02:00:00:00:00:01 type veth \
		peer name "$IF_RX" netns "$NS_RX" address "$MAC_RX"
	ip -n "$NS_TX" addr add 198.18.0.1/24 dev "$IF_TX"
	ip -n "$NS_RX" addr add 198.18.0.2/24 dev "$IF_RX"
	ip -n "$NS_RX" link add "$IF_DUM" type veth peer name "${IF_DUM}p"
	for l in "$IF_TX" lo; do ip -n "$NS_TX" link set "$l" up; done
	for l in "$IF_RX" "$IF_DUM" "${IF_DUM}p" lo; do ip -n "$NS_RX" link set "$l" up; done
	# veth takes XDP frames only through NAPI: GRO on gives it NAPI without
	# an XDP program; threaded NAPI gives the receive side its own thread,
	# whose CPU time is the receiver's cost.
	rx "$BENCH" gro "$IF_RX"
	ip netns exec "$NS_RX" sh -c "echo 1 > /sys/class/net/$IF_RX/threaded"
	# edgeward stays loaded (pins, feeds) while the veth is detached.
	rx "$EW" attach "$IF_DUM" --mode generic >/dev/null
}

# --- report header -------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
CLANG=$("${BPF_CLANG:-clang}" --version | head -1)
{
	echo "# edgeward benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $CPU, $(nproc) CPUs; Linux $(uname -r); $CLANG;"
	echo "xdp-filter: $XF_OBJ (xdp-tools $(dpkg-query -W -f '${Version}' xdp-tools 2>/dev/null || echo '?'))."
	echo "Block list: N IPv4 prefixes from \`$BENCH prefixes N\` (70% /32, 25% /24, 5% /28, no overlaps;"
	echo "the first is 198.19.0.0/16, where the blocklisted test source lives), loaded into edgeward as one drop"
	echo "feed (\`edgeward feed load\`: DIR-24-8 for IPv4). Medians; ratios are within this run."
	echo
} >"$BN_MD"

# --- 1. per-packet cost --------------------------------------------------------
echo "bench: per-packet cost (repeat $BN_REPEAT, $BN_RUNS runs, block lists $BN_SIZES, flows $BN_FLOWS)" >&2
"$BENCH" pkt --xdp-filter "$XF_OBJ" --repeat "$BN_REPEAT" --runs "$BN_RUNS" --sizes "$BN_SIZES" \
	--flows "$BN_FLOWS" --oneshot "$BN_ONESHOT" --strict >"$TMP/pkt.md" 2>"$TMP/pkt.err" ||
	{ cat "$TMP/pkt.err" >&2; die "per-packet part failed"; }
{
	echo "## 1. Per-packet cost (BPF_PROG_TEST_RUN, ns per packet)"
	echo
	echo "Rows \"repeated\": one frame, repeat $BN_REPEAT, median of $BN_RUNS runs, the three programs"
	echo "interleaved. \"in turn\" / \"new flow each\": a wrapper rewrites the source address and port"
	echo "before each repetition and tail-calls the program (its own cost, measured on the empty"
	echo "program, is subtracted), so every repetition is another flow and cache misses show."
	echo "One-shot rows (\"SYN, new flow\", \"after SYN\"): $BN_ONESHOT fresh flows, repeat 1 each, the"
	echo "programs interleaved, mean of the middle half less the test-run timer's cost (the empty"
	echo "program's one-shot time above its repeated time). The flow table is sized with max_entries = $(fmt_n "$BN_FLOWS")"
	echo "(\`edgeward attach --flows\`) and filled to 99% from user space with established flows (a"
	echo "full LRU table evicts a batch on the next insert, and a walk over all its flows then misses on"
	echo "every one); the in-turn row walks those flows before any other row inserts one."
	echo
	sed '/^MEMORY$/,$d' "$TMP/pkt.md"
	echo
} >>"$BN_MD"

lab_up

# --- 3. feed load and reload: fd's scripts/bench-feeds.sh, its own namespace ----
echo "bench: feed load and reload (scripts/bench-feeds.sh, sizes $BN_LOAD_SIZES)" >&2
BF_SIZES=$BN_LOAD_SIZES BF_LOOKUP_SIZES=$BN_FEED_LOOKUP_SIZES BF_FRAMES=$BN_FEED_FRAMES BF_REPEAT=$BN_FEED_REPEAT \
	BF_MD=$TMP/feeds.md OUT=$OUT scripts/bench-feeds.sh >/dev/null 2>"$TMP/feeds.err" ||
	{ cat "$TMP/feeds.err" >&2; die "feed part failed"; }

# --- the veth block list, the same in every receiver ------------------------------
LIVE_N=$BN_LIVE_PFX
"$BENCH" prefixes "$LIVE_N" >"$TMP/plive"
{
	echo "create bnset hash:net family inet hashsize $LIVE_N maxelem $((2 * LIVE_N + 1024))"
	sed 's/^/add bnset /' "$TMP/plive"
} | rx ipset restore
IPSET_MEM=$(rx ipset list -t bnset | awk -F': ' '/Size in memory/ { print $2 }')
# nft lists a big set's elements with any listing; a named counter, read by
# `nft reset counter`, is the one read that does not.
printf 'table netdev bnt {\n\tcounter cdrop { }\n\tset block { type ipv4_addr; flags interval; elements = { %s } }\n}\n' \
	"$(paste -sd, "$TMP/plive")" >"$TMP/nft"
rx nft -f "$TMP/nft"
rm -f "$TMP/nft"
rx "$EW" feed load bench "$TMP/plive" >/dev/null

# --- 2. throughput on veth ------------------------------------------------------
napi_pid() {
	local p c
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		case $c in "napi/$IF_RX-"*) echo "${p#/proc/}"; return ;; esac
	done
	return 1
}
rx_packets() { rx awk -v i="$IF_RX:" '$1 == i { print $3 }' /proc/net/dev; }
# One measurement: ns of receive CPU per packet received, and packets received.
live_once() {
	local pid r0 r1 p0 p1
	pid=$(napi_pid) || die "no NAPI thread for $IF_RX"
	r0=$(awk '{ print $1 }' "/proc/$pid/schedstat")
	p0=$(rx_packets)
	tx "$BENCH" live "$IF_TX" --count "$BN_LIVE_COUNT" --dmac "$MAC_RX" --src 198.19.0.1 \
		--dst 198.18.0.2 >/dev/null
	sleep 0.3
	r1=$(awk '{ print $1 }' "/proc/$pid/schedstat")
	p1=$(rx_packets)
	[ "$p1" -gt "$p0" ] || die "the receiver got no frames"
	echo "$(((r1 - r0) / (p1 - p0))) $((p1 - p0))"
}
declare -A NS RECV
CFGS="edgeward nft iptables none floor"
ipt_rule=(raw PREROUTING -i "$IF_RX" -m set --match-set bnset src -j DROP)
for round in $(seq "$BN_LIVE_ROUNDS"); do
	for cfg in $CFGS; do
		case $cfg in
		edgeward) rx "$EW" attach "$IF_RX" >/dev/null ;;
		nft) rx nft add chain netdev bnt in "{ type filter hook ingress device $IF_RX priority -500; }"
		     rx nft add rule netdev bnt in ip saddr @block counter name cdrop drop ;;
		iptables) rx iptables -t "${ipt_rule[@]:0:1}" -A "${ipt_rule[@]:1}" ;;
		none) ;;
		floor) rx "$BENCH" xdpdrop "$IF_RX" ;;
		esac
		read -r ns got < <(live_once)
		NS[$cfg]+="$ns "
		RECV[$cfg]=$((${RECV[$cfg]:-0} + got))
		case $cfg in
		edgeward) rx "$EW" detach "$IF_RX" >/dev/null ;;
		nft) DROPPED_nft=$((${DROPPED_nft:-0} + $(rx nft reset counter netdev bnt cdrop | awk '$1 == "packets" { print $2 }')))
		     rx nft flush chain netdev bnt in
		     rx nft delete chain netdev bnt in ;;
		iptables) DROPPED_ipt=$((${DROPPED_ipt:-0} + $(rx iptables -t raw -L PREROUTING -v -x -n | awk '/match-set/ { print $1 }')))
			  rx iptables -t "${ipt_rule[@]:0:1}" -D "${ipt_rule[@]:1}" ;;
		floor) ip -n "$NS_RX" link set dev "$IF_RX" xdp off ;;
		esac
	done
done
DROPPED_ew=$(rx "$EW" stats --prometheus | awk '/^edgeward_packets_total\{hook="xdp",.*action="drop"\}/ { s += $2 } END { print s + 0 }')

{
	echo "## 2. Throughput on veth (live frames, receive CPU per packet)"
	echo
	echo "A generator (BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX) sends $(fmt_n "$BN_LIVE_COUNT") 60-byte UDP frames"
	echo "from blocklisted 198.19.0.1 per measurement into a veth pair between two namespaces; the"
	echo "receiver (threaded NAPI, GRO on) drops them with each filter in turn, $BN_LIVE_ROUNDS interleaved"
	echo "rounds. Cost = CPU time of the receiving NAPI thread / frames it received (sender-side ring"
	echo "overflow is not counted); Mpps = what one receive core sustains at that cost. Block list:"
	echo "$(fmt_n "$LIVE_N") prefixes, the same in every filter. The floor row is veth's own cost per"
	echo "frame (ring, NAPI, frame return) under an XDP program that only drops."
	echo
	echo "| receiver | ns per packet | Mpps per core | edgeward speed-up | ns above the floor | frames received | dropped by the filter |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
} >>"$BN_MD"
EW_NS=$(echo "${NS[edgeward]}" | median)
FLOOR_NS=$(echo "${NS[floor]}" | median)
for cfg in $CFGS; do
	m=$(echo "${NS[$cfg]}" | median)
	case $cfg in
	edgeward) name="edgeward (XDP)"; dropped=$DROPPED_ew ;;
	nft) name="nftables netdev ingress, interval set"; dropped=$DROPPED_nft ;;
	iptables) name="iptables raw PREROUTING + ipset hash:net"; dropped=$DROPPED_ipt ;;
	none) name="nothing dropped (stack: UDP to a closed port)"; dropped=0 ;;
	floor) name="floor: XDP program that drops everything"; dropped=${RECV[floor]} ;;
	esac
	awk -v n="$name" -v m="$m" -v e="$EW_NS" -v f="$FLOOR_NS" -v r="${RECV[$cfg]}" -v d="${dropped:-0}" \
		'BEGIN { printf "| %s | %.0f | %.2f | %.1f× | %.0f | %d | %d |\n", n, m, 1000 / m, m / e, m - f, r, d }' >>"$BN_MD"
	eval "LIVE_$cfg=$m"
done
echo >>"$BN_MD"

{
	echo "## 3. Feed load and reload (scripts/bench-feeds.sh)"
	echo
	echo "edgeward \`feed load\` beside \`ipset restore\` and \`nft -f\` of the same generated sets, by"
	echo "scripts/bench-feeds.sh (its own list generator: IPv4 plus a fifth as many IPv6 prefixes; reloads"
	echo "replace $(grep -o 'BF_CHURN:-[0-9]*' scripts/bench-feeds.sh | cut -d- -f2)% of the entries)."
	echo
	sed 's/^## /### /' "$TMP/feeds.md"
	echo
	echo "## 4. Memory (kernel memory charged to the maps: /proc fdinfo memlock)"
	echo
	sed '1,/^MEMORY$/d' "$TMP/pkt.md"
	awk -v n="$LIVE_N" -v f="$(fmt_n "$LIVE_N")" -v b="$IPSET_MEM" 'BEGIN { printf "| ipset hash:net (Size in memory) | %s | %.1f MiB | %.0f B per prefix |\n", f, b / 1048576, b / n }'
	echo "| nftables interval set | | not reported by nft | |"
	echo
} >>"$BN_MD"

# --- targets ---------------------------------------------------------------------
mid=$(grep -F '| mid-flow IPv4 TCP | 1M | 1M |' "$BN_MD" | awk -F'|' '{ gsub(/ /, "", $8); print $8 }' || true)
# The largest size's row of the feed table: "| N4 + N6 | load | reload | ipset | ipset reload |".
big=${BN_LOAD_SIZES##* }
ew_rel=$(awk -F'|' -v n="$big" '$2 ~ "^ *" n " [+]" { split($4, a, " "); print a[1]; exit }' "$TMP/feeds.md")
ip_rel=$(awk -F'|' -v n="$big" '$2 ~ "^ *" n " [+]" { split($6, a, " "); print a[1]; exit }' "$TMP/feeds.md")
verdict() { awk -v c="$1" 'BEGIN { print (c ? "met" : "**missed**") }'; }
{
	echo "## Targets"
	echo
	echo "| target | measured | |"
	echo "|---|---|---|"
	if [ -n "$mid" ]; then
		echo "| mid-flow IPv4 packet at 1M prefixes and 1M flows costs no more than xdp-filter | edgeward / xdp-filter = $mid | $(verdict "$(awk -v r="$mid" 'BEGIN { print (r <= 1.0) }')") |"
	else
		echo "| mid-flow IPv4 packet at 1M prefixes and 1M flows costs no more than xdp-filter | not measured at these sizes ($BN_SIZES, $BN_FLOWS flows) | — |"
	fi
	# Above the floor: what is left once veth's own per-frame cost is taken out.
	above() { awk -v a="$1" -v e="$LIVE_edgeward" -v f="$LIVE_floor" 'BEGIN { printf "%.1f", (a - f) / (e - f) }'; }
	r=$(awk -v a="$LIVE_nft" -v e="$LIVE_edgeward" 'BEGIN { printf "%.1f", a / e }')
	echo "| blocklisted source dropped at >= 5× the rate of nftables netdev ingress | ${r}× ($(above "$LIVE_nft")× above the veth floor) | $(verdict "$(awk -v r="$r" 'BEGIN { print (r >= 5) }')") |"
	r=$(awk -v a="$LIVE_iptables" -v e="$LIVE_edgeward" 'BEGIN { printf "%.1f", a / e }')
	echo "| blocklisted source dropped at >= 10× the rate of iptables + ipset | ${r}× ($(above "$LIVE_iptables")× above the veth floor; the floor alone is $(awk -v f="$LIVE_floor" -v a="$LIVE_iptables" 'BEGIN { printf "%.0f%%", 100 * f / a }') of iptables' cost) | $(verdict "$(awk -v r="$r" 'BEGIN { print (r >= 10) }')") |"
	echo "| $(fmt_n "$big")-prefix reload beats \`ipset restore\` (restore + swap) | edgeward ${ew_rel:-?} s vs ipset ${ip_rel:-?} s | $(verdict "$(awk -v e="${ew_rel:-1e9}" -v i="${ip_rel:-0}" 'BEGIN { print (e < i) }')") |"
	echo
} >>"$BN_MD"

cat "$BN_MD"
echo "bench: written to $BN_MD" >&2
