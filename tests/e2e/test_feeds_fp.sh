#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# JA4 / JA3 feeds become fingerprint rules (ew_fprules, `edgeward fp`): load,
# labels from the publisher's file, reload replacing the feed's own rules, a
# rule made with `edgeward fp` left alone, delete. (How rules match hellos is
# the fingerprint tests' business.)
set -u
EW_TAG=${EW_TAG:-fd}
. "$(dirname "$0")/lib.sh"
require feeds_fp

export EDGEWARD_STATE_DIR=$EW_TMP/state
DATA=$EW_ROOT/tests/data/feeds
netns_add "$EW_SRV" || { fail lab "cannot create the namespace"; ew_done; }
ip -n "$EW_SRV" link add "${EW_ID}f0" type veth peer name "${EW_ID}f1"
ip -n "$EW_SRV" link set "${EW_ID}f0" up
ip -n "$EW_SRV" link set "${EW_ID}f1" up
check attach "attach failed" ew attach "${EW_ID}f0" --mode generic

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
ew_done
