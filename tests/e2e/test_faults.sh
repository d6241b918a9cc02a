#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Faults end to end: `kill -9` of the CLI in the middle of `attach`, of a
# `feed load` of a feed of FAULT_FEED_LINES lines (generated here) and of a
# `block add` of many prefixes, and of `edgeward daemon` (while it starts,
# loading the same big feed, and while it runs), each at random delays
# (seeded: FAULT_SEED). After each kill:
#  - the data path keeps filtering: a blocked source is still dropped at XDP
#    and a clean client is still served;
#  - an interrupted feed reload leaves the old set in force: a source the old
#    feed drops is still dropped and one only the new feed lists still passes
#    (unless the load finished before the kill: then the new set, whole);
#  - `edgeward status -j` and `feed list -j` answer and agree with the pins;
#  - a restarted daemon resumes with the same maps: counters keep growing
#    from where they were.
#
# Lab: client 1 clean (198.18.1.2), client 2 in the block list
# (198.18.2.0/24), client 3 listed by the old feed only, client 4 by the new
# feed only; all behind the switch on the server's one interface.
set -u
. "$(dirname "$0")/lib.sh"
require faults
FAULT_SEED=${FAULT_SEED:-$$}
FAULT_FEED_LINES=${FAULT_FEED_LINES:-1000000}
RANDOM=$FAULT_SEED
echo "# FAULT_SEED=$FAULT_SEED"
HTTP=8080
export EDGEWARD_STATE_DIR=$EW_TMP/state

lab_server || { fail faults_lab "cannot build the namespace lab"; ew_done; }
for i in 1 2 3 4; do
	lab_client $i && eval "C$i=\$CLI_NS"
done
http_server $HTTP || { fail faults_lab "http.server did not start"; ew_done; }
url() { echo "http://198.18.$1.1:$HTTP/hello.txt"; }

