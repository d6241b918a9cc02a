#!/usr/bin/env bash
# The whole test suite: unit tests, BPF tests (with every Debian 12 clang),
# end-to-end namespace tests. Every test prints "PASS name", "FAIL name" or
# "SKIP name: reason"; the last line is "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
export OUT
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

run() { # name, command...
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$LOG/$name.log"
	local rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$LOG/$name.log"; then
		echo "FAIL $name: exited $rc"
	fi | tee -a "$LOG/$name.log"
}

run unit "$OUT/tests/unit_tests"
run bpf "$OUT/tests/bpf_tests"
run kernel-6.1 bash scripts/test-kernels.sh
run sanitizers bash tests/san/run.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-10} run fuzz bash tests/fuzz/run.sh
for t in tests/clang/*.sh tests/e2e/*.sh; do
	[ -e "$t" ] || continue
	[ "$(basename "$t")" = lib.sh ] && continue # the e2e harness, sourced by the tests
	run "$(basename "$t" .sh)" bash "$t"
done

passed=$(cat "$LOG"/*.log | grep -c '^PASS ')
failed=$(cat "$LOG"/*.log | grep -c '^FAIL ')
skipped=$(cat "$LOG"/*.log | grep -c '^SKIP ')
if [ "$failed" -ne 0 ]; then
	echo
	echo "failures:"
	cat "$LOG"/*.log | grep '^FAIL '
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
