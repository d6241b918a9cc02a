#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# edgeward replay over the capture corpus (tests/captures): every capture's
# flows against expected.json (JA4, JA3, SNI, ALPN from tshark and FoxIO's
# reference code, see tests/captures/README.md), block rules and monitor mode,
# the clock fed from capture timestamps, link types (SLL, SLL2, raw IP, null),
# captures without a SYN, bad files, and that a replay leaves live pins alone.
set -u
. "$(dirname "$0")/lib.sh"
require replay

CAPS=$EW_ROOT/tests/captures
for t in editcap capinfos; do
	command -v "$t" >/dev/null || { fail replay "$t is missing (scripts/install-deps.sh installs it)"; ew_done; }
done

rp() { "$EW_BIN" replay "$@"; }
# field FILE PORT NAME: one field of the flow whose client port is PORT in a
# replay's JSON lines (FILE), "none" without such a flow.
field() {
	"$EW_PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(next((r[sys.argv[3]] for r in rows if r["sport"] == int(sys.argv[2])), "none"))
EOF
}
# packets FILE: packets in a capture (capinfos).
packets() { capinfos -cM "$1" | awk -F': *' '/Number of packets/ {print $2}'; }

# The in-kernel ClientHello parser is in this build: its maps are in the object.
# The in-kernel JA4 is part of the data path: an object without it fails here
# rather than skipping the fingerprint checks.
HAS_TLS=true
bpftool btf dump file "$OUT/edgeward.bpf.o" 2>/dev/null | grep -q "VAR 'ew_tls_" ||
	fail replay_object_has_tls "the BPF object has no ew_tls_* maps"

# --- every capture against expected.json ----------------------------------------------
# compare EXPECTED CAPTURE OUT: prints what differs ("" when all matches), on
# the flows' identity (client port, client side) and, with TLS, fingerprints.
compare() {
	"$EW_PY" - "$@" "$HAS_TLS" <<'EOF'
import json, sys
exp = next(c for c in json.load(open(sys.argv[1]))["captures"] if c["file"] == sys.argv[2])
rows = {}
for line in open(sys.argv[3]):
    if line.strip():
        r = json.loads(line)
        rows[r["sport"]] = r
bad = []
for f in exp["flows"]:
    r = rows.get(f["client_port"])
    if not r:
        bad.append(f"no flow from client port {f['client_port']}")
        continue
    if r["client_by"] != "syn" or r["dport"] != 443:
        bad.append(f"port {f['client_port']}: client side {r['client_by']}, server port {r['dport']}")
    if sys.argv[4] != "true":
        continue
    for k in ("ja4", "ja3", "sni", "alpn"):
        if r[k] != f[k]:
            bad.append(f"port {f['client_port']} {k}: got {r[k]}, want {f[k]}")
print("; ".join(bad))
EOF
}

