#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The foundation end to end: attach, block lists with real HTTP clients, exact
# counters (checked through the CLI, bpftool and nftables), monitor mode,
# in-place re-attach, several interfaces, detach, errors, IPv6.
#
# Lab: server namespace with an HTTP server, clients 1 and 2 behind a bridge
# on the server's one interface (198.18.1.0/24 and 198.18.2.0/24), clients 3
# and 4 on their own veths into the server (second and third interfaces).
set -u
. "$(dirname "$0")/lib.sh"
require foundation nft capsh tc

HTTP=8080
URL1=http://198.18.1.1:$HTTP/hello.txt
URL2=http://198.18.2.1:$HTTP/hello.txt

lab_server || { fail lab "cannot build the namespace lab"; ew_done; }
lab_client 1 && C1=$CLI_NS
lab_client 2 && C2=$CLI_NS
http_server $HTTP || { fail lab "http.server did not start"; ew_done; }

# prog_ids IFACE: "XDP_ID TC_ID" of IFACE from `edgeward status -j`.
prog_ids() {
	ew status -j | json_get "' '.join(f\"{i['xdp_prog_id']} {i['tc_prog_id']}\" for i in d['interfaces'] if i['name'] == '$1')"
}
# prog_exists ID: the kernel still has program ID.
prog_exists() { bpftool prog show id "$1" >/dev/null 2>&1; }
# nft_counter NAME FIELD: a named counter of table inet ewt in the server.
nft_counter() {
	nsrun "$EW_SRV" nft -j list counter inet ewt "$1" | json_get "[o['counter'] for o in d['nftables'] if 'counter' in o][0]['$2']"
}
# lines FILE: number of lines (datagrams a sink received).
lines() { wc -l <"$1" | tr -d ' '; }

# --- attach, block, unblock with real HTTP clients ------------------------------
t_block() {
	local out
	out=$(ew attach "$EW_SIF" nosuch0 2>&1 >/dev/null)
	if [ $? -ne 0 ] && [[ $out == *"'nosuch0'"* ]] && [ ! -e "$EW_PIN" ] &&
		[ -z "$(nsrun "$EW_SRV" ip link show dev "$EW_SIF" | grep xdp)" ]; then
		pass attach_bad_name_attaches_nothing
	else
		fail attach_bad_name_attaches_nothing "rc/stderr: $out; pins: $(ls "$EW_PIN" 2>&1)"
	fi
	if ! out=$(ew attach "$EW_SIF" 2>&1); then
		fail attach "attach failed, nothing else can be tested: $out"
		ew_done
	fi
	pass attach
	# Every pin is one edgeward knows (ew_pinned_maps[]), or detach leaves it behind.
	local unknown
	unknown=$(ls "$EW_PIN" | grep -v '^link_' | grep -vxF -f <(ew status -j | json_get "'\\n'.join(d['maps'])"))
	check pins_all_known "pinned but missing from ew_pinned_maps[] in user/pin.c: $unknown" [ -z "$unknown" ]
	check attach_status "status does not list $EW_SIF" \
		[ "$(ew status -j | json_get "[i['name'] for i in d['interfaces']]")" = "['$EW_SIF']" ]
	http_expect http_before_block "$C1" "$URL1" 200 "$C2" "$URL2" 200

	local drops0 bdrops0
	drops0=$(stat_pkts xdp prefix drop)
	ew block add 198.18.1.0/24 --label lab-c1 >/dev/null
	check block_add "block add exited non-zero" [ $? -eq 0 ]
	http_expect block_drops_prefix "$C1" "$URL1" 000
	http_expect block_other_prefix_passes "$C2" "$URL2" 200
	local drops bdrops
	drops=$(stat_pkts xdp prefix drop)
	bdrops=$(bpf_stat EW_HOOK_XDP EW_R_PREFIX EW_A_DROP)
	check block_counted "xdp/prefix/drop went $drops0 -> $drops (bpftool: $bdrops)" \
		[ "$drops" -gt "$drops0" -a "$drops" = "$bdrops" ]
	check block_list "block list: $(ew block list -j)" \
		[ "$(ew block list -j | json_get "[(e['prefix'], e['action'], e['label'], e['hits'] > 0) for e in d]")" \
		= "[('198.18.1.0/24', 'drop', 'lab-c1', True)]" ]

	ew block del 198.18.1.0/24 >/dev/null
	http_expect block_del_restores "$C1" "$URL1" 200
	check block_list_empty "block list not empty after del" [ "$(ew block list -j)" = "[]" ]
}

