#!/usr/bin/env bash
# User space under AddressSanitizer and UndefinedBehaviorSanitizer: builds the
# CLI and the C test binaries into $OUT-san with -fsanitize=address,undefined
# and runs the unit and BPF tests there, then the main read commands under
# valgrind against a private, unattached pin dir. PASS/FAIL lines per step.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
SOUT="$OUT-san"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

if ! make --no-print-directory -s OUT="$SOUT" CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN" tests-build >"$OUT/san-build.log" 2>&1; then
	echo "FAIL sanitizer-build: see $OUT/san-build.log"
	tail -20 "$OUT/san-build.log"
	exit 1
fi
rc=0
for t in unit_tests bpf_tests; do
	if "$SOUT/tests/$t" >"$SOUT/$t.log" 2>&1; then
		echo "PASS asan+ubsan $t: $(grep -c '^PASS ' "$SOUT/$t.log") tests clean"
	else
		echo "FAIL asan+ubsan $t: see $SOUT/$t.log"
		grep -m10 -E '^FAIL|ERROR|runtime error|SUMMARY' "$SOUT/$t.log"
		rc=1
	fi
done

# valgrind: the main commands, unattached (refusals) and attached to a veth in
# a namespace of our own, must be free of memory errors and definite leaks.
vg() { # label, args...
	local label=$1 vrc=0
	shift
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		"$@" >/dev/null 2>"$OUT/valgrind.log" || vrc=$?
	if [ "$vrc" -eq 99 ]; then
		echo "FAIL valgrind $label: memory errors or leaks"
		grep -v '^edgeward' "$OUT/valgrind.log" | head -30
		rc=1
	else
		echo "PASS valgrind $label (exit $vrc, clean)"
	fi
}
if ! command -v valgrind >/dev/null; then
	echo "FAIL valgrind: not installed (scripts/install-deps.sh installs it)"
	exit 1
fi
ns="ewvg$$"
pins="/sys/fs/bpf/ew-valgrind-$$"
cleanup() {
	[ -e "$pins" ] && nsenter --net="/run/netns/$ns" "$OUT/edgeward" detach vg0 --pin-dir "$pins" >/dev/null 2>&1
	ip netns del "$ns" 2>/dev/null
	rm -rf "$pins" 2>/dev/null
}
trap cleanup EXIT
for args in "--help" "status" "status -j" "block add 198.18.0.0/33" "stats" "flows -j"; do
	# shellcheck disable=SC2086
	vg "unattached: $args" "$OUT/edgeward" $args --pin-dir "$pins"
done
ip netns add "$ns"
ip -n "$ns" link add vg0 type veth peer name vg1
ip -n "$ns" link set vg0 up
ip -n "$ns" link set vg1 up
in_ns() { nsenter --net="/run/netns/$ns" "$@"; }
for args in "attach vg0" "attach vg0 --monitor" "block add 198.18.7.0/24 2001:db8:7::/48 --label vg" \
	"block list -j" "block del 198.18.7.0/24" "status -j" "stats" "stats -j" "flows" "flows -j" "detach vg0"; do
	# shellcheck disable=SC2086
	vg "attached: $args" nsenter --net="/run/netns/$ns" "$OUT/edgeward" $args --pin-dir "$pins"
done
exit $rc
