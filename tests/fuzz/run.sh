#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c, clang, ASan + UBSan) and
# runs each for FUZZ_SECONDS (default 10) from its seed corpus
# (tests/fuzz/corpus/NAME, plus test data it names). Prints PASS/FAIL per target
# with the number of executions. `make fuzz FUZZ_SECONDS=N` runs it.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
SECS=${FUZZ_SECONDS:-10}
FOUT="$OUT/fuzz"
mkdir -p "$FOUT"
if ! make --no-print-directory -s OUT="$OUT" fuzz-build >"$FOUT/build.log" 2>&1; then
	echo "FAIL fuzz-build: see $FOUT/build.log"
	tail -20 "$FOUT/build.log"
	exit 1
fi
rc=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	target=${name#fuzz_}
	work="$FOUT/corpus-$target"
	mkdir -p "$work"
	seeds=("tests/fuzz/corpus/$target")
	[ -f "tests/fuzz/corpus/$target.dirs" ] && while read -r d; do seeds+=("$d"); done <"tests/fuzz/corpus/$target.dirs"
	log="$FOUT/$name.log"
	if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$FOUT/$name" -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FOUT/$name-" "$work" "${seeds[@]}" >"$log" 2>&1; then
		execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
		echo "PASS fuzz $target: ${execs:-?} executions in ${SECS}s, no crash"
	else
		echo "FAIL fuzz $target: crash or sanitizer report (log $log, artifacts $FOUT/$name-*)"
		grep -m5 -E 'ERROR|runtime error|SUMMARY' "$log"
		rc=1
	fi
done
exit $rc