# --- actions: flag passes and marks, allow wins over a wider drop ------------------------
t_actions() {
	local f0 a0 port
	f0=$(stat_pkts xdp prefix flag)
	ew block add 198.18.2.0/24 --action flag --label watch >/dev/null
	http_expect flag_passes "$C2" "$URL2" 200
	traffic "$C2" 10 udp-send --src 198.18.2.2 --sport 40010 --dst 198.18.2.1 --port 9995 --count 5 >/dev/null
	sleep 0.2
	check flag_marks_flow "flow verdict $(flow_get 198.18.2.2 40010 198.18.2.1 9995 udp verdict)/$(flow_get 198.18.2.2 40010 198.18.2.1 9995 udp reason), xdp/prefix/flag $f0 -> $(stat_pkts xdp prefix flag)" \
		[ "$(flow_get 198.18.2.2 40010 198.18.2.1 9995 udp verdict)" = flag \
		-a "$(flow_get 198.18.2.2 40010 198.18.2.1 9995 udp reason)" = prefix \
		-a "$(stat_pkts xdp prefix flag)" -ge $((f0 + 5)) ]
	ew block del 198.18.2.0/24 >/dev/null

	# A /32 allow inside a dropped /16: the longest prefix decides.
	a0=$(stat_pkts xdp prefix allow)
	ew block add 198.18.0.0/16 >/dev/null
	ew block add 198.18.2.2/32 --action allow >/dev/null
	http_expect allow_wins "$C2" "$URL2" 200 "$C1" "$URL1" 000
	check allow_counted "xdp/prefix/allow did not grow" [ "$(stat_pkts xdp prefix allow)" -gt "$a0" ]
	ew block del 198.18.0.0/16 198.18.2.2 >/dev/null
	check block_list_empty_again "block list: $(ew block list -j)" [ "$(ew block list -j)" = "[]" ]
}

# --- a rule change reaches flows that are already established ------------------------------
t_established() {
	local sink=$EW_TMP/sink9994 d0 d1 send
	send() {
		traffic "$C2" 10 udp-send --src 198.18.2.2 --sport 40011 --dst 198.18.2.1 --port 9994 --count "$1" >/dev/null
		sleep 0.2
	}
	udp_sink 198.18.2.1 9994 "$sink" || { fail established_flow "sink did not start"; return; }
	send 5
	d0=$(stat_pkts xdp prefix drop)
	ew block add 198.18.2.0/24 >/dev/null
	send 6
	d1=$(stat_pkts xdp prefix drop)
	check established_flow_blocked "sink got $(lines "$sink") (want 5), drops grew by $((d1 - d0)) (want 6), flow verdict $(flow_get 198.18.2.2 40011 198.18.2.1 9994 udp verdict)" \
		[ "$(lines "$sink")" = 5 -a $((d1 - d0)) = 6 \
		-a "$(flow_get 198.18.2.2 40011 198.18.2.1 9994 udp verdict)" = drop ]
	ew block del 198.18.2.0/24 >/dev/null
	send 7
	check established_flow_unblocked "sink got $(lines "$sink") (want 12), flow verdict $(flow_get 198.18.2.2 40011 198.18.2.1 9994 udp verdict), $(flow_get 198.18.2.2 40011 198.18.2.1 9994 udp packets_in) packets in (want 18)" \
		[ "$(lines "$sink")" = 12 -a "$(flow_get 198.18.2.2 40011 198.18.2.1 9994 udp verdict)" = pass \
		-a "$(flow_get 198.18.2.2 40011 198.18.2.1 9994 udp packets_in)" = 18 ]
}

