#!/usr/bin/python3
"""Defines diskless qemu domains over one connection: define_domains.py URI FIRST COUNT.

Names bvm00001...; every 10th carries an owner element (catkeeper's metadata), all
have a VNC graphics element. Prints "COUNT SECONDS".
"""
import sys
import time
import uuid

import libvirt

uri, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = libvirt.open(uri)
t0 = time.perf_counter()
for i in range(first, first + count):
    meta = ""
    if i % 10 == 0:
        meta = ("<metadata><ck:owner xmlns:ck='https://catkeeper.dev/xmlns/owner/1'>"
                f"user{i % 7}</ck:owner></metadata>")
    conn.defineXML(
        f"<domain type='qemu'><name>bvm{i:05d}</name>"
        f"<uuid>{uuid.UUID(int=0xcafe << 64 | i)}</uuid>{meta}"
        "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os>"
        "<devices><graphics type='vnc' autoport='yes' listen='127.0.0.1'/></devices>"
        "</domain>")
print(count, f"{time.perf_counter() - t0:.3f}")
conn.close()
