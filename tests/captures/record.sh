#!/usr/bin/env bash
# Records the capture corpus: TLS clients from Debian packages against a local
# `openssl s_server` (self-signed certificate made here) in a namespace pair,
# captured with tcpdump (tshark for the pcapng one) on the server's veth.
# Run by hand, as root: tests/captures/record.sh [OUTDIR]  (default: this folder).
# Then tests/captures/expect.py computes expected.json from the captures.
# Traffic stays in the two namespaces (198.18.0.0/24, 2001:db8:e7::/64).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUTDIR=$(cd "${1:-$HERE}" && pwd)
TAG=rp$$
NSC=${TAG}c NSS=${TAG}s
VC=${TAG}c VS=${TAG}s
C4=198.18.0.1 S4=198.18.0.2 C6=2001:db8:e7::1 S6=2001:db8:e7::2
HOST=api.example.test
TMP=$(mktemp -d)
SRV_PID= CAP_PID=

cleanup() {
	[ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill $SRV_PID 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NSC" 2>/dev/null
	ip netns del "$NSS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for t in openssl tcpdump tshark ethtool curl gnutls-cli /usr/bin/python3; do
	command -v "$t" >/dev/null || { echo "record: $t is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

ip netns add "$NSC"
ip netns add "$NSS"
ip link add "$VC" netns "$NSC" type veth peer name "$VS" netns "$NSS"
for side in "$NSC $VC $C4 $C6" "$NSS $VS $S4 $S6"; do
	set -- $side
	ip -n "$1" link set lo up
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" addr add "$4/64" dev "$2" nodad
	ip -n "$1" link set "$2" up
	# One capture record per wire segment: no segmentation or coalescing offloads.
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
# One server per family: openssl binds [::] IPv6-only.
for addr in "$S4" "[$S6]"; do
	ip netns exec "$NSS" openssl s_server -accept "$addr:443" -cert "$TMP/cert.pem" -key "$TMP/key.pem" \
		-alpn h2,http/1.1 -www -quiet </dev/null >>"$TMP/server.log" 2>&1 &
	SRV_PID="$SRV_PID $!"
done
for _ in $(seq 50); do
	[ "$(ip netns exec "$NSS" ss -ltn | grep -c ':443 ')" -eq 2 ] && break
	sleep 0.1
done

# capture NAME CAPTURER CMD...: record the client's connections as NAME.
capture() {
	local name=$1 tool=$2 file
	shift 2
	if [ "$tool" = tshark ]; then
		file=$OUTDIR/$name.pcapng
		ip netns exec "$NSS" tshark -q -i "$VS" -f 'tcp port 443' -w "$file" >"$TMP/cap.log" 2>&1 &
	else
		file=$OUTDIR/$name.pcap
		ip netns exec "$NSS" tcpdump -U --immediate-mode -s 0 -i "$VS" -w "$file" 'tcp port 443' >"$TMP/cap.log" 2>&1 &
	fi
	CAP_PID=$!
	for _ in $(seq 100); do
		grep -qiE 'listening on|capturing on' "$TMP/cap.log" && break
		sleep 0.1
	done
	sleep 0.3
	timeout 30 ip netns exec "$NSC" "$@" </dev/null >"$TMP/client.log" 2>&1 || true
	sleep 1.5 # past tshark's buffer timeout (1 s)
	kill -INT "$CAP_PID"
	wait "$CAP_PID" 2>/dev/null || true
	CAP_PID=
	chmod 644 "$file"
	printf '%s\t%s\t%s\n' "$(basename "$file")" "$(pkg_of "$1")" "$(echo "$*" | tr '\n\t' '  ' | tr -s ' ')" \
		>>"$OUTDIR/clients.tsv"
	echo "record: $(basename "$file"): $*" | cut -c1-160
}

# The Debian package (and version) that provides a client command.
pkg_of() {
	local pkg
	pkg=$(dpkg-query -S "$(readlink -f "$(command -v "$1")")" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] && dpkg-query -W -f='${Package} ${Version}' "$pkg" 2>/dev/null || echo "$1 (not from a package)"
}

rm -f "$OUTDIR/clients.tsv"
ossl() { capture "$1" tcpdump openssl s_client -connect "$2" "${@:3}"; }
ossl openssl-tls12-sni "$S4:443" -tls1_2 -servername "$HOST"
ossl openssl-tls12-nosni "$S4:443" -tls1_2 -noservername
ossl openssl-tls12-alpn-h2-http11 "$S4:443" -tls1_2 -servername "$HOST" -alpn h2,http/1.1
ossl openssl-tls13-sni "$S4:443" -tls1_3 -servername "$HOST"
ossl openssl-tls13-nosni "$S4:443" -tls1_3 -noservername
ossl openssl-tls13-alpn-h2 "$S4:443" -tls1_3 -servername "$HOST" -alpn h2
ossl openssl-tls13-alpn-http11 "$S4:443" -tls1_3 -servername "$HOST" -alpn http/1.1
ossl openssl-tls13-alpn-h2-http11 "$S4:443" -servername "$HOST" -alpn h2,http/1.1
ossl openssl-ipv6 "[$S6]:443" -servername "$HOST" -alpn h2,http/1.1

capture curl tcpdump curl -sk --resolve "$HOST:443:$S4" "https://$HOST/"
capture curl-ipv6 tcpdump curl -sk -g --resolve "$HOST:443:[$S6]" "https://$HOST/"
capture gnutls-cli tcpdump gnutls-cli --insecure --sni-hostname "$HOST" --alpn h2 --alpn http/1.1 -p 443 "$S4"
capture python3-ssl tshark /usr/bin/python3 -c "
import socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(['h2', 'http/1.1'])
with socket.create_connection(('$S4', 443), timeout=5) as s:
    with ctx.wrap_socket(s, server_hostname='$HOST') as t:
        t.sendall(b'GET / HTTP/1.0\r\n\r\n')
"
if command -v node >/dev/null; then
	capture node tcpdump node -e "
const s = require('tls').connect({host: '$S4', port: 443, servername: '$HOST',
  rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1']}, () => s.end());
s.on('error', () => {});"
else
	echo "record: node not installed: node capture not recorded" >&2
fi

chrome() {
	capture "$1" tcpdump chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$TMP/chromium-$1" --ignore-certificate-errors \
		--host-resolver-rules="MAP $HOST $S4, MAP * ~NOTFOUND" --dump-dom "https://$HOST/"
}
if command -v chromium >/dev/null; then
	chrome chromium
else
	echo "record: chromium not installed: chromium captures not recorded" >&2
fi

# Hellos across several segments: the client's MTU (and so its MSS) shrunk to 576.
ip -n "$NSC" link set "$VC" mtu 576
capture python3-mtu576 tcpdump /usr/bin/python3 -c "
import socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(['h2', 'http/1.1'] + ['x-proto-%02d' % i for i in range(120)])
with socket.create_connection(('$S4', 443), timeout=5) as s:
    with ctx.wrap_socket(s, server_hostname='$HOST') as t:
        pass
"
if command -v chromium >/dev/null; then
	chrome chromium-mtu576
fi
