#!/usr/bin/python3
"""The python3-libvirt peer of catkeeperfs's listing (what a simple web manager does).

peer_listing.py URI [PASSES]
peer_listing.py --stepped URI

Opens URI once, then PASSES times (default 1): listAllDomains, and per domain
state(), metadata(owner element, https://catkeeper.dev/xmlns/owner/1; missing is
fine) and interfaceAddresses(lease source; errors for shut-off domains are fine).
Prints one JSON line: {"vms", "connect", "passes": [seconds...], "owners", "ips"}.

--stepped: prints {"connect"} once connected, then makes one pass per line read on
standard input and prints {"vms", "pass", "owners", "ips"} after each, so that a bench
can interleave the peer's passes with its own (both see the same load).
"""
import json
import sys
import time

import libvirt

OWNER_NS = "https://catkeeper.dev/xmlns/owner/1"


def one_pass(conn):
    owners = ips = 0
    doms = conn.listAllDomains(0)
    for dom in doms:
        dom.state()
        try:
            dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, OWNER_NS, 0)
            owners += 1
        except libvirt.libvirtError:
            pass
        try:
            ifs = dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
            ips += sum(len(i.get("addrs") or []) for i in ifs.values())
        except libvirt.libvirtError:
            pass
    return len(doms), owners, ips


def stepped(uri):
    t0 = time.perf_counter()
    conn = libvirt.open(uri)
    print(json.dumps({"connect": time.perf_counter() - t0}), flush=True)
    for _ in sys.stdin:
        s = time.perf_counter()
        n, owners, ips = one_pass(conn)
        print(json.dumps({"vms": n, "pass": time.perf_counter() - s, "owners": owners,
                          "ips": ips}), flush=True)
    conn.close()


def main():
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    if sys.argv[1] == "--stepped":
        stepped(sys.argv[2])
        return
    uri = sys.argv[1]
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t0 = time.perf_counter()
    conn = libvirt.open(uri)
    t1 = time.perf_counter()
    times = []
    for _ in range(passes):
        s = time.perf_counter()
        n, owners, ips = one_pass(conn)
        times.append(time.perf_counter() - s)
    conn.close()
    print(json.dumps({"vms": n, "connect": t1 - t0, "passes": times,
                      "owners": owners, "ips": ips}))


if __name__ == "__main__":
    main()