# Two feeds of FAULT_FEED_LINES /32s each (never traffic: data in a file) plus
# the one /24 of a client: old lists client 3, new lists client 4.
"$EW_PY" - "$EW_TMP" "$FAULT_FEED_LINES" <<'EOF'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for name, base, client in (("old", 10 << 24, 3), ("new", (10 << 24) + (1 << 22), 4)):
    with open("%s/%s.txt" % (d, name), "w") as f:
        f.write("198.18.%d.0/24\n" % client)
        for i in range(n - 1):
            a = base + i
            f.write("%d.%d.%d.%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255))
EOF

# kill9_at MS CMD...: run edgeward CMD in the server namespace, SIGKILL it
# after MS milliseconds; returns its exit status (137: killed).
kill9_at() {
	local ms=$1 pid rc
	shift
	nsenter --net="/run/netns/$EW_SRV" -- "$EW_BIN" "$@" >"$EW_TMP/killed.out" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	return $rc
}
# Counter indexes, looked up once.
IDX_PFX_DROP=$(stat_idx EW_HOOK_XDP EW_R_PREFIX EW_A_DROP)
IDX_FEED_DROP=$(stat_idx EW_HOOK_XDP EW_R_FEED EW_A_DROP)
xdp_slot() {
	bpftool -j map dump pinned "$EW_PIN/ew_stats" |
		json_get "sum(v['value']['packets'] for e in d if e['formatted']['key'] == $1 for v in e['formatted']['values'])"
}
# dropped NAME NS SRC IDX: 3 datagrams from SRC in NS all dropped at XDP in slot IDX.
dropped() {
	local d0 d1
	d0=$(xdp_slot "$4")
	traffic "$2" 10 udp-send --src "$3" --dst "${3%.2}.1" --port 9 --count 3 >/dev/null
	d1=$(xdp_slot "$4")
	check "$1" "XDP drops in slot $4: $d0 -> $d1 after 3 datagrams from $3" [ $((d1 - d0)) -ge 3 ]
}
# filtering WHAT: the clean client is served and the blocked one dropped at XDP.
filtering() {
	http_expect "faults_served_$1" "$C1" "$(url 1)" 200
	dropped "faults_blocked_$1" "$C2" 198.18.2.2 "$IDX_PFX_DROP"
}
# status_ok WHAT: status -j answers, the interface is attached with its programs.
status_ok() {
	local s
	s=$(ew status -j 2>&1)
	check "faults_status_$1" "status: $s" [ "$(echo "$s" | json_get "len([i for i in d['interfaces'] if i['name'] == '$EW_SIF' and i['present'] and i['xdp_prog_id'] and i['tc_prog_id']])" 2>/dev/null)" = 1 ]
}
# feed_is OLD|NEW WHAT: the feed in force, judged by traffic and by feed list.
feed_is() {
	local n
	n=$(ew feed list -j | json_get "' '.join(str(f['entries']) + ' ' + f['source'] for f in d['feeds'] if f['name'] == 'hd')" 2>/dev/null)
	if [ "$1" = old ]; then
		dropped "faults_feed_old_drops_$2" "$C3" 198.18.3.2 "$IDX_FEED_DROP"
		http_expect "faults_feed_old_passes_$2" "$C4" "$(url 4)" 200
	else
		dropped "faults_feed_new_drops_$2" "$C4" 198.18.4.2 "$IDX_FEED_DROP"
		http_expect "faults_feed_new_passes_$2" "$C3" "$(url 3)" 200
	fi
	check "faults_feed_list_$2" "feed list says '$n', want '$FAULT_FEED_LINES $EW_TMP/$1.txt'" \
		[ "$n" = "$FAULT_FEED_LINES $EW_TMP/$1.txt" ]
}
xdp_total() { ew stats -j | json_get "sum(r['packets'] for r in d['counters'] if r['hook'] == 'xdp')"; }

# --- the CLI killed during attach ----------------------------------------------------------
if ! out=$(ew attach "$EW_SIF" 2>&1); then
	fail faults_attach "attach failed: $out"
	ew_done
fi
ew block add 198.18.2.0/24 --label faults >/dev/null || fail faults_block "block add failed"
filtering before
t0=$(date +%s%N)
ew attach "$EW_SIF" >/dev/null 2>&1
attach_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# an in-place re-attach takes $attach_ms ms"
for n in 1 2 3; do
	ms=$((RANDOM % (attach_ms + 1)))
	kill9_at "$ms" attach "$EW_SIF"
	echo "# attach killed at $ms ms: exit $?"
	filtering "attach$n"
	status_ok "attach$n"
done
# a first attach of a second interface, killed: the first keeps working, the
# second is attached afterwards as if nothing happened.
ip -n "$EW_SRV" link add hd${EW_ID#hd}x type veth peer name hd${EW_ID#hd}y
X=hd${EW_ID#hd}x
ip -n "$EW_SRV" link set "$X" up
kill9_at $((RANDOM % (attach_ms + 1))) attach "$X"
filtering attach_new
out=$(ew attach "$X" 2>&1)
check faults_attach_after_kill "attach $X after a killed attach: $out" [ $? = 0 ]
ew detach "$X" >/dev/null 2>&1

# --- the CLI killed during feed load --------------------------------------------------------
t0=$(date +%s%N)
out=$(ew feed load hd "$EW_TMP/old.txt" --format cidr 2>&1) || fail faults_feed_load "feed load old: $out"
load_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# feed load of $FAULT_FEED_LINES lines: $load_ms ms"
feed_is old loaded
# in_force: which feed set the kernel enforces, by traffic: old (client 3
# dropped, client 4 not), new (the reverse), both or none (half applied).
in_force() {
	local a b
	a=$(xdp_slot "$IDX_FEED_DROP")
	traffic "$C3" 10 udp-send --src 198.18.3.2 --dst 198.18.3.1 --port 9 --count 3 >/dev/null
	b=$(xdp_slot "$IDX_FEED_DROP")
	traffic "$C4" 10 udp-send --src 198.18.4.2 --dst 198.18.4.1 --port 9 --count 3 >/dev/null
	c=$(xdp_slot "$IDX_FEED_DROP")
	case $((b - a >= 3))$((c - b >= 3)) in
	10) echo old ;; 01) echo new ;; 11) echo both ;; *) echo none ;;
	esac
}
# listed: which file `feed list` says feed hd was loaded from (old, new or ?).
listed() {
	ew feed list -j | json_get "next((f['source'].rsplit('/', 1)[-1][:-4] for f in d['feeds'] if f['name'] == 'hd'), '?')"
}
for n in 1 2 3 4; do
	ms=$((RANDOM % (load_ms + load_ms / 4 + 1)))
	kill9_at "$ms" feed load hd "$EW_TMP/new.txt" --format cidr
	rc=$?
	force=$(in_force)
	list=$(listed)
	echo "# feed load killed at $ms ms: exit $rc, in force: $force, feed list: $list"
	# Killed before the tables flipped: the old set, whole; after: the new, whole.
	check "faults_feed_whole_$n" "exit $rc, in force: $force" [ "$force" = old -o "$force" = new ]
	check "faults_feed_old_unless_done_$n" "exit 0 but the old set in force" [ $rc != 0 -o "$force" = new ]
	check "faults_feed_list_agrees_$n" "the kernel enforces the $force set, feed list names $list.txt" \
		[ "$force" = "$list" ]
	filtering "feed$n"
	if [ "$force" != old ] || [ "$list" != old ]; then
		ew feed load hd "$EW_TMP/old.txt" --format cidr >/dev/null 2>&1 || fail faults_feed_restore "reload old"
	fi
