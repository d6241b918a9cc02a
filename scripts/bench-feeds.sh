#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Threat-feed benchmark (not a timed test): markdown on stdout and in
# $BF_MD (default $OUT/bench-feeds.md). Callable alone or from `make bench`:
#
#   OUT=build scripts/bench-feeds.sh
#
# 1. Load and reload with churn, for each size in BF_SIZES (IPv4 prefixes;
#    plus a fifth as many IPv6), of the same generated set (bench-feeds gen:
#    70% /32, 20% /24, 10% /16../23; IPv6 /32../64 and /128):
#      edgeward feed load (the CLI: parse, validate, build, swap), first load
#      and reload with BF_CHURN% of the entries replaced;
#      ipset restore into hash:net sets, and the reload as restore into new
#      sets + swap + destroy (the atomic way);
#      nft -f of interval sets (auto-merge), and the reload as one transaction
#      flushing and refilling the sets (skipped above BF_NFT_MAX);
#      a BPF LPM trie filled one prefix at a time.
#    Times are wall clock and CPU (user + sys) of the process; the machine's
#    load average is printed, since other work inflates wall time.
# 2. Per-packet cost with BPF_PROG_TEST_RUN (bench-feeds lookup) at
#    BF_LOOKUP_SIZES: mid-flow packets of BF_FRAMES different flows, and the
#    first-packet decision of BF_FRAMES different listed sources, through the
#    feed tables and through an LPM trie holding the same set.
#
# Traffic: none on the wire; one namespace with a veth pair (needed to attach
# edgeward for the CLI runs), removed with the pins by a trap on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-build}
BF=$OUT/tests/bench-feeds
EW=$OUT/edgeward
BF_SIZES=${BF_SIZES:-10000 100000 1000000}
BF_CHURN=${BF_CHURN:-1}
BF_NFT_MAX=${BF_NFT_MAX:-1000000}
BF_LOOKUP_SIZES=${BF_LOOKUP_SIZES:-0,10000,100000,1000000}
# Each BPF_PROG_TEST_RUN of an XDP program swaps the XDP dispatcher, an RCU
# grace period per call: fewer frames, more repeats keep the run in minutes.
BF_REPEAT=${BF_REPEAT:-2000}
BF_FRAMES=${BF_FRAMES:-256}
BF_MD=${BF_MD:-$OUT/bench-feeds.md}

