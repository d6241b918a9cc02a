#!/usr/bin/env bash
# Runs the BPF test table on Debian 12's own Linux 6.1 kernel: downloads the
# linux-image package that linux-image-amd64 points at (a Debian package,
# unpacked, never installed), boots it under qemu (TCG: no KVM needed) with an
# initramfs holding busybox and $OUT/tests/bpf_tests, and reports each test as
# "PASS linux-<ver>/NAME". Needs root (apt) the first time; cached after.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
WORK="$OUT/kernels"
TIMEOUT=${EW_KERNEL_TIMEOUT:-1200}

need=()
for p in qemu-system-x86 busybox-static cpio; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
	echo "test-kernels: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends "${need[@]}" >/dev/null
fi
[ -x "$OUT/tests/bpf_tests" ] || { echo "FAIL linux-6.1: $OUT/tests/bpf_tests not built (make tests-build)"; exit 1; }

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-6\.1/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "FAIL linux-6.1: no linux-image-6.1 package known to apt"; exit 1; }
mkdir -p "$WORK"
if ! ls "$WORK/$pkg"/boot/vmlinuz-* >/dev/null 2>&1; then
	echo "test-kernels: fetching $pkg"
	(cd "$WORK" && rm -f ./*.deb && apt-get -qq download "$pkg" >/dev/null 2>&1 && dpkg-deb -x ./"$pkg"_*.deb "$pkg" && rm -f ./*.deb)
fi
kernel=$(ls "$WORK/$pkg"/boot/vmlinuz-* | head -1)
kver=${kernel##*/vmlinuz-}

# initramfs: busybox, the test binary and the shared libraries it needs.
root="$WORK/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib64,usr/sbin,usr/lib/x86_64-linux-gnu,lib/x86_64-linux-gnu}
cp /bin/busybox "$root/bin/"
for a in sh mount mkdir echo poweroff cat uname ln; do ln -s busybox "$root/bin/$a"; done
# add_bin PATH [DEST]: a program and the shared libraries it needs.
add_bin() {
	local dest=${2:-$1}
	mkdir -p "$root$(dirname "$dest")"
	cp "$1" "$root$dest"
	ldd "$1" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp "$(readlink -f "$lib")" "$root$lib"
	done
}
add_bin "$OUT/tests/bpf_tests" /bpf_tests
# The SYN-signature test compares with p0f itself: bring it and its database.
if [ -x /usr/sbin/p0f ]; then
	add_bin /usr/sbin/p0f
	mkdir -p "$root/etc/p0f"
	cp /etc/p0f/p0f.fp "$root/etc/p0f/"
fi
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
echo "EW-KERNEL $(uname -r)"
/bpf_tests
echo "EW-KERNEL-RC=$?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.cpio.gz"

log="$WORK/console-$kver.log"
echo "test-kernels: booting $kver under qemu (TCG)"
timeout "$TIMEOUT" qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 2048 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$WORK/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=3" </dev/null >"$log" 2>&1 || true
# The console interleaves terminal escapes with the program's lines: strip them.
sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' -e 's/\r//g' "$log" | grep -aoE '(EW-KERNEL|PASS |FAIL |SKIP ).*' >"$log.txt" || true

ran=$(grep -c '^EW-KERNEL ' "$log.txt" || true)
if [ "$ran" -eq 0 ]; then
	echo "FAIL linux-$kver: the kernel did not reach the test (console log: $log)"
	tail -20 "$log.txt"
	exit 1
fi
grep -E '^(PASS|FAIL|SKIP) ' "$log.txt" | sed -E "s/^(PASS|FAIL|SKIP) /\1 linux-$kver\//"
grep -q '^EW-KERNEL-RC=0' "$log.txt" || { echo "FAIL linux-$kver: bpf_tests failed (console log: $log)"; exit 1; }
