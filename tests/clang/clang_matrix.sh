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

# Every load of a block-list trie (ew_pfx4, ew_pfx6) must go straight to its
# own bpf_map_lookup_elem() call: clang merges the two into one call unless
# prefix.h's barrier_var() stops it, and the verifier then leaves the generic
# helper (an indirect call) instead of a direct call into the trie.
direct_lookups() { # OBJ -> "LOADS DIRECT"
	llvm-objdump -d -r --no-show-raw-insn "$1" | awk '
		/R_BPF_64_64[ \t]+ew_pfx[46]$/ { pending = 1; n++; next }
		pending && /:[ \t]/ { if ($0 ~ /call 1$/) direct++; pending = 0 }
		END { printf "%d %d\n", n, direct }'
}

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
		read -r loads direct < <(direct_lookups "$out/bpf/edgeward.bpf.o")
		if [ "${loads:-0}" -gt 0 ] && [ "$loads" = "$direct" ]; then
			echo "PASS $cc-trie-calls: $direct of $loads trie loads call the lookup directly"
		else
			echo "FAIL $cc-trie-calls: $direct of $loads trie loads call the lookup directly (the rest share a merged call)"
			rc=1
		fi
	else
		# Indented, so the suite counts this compiler once.
		echo "FAIL $cc: $(grep -c '^FAIL ' "$log") BPF tests fail:"
		rc=1
		grep -v '^PASS ' "$log" | tail -n 60 | sed 's/^/    /'
	fi
	rm -f "$log"
done
exit $rc
