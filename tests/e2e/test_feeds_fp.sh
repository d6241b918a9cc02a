#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# JA4 / JA3 feeds become fingerprint rules (ew_fprules, `edgeward fp`): load,
# labels from the publisher's file, reload replacing the feed's own rules, a
# rule made with `edgeward fp` left alone, delete. Then reloads of a big feed
# killed (-9) midway while a client sends hellos that both versions drop:
# after each kill the rules in force are the whole old set or the whole new
# one, every hello is dropped, and the next load completes. (How rules match
# hellos is the fingerprint tests' business; tls_feed_reload_atomic in
# tests/bpf/test_tls.c checks a reload step by step.)
set -u
EW_TAG=${EW_TAG:-fd}
. "$(dirname "$0")/lib.sh"
require feeds_fp

export EDGEWARD_STATE_DIR=$EW_TMP/state
DATA=$EW_ROOT/tests/data/feeds
FLOOD=$EW_ROOT/tests/e2e/flood.py
SINK=9443
lab_server || { fail lab "cannot build the namespace lab"; ew_done; }
lab_client 1 direct || { fail lab "cannot add the client"; ew_done; }
C1=$CLI_NS
check attach "attach failed" ew attach "$SRV_IF" --mode generic

# rule VALUE FIELD: one field of the fp rule VALUE, or "none".
rule() { ew fp list -j | json_get "next((r['$2'] for r in d if r['value'] == '$1'), 'none')"; }
feed_field() { ew feed list -j | json_get "next((f['$2'] for f in d['feeds'] if f['name'] == '$1'), 'none')"; }

ew fp add ja4 t13d1516h2_8daaf6152771_02713d6af862 --action allow --label mine >/dev/null
out=$(ew feed load ja4s "$DATA/ja4.txt" --action flag 2>&1)
check fp_load "feed load: $out" [ $? -eq 0 ]
check fp_rules_made "rules: $(ew fp list -j)" \
	[ "$(rule t13d190900_9dc949149365_97f8aa674fd9 action)/$(rule t13d190900_9dc949149365_97f8aa674fd9 label)" = "flag/GoLang net/http" ]
check fp_manual_rule_kept "manual rule now $(rule t13d1516h2_8daaf6152771_02713d6af862 action)" \
	[ "$(rule t13d1516h2_8daaf6152771_02713d6af862 action)/$(rule t13d1516h2_8daaf6152771_02713d6af862 label)" = allow/mine ]
check fp_feed_listed "feed list: $(ew feed list -j)" [ "$(feed_field ja4s fingerprints)" = 2 ]

out=$(ew feed load abuse "$DATA/sslbl-ja3.csv" 2>&1)
check fp_ja3_labels "Dridex rule: $(rule b386946a5a44d1ddcc843bc75336dfce label) $(rule b386946a5a44d1ddcc843bc75336dfce action)" \
	[ "$(rule b386946a5a44d1ddcc843bc75336dfce label)/$(rule b386946a5a44d1ddcc843bc75336dfce action)" = Dridex/drop ]

printf 'q13d0312h3_55b375c5d22e_06cda9e17597 QUIC client\n' >"$EW_TMP/ja4b.txt"
ew feed load ja4s "$EW_TMP/ja4b.txt" --action drop >/dev/null 2>&1
check fp_reload_replaces "after reload: go=$(rule t13d190900_9dc949149365_97f8aa674fd9 action) quic=$(rule q13d0312h3_55b375c5d22e_06cda9e17597 action)" \
	[ "$(rule t13d190900_9dc949149365_97f8aa674fd9 action)/$(rule q13d0312h3_55b375c5d22e_06cda9e17597 action)" = none/drop ]
ew feed load ja4s "$DATA/plain.txt" >/dev/null 2>&1
check fp_kind_mismatch_refused "prefixes loaded into a fingerprint feed" [ $? -ne 0 ]
ew feed del abuse >/dev/null
check fp_del_removes "Dridex rule after del: $(rule b386946a5a44d1ddcc843bc75336dfce action)" \
	[ "$(rule b386946a5a44d1ddcc843bc75336dfce action)" = none ]
check fp_del_keeps_manual "manual rule after del: $(rule t13d1516h2_8daaf6152771_02713d6af862 action)" \
	[ "$(rule t13d1516h2_8daaf6152771_02713d6af862 action)" = allow ]

# --- reloads killed midway, under hello traffic ------------------------------------
# Files old.txt and new.txt: 4,000 generated JA4s each (labels "old", "new"),
# and both list the JA4 of flood.py's hellos (Python's ssl module).
hello_ja4=$("$EW_PY" -c "import sys; sys.path.insert(0, sys.argv[1]); import flood
sys.stdout.write(flood.client_hello('flood.example').hex())" "$EW_ROOT/tests/e2e" | "$EW_BIN" fp hello -j |
	json_get "d['ja4']")
