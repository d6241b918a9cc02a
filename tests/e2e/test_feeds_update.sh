#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The feed updater (scripts/edgeward-feeds-update) against a local HTTP server
# on the loopback of a test namespace: first fetch and load, conditional
# requests (ETag, If-Modified-Since) answered 304, a changed feed reloaded, a
# failed download and a refused file leaving the loaded feed and the last good
# copy as they were, the last good copy loaded when the feed is gone. Also
# checks the systemd units parse.
set -u
EW_TAG=${EW_TAG:-fd}
. "$(dirname "$0")/lib.sh"
require feeds_update

UPD=$EW_ROOT/scripts/edgeward-feeds-update
export EDGEWARD_STATE_DIR=$EW_TMP/state
PORT=8093
WWW=$EW_TMP/www
CACHE=$EW_TMP/cache
mkdir -p "$WWW"

netns_add "$EW_SRV" || { fail lab "cannot create the namespace"; ew_done; }
ip -n "$EW_SRV" link add "${EW_ID}u0" type veth peer name "${EW_ID}u1"
ip -n "$EW_SRV" link set "${EW_ID}u0" up
ip -n "$EW_SRV" link set "${EW_ID}u1" up
check attach "attach failed" ew attach "${EW_ID}u0" --mode generic

# An HTTP server with ETag and Last-Modified that honours If-None-Match and
# If-Modified-Since, logs each request's conditional headers, and answers 500
# for a file that has a FILE.fail marker.
cat >"$EW_TMP/server.py" <<'EOF'
import email.utils, hashlib, http.server, os, sys
root, log = sys.argv[2], open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path))
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if os.path.exists(path + ".fail"):
            code = 500
        elif not os.path.exists(path):
            code = 404
        else:
            body = open(path, "rb").read()
            etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
            mtime = os.path.getmtime(path)
            code = 200
            if inm == etag or (inm is None and ims and email.utils.parsedate_to_datetime(ims).timestamp() >= int(mtime)):
                code = 304
        log.write("%s %s inm=%s ims=%s\n" % (os.path.basename(self.path), code, inm is not None, ims is not None))
        self.send_response(code)
        if code == 200:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_header("Content-Length", "0")
            self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
bg "$EW_SRV" 120 "$EW_PY" "$EW_TMP/server.py" $PORT "$WWW" "$EW_TMP/http.log"
wait_for 5 listening "$EW_SRV" tcp $PORT || fail lab "HTTP server did not start"

printf '# plain\n198.18.60.0/24\n198.18.61.7\n' >"$WWW/t1.txt"
printf '{"cidr":"198.18.62.0/24","sblid":"SBL1","rir":"arin"}\n{"type":"metadata","records":1}\n' >"$WWW/t2.json"
touch -d '2026-01-01 00:00:00' "$WWW/t1.txt" "$WWW/t2.json"
cat >"$EW_TMP/feeds.conf" <<EOF
# test feeds
t1 http://127.0.0.1:$PORT/t1.txt --format cidr
t2 http://127.0.0.1:$PORT/t2.json --format spamhaus-json --action flag
EOF

update() { nsrun "$EW_SRV" env EDGEWARD="$EW_BIN" timeout 60 "$UPD" --config "$EW_TMP/feeds.conf" --cache-dir "$CACHE" >>"$EW_TMP/upd.out" 2>>"$EW_TMP/upd.err"; }
feed_field() { ew feed list -j | json_get "next((f['$2'] for f in d['feeds'] if f['name'] == '$1'), 'none')"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
requests() { wc -l <"$EW_TMP/http.log" | tr -d ' '; }
log_since() { tail -n +$(($1 + 1)) "$EW_TMP/http.log"; }

# --- first run: both fetched and loaded ---------------------------------------
update
rc=$? # before the message's $(...) resets $?
check first_run_ok "updater exited $rc: $(tail -3 "$EW_TMP/upd.err")" [ $rc -eq 0 ]
check first_run_loaded "t1 $(feed_field t1 sha256) t2 $(feed_field t2 action)" \
	[ "$(feed_field t1 sha256)" = "$(sha "$WWW/t1.txt")" -a "$(feed_field t2 action)" = flag ]
check last_good_copy "cache: $(ls "$CACHE")" cmp -s "$CACHE/t1.data" "$WWW/t1.txt"

# --- second run: conditional requests, 304, nothing reloaded --------------------
n=$(requests)
when=$(feed_field t1 loaded_unix_ns)
update
check not_modified_ok "updater exited non-zero" [ $? -eq 0 ]
check conditional_requests "requests: $(log_since "$n" | tr '\n' ';')" \
	[ "$(log_since "$n" | grep -c ' 304 inm=True ims=True')" -eq 2 ]
check not_modified_no_reload "t1 was reloaded" [ "$(feed_field t1 loaded_unix_ns)" = "$when" ]

# --- a changed feed is reloaded ------------------------------------------------------
printf '# plain\n198.18.60.0/24\n198.18.63.0/24\n' >"$WWW/t1.txt"
update
check changed_reloaded "t1 sha $(feed_field t1 sha256)" [ "$(feed_field t1 sha256)" = "$(sha "$WWW/t1.txt")" ]
good=$(sha "$WWW/t1.txt")

# --- a failed download leaves the loaded feed and the last good copy -------------------
touch "$WWW/t1.txt.fail"
update
check failed_download_status "updater exited 0 on a failed download" [ $? -ne 0 ]
check failed_download_keeps_feed "t1 sha $(feed_field t1 sha256), want $good" [ "$(feed_field t1 sha256)" = "$good" ]
check failed_download_keeps_copy "last good copy changed" [ "$(sha "$CACHE/t1.data")" = "$good" ]
rm -f "$WWW/t1.txt.fail"

# --- a refused file (garbage) changes nothing ------------------------------------------
head -c 4096 /dev/urandom >"$WWW/t1.txt"
update
check refused_status "updater exited 0 on a refused file" [ $? -ne 0 ]
check refused_keeps_feed "t1 sha $(feed_field t1 sha256), want $good" [ "$(feed_field t1 sha256)" = "$good" ]
check refused_keeps_copy "last good copy replaced by the refused one" [ "$(sha "$CACHE/t1.data")" = "$good" ]

# --- the feed is gone (e.g. after a reboot) and the publisher fails: last good copy ---------
ew feed del t1 >/dev/null
touch "$WWW/t1.txt.fail"
update
check restores_last_good "t1 sha $(feed_field t1 sha256), want $good" [ "$(feed_field t1 sha256)" = "$good" ]

# --- bad config lines are reported --------------------------------------------------------
echo "bad name with spaces" >>"$EW_TMP/feeds.conf"
update
check bad_config_line "updater accepted a bad line: $(tail -1 "$EW_TMP/upd.err")" \
	grep -q "feeds.conf:4: " "$EW_TMP/upd.err"

# --- the systemd units ---------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$EW_TMP/units"
	sed "s#/usr/local/sbin/edgeward-feeds-update#$UPD#" "$EW_ROOT/scripts/edgeward-feeds.service" \
		>"$EW_TMP/units/edgeward-feeds.service"
	cp "$EW_ROOT/scripts/edgeward-feeds.timer" "$EW_TMP/units/"
	out=$(systemd-analyze verify "$EW_TMP/units/edgeward-feeds.timer" "$EW_TMP/units/edgeward-feeds.service" 2>&1)
	check systemd_units_verify "systemd-analyze: $out" [ -z "$out" ]
else
	skip systemd_units_verify "systemd-analyze is not installed"
fi
ew_done
