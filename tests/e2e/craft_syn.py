#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Craft SYNs of other TCP stacks with scapy, send them on IFACE and write
them to a pcap (for p0f -r). Usage:
  craft_syn.py IFACE DST_MAC SRC DST DPORT PCAP KIND [COUNT]
KIND: windows (Windows 10/11: TTL 128, window 64240, mss,nop,ws 8,nop,nop,sok),
macos (TTL 64, window 65535, mss,nop,ws 6,nop,nop,ts,sok,eol), fanout
(COUNT SYNs of one odd stack from COUNT sources SRC.0.1, SRC.0.2, ...)."""
import sys
from scapy.all import Ether, IP, TCP, sendp, wrpcap

iface, dmac, src, dst, dport, pcap, kind = sys.argv[1:8]
count = int(sys.argv[8]) if len(sys.argv) > 8 else 1
dport = int(dport)
frames = []
if kind == "windows":
    frames.append(Ether(dst=dmac) / IP(src=src, dst=dst, ttl=128, flags="DF", id=0x4a21) /
                  TCP(sport=50001, dport=dport, flags="S", seq=1000, window=64240,
                      options=[("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None),
                               ("NOP", None), ("SAckOK", b"")]))
elif kind == "macos":
    frames.append(Ether(dst=dmac) / IP(src=src, dst=dst, ttl=64, flags="DF", id=0x1b2c) /
                  TCP(sport=50002, dport=dport, flags="S", seq=2000, window=65535,
                      options=[("MSS", 1460), ("NOP", None), ("WScale", 6), ("NOP", None),
                               ("NOP", None), ("Timestamp", (123456, 0)), ("SAckOK", b""),
                               ("EOL", None)]))
elif kind == "fanout":
    for i in range(count):
        s = "%s.%d.%d" % (src, i // 250, 1 + i % 250)
        frames.append(Ether(dst=dmac) / IP(src=s, dst=dst, ttl=64, flags="DF", id=7 + i) /
                      TCP(sport=40000 + i, dport=dport, flags="S", seq=3000 + i, window=7777,
                          options=[("MSS", 1400), ("NOP", None), ("WScale", 3)]))
else:
    sys.exit("unknown kind " + kind)
wrpcap(pcap, frames)
sendp(frames, iface=iface, verbose=False)
