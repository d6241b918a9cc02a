#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Threat feeds end to end: atomic reloads under traffic, per-feed hits,
# precedence across feeds and the block list, refused loads leaving the loaded
# set intact, delete.
#
# Lab: server namespace, client 1 on its own veth. The client also owns a
# "listed" source (198.18.50.10, 2001:db8:50::10) that every version of feed
# `lab` drops, and a control source (198.18.51.20, 2001:db8:51::20) that no
# feed holds. Feed file A lists the sources as /32 and /128 (IPv4 through the
# address hash), file B as /24 and /48 (IPv4 through the /24 table); each also
# carries 60,000 other prefixes, so that every reload rewrites a lot.
set -u
EW_TAG=${EW_TAG:-fd}
. "$(dirname "$0")/lib.sh"
require feeds

export EDGEWARD_STATE_DIR=$EW_TMP/state
PORT=9050
LISTED4=198.18.50.10 LISTED6=2001:db8:50::10
CTRL4=198.18.51.20 CTRL6=2001:db8:51::20

lab_server || { fail lab "cannot build the namespace lab"; ew_done; }
lab_client 1 direct || { fail lab "cannot add the client"; ew_done; }
C1=$CLI_NS
for a in $LISTED4/32 $CTRL4/32 $LISTED6/128 $CTRL6/128; do addr_add "$C1" "$CLI_IF" "$a"; done
ip -n "$EW_SRV" route add 198.18.48.0/20 via 198.18.1.2 dev "$SRV_IF"
ip -n "$EW_SRV" -6 route add 2001:db8:48::/44 via 2001:db8:1::2 dev "$SRV_IF"

# Feed files: the sources, then filler from 10.0.0.0/8 and 2001:db8:f000::/36.
mkfeed() { # FILE SEED LISTED-LINES...
	local file=$1 seed=$2
	shift 2
	"$EW_PY" - "$file" "$seed" "$@" <<'EOF'
import random, sys
path, seed, listed = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
r = random.Random(seed)
with open(path, "w") as f:
    f.write("# edgeward e2e feed\n")
    for l in listed:
        f.write(l + "\n")
    for _ in range(50000):
        a = (10 << 24) | r.getrandbits(24)
        ln = r.choice((16, 20, 24, 24, 28, 32, 32, 32))
        a &= (0xffffffff << (32 - ln)) & 0xffffffff
        f.write("%d.%d.%d.%d/%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, ln))
    for _ in range(10000):
        f.write("2001:db8:f%03x:%x::/64\n" % (r.getrandbits(12), r.getrandbits(16)))
EOF
}
mkfeed "$EW_TMP/a.txt" 1 "$LISTED4/32" "$LISTED6/128"
mkfeed "$EW_TMP/b.txt" 2 "198.18.50.0/24" "2001:db8:50::/48"

# send SRC DST COUNT PPS [STOPFILE]: UDP datagrams to DST:PORT from SRC, source
# ports cycling over 400, so that flows are both new and cached; stops early
# once STOPFILE exists; prints the count sent.
send() {
	nsrun "$C1" timeout 90 "$EW_PY" - "$PORT" "$@" <<'EOF'
import os, socket, sys, time
port, src, dst, count, pps = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
stop = sys.argv[6] if len(sys.argv) > 6 else None
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
socks = []
for i in range(400):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 30000 + i))
    socks.append(s)
t0, sent = time.monotonic(), 0
while sent < count and not (stop and sent % 100 == 0 and os.path.exists(stop)):
    socks[sent % 400].sendto(b"feed", (dst, port))
    sent += 1
    lag = t0 + sent / pps - time.monotonic()
    if lag > 0:
        time.sleep(lag)
print(sent)
EOF
}
# mark: remember how much the sinks have logged; received FILE SRC: datagrams
# logged from SRC since the last mark (the sinks keep their files open: never truncate).
mark() { M4=$(wc -l <"$EW_TMP/sink4") M6=$(wc -l <"$EW_TMP/sink6"); }
received() {
	local from=$M4
	[ "$1" = "$EW_TMP/sink6" ] && from=$M6
	tail -n +$((from + 1)) "$1" | awk -v s="$2" '$1 == s { n++ } END { print n + 0 }'
}
# rcvbuf_errors: UDP datagrams the server's sockets dropped for a full buffer (v4 + v6).
rcvbuf_errors() {
	nsrun "$EW_SRV" cat /proc/net/snmp /proc/net/snmp6 |
		awk '/^Udp: [0-9]/ { n += $6 } /^Udp6RcvbufErrors/ { n += $2 } END { print n + 0 }'
}
# xdp_packets SRC: packets of SRC's flows that XDP passed and accounted.
xdp_packets() { ew flows -j --src "$1" | json_get "sum(f['packets_in'] for f in d)"; }
feed_field() { ew feed list -j | json_get "next((f['$2'] for f in d['feeds'] if f['name'] == '$1'), 'none')"; }

