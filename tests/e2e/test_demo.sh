#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make demo` keeps working: scripts/demo.sh runs unattended, in well under a
# minute, every expectation it prints holds, and it leaves no namespace, pin
# or server behind.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
tag=${EW_TAG:-dt}$(($$ % 100000))
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP demo: needs root (network namespaces, BPF)"
	exit 0
fi
start=$SECONDS
EW_TAG=$tag OUT=$OUT timeout 120 scripts/demo.sh >"$log" 2>&1
rc=$?
took=$((SECONDS - start))
failed=0
if [ $rc -eq 0 ] && grep -q '^cleaned up: no namespace, server or pin left' "$log" &&
	! grep -q UNEXPECTED "$log"; then
	echo "PASS demo_runs"
else
	echo "FAIL demo_runs: exit $rc after ${took}s; last lines:"
	tail -15 "$log" | sed 's/^/  /'
	failed=1
fi
if [ $took -lt 60 ]; then
	echo "PASS demo_under_a_minute"
else
	echo "FAIL demo_under_a_minute: took ${took}s"
	failed=1
fi
for what in "ew stats" "ew flows" "block list" "bpftool map dump" "bpftool net show"; do
	case $what in
	"ew stats") pat='^\$ edgeward stats$' ;;
	"ew flows") pat='^\$ edgeward flows$' ;;
	"block list") pat='^\$ edgeward block list$' ;;
	"bpftool map dump") pat='^\$ bpftool map dump pinned .*/ew_pfx4$' ;;
	"bpftool net show") pat='^\$ bpftool net show$' ;;
	esac
	grep -q "$pat" "$log" || { echo "FAIL demo_shows: no '$what' in the demo's output"; failed=1; }
done
[ $failed -eq 0 ] && echo "PASS demo_shows"
sleep 0.5
left=$(ip netns list | grep -c "^$tag")
pins=$(ls -d /sys/fs/bpf/ew-"$tag"-* 2>/dev/null | wc -l)
if [ "$left" -eq 0 ] && [ "$pins" -eq 0 ]; then
	echo "PASS demo_leaves_nothing"
else
	echo "FAIL demo_leaves_nothing: $left namespaces, $pins pin dirs left"
	failed=1
fi
exit $failed