die() { echo "bench-feeds: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, BPF, ipset, nftables)"
for t in "$BF" "$EW"; do [ -x "$t" ] || die "$t missing: run make OUT=$OUT tests-build"; done
for c in ipset nft ip nsenter awk; do command -v "$c" >/dev/null || die "$c missing: run scripts/install-deps.sh"; done

ID=$(($$ % 100000))
NS=bf-$ID
IF=bf$ID
export EDGEWARD_PIN_DIR=/sys/fs/bpf/ew-fd-bench-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ew-bench-feeds.XXXXXX")
export EDGEWARD_STATE_DIR=$TMP/state

cleanup() {
	trap - EXIT INT TERM HUP
	set +e
	[ -e "$EDGEWARD_PIN_DIR/ew_ifaces" ] && nsenter --net="/run/netns/$NS" "$EW" detach "$IF" >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	[ -d "$EDGEWARD_PIN_DIR" ] && rm -rf "$EDGEWARD_PIN_DIR"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

ip netns add "$NS"
ip -n "$NS" link add "$IF" type veth peer name "${IF}p"
ip -n "$NS" link set "$IF" up
ip -n "$NS" link set "${IF}p" up
EWC=(nsenter --net="/run/netns/$NS" "$EW") # commands /usr/bin/time can run
INNS=(ip netns exec "$NS")
ew() { "${EWC[@]}" "$@"; }
inns() { "${INNS[@]}" "$@"; }
ew attach "$IF" --mode generic >/dev/null

# timed LABEL CMD...: run CMD, append "LABEL wall cpu" (seconds) to $TMP/times.
timed() {
	local label=$1
	shift
	/usr/bin/time -f "$label %e %U %S" -a -o "$TMP/times" "$@" >/dev/null 2>"$TMP/err" ||
		die "$label failed: $(tail -3 "$TMP/err")"
}
# t LABEL: "wall s (cpu s)" of a timed run.
t() { awk -v l="$1" '$1 == l { printf "%.2f s (%.2f)", $2, $3 + $4; f = 1 } END { if (!f) printf "-" }' "$TMP/times"; }

mk_ipset() { # FILE-IN SUFFIX > restore file
	awk -v s="$2" 'BEGIN { print "create bf4" s " hash:net family inet maxelem 4194304";
			       print "create bf6" s " hash:net family inet6 maxelem 4194304" }
		       /:/ { print "add bf6" s, $1; next } { print "add bf4" s, $1 }' "$1"
}
mk_nft() { # FILE-IN MODE(create|refill) > nft file
	local v4 v6
	v4=$(grep -v : "$1" | paste -sd, -)
	v6=$(grep : "$1" | paste -sd, -)
	if [ "$2" = create ]; then
		echo "table inet bf {"
		echo " set s4 { type ipv4_addr; flags interval; auto-merge; elements = { $v4 } }"
		echo " set s6 { type ipv6_addr; flags interval; auto-merge; elements = { $v6 } }"
		echo "}"
	else
		echo "flush set inet bf s4"
		echo "flush set inet bf s6"
		echo "add element inet bf s4 { $v4 }"
		echo "add element inet bf s6 { $v6 }"
	fi
}

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
{
	echo "## Threat feeds: load and reload ($BF_CHURN% churn)"
	echo
	echo "$(nproc) CPUs, $(uname -r); load average at start: $(load_avg). Wall seconds, (CPU seconds user+sys)."
	echo
	echo "| IPv4 + IPv6 prefixes | edgeward load | edgeward reload | ipset restore | ipset reload (restore+swap) | nft -f | nft reload (flush+add) | LPM trie, one at a time |"
	echo "|---|---|---|---|---|---|---|---|"
} | tee "$BF_MD"

for n4 in $BF_SIZES; do
	n6=$((n4 / 5))
	"$BF" gen "$n4" "$n6" 42 >"$TMP/a.txt"
	"$BF" gen "$n4" "$n6" 42 "$BF_CHURN" >"$TMP/b.txt"
	: >"$TMP/times"
	timed ew_load "${EWC[@]}" feed load bench "$TMP/a.txt"
	timed ew_reload "${EWC[@]}" feed load bench "$TMP/b.txt"
	timed ew_reload2 "${EWC[@]}" feed load bench "$TMP/a.txt"
	ew feed del bench >/dev/null
	mk_ipset "$TMP/a.txt" "" >"$TMP/ipset-a"
	mk_ipset "$TMP/b.txt" t >"$TMP/ipset-b"
	timed ipset_load "${INNS[@]}" ipset restore -f "$TMP/ipset-a"
	{ echo "ipset restore -f $TMP/ipset-b && ipset swap bf4t bf4 && ipset swap bf6t bf6 &&"
	  echo "ipset destroy bf4t && ipset destroy bf6t"; } >"$TMP/ipset-reload.sh"
	timed ipset_reload "${INNS[@]}" sh "$TMP/ipset-reload.sh"
	inns ipset destroy bf4 && inns ipset destroy bf6
	if [ "$n4" -le "$BF_NFT_MAX" ]; then
		mk_nft "$TMP/a.txt" create >"$TMP/nft-a"
		mk_nft "$TMP/b.txt" refill >"$TMP/nft-b"
		timed nft_load "${INNS[@]}" nft -f "$TMP/nft-a"
		timed nft_reload "${INNS[@]}" nft -f "$TMP/nft-b"
		inns nft delete table inet bf
	fi
	trie=$("$BF" trie-fill "$n4" "$n6" | awk '$1 == "trie_fill_ms" { printf "%.2f s", $2 / 1000 }')
	reload=$(awk '$1 ~ /^ew_reload/ { w += $2; c += $3 + $4; n++ } END { printf "%.2f s (%.2f)", w / n, c / n }' "$TMP/times")
	echo "| $n4 + $n6 | $(t ew_load) | $reload | $(t ipset_load) | $(t ipset_reload) | $(t nft_load) | $(t nft_reload) | $trie |" | tee -a "$BF_MD"
done
{
	echo
	echo "edgeward reload: mean of two reloads (to the churned set and back). Load average at end: $(load_avg)."
	echo
	echo "## Threat feeds: per-packet cost (BPF_PROG_TEST_RUN, ns)"
	echo
	echo "$BF_FRAMES different frames, each run $BF_REPEAT times; the mean of the kernel's ns per run."
	echo "Mid-flow: frames of established flows from varied sources no feed holds (their verdict is"
	echo "cached on the flow). First packet: varied sources the set holds, dropped, so each run decides"
	echo "again (no flow entry is kept for dropped sources)."
	echo
	echo "| IPv4 + IPv6 prefixes | mid-flow, feeds | mid-flow, LPM trie | first packet, feeds | first packet, LPM trie | feed tables (MiB) |"
	echo "|---|---|---|---|---|---|"
} | tee -a "$BF_MD"
"$BF" lookup "$BF_LOOKUP_SIZES" "$BF_REPEAT" "$BF_FRAMES" 200000 | awk '!/^#/ {
	printf "| %s + %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, ($1 ? $5 : "-"), ($1 ? $6 : "-"), $7 }' |
	tee -a "$BF_MD"
