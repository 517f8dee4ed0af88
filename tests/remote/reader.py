#!/usr/bin/python3
"""reader.py SECONDS DIR|FILE...: reads the files (and lists the directories)
over and over for SECONDS; prints "reads=N max=S.SSS errors=N slowest=PATH"
and, for each error, a line "error PATH: MESSAGE" (at most 5)."""
import os
import sys
import time

dur = float(sys.argv[1])
paths = sys.argv[2:]
end = time.monotonic() + dur
n = 0
worst = 0.0
slowest = "-"
errors = []
while True:
    for p in paths:
        t = time.monotonic()
        try:
            if os.path.isdir(p):
                os.listdir(p)
            else:
                with open(p, "rb") as f:
                    f.read()
        except OSError as e:
            errors.append("%s: %s" % (p, e))
        dt = time.monotonic() - t
        n += 1
        if dt > worst:
            worst, slowest = dt, p
    if time.monotonic() >= end:
        break
    time.sleep(0.05)
print("reads=%d max=%.3f errors=%d slowest=%s" % (n, worst, len(errors), slowest))
for e in errors[:5]:
    print("error " + e)
