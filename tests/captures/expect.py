#!/usr/bin/env python3
"""Compute expected.json for the capture corpus, without edgeward's code.

usage: tests/captures/expect.py JA4_PY [DIR]

For every capture listed in DIR/clients.tsv (written by record.sh), per TLS
connection (keyed by the client's port):
  ja3, sni, alpn  tshark's tls.handshake.ja3, tls.handshake.extensions_server_name
                  and the first of tls.handshake.extensions_alpn_str
  ja4             FoxIO's reference implementation: `python3 JA4_PY -J FILE`,
                  field "JA4.1" (JA4_PY is its python/ja4.py, run from a local
                  checkout; it is not part of this repository)
Writes DIR/expected.json.
"""
import json
import os
import subprocess
import sys


def tshark_hellos(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "tls.handshake.type == 1", "-T", "fields",
         "-E", "separator=\t", "-e", "tcp.srcport", "-e", "tls.handshake.ja3",
         "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.extensions_alpn_str"],
        check=True, capture_output=True, text=True).stdout
    hellos = {}
    for line in out.splitlines():
        port, ja3, sni, alpn = (line.split("\t") + ["", "", "", ""])[:4]
        if not port or int(port) in hellos:
            continue  # the first hello of each connection
        hellos[int(port)] = {"ja3": ja3 or None, "sni": sni or None,
                             "alpn": alpn.split(",")[0] if alpn else None}
    return hellos


def foxio_ja4(ja4py, path):
    out = subprocess.run([sys.executable, ja4py, "-J", path], check=True,
                         capture_output=True, text=True, cwd=os.path.dirname(ja4py)).stdout
    dec, i, res = json.JSONDecoder(), 0, {}
    while True:
        while i < len(out) and out[i] != "{":
            i += 1
        if i >= len(out):
            return res
        obj, i = dec.raw_decode(out, i)
        if "JA4.1" in obj:
            res.setdefault(int(obj["srcport"]), obj["JA4.1"])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ja4py = os.path.abspath(sys.argv[1])
    d = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    captures = []
    with open(os.path.join(d, "clients.tsv")) as f:
        for line in f:
            name, package, command = line.rstrip("\n").split("\t")
            path = os.path.join(d, name)
            hellos, ja4 = tshark_hellos(path), foxio_ja4(ja4py, path)
            flows = []
            for port in sorted(hellos):
                if port not in ja4:
                    sys.exit(f"{name}: FoxIO's ja4.py gave no JA4 for client port {port}")
                flows.append(dict(client_port=port, ja4=ja4[port], **hellos[port]))
            if not flows:
                sys.exit(f"{name}: no ClientHello found")
            captures.append({"file": name, "client": package, "command": command, "flows": flows})
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"captures": captures}, f, indent=1)
        f.write("\n")
    print(f"expect: {len(captures)} captures, {sum(len(c['flows']) for c in captures)} connections")


main()