check attach "attach failed" ew attach "$SRV_IF"
udp_sink 198.18.1.1 $PORT "$EW_TMP/sink4" || fail lab "IPv4 sink did not start"
udp_sink 2001:db8:1::1 $PORT "$EW_TMP/sink6" || fail lab "IPv6 sink did not start"

# --- load, list ------------------------------------------------------------------
out=$(ew feed load lab "$EW_TMP/a.txt" 2>&1)
check load "feed load failed: $out" [ $? -eq 0 ]
check list_entries "feed list: $(ew feed list -j)" \
	[ "$(feed_field lab ipv4)/$(feed_field lab ipv6)/$(feed_field lab action)" = \
	  "$(grep -E '^[0-9]+\.' "$EW_TMP/a.txt" | sort -u | wc -l)/$(grep '^2001' "$EW_TMP/a.txt" | sort -u | wc -l)/drop" ]
check list_checksum "sha256 $(feed_field lab sha256)" \
	[ "$(feed_field lab sha256)" = "$(sha256sum "$EW_TMP/a.txt" | cut -d' ' -f1)" ]
check list_source "source $(feed_field lab source)" [ "$(feed_field lab source)" = "$EW_TMP/a.txt" ]
check status_memory "status -j has no feed table memory" \
	[ "$(ew status -j | json_get "d['feeds']['memory_bytes'] > 64 << 20")" = True ]

# --- atomic reloads under traffic -------------------------------------------------
drops0=$(stat_pkts xdp feed drop)
hits0=$(feed_field lab hits)
rcv0=$(rcvbuf_errors)
mark
for s in "$LISTED4 198.18.1.1" "$CTRL4 198.18.1.1" "$LISTED6 2001:db8:1::1" "$CTRL6 2001:db8:1::1"; do
	set -- $s
	send "$1" "$2" 60000 1000 "$EW_TMP/stop" >"$EW_TMP/sent-$1" &
	EW_PIDS+=($!)
done
sleep 0.5
reloads=0 bad_reloads=0
while [ $reloads -lt 10 ]; do # about 5 s on an idle machine, bounded by the senders' 60 s
	f=$EW_TMP/a.txt
	[ $((reloads % 2)) -eq 1 ] && f=$EW_TMP/b.txt
	ew feed load lab "$f" >/dev/null 2>&1 || bad_reloads=$((bad_reloads + 1))
	reloads=$((reloads + 1))
done
sleep 0.5
touch "$EW_TMP/stop"
wait "${EW_PIDS[@]: -4}" 2>/dev/null
sleep 1
sent_l=$(($(cat "$EW_TMP/sent-$LISTED4") + $(cat "$EW_TMP/sent-$LISTED6")))
sent_c4=$(cat "$EW_TMP/sent-$CTRL4") sent_c6=$(cat "$EW_TMP/sent-$CTRL6")
leaks=$(($(received "$EW_TMP/sink4" $LISTED4) + $(received "$EW_TMP/sink6" $LISTED6)))
got_c4=$(received "$EW_TMP/sink4" $CTRL4) got_c6=$(received "$EW_TMP/sink6" $CTRL6)
drops=$(($(stat_pkts xdp feed drop) - drops0))
check reloads_ran "$reloads reloads, $bad_reloads failed, $sent_l listed datagrams sent" \
	[ "$bad_reloads" -eq 0 -a "$sent_l" -gt 1000 ]
check atomic_zero_leaks "$leaks of $sent_l datagrams from the listed sources got through" [ "$leaks" -eq 0 ]
# Every control datagram passed XDP (on its flow); the sink got them all but
# those its socket had no room for (a loaded machine is not a false drop).
xdp_c=$(($(xdp_packets $CTRL4/32) + $(xdp_packets $CTRL6/128)))
rcv=$(($(rcvbuf_errors) - rcv0))
check atomic_zero_false_drops "control: XDP passed $xdp_c of $((sent_c4 + sent_c6)); sink got $got_c4/$sent_c4 (IPv4) $got_c6/$sent_c6 (IPv6), $rcv lost to full socket buffers" \
	[ "$xdp_c" -eq $((sent_c4 + sent_c6)) -a $((got_c4 + got_c6 + rcv)) -ge $((sent_c4 + sent_c6)) -a "$sent_c4" -gt 500 ]
check atomic_drops_counted "xdp/feed/drop grew by $drops, listed sources sent $sent_l" [ "$drops" -eq "$sent_l" ]
hits=$(($(feed_field lab hits) - hits0))
check hits_counted "feed lab hits grew by $hits, want $sent_l" [ "$hits" -eq "$sent_l" ]