for set in old new; do
	"$EW_PY" - "$EW_TMP/$set.txt" "$set" "$hello_ja4" <<'EOF'
import random, sys
path, label, ja4 = sys.argv[1:]
r = random.Random(label)
with open(path, "w") as f:
    f.write("%s python\n" % ja4)
    for _ in range(4000):
        f.write("t13d%04d%s_%012x_%012x %s\n" % (r.randrange(10000), r.choice(["h2", "h1"]),
                                                r.getrandbits(48), r.getrandbits(48), label))
EOF
done
# in_force: "OLD NEW ACTION": rules labelled old and new, and the action on the hellos' JA4.
in_force() {
	ew fp list -j | json_get "'%d %d %s' % (sum(r['label'] == 'old' for r in d), sum(r['label'] == 'new' for r in d), next((r['action'] for r in d if r['value'] == '$hello_ja4'), 'none'))"
}
out=$(ew feed load big "$EW_TMP/old.txt" 2>&1)
check fp_big_load "feed load: $out; in force: $(in_force)" [ "$(in_force)" = "4000 0 drop" ]
bg "$EW_SRV" 120 "$EW_PY" "$FLOOD" sink --port $SINK >"$EW_TMP/sink.log" 2>&1
wait_for 5 listening "$EW_SRV" tcp $SINK || fail fp_sink "the hello sink did not start"
bg "$C1" 100 "$EW_PY" "$FLOOD" half-hello --dst 198.18.1.1 --port $SINK --count 100000 --close complete
HELLOS=$EW_LAST_PID
sleep 0.5
# Kills spread over the time a whole reload takes here (startup and parsing included).
t0=$(date +%s%N)
ew feed load big "$EW_TMP/new.txt" >/dev/null 2>&1
took_us=$((($(date +%s%N) - t0) / 1000))
whole=0 mixed="" kills=0 disagree=""
for k in $(seq 1 24); do
	us=$((took_us * k / 20))
	delay=$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))
	set=old
	[ $((k % 2)) -eq 0 ] && set=new
	nsrun "$EW_SRV" timeout -s KILL "$delay" "$EW_BIN" feed load big "$EW_TMP/$set.txt" >/dev/null 2>&1
	kills=$((kills + 1))
	now=$(in_force)
	case $now in
	"4000 0 drop" | "0 4000 drop") whole=$((whole + 1)) ;;
	*) mixed+="after a kill at ${delay}s: $now; " ;;
	esac
	# feed list (which settles what the kill left) names the file of the set in force
	src=$(feed_field big source)
	src=${src##*/}
	case $now in "4000 0 drop") want=old.txt ;; "0 4000 drop") want=new.txt ;; *) want="?" ;; esac
	[ "$src" = "$want" ] || disagree+="after a kill at ${delay}s: $want in force, feed list names $src; "
done
check fp_killed_listed "feed list disagreed with the rules in force: $disagree" [ -z "$disagree" ]
# The same, placed exactly: SIGKILL at the grace period's membarrier, right after the flip.
ew feed load big "$EW_TMP/old.txt" >/dev/null 2>&1
nsenter --net="/run/netns/$EW_SRV" -- strace -qq -f -o /dev/null -e trace=membarrier \
	-e inject=membarrier:signal=KILL:when=1 "$EW_BIN" feed load big "$EW_TMP/new.txt" >/dev/null 2>&1
now=$(in_force)
src=$(feed_field big source)
check fp_killed_after_flip "killed right after the flip: in force $now, feed list names ${src##*/}" \
	[ "$now" = "0 4000 drop" -a "${src##*/}" = new.txt ]
out=$(ew feed load big "$EW_TMP/new.txt" 2>&1)
rc=$?
sleep 0.3
stop "$HELLOS"
check fp_killed_whole "$whole of $kills reloads killed within ${took_us} us left one whole set in force; $mixed" \
	[ "$whole" -eq "$kills" ]
check fp_load_after_kills "load after the kills: rc $rc: $out; in force: $(in_force)" \
	[ $rc -eq 0 -a "$(in_force)" = "0 4000 drop" ]
check fp_no_leftovers "rules: $(ew fp list -j | json_get 'len(d)'), feed big owns $(feed_field big fingerprints)" \
	[ "$(ew fp list -j | json_get 'len(d)')/$(feed_field big fingerprints)" = "4003/4001" ]
verdicts=$(ew flows --json | json_get "sorted(set((f['verdict'], f['reason']) for f in d if f['ja4'] == '$hello_ja4'))")
hellos=$(ew flows --json | json_get "sum(f['ja4'] == '$hello_ja4' for f in d)")
check fp_hellos_all_dropped "$hellos hellos, flows' (verdict, reason): $verdicts" \
	[ "$hellos" -ge 20 -a "$verdicts" = "[('drop', 'fp_rule')]" ]
ew_done