# --- counters equal what was sent -------------------------------------------------
t_counts() {
	local n=57 size=100 sink=$EW_TMP/sink9999 s0 b0 bb0 s1 b1 bb1 got
	nsrun "$EW_SRV" nft -f - <<-EOF
	table inet ewt {
		counter udp_in {}
		counter tcp_in {}
		counter tcp_out {}
		chain in {
			type filter hook input priority 0;
			ip saddr 198.18.2.2 udp sport 40001 udp dport 9999 counter name udp_in
			ip saddr 198.18.2.2 tcp sport 40002 tcp dport 7000 counter name tcp_in
		}
		chain out {
			type filter hook output priority 0;
			ip daddr 198.18.2.2 tcp dport 40002 tcp sport 7000 counter name tcp_out
		}
	}
	EOF
	udp_sink 198.18.2.1 9999 "$sink" || { fail counts_udp "udp sink did not start"; return; }

	s0=$(stat_pkts xdp none pass)
	b0=$(bpf_stat EW_HOOK_XDP EW_R_NONE EW_A_PASS)
	bb0=$(bpf_stat EW_HOOK_XDP EW_R_NONE EW_A_PASS bytes)
	got=$(traffic "$C2" 10 udp-send --src 198.18.2.2 --sport 40001 --dst 198.18.2.1 --port 9999 \
		--count $n --size $size | json_get "d['sent']")
	wait_for 3 [ "$(lines "$sink")" -ge "$n" ]
	sleep 0.2
	s1=$(stat_pkts xdp none pass)
	b1=$(bpf_stat EW_HOOK_XDP EW_R_NONE EW_A_PASS)
	bb1=$(bpf_stat EW_HOOK_XDP EW_R_NONE EW_A_PASS bytes)
	local frame=$((size + 8 + 20 + 14))
	check udp_sent_received "sender sent $got, sink got $(lines "$sink"), nft counted $(nft_counter udp_in packets), want $n" \
		[ "$got" = $n -a "$(lines "$sink")" = $n -a "$(nft_counter udp_in packets)" = $n ]
	check stats_cli_exact "edgeward stats xdp/none/pass grew by $((s1 - s0)), want $n" [ $((s1 - s0)) = $n ]
	check stats_bpftool_exact "bpftool ew_stats[$(stat_idx EW_HOOK_XDP EW_R_NONE EW_A_PASS)] grew by $((b1 - b0)) packets / $((bb1 - bb0)) bytes, want $n / $((n * frame))" \
		[ $((b1 - b0)) = $n -a $((bb1 - bb0)) = $((n * frame)) ]
	local fp fb
	fp=$(flow_get 198.18.2.2 40001 198.18.2.1 9999 udp packets_in)
	fb=$(flow_get 198.18.2.2 40001 198.18.2.1 9999 udp bytes_in)
	check flow_udp_exact "flow has $fp packets / $fb bytes in, want $n / $((n * frame))" \
		[ "$fp" = $n -a "$fb" = $((n * frame)) ]

	# A TCP exchange: the flow's two directions against nftables on the server.
	tcp_echo :: 7000 || { fail counts_tcp "echo server did not start"; return; }
	got=$(traffic "$C2" 10 tcp-send --src 198.18.2.2 --sport 40002 --dst 198.18.2.1 --port 7000 --size 3000 |
		json_get "d['received']")
	sleep 0.3
	local pin pout bin bout npin npout nbin nbout
	pin=$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp packets_in)
	pout=$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp packets_out)
	bin=$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp bytes_in)
	bout=$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp bytes_out)
	npin=$(nft_counter tcp_in packets) npout=$(nft_counter tcp_out packets)
	nbin=$(nft_counter tcp_in bytes) nbout=$(nft_counter tcp_out bytes)
	# nftables counts IP bytes; edgeward counts frames (14 more bytes each).
	check flow_tcp_exact "echo returned $got/3000; flow in $pin pkts $bin B, out $pout pkts $bout B; nft in $npin pkts $nbin B, out $npout pkts $nbout B" \
		[ "$got" = 3000 -a "$pin" = "$npin" -a "$pout" = "$npout" -a "$pin" -ge 5 -a "$pout" -ge 4 \
		-a "$bin" = $((nbin + 14 * npin)) -a "$bout" = $((nbout + 14 * npout)) ]
	check flow_tcp_flags "flags in/out: $(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp tcp_flags_in)/$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp tcp_flags_out)" \
		[ "$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp tcp_flags_in)" = FSPA \
		-a "$(flow_get 198.18.2.2 40002 198.18.2.1 7000 tcp tcp_flags_out)" = FSPA ]
	check stats_tc_egress "tc/none/pass ($(stat_pkts tc none pass)) is below the flow's $pout packets out" \
		[ "$(stat_pkts tc none pass)" -ge "$pout" ]

	# Server-initiated traffic belongs to no client flow: TC counts it untracked.
	local u0 u1
	u0=$(bpf_stat EW_HOOK_TC EW_R_UNTRACKED EW_A_PASS)
	traffic "$EW_SRV" 10 udp-send --src 198.18.2.1 --dst 198.18.2.2 --port 9993 --count 9 >/dev/null
	sleep 0.2
	u1=$(bpf_stat EW_HOOK_TC EW_R_UNTRACKED EW_A_PASS)
	check tc_untracked_exact "tc/untracked/pass grew by $((u1 - u0)) (bpftool), want 9; CLI says $(stat_pkts tc untracked pass)" \
		[ $((u1 - u0)) = 9 -a "$(stat_pkts tc untracked pass)" = "$u1" ]
}