# --- precedence across feeds and the block list --------------------------------------
printf '%s\n%s\n' "$LISTED4" "$LISTED6" >"$EW_TMP/allow.txt"
printf '# flagged\n%s/24\n' "$CTRL4" >"$EW_TMP/flag.txt"
ew feed load ok "$EW_TMP/allow.txt" --action allow >/dev/null
ew feed load watch "$EW_TMP/flag.txt" --action flag >/dev/null 2>&1
mark
flags0=$(stat_pkts xdp feed flag)
send $LISTED4 198.18.1.1 20 200 >/dev/null
send $CTRL4 198.18.1.1 20 200 >/dev/null
sleep 0.5
check allow_beats_drop "listed source got $(received "$EW_TMP/sink4" $LISTED4)/20 through with an allow feed" \
	[ "$(received "$EW_TMP/sink4" $LISTED4)" -eq 20 ]
check flag_passes_counted "control got $(received "$EW_TMP/sink4" $CTRL4)/20, feed/flag +$(($(stat_pkts xdp feed flag) - flags0))" \
	[ "$(received "$EW_TMP/sink4" $CTRL4)" -eq 20 -a "$(($(stat_pkts xdp feed flag) - flags0))" -gt 0 ]
check hits_per_feed "ok hits $(feed_field ok hits), watch hits $(feed_field watch hits)" \
	[ "$(feed_field ok hits)" -gt 0 -a "$(feed_field watch hits)" -gt 0 ]
ew feed del ok >/dev/null
ew block add "$CTRL4/32" --action drop >/dev/null
mark
send $LISTED4 198.18.1.1 10 200 >/dev/null
send $CTRL4 198.18.1.1 10 200 >/dev/null
sleep 0.5
check del_restores_drop "listed source got $(received "$EW_TMP/sink4" $LISTED4)/10 after deleting the allow feed" \
	[ "$(received "$EW_TMP/sink4" $LISTED4)" -eq 0 ]
check block_drop_beats_feed_flag "control got $(received "$EW_TMP/sink4" $CTRL4)/10 with a block drop over a feed flag" \
	[ "$(received "$EW_TMP/sink4" $CTRL4)" -eq 0 ]
ew block del "$CTRL4/32" >/dev/null

# --- refused loads change nothing ----------------------------------------------------
sha=$(feed_field lab sha256)
head -c 20000 /dev/urandom >"$EW_TMP/garbage.bin"
: >"$EW_TMP/empty.txt"
{ echo 198.18.50.0/24; for i in $(seq 1 20); do echo "not-a-prefix-$i"; done; } >"$EW_TMP/bad.txt"
ew feed load lab "$EW_TMP/garbage.bin" >/dev/null 2>"$EW_TMP/err1"
r1=$?
ew feed load lab "$EW_TMP/empty.txt" >/dev/null 2>"$EW_TMP/err2"
r2=$?
ew feed load lab "$EW_TMP/bad.txt" >/dev/null 2>"$EW_TMP/err3"
r3=$?
ew feed load lab "$EW_TMP" >/dev/null 2>"$EW_TMP/err4"
r4=$?
check refused_exit "exit codes $r1 $r2 $r3 $r4" [ $r1 -ne 0 -a $r2 -ne 0 -a $r3 -ne 0 -a $r4 -ne 0 ]
check refused_reports_lines "bad.txt errors: $(head -3 "$EW_TMP/err3")" grep -q "bad.txt:3: " "$EW_TMP/err3"
check refused_keeps_feed "sha256 $(feed_field lab sha256), was $sha" [ "$(feed_field lab sha256)" = "$sha" ]
mark
send $LISTED4 198.18.1.1 10 200 >/dev/null
send $CTRL4 198.18.1.1 10 200 >/dev/null
sleep 0.5
check refused_keeps_dropping "listed got $(received "$EW_TMP/sink4" $LISTED4)/10, control $(received "$EW_TMP/sink4" $CTRL4)/10" \
	[ "$(received "$EW_TMP/sink4" $LISTED4)" -eq 0 -a "$(received "$EW_TMP/sink4" $CTRL4)" -eq 10 ]

# --- delete ---------------------------------------------------------------------------
ew feed del lab >/dev/null && ew feed del watch >/dev/null
mark
send $LISTED4 198.18.1.1 10 200 >/dev/null
sleep 0.5
check del_passes "listed source got $(received "$EW_TMP/sink4" $LISTED4)/10 after feed del" \
	[ "$(received "$EW_TMP/sink4" $LISTED4)" -eq 10 ]
check del_empties_tables "tables: $(ew feed list -j | json_get "d['tables']")" \
	[ "$(ew feed list -j | json_get "(len(d['feeds']), d['tables']['ipv4_addresses'], d['tables']['ipv6_prefixes'])")" = "(0, 0, 0)" ]
ew feed del lab >/dev/null 2>&1
check del_unknown_fails "deleting a missing feed succeeded" [ $? -ne 0 ]
ew_done