t_corpus() {
	local file name why n=0
	for file in $("$EW_PY" -c 'import json, sys
print(" ".join(c["file"] for c in json.load(open(sys.argv[1]))["captures"]))' "$CAPS/expected.json"); do
		name=${file%.*}
		n=$((n + 1))
		if ! rp -j "$CAPS/$file" >"$EW_TMP/$name.json" 2>"$EW_TMP/$name.err"; then
			fail "replay_$name" "replay failed: $(cat "$EW_TMP/$name.err")"
			continue
		fi
		why=$(HAS_TLS=false compare "$CAPS/expected.json" "$file" "$EW_TMP/$name.json")
		local got
		got=$("$EW_PY" -c 'import json, sys
print(sum(json.loads(l)["packets_in"] + json.loads(l)["packets_out"] for l in open(sys.argv[1]) if l.strip()))' "$EW_TMP/$name.json")
		[ "$got" = "$(packets "$CAPS/$file")" ] || why="$why packets: $got of $(packets "$CAPS/$file")"
		check "replay_flows_$name" "$why" [ -z "$why" ]
		if ! $HAS_TLS; then
			skip "replay_fp_$name" "in-kernel JA4 not in this build"
			continue
		fi
		why=$(compare "$CAPS/expected.json" "$file" "$EW_TMP/$name.json")
		check "replay_fp_$name" "$why" [ -z "$why" ]
	done
	check replay_corpus_size "expected.json lists $n captures, want at least 15" [ "$n" -ge 15 ]
}

# --- rules --------------------------------------------------------------------------
t_rules() {
	local j=$EW_TMP/rules.json port
	port=$(json_get 'd["sport"]' <"$EW_TMP/curl.json")
	cp "$EW_TMP/curl.json" "$j"
	check replay_no_rule_passes "verdict $(field "$j" "$port" verdict)" [ "$(field "$j" "$port" verdict)" = pass ]
	rp -j --block 198.18.0.1 "$CAPS/curl.pcap" >"$j"
	check replay_block_drops "verdict $(field "$j" "$port" verdict), reasons $(field "$j" "$port" reasons)" \
		[ "$(field "$j" "$port" verdict) $(field "$j" "$port" reasons)" = "drop ['prefix']" ]
	rp -j --monitor --block 198.18.0.0/24 "$CAPS/curl.pcap" >"$j"
	check replay_monitor_would_drop "verdict $(field "$j" "$port" verdict)" \
		[ "$(field "$j" "$port" verdict)" = would_drop ]
	rp -j --block 198.18.0.0/15=flag "$CAPS/curl.pcap" >"$j"
	check replay_block_flag "verdict $(field "$j" "$port" verdict)" [ "$(field "$j" "$port" verdict)" = flag ]
	rp -j --block 198.18.0.0/24 --block 198.18.0.1=allow "$CAPS/curl.pcap" >"$j"
	check replay_allow_wins "verdict $(field "$j" "$port" verdict)" [ "$(field "$j" "$port" verdict)" = allow ]
	rp -j --block 198.19.0.0/16 "$CAPS/curl.pcap" >"$j"
	check replay_block_other_passes "verdict $(field "$j" "$port" verdict)" [ "$(field "$j" "$port" verdict)" = pass ]

	printf '# lab clients\n2001:db8:e7::/48=drop  # v6\n198.18.0.0/15=flag\n' >"$EW_TMP/bl.txt"
	port=$(json_get 'd["sport"]' <"$EW_TMP/curl-ipv6.json")
	rp -j --block-file "$EW_TMP/bl.txt" "$CAPS/curl-ipv6.pcap" >"$j"
	check replay_block_file_v6 "verdict $(field "$j" "$port" verdict)" [ "$(field "$j" "$port" verdict)" = drop ]
	printf '198.18.0.0/15\n\n198.18.0.300/32\n' >"$EW_TMP/bad.txt"
	local err
	local rc ok
	err=$(rp -j --block-file "$EW_TMP/bad.txt" "$CAPS/curl.pcap" 2>&1 >/dev/null)
	rc=$? ok=false
	[ $rc -ne 0 ] && [[ $err == *"$EW_TMP/bad.txt:3:"* ]] && ok=true
	check replay_block_file_error "exit $rc, message: $err" $ok
	# Fingerprint rules (--fp), with the values expected.json gives for curl.
	local ja4 ja3
	port=$(json_get 'd["sport"]' <"$EW_TMP/curl.json")
	ja4=$(field "$EW_TMP/curl.json" "$port" ja4) ja3=$(field "$EW_TMP/curl.json" "$port" ja3)
	if $HAS_TLS; then
		rp -j --fp "ja4:$ja4" "$CAPS/curl.pcap" >"$j"
		check replay_fp_rule_drops "verdict $(field "$j" "$port" verdict), reasons $(field "$j" "$port" reasons)" \
			[ "$(field "$j" "$port" verdict) $(field "$j" "$port" reasons)" = "drop ['fp_rule']" ]
		rp -j --fp "ja4:${ja4%_*}=flag" "$CAPS/curl.pcap" >"$j"
		check replay_fp_rule_ja4_ab "verdict $(field "$j" "$port" verdict)" [ "$(field "$j" "$port" verdict)" = flag ]
		rp -j --monitor --fp "ja3:${ja3^^}" "$CAPS/curl.pcap" >"$j"
		check replay_fp_rule_ja3_monitor "verdict $(field "$j" "$port" verdict)" \
			[ "$(field "$j" "$port" verdict)" = would_drop ]
		rp -j --fp "ja4:${ja4%_*}_000000000000" "$CAPS/curl.pcap" >"$j"
		check replay_fp_rule_other_passes "verdict $(field "$j" "$port" verdict)" \
			[ "$(field "$j" "$port" verdict)" = pass ]
	else
		skip replay_fp_rules "in-kernel JA4 not in this build"
	fi
	err=$(rp --fp ja4:t13d_not_a_ja4 "$CAPS/curl.pcap" 2>&1 >/dev/null)
	rc=$? ok=false
	[ $rc -ne 0 ] && [[ $err == *"t13d_not_a_ja4"* ]] && ok=true
	check replay_fp_rule_bad "exit $rc, message: $err" $ok
	err=$(rp --block 198.18.0.1=maybe "$CAPS/curl.pcap" 2>&1 >/dev/null)
	rc=$? ok=false
	[ $rc -ne 0 ] && [[ $err == *"198.18.0.1=maybe"* ]] && ok=true
	check replay_block_bad_action "exit $rc, message: $err" $ok
}

# --- the clock: time-based state gets the capture's timestamps -----------------------------
t_clock() {
	local j=$EW_TMP/curl.json want got
	want=$(capinfos -uM "$CAPS/curl.pcap" | awk -F': *' '/Capture duration/ {printf "%d", $2 * 1000000 + 0.5}')
	got=$("$EW_PY" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["duration_us"])' "$j")
	check replay_capture_clock "kernel saw the flow last ${got}us after its first packet, capture says ${want}us" \
		[ "$got" -ge $((want - 1)) -a "$got" -le $((want + 1)) -a "$want" -gt 0 ]
}

# --- direction without a SYN ---------------------------------------------------------------
t_direction() {
	local j=$EW_TMP/dir.json port
	port=$(json_get 'd["sport"]' <"$EW_TMP/curl.json")
	editcap "$CAPS/curl.pcap" "$EW_TMP/nosyn.pcap" 1-3 # drop the handshake
	rp -j "$EW_TMP/nosyn.pcap" >"$j"
	check replay_no_syn_server_port "client $(field "$j" "$port" src) by $(field "$j" "$port" client_by)" \
		[ "$(field "$j" "$port" src) $(field "$j" "$port" client_by) $(field "$j" "$port" dport)" = "198.18.0.1 ports 443" ]
	editcap "$CAPS/curl.pcap" "$EW_TMP/synack.pcap" 1 # starts at the SYN-ACK
	rp -j "$EW_TMP/synack.pcap" >"$j"
	check replay_synack_first "client $(field "$j" "$port" src) by $(field "$j" "$port" client_by)" \
		[ "$(field "$j" "$port" src) $(field "$j" "$port" client_by)" = "198.18.0.1 syn" ]
}

# --- link types ------------------------------------------------------------------------------
# relink IN OUT TYPE: rewrite an Ethernet pcap as sll, sll2 or null.
relink() {
	"$EW_PY" - "$@" <<'EOF'
import struct, sys
src, dst, kind = sys.argv[1:4]
data = open(src, "rb").read()
magic, vmaj, vmin, tz, sig, snap, lt = struct.unpack("<IHHiIII", data[:24])
assert magic in (0xa1b2c3d4, 0xa1b23c4d) and lt == 1, "little-endian Ethernet pcap expected"
out = [struct.pack("<IHHiIII", magic, vmaj, vmin, tz, sig, snap, {"sll": 113, "sll2": 276, "null": 0}[kind])]
off = 24
while off < len(data):
    s, us, incl, orig = struct.unpack("<IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    proto, body = pkt[12:14], pkt[14:]
    if kind == "sll":
        hdr = struct.pack(">HHH", 0, 1, 6) + pkt[6:12] + b"\0\0" + proto
    elif kind == "sll2":
        hdr = proto + b"\0\0" + struct.pack(">IHBB", 2, 1, 0, 6) + pkt[6:12] + b"\0\0"
    else:
        hdr = struct.pack("<I", 2 if proto == b"\x08\x00" else 10)
    out.append(struct.pack("<IIII", s, us, len(hdr) + len(body), orig - 14 + len(hdr)) + hdr + body)
open(dst, "wb").write(b"".join(out))
EOF
}

t_linktypes() {
	local cap kind ref got
	for cap in curl curl-ipv6; do
		ref=$(cat "$EW_TMP/$cap.json")
		for kind in sll sll2 null; do
			relink "$CAPS/$cap.pcap" "$EW_TMP/$cap-$kind.pcap" "$kind"
			got=$(rp -j "$EW_TMP/$cap-$kind.pcap" 2>&1)
			check "replay_linktype_${kind}_$cap" "got $got, want $ref" [ "$got" = "$ref" -a -n "$ref" ]
		done
		# Raw IP with wireshark's own tool: chop the Ethernet header, relabel.
		editcap -C 14 -T rawip "$CAPS/$cap.pcap" "$EW_TMP/$cap-raw.pcap"
		got=$(rp -j "$EW_TMP/$cap-raw.pcap" 2>&1)
		check "replay_linktype_raw_$cap" "got $got, want $ref" [ "$got" = "$ref" ]
	done
	editcap -T ieee-802-11 "$CAPS/curl.pcap" "$EW_TMP/wifi.pcap"
	local rc ok=false
	got=$(rp "$EW_TMP/wifi.pcap" 2>&1)
	rc=$?
	[ $rc -ne 0 ] && [[ $got == *"$EW_TMP/wifi.pcap"*"link type"* ]] && ok=true
	check replay_linktype_unsupported "exit $rc: $got" $ok
}

# --- bad files ---------------------------------------------------------------------------------
t_bad_files() {
	local f=$EW_TMP/trunc.pcap err size rc ok
	size=$(stat -c %s "$CAPS/curl.pcap")
	head -c $((size - 20)) "$CAPS/curl.pcap" >"$f"
	err=$(rp "$f" 2>&1 >/dev/null)
	rc=$? ok=false
	[ $rc -ne 0 ] && [[ $err == *"$f: packet "*"truncated"* ]] && ok=true
	check replay_truncated_file "exit $rc: $err" $ok
	head -c 4000 /dev/urandom >"$EW_TMP/garbage.pcap"
	err=$(rp "$EW_TMP/garbage.pcap" 2>&1 >/dev/null)
	rc=$? ok=false
	[ $rc -ne 0 ] && [[ $err == *"$EW_TMP/garbage.pcap"* ]] && ok=true
	check replay_garbage_file "exit $rc: $err" $ok
	err=$(rp "$EW_TMP/absent.pcap" 2>&1 >/dev/null)
	rc=$? ok=false
	[ $rc -ne 0 ] && [[ $err == *"$EW_TMP/absent.pcap"* ]] && ok=true
	check replay_missing_file "exit $rc: $err" $ok
	# A frame shorter than its Ethernet header: named by number, skipped, the rest replayed.
	"$EW_PY" - "$CAPS/curl.pcap" "$EW_TMP/runt.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
runt = struct.pack("<IIII", 1, 0, 6, 6) + b"\x02" * 6
first = 24 + 16 + struct.unpack("<I", d[32:36])[0]
open(sys.argv[2], "wb").write(d[:first] + runt + d[first:])
EOF
	err=$(rp -j "$EW_TMP/runt.pcap" 2>&1 >"$EW_TMP/runt.json")
	rc=$? ok=false
	[ $rc -eq 0 ] && [[ $err == *"runt.pcap: packet 2:"* ]] &&
		[ "$(json_get 'd["packets_in"] + d["packets_out"]' <"$EW_TMP/runt.json")" = "$(packets "$CAPS/curl.pcap")" ] &&
		ok=true
	check replay_runt_frame "exit $rc: $err" $ok
}

# --- live pins are never touched -----------------------------------------------------------------
# snapshot: the pin directory listing and every pinned map's contents but the
# per-packet counters (the lab's own packets move those; the replay's drop
# would show in the xdp/prefix/drop row, checked apart).
snapshot() {
	local m
	ls -l --time-style=+%s.%N "$EW_PIN"
	for m in "$EW_PIN"/ew_*; do
		case ${m##*/} in ew_stats | ew_counters | ew_evstate | ew_events | ew_fd_hits) continue ;; esac
		echo "== $m"
		bpftool map dump pinned "$m" 2>&1 | head -c 200000 # the start of large tables
	done
	stat_pkts xdp prefix drop
}

t_live_pins() {
	lab_server || { fail replay_live_pins "cannot build the namespace lab"; return; }
	# A quiet lab: no IPv6 neighbour discovery or MLD while we compare.
	local ns
	for ns in "$EW_SRV" "$EW_SW"; do
		nsrun "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ew attach "$EW_SIF" >/dev/null || { fail replay_live_pins "attach failed"; return; }
	ew block add 198.18.0.0/24 --action flag >/dev/null
	snapshot >"$EW_TMP/before"
	local out
	out=$(EDGEWARD_PIN_DIR=$EW_PIN rp -j --pin-dir "$EW_PIN" --block 198.18.0.1 "$CAPS/curl.pcap" 2>&1)
	snapshot >"$EW_TMP/after"
	check replay_leaves_live_pins "replay: $out; pins changed: $(diff "$EW_TMP/before" "$EW_TMP/after" | head -5)" \
		cmp -s "$EW_TMP/before" "$EW_TMP/after"
	local ok=false
	[[ $out == *'"verdict":"drop"'* ]] && ok=true
	check replay_beside_live "replay gave $out" $ok
	local nopins=$EW_TMP/no-such-pin-dir
	EDGEWARD_PIN_DIR=$nopins rp -j "$CAPS/curl.pcap" >/dev/null 2>&1
	check replay_creates_no_pins "$nopins exists after a replay" [ ! -e "$nopins" ]
}

t_corpus # first: the others reuse its results
t_rules
t_clock
t_direction
t_linktypes
t_bad_files
t_live_pins
ew_done
