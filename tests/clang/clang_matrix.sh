#!/usr/bin/env bash
# The BPF tests against the object built by each clang Debian 12 ships: the
# same source can pass the verifier with one clang and fail with another.
# Builds only the BPF object and bpf_tests, in $OUT-clang-N (incremental),
# and prints "PASS clang-N: ..." or "FAIL clang-N: ..." per compiler.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
CLANGS=${EW_CLANGS:-14 16 19}
rc=0

for v in $CLANGS; do
	cc=clang-$v
	out=$OUT-clang-$v
	log=$(mktemp)
	if ! command -v "$cc" >/dev/null; then
		echo "FAIL $cc: $cc is not installed (Debian package $cc; scripts/install-deps.sh installs it)"
		rc=1
		rm -f "$log"
		continue
	fi
	if ! make -s -j"$(nproc)" OUT="$out" BPF_CLANG="$cc" tests-bpf-build >"$log" 2>&1; then
		echo "FAIL $cc: build failed:"
		rc=1
		tail -n 20 "$log" | sed 's/^/    /'
	elif "$out/tests/bpf_tests" >"$log" 2>&1; then
		echo "PASS $cc: $(grep -c '^PASS ' "$log") BPF tests ($("$cc" --version | head -n 1))"
	else
		# Indented, so the suite counts this compiler once.
		echo "FAIL $cc: $(grep -c '^FAIL ' "$log") BPF tests fail:"
		rc=1
		grep -v '^PASS ' "$log" | tail -n 60 | sed 's/^/    /'
	fi
	rm -f "$log"
done
exit $rc
