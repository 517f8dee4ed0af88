#!/usr/bin/python3
"""Reservation race for tests/remote/test-owner-remote.

race.py ROUNDS VIRSH_CMD OWNERFILE_A OWNERFILE_B

Four writer processes, two on each mount's owner file of the same VM.  Each
round all four write their own distinct name at once (released by one
barrier); the main process then checks that exactly one write succeeded and
the others failed with EBUSY, that `VIRSH_CMD` (a shell command printing the
owner from the domain's metadata) reports the winner, releases the VM through
mount A and waits until both mounts read it free.  It prints one line per
round: "ok ROUND WINNER DETAILS" or "fail ROUND DETAILS".
"""
import errno
import multiprocessing as mp
import os
import subprocess
import sys
import time


def writer(idx, path, name_fmt, rounds, barrier, results):
    for r in range(rounds):
        name = name_fmt % r
        try:
            barrier.wait(timeout=120)
        except Exception:
            return
        t0 = time.monotonic()
        res = "ok"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, (name + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            res = errno.errorcode.get(e.errno, str(e.errno))
        results.put((r, idx, name, res, time.monotonic() - t0))


def read(path):
    try:
        with open(path) as f:
            return f.read().strip("\n")
    except OSError as e:
        return "<%s>" % e


def wait_free(paths, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if all(read(p) == "" for p in paths):
            return True
        time.sleep(0.05)
    return False


def main():
    rounds = int(sys.argv[1])
    virsh = sys.argv[2]
    a, b = sys.argv[3], sys.argv[4]
    barrier = mp.Barrier(5)
    results = mp.Queue()
    specs = [(0, a, "ma-w0-r%d"), (1, a, "ma-w1-r%d"), (2, b, "mb-w2-r%d"), (3, b, "mb-w3-r%d")]
    procs = [mp.Process(target=writer, args=(i, p, f, rounds, barrier, results)) for i, p, f in specs]
    for p in procs:
        p.start()
    failed = 0
    for r in range(rounds):
        if not wait_free([a, b], 15):
            print("fail %d not free before the round: A=%r B=%r" % (r, read(a), read(b)), flush=True)
            failed += 1
        barrier.wait(timeout=120)
        got = [results.get(timeout=120) for _ in range(4)]
        got.sort(key=lambda x: x[1])
        winners = [g for g in got if g[3] == "ok"]
        losers = [g for g in got if g[3] != "ok"]
        detail = " ".join("%s=%s(%.2fs)" % (g[2], g[3], g[4]) for g in got)
        owner = subprocess.run(virsh, shell=True, capture_output=True, text=True).stdout.strip()
        problems = []
        if len(winners) != 1:
            problems.append("%d winners" % len(winners))
        bad = [g for g in losers if g[3] != "EBUSY"]
        if bad:
            problems.append("losers not EBUSY: %s" % ",".join("%s=%s" % (g[2], g[3]) for g in bad))
        if len(winners) == 1 and owner != winners[0][2]:
            problems.append("virsh metadata owner %r != winner %r" % (owner, winners[0][2]))
        if len(winners) == 1:
            # both mounts agree on the winner
            end = time.monotonic() + 10
            while time.monotonic() < end and not (read(a) == read(b) == winners[0][2]):
                time.sleep(0.05)
            if not (read(a) == read(b) == winners[0][2]):
                problems.append("mounts read A=%r B=%r" % (read(a), read(b)))
        if problems:
            failed += 1
            print("fail %d %s; virsh owner %r; %s" % (r, "; ".join(problems), owner, detail), flush=True)
        else:
            print("ok %d %s %s" % (r, winners[0][2], detail), flush=True)
        # release for the next round (an empty line, through mount A)
        try:
            with open(a, "w") as f:
                f.write("\n")
        except OSError as e:
            print("fail %d release through A: %s" % (r, e), flush=True)
            failed += 1
    for p in procs:
        p.join(timeout=30)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
