#!/usr/bin/env bash
# Idempotent installer of the Debian 12 packages edgeward needs to build, test and demo.
# Installs only what is missing; safe to run repeatedly. Needs root.
set -euo pipefail

PKGS=(
	# daemon /metrics (libmicrohttpd), example TLS server (libssl), promtool (prometheus),
	# real proxies for the ops tests and the demo (tinyproxy, microsocks)
	libmicrohttpd-dev libssl-dev prometheus tinyproxy microsocks
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcap-dev
	libpcap-dev libjson-c-dev pkg-config
	clang-16 clang-19
	iproute2 curl python3 openssl xdp-tools nftables ipset iptables
	# detectors: p0f (its p0f.fp database, and the reference the tests compare
	# with), scapy to craft SYNs of other stacks
	p0f python3-scapy tcpdump
	libcap2-bin util-linux coreutils
	# systemd-analyze checks the shipped units
	systemd
	# replay tests (editcap), tests/captures/record.sh (chromium optional, by hand)
	tshark tcpdump ethtool gnutls-bin
	# make bench: scripts/bench-feeds.sh times each load with /usr/bin/time
	time
	# the fault tests kill the CLI at exact system calls (strace's fault injection)
	strace
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