done
out=$(ew feed load hd "$EW_TMP/new.txt" --format cidr 2>&1)
check faults_feed_load_after_kills "feed load after the kills: $out" [ $? = 0 ]
feed_is new after_kills

# The same kills, placed exactly with strace's fault injection (SIGKILL at a
# system call) on each side of the swap, so no run depends on timing:
# before it (the load's first unlink, of the hash cache, comes after its
# journal is written) and right after it (the membarrier of the grace period,
# before the feed's record is written).
kill_at_syscall() { # SYSCALL, edgeward args...
	local sc=$1
	shift
	nsenter --net="/run/netns/$EW_SRV" -- strace -qq -f -o /dev/null -e trace="$sc" \
		-e inject="$sc:signal=KILL:when=1" "$EW_BIN" "$@" >"$EW_TMP/killed.out" 2>&1
}
for edge in unlink:old:before membarrier:new:after; do
	IFS=: read -r sc want when <<<"$edge"
	ew feed load hd "$EW_TMP/old.txt" --format cidr >/dev/null 2>&1 || fail faults_feed_restore "reload old"
	kill_at_syscall "$sc" feed load hd "$EW_TMP/new.txt" --format cidr
	rc=$?
	check "faults_feed_killed_${when}_swap" "exit $rc: $(cat "$EW_TMP/killed.out")" [ "$rc" != 0 ]
	force=$(in_force)
	list=$(ew feed list -j 2>"$EW_TMP/list.err" |
		json_get "next((f['source'].rsplit('/', 1)[-1][:-4] for f in d['feeds'] if f['name'] == 'hd'), '?')")
	echo "# killed at $sc ($when the swap): in force: $force, feed list: $list; $(cat "$EW_TMP/list.err")"
	check "faults_feed_${when}_swap_in_force" "want $want in force, got $force" [ "$force" = "$want" ]
	check "faults_feed_${when}_swap_listed" "the kernel enforces $force, feed list names $list" [ "$list" = "$force" ]
	said=$(cat "$EW_TMP/list.err")
	case $when in
	before) expect="changed nothing" ;;
	after) expect="had swapped the tables: completed" ;;
	esac
	check "faults_feed_${when}_swap_said" "feed list said: $said" grep -q "$expect" <<<"$said"
	filtering "feed_$when"
