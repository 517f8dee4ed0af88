#!/usr/bin/python3
"""The python3-libvirt peer of catkeeperfs over many hosts (what a simple web manager does).

peer_hosts.py seq|threads PASSES URI...

Per host, one libvirt connection and bench/peer_listing.py's pass (listAllDomains, then
per domain state(), owner metadata, lease addresses).
  seq      visits the hosts one after another: open host 1, its pass, open host 2, ...
           Further passes go over the open connections, again one host after another.
  threads  one python thread per host (threading; libvirt-python releases the GIL in
           its calls): each opens its host and makes its pass; further passes run one
           thread per host again, over the open connections.
Prints one JSON line: {"mode", "hosts", "vms", "cold", "passes": [seconds...],
"owners", "ips"}: cold = start -> every host opened and its first pass done (the
interpreter's start is not counted); passes = the further passes (wall time each).
"""
import json
import os
import sys
import threading
import time

import libvirt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_listing import one_pass  # noqa: E402


def run_threads(fn, items):
    """fn(item) in one thread per item; returns the results in order, raises the first error."""
    out = [None] * len(items)
    errs = []

    def body(i, item):
        try:
            out[i] = fn(item)
        except Exception as e:  # noqa: BLE001 (reported below)
            errs.append(e)

    ts = [threading.Thread(target=body, args=(i, x)) for i, x in enumerate(items)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]
    return out


def main():
    mode, passes, uris = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if mode not in ("seq", "threads") or not uris:
        sys.exit(__doc__)
    libvirt.registerErrorHandler(lambda ctx, err: None, None)

    def first(uri):
        conn = libvirt.open(uri)
        return conn, one_pass(conn)

    t0 = time.perf_counter()
    if mode == "seq":
        res = [first(u) for u in uris]
    else:
        res = run_threads(first, uris)
    cold = time.perf_counter() - t0
    conns = [c for c, _ in res]
    vms = sum(r[0] for _, r in res)
    owners = sum(r[1] for _, r in res)
    ips = sum(r[2] for _, r in res)
    times = []
    for _ in range(passes - 1):
        s = time.perf_counter()
        if mode == "seq":
            rs = [one_pass(c) for c in conns]
        else:
            rs = run_threads(one_pass, conns)
        times.append(time.perf_counter() - s)
        if sum(r[0] for r in rs) != vms:
            vms = -1
    for c in conns:
        c.close()
    print(json.dumps({"mode": mode, "hosts": len(uris), "vms": vms, "cold": cold,
                      "passes": times, "owners": owners, "ips": ips}))


if __name__ == "__main__":
    main()
