#!/usr/bin/env bash
# Privileges: pins owned by root with modes 0700 (dir) and 0600 (files);
# read-only commands work for an unprivileged user given CAP_BPF and read
# access to the pins (and nothing more: writes are refused); without CAP_BPF
# a command names the capability it lacks.
#
# The pins live on a bpffs instance of the test's own (mounted on a 0711
# folder), so granting read access never changes the host's /sys/fs/bpf,
# whose mount mode (0700 as systemd and edgeward mount it) also bars readers:
# an operator grants traversal there (README, "Privileges").
PRIV_MNT=/run/ew-priv-$$
mkdir -p "$PRIV_MNT" && chmod 0711 "$PRIV_MNT" && mount -t bpf bpf "$PRIV_MNT" && chmod 0711 "$PRIV_MNT" || {
	echo "FAIL privileges-bpffs: cannot mount a bpffs instance on $PRIV_MNT"
	exit 1
}
EW_PIN_DIR=$PRIV_MNT/edgeward
. "$(dirname "$0")/lib.sh"
priv_cleanup() {
	ew_cleanup
	umount "$PRIV_MNT" 2>/dev/null
	rmdir "$PRIV_MNT" 2>/dev/null
}
trap priv_cleanup EXIT

lab_server || { fail privileges-lab "cannot build the lab"; ew_done; }
ew attach "$EW_SIF" >/dev/null || { fail privileges-attach "attach failed"; ew_done; }
ew block add 198.18.77.0/24 --label priv >/dev/null

mode() { stat -c '%a %U' "$1"; }
check pins-dir-0700-root "pin dir is $(mode "$EW_PIN")" [ "$(mode "$EW_PIN")" = "700 root" ]
bad=""
for f in "$EW_PIN"/*; do
	[ "$(mode "$f")" = "600 root" ] || bad="$bad ${f##*/}=$(mode "$f")"
done
check pins-files-0600-root "pins with other modes:$bad" [ -z "$bad" ]

# As nobody with CAP_BPF only (ambient), in the server namespace.
as_reader() {
	nsenter --net="/run/netns/$EW_SRV" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all,+bpf --ambient-caps=-all,+bpf -- "$EW_BIN" "$@"
}
out=$(as_reader stats -j 2>&1)
check reader-without-access-refused "stats as nobody without read access: $out" \
	bash -c '[[ $0 == *"Permission denied"* ]]' "$out"

chgrp -R nogroup "$EW_PIN"
chmod g+rx "$EW_PIN"
chmod g+r "$EW_PIN"/ew_*
for cmd in "stats -j" "flows -j" "block list -j"; do
	# shellcheck disable=SC2086
	out=$(as_reader $cmd 2>&1)
	check "reader-$(echo "$cmd" | tr ' ' '-')" "'$cmd' as a reader: $out" \
		"$EW_PY" -c 'import json,sys; json.loads(sys.argv[1])' "$out" 2>/dev/null
done
out=$(as_reader block list -j 2>&1)
check reader-sees-entries "block list as a reader: $out" grep -q 198.18.77.0/24 <<<"$out"
out=$(as_reader block add 198.18.78.0/24 2>&1)
rc=$?
check reader-cannot-write "block add as a reader: rc=$rc $out" [ "$rc" -ne 0 ]
check reader-write-changed-nothing "198.18.78.0/24 appeared" \
	bash -c "! $EW_BIN block list -j | grep -q 198.18.78.0/24"

out=$(nsenter --net="/run/netns/$EW_SRV" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=-all --ambient-caps=-all -- "$EW_BIN" stats 2>&1)
rc=$?
check no-cap-bpf-named "stats without CAP_BPF: rc=$rc $out" bash -c "[ $rc -ne 0 ] && grep -q CAP_BPF <<<\"\$0\"" "$out"
out=$(nsenter --net="/run/netns/$EW_SRV" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=-all,+bpf --ambient-caps=-all,+bpf -- "$EW_BIN" attach "$EW_SIF" 2>&1)
rc=$?
check attach-needs-net-admin "attach without CAP_NET_ADMIN: rc=$rc $out" \
	bash -c "[ $rc -ne 0 ] && grep -q CAP_NET_ADMIN <<<\"\$0\"" "$out"
ew_done