done
feed_is new after_swap_kills

# --- the CLI killed during block add of many prefixes -----------------------------------------
"$EW_PY" -c 'print(" ".join("100.%d.%d.0/24" % (i >> 8, i & 255) for i in range(20000)))' >"$EW_TMP/many.txt"
count_blocks() { ew block list -j | json_get "len(d)"; }
b0=$(count_blocks)
t0=$(date +%s%N)
# shellcheck disable=SC2046
ew block add $(cat "$EW_TMP/many.txt") --label many >/dev/null || fail faults_block_many "block add of 20000 failed"
block_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# block add of 20000 prefixes: $block_ms ms"
# shellcheck disable=SC2046
ew block del $(cat "$EW_TMP/many.txt") >/dev/null
for n in 1 2; do
	ms=$((RANDOM % (block_ms + 1)))
	# shellcheck disable=SC2046
	kill9_at "$ms" block add $(cat "$EW_TMP/many.txt") --label many
	rc=$?
	b=$(count_blocks)
	echo "# block add killed at $ms ms: exit $rc, $((b - b0)) of 20000 entries in"
	check "faults_block_count_$n" "block list holds $b entries, $b0 before" [ "$b" -ge "$b0" -a "$b" -le $((b0 + 20000)) ]
	filtering "block$n"
done
# shellcheck disable=SC2046
out=$(ew block add $(cat "$EW_TMP/many.txt") --label many 2>&1)
check faults_block_after_kills "block add after the kills: $? ($out), $(count_blocks) entries" [ "$(count_blocks)" = $((b0 + 20000)) ]

# --- the daemon killed ---------------------------------------------------------------------
cat >"$EW_TMP/edgeward.conf" <<EOF
interface $EW_SIF
block 198.18.2.0/24=drop
feed hd $EW_TMP/new.txt format cidr action drop
log-events no
EOF
daemon_start() {
	nsenter --net="/run/netns/$EW_SRV" -- "$EW_BIN" daemon --config "$EW_TMP/edgeward.conf" \
		>>"$EW_TMP/daemon.log" 2>&1 &
	DAEMON=$!
	EW_PIDS+=("$DAEMON")
}
daemon_up() { grep -q "running (pid $DAEMON)" "$EW_TMP/daemon.log"; }
t0=$(date +%s%N)
daemon_start
wait_for 60 daemon_up || fail faults_daemon_start "daemon did not start: $(tail -5 "$EW_TMP/daemon.log")"
start_ms=$((($(date +%s%N) - t0) / 1000000))
echo "# daemon start-up (attach, block list, $FAULT_FEED_LINES-line feed): $start_ms ms"
for n in 1 2 3; do
	c0=$(xdp_total)
	if [ $n = 1 ]; then
		kill -9 "$DAEMON"
		wait "$DAEMON" 2>/dev/null
		echo "# daemon killed while running"
	else
		kill -9 "$DAEMON"
		wait "$DAEMON" 2>/dev/null
		daemon_start
		ms=$((RANDOM % (start_ms + 1)))
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		kill -9 "$DAEMON"
		wait "$DAEMON" 2>/dev/null
		echo "# daemon killed $ms ms into its start-up"
	fi
	filtering "daemon$n"
	status_ok "daemon$n"
	feed_is new "daemon$n"
	c1=$(xdp_total)
	daemon_start
	wait_for 60 daemon_up || fail "faults_daemon_restart_$n" "daemon did not restart: $(tail -5 "$EW_TMP/daemon.log")"
	http_expect "faults_daemon_serves_$n" "$C1" "$(url 1)" 200
	c2=$(xdp_total)
	check "faults_daemon_counters_$n" "XDP packets: $c0 before the kill, $c1 after, $c2 after the restart" \
		[ "$c1" -ge "$c0" -a "$c2" -gt "$c1" ]
done
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null
status_ok end
filtering end

ew_done
