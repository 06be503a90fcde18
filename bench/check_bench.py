#!/usr/bin/env python3
"""Page check speed against pg_checksums --check, in one run.

Makes a cluster with data checksums with Debian's PostgreSQL 15 (as an
unprivileged user), fills it with `pgbench -i -s SCALE` (scale 70 is about
1 GB), stops it cleanly, and times, best of three after a warm-up run, all
from the page cache:
  pg_checksums --check            (one thread, checksums only)
  pgrescue-check --jobs 1 and 2   (header rule and checksums)
Then flips one bit in a heap page and one in an index page and checks that
both tools find the same bad blocks. Prints GB/s and ratios (pg_checksums
time / ours). Nothing is asserted except that the two agree.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

PG = "/usr/lib/postgresql/15/bin"


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def as_user(user, argv):
    return ["runuser", "-u", user, "--", *argv]


def best_of(argv, runs=3):
    run(argv)  # warm the page cache
    best = 1e9
    for _ in range(runs):
        t = time.perf_counter()
        run(argv)
        best = min(best, time.perf_counter() - t)
    return best


def relation_bytes(data):
    total = 0
    for sub in ("global", "base"):
        for root, _, files in os.walk(os.path.join(data, sub)):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def flip(path, block, offset=4000):
    with open(path, "r+b") as f:
        f.seek(block * 8192 + offset)
        b = f.read(1)
        f.seek(block * 8192 + offset)
        f.write(bytes([b[0] ^ 1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--scale", type=int, default=70)
    ap.add_argument("--port", type=int, default=24500)
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix="pgrescue-check-bench-")
    shutil.chown(base, a.user)
    data = os.path.join(base, "data")
    try:
        run(as_user(a.user, [f"{PG}/initdb", "-k", "-D", data]), check=True)
        opts = f"-p {a.port} -k {base} -c listen_addresses='' -c fsync=off"
        run(as_user(a.user, [f"{PG}/pg_ctl", "-D", data, "-o", opts, "-l", f"{base}/log", "-w", "start"]), check=True)
        try:
            run(as_user(a.user, [f"{PG}/pgbench", "-h", base, "-p", str(a.port), "-i", "-s", str(a.scale), "postgres"]),
                check=True)
            paths = run(as_user(a.user, [f"{PG}/psql", "-h", base, "-p", str(a.port), "-At", "-d", "postgres", "-c",
                                         "SELECT pg_relation_filepath('pgbench_accounts'), "
                                         "pg_relation_filepath('pgbench_accounts_pkey')"]), check=True).stdout
        finally:
            run(as_user(a.user, [f"{PG}/pg_ctl", "-D", data, "-w", "stop"]), check=True)
        heap, index = paths.strip().split("|")
        size = relation_bytes(data)
        checksums = best_of(as_user(a.user, [f"{PG}/pg_checksums", "--check", "-D", data]))
        ours = {jobs: best_of([a.check, "--jobs", str(jobs), data]) for jobs in (1, 2)}
        gb = size / 1e9
        print(f"check of {gb:.2f} GB (pgbench scale {a.scale}, checksums on): pg_checksums {checksums:.2f} s "
              f"({gb / checksums:.2f} GB/s)")
        for jobs, t in ours.items():
            print(f"  pgrescue-check --jobs {jobs}: {t:.2f} s ({gb / t:.2f} GB/s), ratio {checksums / t:.2f}")

        flip(os.path.join(data, heap), 1000)
        flip(os.path.join(data, index), 3)
        theirs = run(as_user(a.user, [f"{PG}/pg_checksums", "--check", "-D", data]))
        found_theirs = {(os.path.relpath(m[0], data), int(m[1])) for m in
                        re.findall(r'file "([^"]+)", block (\d+): calculated checksum', theirs.stderr)}
        report = json.loads(run([a.check, "--json", data]).stdout)
        found_ours = {(d["file"], d["block"]) for d in report["damaged"]}
        same = found_theirs == found_ours == {(heap, 1000), (index, 3)}
        print(f"  bad blocks found: pg_checksums {sorted(found_theirs)}, pgrescue-check {sorted(found_ours)}: "
              f"{'the same' if same else 'DIFFERENT'}")
        return 0 if same else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