# --- monitor mode -----------------------------------------------------------------------
t_monitor() {
	local wd0 wd1 d0 d1
	ew block add 198.18.1.0/24 >/dev/null
	ew attach --monitor "$EW_SIF" >/dev/null
	check monitor_status "status does not show monitor" \
		[ "$(ew status -j | json_get "[i['monitor'] for i in d['interfaces'] if i['name'] == '$EW_SIF']")" = "[True]" ]
	wd0=$(stat_pkts xdp prefix would_drop)
	d0=$(stat_pkts xdp prefix drop)
	http_expect monitor_passes "$C1" "$URL1" 200
	wd1=$(stat_pkts xdp prefix would_drop)
	d1=$(stat_pkts xdp prefix drop)
	check monitor_counts_would_drop "would_drop $wd0 -> $wd1, drop $d0 -> $d1" \
		[ "$wd1" -gt "$wd0" -a "$d1" = "$d0" ]
	ew attach "$EW_SIF" >/dev/null
	http_expect monitor_off_enforces "$C1" "$URL1" 000
}

# --- re-attach in place, a second interface, no unfiltered moment ---------------------
t_reattach() {
	local ids0 ids1 maps0 maps1 list0 drops0
	ids0=$(prog_ids "$EW_SIF")
	maps0=$(ew status -j | json_get "sorted((k, v['id']) for k, v in d['maps'].items())")
	list0=$(ew block list -j)
	drops0=$(stat_pkts xdp prefix drop)
	ew attach "$EW_SIF" >/dev/null
	ids1=$(prog_ids "$EW_SIF")
	set -- $ids0 $ids1
	if [ $# = 4 ] && [ "$1" != "$3" ] && [ "$2" != "$4" ] && ! prog_exists "$1" && ! prog_exists "$2"; then
		pass reattach_replaces_progs
	else
		fail reattach_replaces_progs "program ids $ids0 -> $ids1, or the old ones are still loaded"
	fi
	check reattach_keeps_state "block list or counters changed across re-attach" \
		[ "$(ew block list -j)" = "$list0" -a "$(stat_pkts xdp prefix drop)" -ge "$drops0" ]
	check reattach_same_maps "map ids changed" \
		[ "$(ew status -j | json_get "sorted((k, v['id']) for k, v in d['maps'].items())")" = "$maps0" ]

	# A second interface shares the maps: its traffic lands in the same flow table.
	lab_client 3 direct && C3=$CLI_NS S3=$SRV_IF
	ew attach "$S3" >/dev/null
	check second_iface_attached "status lists $(ew status -j | json_get "sorted(i['name'] for i in d['interfaces'])")" \
		[ "$(ew status -j | json_get "len(d['interfaces'])")" = 2 ]
	check second_iface_same_maps "map ids changed with a second interface" \
		[ "$(ew status -j | json_get "sorted((k, v['id']) for k, v in d['maps'].items())")" = "$maps0" ]
	traffic "$C3" 10 udp-send --src 198.18.3.2 --sport 40003 --dst 198.18.3.1 --port 9997 --count 7 >/dev/null
	sleep 0.2
	check second_iface_flows "flow from the second interface: $(flow_get 198.18.3.2 40003 198.18.3.1 9997 udp packets_in) packets, want 7" \
		[ "$(flow_get 198.18.3.2 40003 198.18.3.1 9997 udp packets_in)" = 7 ]
	ew block add 198.18.3.2 >/dev/null
	http_expect second_iface_blocks "$C3" "http://198.18.3.1:$HTTP/hello.txt" 000
	ew block del 198.18.3.2/32 >/dev/null

	# No unfiltered moment: a steady stream from a blocked source (20k/s) while
	# both interfaces are re-attached several times; the server receives
	# nothing and every datagram is counted as a drop.
	local sink=$EW_TMP/sink9998 stopf=$EW_TMP/stream.stop max=2000000 sent d0 d1 i pid
	udp_sink 198.18.1.1 9998 "$sink" || { fail no_unfiltered_moment "sink did not start"; return; }
	d0=$(stat_pkts xdp prefix drop)
	bg "$C1" 150 "$EW_PY" "$EW_TRAFFIC" udp-send --src 198.18.1.2 --sport 40004 --dst 198.18.1.1 \
		--port 9998 --count $max --rate 20000 --until-file "$stopf" >"$EW_TMP/stream.json"
	pid=$EW_LAST_PID
	wait_for 5 [ "$(stat_pkts xdp prefix drop)" -gt "$((d0 + 100))" ]
	for i in 1 2 3 4 5; do
		ew attach "$EW_SIF" "$S3" >/dev/null || fail no_unfiltered_moment "re-attach $i failed"
	done
	touch "$stopf"
	wait "$pid"
	sleep 0.2
	sent=$(json_get "d['sent']" <"$EW_TMP/stream.json")
	d1=$(stat_pkts xdp prefix drop)
	check no_unfiltered_moment "sent $sent (stream still running after the re-attaches: want < $max) from a blocked source during 5 re-attaches: server received $(lines "$sink"), xdp/prefix/drop grew by $((d1 - d0))" \
		[ "$sent" -gt 0 -a "$sent" -lt $max -a "$(lines "$sink")" = 0 -a $((d1 - d0)) = "$sent" ]
}

# --- errors ---------------------------------------------------------------------------------
t_errors() {
	local before err rc
	before=$(ew block list -j)
	err=$(ew block add 198.18.5.0/24 198.18.6.300/24 198.18.7.0/24 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ "$(ew block list -j)" = "$before" ] && [[ $err == *"'198.18.6.300/24'"* ]]; then
		pass bad_prefix_refused
	else
		fail bad_prefix_refused "rc $rc, stderr: $err"
	fi
	err=$(ew block add 198.18.7.9/24 2>&1 >/dev/null)
	if [[ $err == *warning*"host bits"*198.18.7.0/24* ]] &&
		[ "$(ew block list -j | json_get "'198.18.7.0/24' in [e['prefix'] for e in d]")" = True ]; then
		pass host_bits_cleared
	else
		fail host_bits_cleared "stderr: $err; list: $(ew block list -j)"
	fi
	ew block del 198.18.7.0/24 >/dev/null

	# Without the capabilities: each command names the one it lacks.
	local c ok=1
	for c in "status" "stats" "flows" "block list" "attach $EW_SIF" "detach $EW_SIF"; do
		err=$(nsrun "$EW_SRV" capsh --drop=cap_bpf,cap_net_admin,cap_sys_admin -- \
			-c "$EW_BIN $c" 2>&1 >/dev/null)
		rc=$?
		if [ $rc -eq 0 ] || [[ $err != *CAP_BPF* ]]; then
			ok=0
			echo "  $c without CAP_BPF: rc $rc: $err"
		fi
	done
	err=$(nsrun "$EW_SRV" capsh --drop=cap_net_admin -- -c "$EW_BIN attach $EW_SIF" 2>&1 >/dev/null)
	rc=$?
	[ $rc -ne 0 ] && [[ $err == *CAP_NET_ADMIN* ]] || { ok=0; echo "  attach without CAP_NET_ADMIN: rc $rc: $err"; }
	check missing_caps_named "a command ran or did not name its capability" [ $ok = 1 ]

	# --help on every command `edgeward --help` lists (the foundation's at least).
	local cmds
	cmds=$("$EW_BIN" --help | awk '/^commands:/ { f = 1; next } /^$/ { if (f) exit } f { print $1 }')
	ok=1
	for c in attach detach status block stats flows; do
		grep -qx "$c" <<<"$cmds" || { ok=0; echo "  edgeward --help does not list $c"; }
	done
	for c in $cmds; do
		out=$("$EW_BIN" "$c" --help 2>&1)
		rc=$?
		[ $rc -eq 0 ] && [[ $out == "usage: edgeward $c"* ]] || { ok=0; echo "  $c --help: rc $rc: $out"; }
	done
	check help_everywhere "--help failed somewhere" [ $ok = 1 ]

	# ABI mismatch: another version in ew_config makes every command refuse.
	local cfg ids0
	ids0=$(prog_ids "$EW_SIF")
	cfg=$(bpftool -j map lookup pinned "$EW_PIN/ew_config" key 0 0 0 0 | json_get "' '.join(d['value'])")
	set -- $cfg
	shift 4
	bpftool map update pinned "$EW_PIN/ew_config" key 0 0 0 0 value 99 0 0 0 "$@"
	ok=1
	for c in "status" "stats" "flows" "block list" "block add 198.18.8.0/24" "block del 198.18.8.0/24" \
		"attach $EW_SIF" "attach $S3 --monitor" "detach $EW_SIF"; do
		err=$(ew $c 2>&1 >/dev/null)
		rc=$?
		if [ $rc -eq 0 ] || [[ $err != *"ABI version 99"* ]]; then
			ok=0
			echo "  $c with ABI 99: rc $rc: $err"
		fi
	done
	check abi_mismatch_refused "a command accepted pins of another ABI" [ $ok = 1 ]
	bpftool map update pinned "$EW_PIN/ew_config" key 0 0 0 0 value $cfg
	check abi_restored "status fails after restoring the ABI version" ew status >/dev/null
	check abi_mismatch_changes_nothing "programs changed: $ids0 -> $(prog_ids "$EW_SIF")" \
		[ "$(prog_ids "$EW_SIF")" = "$ids0" ]
}

# --- IPv6 through the same path ----------------------------------------------------------
t_ipv6() {
	local u1="http://[2001:db8:1::1]:$HTTP/hello.txt" u2="http://[2001:db8:2::1]:$HTTP/hello.txt"
	ew block del 198.18.1.0/24 >/dev/null
	http_expect ipv6_http "$C1" "$u1" 200 "$C2" "$u2" 200
	local d0
	d0=$(stat_pkts xdp prefix drop)
	ew block add 2001:db8:1::/64 >/dev/null
	http_expect ipv6_block "$C1" "$u1" 000 "$C1" "$URL1" 200 "$C2" "$u2" 200
	check ipv6_block_counted "xdp/prefix/drop did not grow" [ "$(stat_pkts xdp prefix drop)" -gt "$d0" ]
	ew block del 2001:db8:1::/64 >/dev/null
	http_expect ipv6_unblock "$C1" "$u1" 200

	local n=23 size=200 fp fb
	traffic "$C2" 10 udp-send --src 2001:db8:2::2 --sport 40005 --dst 2001:db8:2::1 --port 9996 \
		--count $n --size $size >/dev/null
	sleep 0.2
	fp=$(flow_get 2001:db8:2::2 40005 2001:db8:2::1 9996 udp packets_in)
	fb=$(flow_get 2001:db8:2::2 40005 2001:db8:2::1 9996 udp bytes_in)
	check ipv6_flow_exact "v6 flow $fp packets / $fb bytes, want $n / $((n * (size + 8 + 40 + 14)))" \
		[ "$fp" = $n -a "$fb" = $((n * (size + 8 + 40 + 14))) ]
}

# --- generic XDP: same data path in skb mode --------------------------------------------
t_generic() {
	local err
	lab_client 5 direct && C5=$CLI_NS S5=$SRV_IF
	ew attach --mode generic "$S5" >/dev/null
	check generic_attached "bpftool net show: $(nsrun "$EW_SRV" bpftool net show dev "$S5")" \
		[ "$(nsrun "$EW_SRV" bpftool -j net show dev "$S5" | json_get "[x['mode'] for e in d for x in e.get('xdp', [])]")" = "['generic']" ]
	ew block add 198.18.5.0/24 >/dev/null
	http_expect generic_blocks "$C5" "http://198.18.5.1:$HTTP/hello.txt" 000
	ew block del 198.18.5.0/24 >/dev/null
	http_expect generic_unblocks "$C5" "http://198.18.5.1:$HTTP/hello.txt" 200
	err=$(ew attach "$S5" 2>&1 >/dev/null)
	if [ $? -ne 0 ] && [[ $err == *"generic mode"* ]]; then
		pass mode_change_refused
	else
		fail mode_change_refused "native re-attach of a generic interface: $err"
	fi
	ew detach "$S5" >/dev/null
	check generic_detached "XDP left on $S5" [ -z "$(nsrun "$EW_SRV" ip link show dev "$S5" | grep xdp)" ]
}

# --- detach ------------------------------------------------------------------------------------
t_detach() {
	# A clsact with someone else's filter, made before edgeward attaches.
	lab_client 4 direct && S4=$SRV_IF
	nsrun "$EW_SRV" tc qdisc add dev "$S4" clsact
	nsrun "$EW_SRV" tc filter add dev "$S4" egress prio 10 protocol all u32 match u32 0 0 classid 1:1
	ew attach "$S4" >/dev/null
	check foreign_clsact_shared "edgeward's TC filter missing on $S4" \
		[ "$(prog_ids "$S4" | cut -d' ' -f2)" -gt 0 ]
	ew detach "$S4" >/dev/null
	check foreign_clsact_survives "clsact or its u32 filter gone: $(nsrun "$EW_SRV" tc filter show dev "$S4" egress)" \
		nsrun "$EW_SRV" sh -c "tc qdisc show dev $S4 | grep -q clsact && tc filter show dev $S4 egress | grep -q u32"
	check detach_one_keeps_pins "pins gone after detaching one of several interfaces" \
		[ -e "$EW_PIN/ew_stats" -a "$(ew status -j | json_get "len(d['interfaces'])")" = 2 ]

	# An interface deleted under edgeward: status says so, detach forgets it.
	local s6
	lab_client 6 direct && s6=$SRV_IF
	ew attach "$s6" >/dev/null
	ip -n "$EW_SRV" link del "$s6"
	check gone_iface_status "status: $(ew status -j | json_get "[(i['name'], i['present']) for i in d['interfaces']]")" \
		[ "$(ew status -j | json_get "[i['present'] for i in d['interfaces'] if i['name'] == '$s6']")" = "[False]" ]
	ew detach "$s6" >/dev/null
	check gone_iface_detach "detach of a deleted interface failed or left it listed" \
		[ $? -eq 0 -a "$(ew status -j | json_get "len([i for i in d['interfaces'] if i['name'] == '$s6'])")" = 0 \
		-a ! -e "$EW_PIN/link_xdp_$s6" ]

	# Edgeward's own clsact goes with it.
	ew detach "$S3" >/dev/null
	check detach_removes_own_clsact "clsact left on $S3" \
		[ -z "$(nsrun "$EW_SRV" tc qdisc show dev "$S3" clsact)" ]

	# The last detach leaves nothing behind.
	local ids
	ids=$(prog_ids "$EW_SIF")
	ew detach "$EW_SIF" >/dev/null
	check detach_rc "detach of the last interface failed" [ $? -eq 0 ]
	check detach_no_pins "pin dir left: $(ls "$EW_PIN" 2>&1)" [ ! -e "$EW_PIN" ]
	check detach_no_xdp "XDP left: $(nsrun "$EW_SRV" ip -d link show | grep -i xdp)" \
		[ -z "$(nsrun "$EW_SRV" ip -d link show | grep -i 'prog/xdp')" ]
	check detach_no_bpf_net "bpftool net show: $(nsrun "$EW_SRV" bpftool -j net show)" \
		[ "$(nsrun "$EW_SRV" bpftool -j net show | json_get "sum(len(e.get('xdp', [])) + len(e.get('tc', [])) for e in d)")" = 0 ]
	check detach_no_clsact "clsact left on $EW_SIF" [ -z "$(nsrun "$EW_SRV" tc qdisc show dev "$EW_SIF" clsact)" ]
	set -- $ids
	if [ $# = 2 ] && ! prog_exists "$1" && ! prog_exists "$2"; then
		pass detach_no_progs
	else
		fail detach_no_progs "programs $ids still loaded"
	fi
	http_expect detach_traffic_flows "$C1" "$URL1" 200
}

t_block
t_actions
t_established
t_counts
t_monitor
t_reattach
t_errors
t_ipv6
t_generic
t_detach
ew_done
