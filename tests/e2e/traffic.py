#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Exact-count traffic for the e2e tests and the demo: senders that say what
they sent, sinks that say what they received. Every command is bounded in
count and time.

  traffic.py udp-send  --src ADDR [--sport P] --dst ADDR --port P --count N
                       [--size B] [--interval S | --rate PPS] [--until-file F]
  traffic.py udp-sink  --bind ADDR --port P          one line per datagram
  traffic.py tcp-echo  --bind ADDR --port P          echoes each connection
  traffic.py tcp-send  --src ADDR --sport P --dst ADDR --port P --size B

Each sender prints one JSON line with what it did.
"""
import argparse
import json
import os
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_send(a):
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    s.bind((a.src, a.sport))
    payload = b"e" * a.size
    sent = 0
    start = time.monotonic()
    for _ in range(a.count):
        if a.until_file and sent % 100 == 0 and os.path.exists(a.until_file):
            break
        s.sendto(payload, (a.dst, a.port))
        sent += 1
        if a.interval:
            time.sleep(a.interval)
        elif a.rate:
            ahead = start + sent / a.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print(json.dumps({"sent": sent, "size": a.size, "sport": s.getsockname()[1]}))


def udp_sink(a):
    s = socket.socket(family(a.bind), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    while True:
        data, peer = s.recvfrom(65535)
        print(f"{peer[0]} {peer[1]} {len(data)}", flush=True)


def tcp_echo(a):
    s = socket.socket(family(a.bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(a.bind) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((a.bind, a.port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.settimeout(5)
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        c.close()


def tcp_send(a):
    s = socket.socket(family(a.dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.src, a.sport))
    s.settimeout(3)
    s.connect((a.dst, a.port))
    s.sendall(b"t" * a.size)
    got = 0
    while got < a.size:
        data = s.recv(65536)
        if not data:
            break
        got += len(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
    print(json.dumps({"sent": a.size, "received": got}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    us = sub.add_parser("udp-send")
    us.add_argument("--src", required=True)
    us.add_argument("--sport", type=int, default=0)
    us.add_argument("--dst", required=True)
    us.add_argument("--port", type=int, required=True)
    us.add_argument("--count", type=int, required=True)
    us.add_argument("--size", type=int, default=64)
    us.add_argument("--interval", type=float, default=0, help="seconds between datagrams")
    us.add_argument("--rate", type=float, default=0, help="datagrams per second (paced)")
    us.add_argument("--until-file", help="stop early once this file exists")
    uk = sub.add_parser("udp-sink")
    uk.add_argument("--bind", required=True)
    uk.add_argument("--port", type=int, required=True)
    te = sub.add_parser("tcp-echo")
    te.add_argument("--bind", required=True)
    te.add_argument("--port", type=int, required=True)
    ts = sub.add_parser("tcp-send")
    ts.add_argument("--src", required=True)
    ts.add_argument("--sport", type=int, default=0)
    ts.add_argument("--dst", required=True)
    ts.add_argument("--port", type=int, required=True)
    ts.add_argument("--size", type=int, default=100)
    a = p.parse_args()
    {"udp-send": udp_send, "udp-sink": udp_sink, "tcp-echo": tcp_echo, "tcp-send": tcp_send}[a.cmd](a)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
