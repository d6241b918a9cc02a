#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `make bench` in miniature: scripts/bench.sh with tiny sizes and repeat
# counts. Checks that every part runs, every verdict is right (bench pkt
# --strict) and every receiver counted its drops; never checks a timing.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BENCH=$OUT/tests/bench
MD=$EW_TMP/bench.md
LOG=$EW_TMP/bench.log

# The block-list generator: N distinct prefixes, the test prefix first.
n=$("$BENCH" prefixes 5000 | sort -u | wc -l)
first=$("$BENCH" prefixes 5000 | head -1)
check bench_prefixes "bench prefixes 5000 gave $n distinct, first '$first'" \
	test "$n" -eq 5000 -a "$first" = 198.19.0.0/16

BN_REPEAT=20000 BN_RUNS=3 BN_SIZES=0,200 BN_FLOWS=2000 BN_ONESHOT=20 BN_LOAD_SIZES="100 300" \
	BN_FEED_LOOKUP_SIZES=0,300 BN_FEED_FRAMES=16 BN_FEED_REPEAT=100 BN_LIVE_PFX=300 \
	BN_LIVE_COUNT=200000 BN_LIVE_ROUNDS=1 BN_MD=$MD OUT=$OUT \
	timeout 300 "$EW_ROOT/scripts/bench.sh" >"$LOG" 2>&1
rc=$?
check bench_runs "scripts/bench.sh exited $rc: $(tail -5 "$LOG" | tr '\n' ' ')" test "$rc" -eq 0
[ "$rc" -eq 0 ] || ew_done

for s in "## 1. Per-packet cost" "## 2. Throughput on veth" "## 3. Feed load" "## 4. Memory" "## Targets"; do
	check "bench_section_${s:3:1}" "no '$s' in the report" grep -qF "$s" "$MD"
done

# A per-packet row: three numbers and a ratio, at the filled flow table.
row=$(grep -F '| mid-flow IPv4 TCP | 200 | 2k |' "$MD")
check bench_pkt_row "mid-flow row malformed: '$row'" \
	awk -F'|' '{ exit !($5 + 0 > 0 && $6 + 0 > 0 && $7 + 0 > 0 && $8 + 0 > 0) }' <<<"$row"
check bench_pkt_blocked "no blocklisted rows" grep -qF '| blocklisted, 64k sources in turn | 200 |' "$MD"

# Veth part: each filter dropped what it received, nothing dropped without one.
live() { grep -F "| $1" "$MD" | awk -F'|' -v c="$2" '{ gsub(/ /, "", $c); print $c }'; }
for f in "edgeward (XDP)" "nftables netdev" "iptables raw" "floor:"; do
	got=$(live "$f" 7) dropped=$(live "$f" 8)
	check "bench_live_${f%%[ :]*}" "$f: received '$got', dropped '$dropped'" \
		test "${got:-0}" -gt 0 -a "${dropped:-0}" -ge "${got:-0}"
done
got=$(live "nothing dropped" 7) dropped=$(live "nothing dropped" 8)
check bench_live_none "no filter: received '$got', dropped '$dropped'" \
	test "${got:-0}" -gt 0 -a "${dropped:-1}" -eq 0

check bench_load_rows "no feed load row for 300 prefixes" grep -qE '^\| 300 \+ 60 \| [0-9.]+ s' "$MD"
check bench_target_reload "reload target not evaluated" grep -qE 'reload beats .* edgeward [0-9.]+ s vs ipset [0-9.]+ s' "$MD"
check bench_memory "no per-flow memory" grep -qE 'ew_flows .* [0-9]+ B per flow' "$MD"
lab=$(sed -n 's/^bench: lab namespaces //p' "$LOG")
check bench_cleanup "namespaces '$lab' left behind" \
	bash -c "[ -n '$lab' ] && ! ip netns list | grep -qwE '$(echo "$lab" | tr ' ' '|')'"
ew_done
