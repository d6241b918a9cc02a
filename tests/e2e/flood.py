#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Hostile traffic for tests/e2e/test_hostile.sh, bounded in count.

syn: COUNT raw Ethernet frames on an AF_PACKET socket, TCP SYNs to one
server address and port from random spoofed sources inside 198.18.128.0/17
and 2001:db8:8000::/33 (IPv4 and IPv6 alternately), as fast as Python goes.

half-hello: COUNT TCP connections that each send the first segment of a
ClientHello split in two (a real hello from Python's ssl module, cut in the
middle) and then hang up: with FIN (--close fin), with RST (rst), or never
(open: the sockets stay open until the end); or (complete) sends the second
segment too.

sink: a server that accepts every connection, reads its first data and
holds it open (until it is killed), so that hangs-up are the client's.

hold: one connection that sends a complete ClientHello, then "ping N"
every --interval seconds for --seconds, and prints "echo N" for each ping
the echo server sent back: a connection whose drop must stick.

Prints one JSON line: what was sent, in how long.
"""
import argparse
import ipaddress
import json
import os
import random
import socket
import ssl
import struct
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_syn(src, dst, sport, dport, seq, pseudo):
    opts = struct.pack("!BBH", 2, 4, 1460) + b"\x01\x03\x03\x07"  # MSS, NOP, wscale 7
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (5 + len(opts) // 4) << 4, 0x02, 64240, 0, 0) + opts
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def frame4(smac, dmac, src, dst, sport, dport, seq):
    ph = src + dst + struct.pack("!BBH", 0, 6, 32)
    tcp = tcp_syn(src, dst, sport, dport, seq, ph)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp


def frame6(smac, dmac, src, dst, sport, dport, seq):
    ph = src + dst + struct.pack("!IxxxB", 32, 6)
    tcp = tcp_syn(src, dst, sport, dport, seq, ph)
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst)
    return dmac + smac + b"\x86\xdd" + ip + tcp


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def syn(a):
    rnd = random.Random(a.seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    smac = s.getsockname()[4]
    dmac = mac(a.dmac)
    d4 = socket.inet_pton(socket.AF_INET, a.dst4)
    d6 = socket.inet_pton(socket.AF_INET6, a.dst6)
    base4 = int(ipaddress.ip_address("198.18.128.0"))
    base6 = int(ipaddress.ip_address("2001:db8:8000::"))
    sent = errors = 0
    t0 = time.monotonic()
    for i in range(a.count):
        sport = rnd.randrange(1024, 65536)
        seq = rnd.getrandbits(32)
        if i % 2 == 0 or not a.dst6:
            src = (base4 + rnd.getrandbits(15)).to_bytes(4, "big")
            f = frame4(smac, dmac, src, d4, sport, a.port, seq)
        else:
            src = (base6 + rnd.getrandbits(95)).to_bytes(16, "big")
            f = frame6(smac, dmac, src, d6, sport, a.port, seq)
        try:
            s.send(f)
            sent += 1
        except OSError:  # a full queue: count it, go on
            errors += 1
    dt = time.monotonic() - t0
    print(json.dumps({"sent": sent, "errors": errors, "seconds": round(dt, 3),
                      "pps": int(sent / dt) if dt else 0}))


def client_hello(host):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=host)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def half_hello(a):
    raise_nofile()
    hello = client_hello("flood.example")
    half = hello[: len(hello) // 2]
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    kept = []
    done = errors = 0
    t0 = time.monotonic()
    for _ in range(a.count):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.settimeout(2)
        try:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.connect((a.dst, a.port))
            c.send(half)
            done += 1
        except OSError:
            errors += 1
            c.close()
            continue
        if a.close == "complete":
            time.sleep(0.05)
            c.send(hello[len(half):])
            c.close()
        elif a.close == "rst":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        elif a.close == "fin":
            c.close()
        else:
            kept.append(c)
    dt = time.monotonic() - t0
    print(json.dumps({"connections": done, "errors": errors, "hello_bytes": len(hello),
                      "sent_bytes": len(half), "seconds": round(dt, 3)}), flush=True)
    if kept:
        time.sleep(a.hold)
    for c in kept:
        c.close()


def raise_nofile():
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def sink(a):
    raise_nofile()
    s = socket.create_server(("::", a.port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=4096)
    held = []
    while True:
        c, _ = s.accept()
        c.settimeout(1)
        try:
            c.recv(65536)
        except OSError:
            pass
        held.append(c)


def hold(a):
    c = socket.create_connection((a.dst, a.port), timeout=3)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    hello = client_hello("hold.example")
    c.sendall(hello)
    got = b""
    while len(got) < len(hello):
        got += c.recv(65536)
    print("hello echoed", flush=True)
    c.setblocking(False)
    buf = b""
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        try:
            c.send(b"ping %d\n" % n)
        except BlockingIOError:
            pass
        n += 1
        time.sleep(a.interval)
        try:
            buf += c.recv(65536)
        except BlockingIOError:
            pass
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            print("echo " + line.decode().split()[-1], flush=True)


def count_map(a):
    """Entries of the map NAME used by program PROG_ID, counted with the bpf()
    syscall (bpftool would print every value: megabytes for ew_tls_reasm)."""
    import ctypes
    import subprocess
    libc = ctypes.CDLL(None, use_errno=True)
    nr_bpf = 321  # x86_64

    def bpf(cmd, attr):
        return libc.syscall(nr_bpf, cmd, ctypes.byref(attr), ctypes.sizeof(attr))

    attr = (ctypes.c_uint8 * 256)()

    def fd_by_id(cmd, ident):
        ctypes.memset(attr, 0, 256)
        struct.pack_into("I", attr, 0, ident)
        return bpf(cmd, attr)

    def info(fd, size):
        buf = (ctypes.c_uint8 * size)()
        ctypes.memset(attr, 0, 256)
        struct.pack_into("IIQ", attr, 0, fd, size, ctypes.addressof(buf))
        if bpf(15, attr) < 0:  # BPF_OBJ_GET_INFO_BY_FD
            raise OSError(ctypes.get_errno(), "BPF_OBJ_GET_INFO_BY_FD")
        return bytes(buf)

    pj = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "id", str(a.prog_id)],
                                   check=True, capture_output=True, text=True).stdout)
    for mid in pj.get("map_ids", []):
        mfd = fd_by_id(14, mid)  # BPF_MAP_GET_FD_BY_ID
        minfo = info(mfd, 88)
        _, _, key_size, _, max_entries, _ = struct.unpack_from("IIIIII", minfo, 0)
        name = minfo[24:40].split(b"\0")[0].decode()
        if name != a.name:
            os.close(mfd)
            continue
        key = (ctypes.c_uint8 * key_size)()
        nxt = (ctypes.c_uint8 * key_size)()
        n = 0
        first = True
        while True:
            ctypes.memset(attr, 0, 256)
            struct.pack_into("IxxxxQQ", attr, 0, mfd, 0 if first else ctypes.addressof(key),
                             ctypes.addressof(nxt))
            if bpf(4, attr) < 0:  # BPF_MAP_GET_NEXT_KEY
                break
            ctypes.memmove(key, nxt, key_size)
            first = False
            n += 1
        print(json.dumps({"name": name, "entries": n, "max_entries": max_entries}))
        return
    raise SystemExit("program %d uses no map named %s" % (a.prog_id, a.name))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("syn")
    s.add_argument("--iface", required=True)
    s.add_argument("--dmac", required=True)
    s.add_argument("--dst4", required=True)
    s.add_argument("--dst6", default="")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--seed", type=int, default=1)
    h = sub.add_parser("half-hello")
    h.add_argument("--dst", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--count", type=int, required=True)
    h.add_argument("--close", choices=("fin", "rst", "open", "complete"), default="fin")
    h.add_argument("--hold", type=float, default=5)
    k = sub.add_parser("sink")
    k.add_argument("--port", type=int, required=True)
    o = sub.add_parser("hold")
    o.add_argument("--dst", required=True)
    o.add_argument("--port", type=int, required=True)
    o.add_argument("--seconds", type=float, required=True)
    o.add_argument("--interval", type=float, default=0.2)
    m = sub.add_parser("count-map")
    m.add_argument("--prog-id", type=int, required=True)
    m.add_argument("--name", required=True)
    a = p.parse_args()
    if getattr(a, "count", 0) > 1_000_000:
        p.error("--count is bounded to 1000000")
    {"syn": syn, "half-hello": half_hello, "sink": sink, "hold": hold, "count-map": count_map}[a.cmd](a)


if __name__ == "__main__":
    main()
