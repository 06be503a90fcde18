#!/usr/bin/env python3
"""Salvage speed against pg_dump, in one run, on a pgbench cluster.

Makes a cluster with Debian's PostgreSQL 15 (as an unprivileged user), fills
a database `pgbench` with `pgbench -i -s SCALE` (scale 70 is about 1.1 GB),
and times, best of --runs (3), all from the page cache:
  pg_dump -Fd -j 2 of `pgbench`, the server running (the goal is measured
      against it)
  the same with -Z 0 (uncompressed: where the time goes when the disk is slow)
then stops the cluster cleanly and times
  pgrescue-salvage --in-place --jobs 2 --out DIR DATADIR
      (page scan, private server start and stop, globals, the parallel dump
      of every database, row counts)
  pgrescue-salvage --jobs 2 --out DIR DATADIR  (the protective copy first:
      its report's copy.method and copy.seconds, against cp -a --reflink=auto
      of the same directory as the floor)
Prints the times and the ratio salvage / pg_dump (goal 1.2 or less). Ratios
are reported, not asserted; a command that fails, or a salvage that does not
count every pgbench_accounts row, makes the bench exit 1.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PG = "/usr/lib/postgresql/15/bin"


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def as_user(user, argv):
    return ["runuser", "-u", user, "--", *argv]


def timed(argv, before=None, runs=1):
    """Best wall time of `runs` runs of argv; before() runs untimed ahead of each."""
    best = None
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        run(argv)
        best = min(best or 1e9, time.perf_counter() - t)
    return best


def tree_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(root, f)).st_size for f in files)
    return total


def removed(path):
    return lambda: shutil.rmtree(path, ignore_errors=True)


def accounts_saved(report):
    for db in report["databases"]:
        if db["name"] == "pgbench":
            for t in db["tables"]:
                if t["name"] == "public.pgbench_accounts":
                    return t["rows_saved"]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--salvage", required=True, help="the pgrescue-salvage binary")
    ap.add_argument("--user", default="pgrescue-test", help="unprivileged user to run the server as")
    ap.add_argument("--scale", type=int, default=70, help="pgbench -i scale (70: about 1.1 GB)")
    ap.add_argument("--runs", type=int, default=3, help="best of this many runs of each timing")
    ap.add_argument("--port", type=int, default=24600)
    ap.add_argument("--work-dir", default="/tmp")
    ap.add_argument("--keep", action="store_true", help="leave the cluster and the outputs")
    args = ap.parse_args()
    salvage = os.path.abspath(args.salvage)

    base = tempfile.mkdtemp(prefix="pgrescue-salvage-bench-", dir=args.work_dir)
    os.chmod(base, 0o755)
    shutil.chown(base, args.user)
    data = os.path.join(base, "data")
    port = str(args.port)
    running = False
    try:
        run(as_user(args.user, [f"{PG}/initdb", "-D", data, "--auth=trust", "--no-sync"]))
        opts = f"-c listen_addresses='' -c unix_socket_directories={base} -c port={port} -c fsync=off"
        run(as_user(args.user, [f"{PG}/pg_ctl", "-D", data, "-l", os.path.join(base, "log"), "-w", "-o", opts,
                                "start"]))
        running = True
        conn = ["-h", base, "-p", port]
        t = time.perf_counter()
        run(as_user(args.user, [f"{PG}/createdb", *conn, "pgbench"]))
        run(as_user(args.user, [f"{PG}/pgbench", *conn, "-i", "-q", "-s", str(args.scale), "pgbench"]))
        run(as_user(args.user, [f"{PG}/psql", *conn, "-X", "-q", "-d", "pgbench", "-c", "CHECKPOINT"]))
        print(f"cluster made in {time.perf_counter() - t:.0f} s", flush=True)

        dump = os.path.join(base, "pg_dump")
        pg_dump = [f"{PG}/pg_dump", *conn, "-Fd", "-j", "2", "-f", dump, "pgbench"]
        compressed = timed(as_user(args.user, pg_dump), removed(dump), args.runs)
        plain = timed(as_user(args.user, pg_dump + ["-Z", "0"]), removed(dump), args.runs)
        dump_bytes = tree_bytes(dump)
        shutil.rmtree(dump)
        run(as_user(args.user, [f"{PG}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]))
        running = False
        relations = sum(tree_bytes(os.path.join(data, d)) for d in ("base", "global"))
        print(f"salvage of a {tree_bytes(data) / 1e9:.2f} GB data directory ({relations / 1e9:.2f} GB of relations, "
              f"pgbench scale {args.scale}, Debian's 15), best of {args.runs}:")
        print(f"  pg_dump -Fd -j 2, server running:        {compressed:7.2f} s")
        print(f"  pg_dump -Fd -j 2 -Z 0, server running:   {plain:7.2f} s  ({dump_bytes / 1e9:.2f} GB written)",
              flush=True)

        out = os.path.join(base, "salvage-in-place")
        ours = timed([salvage, "--in-place", "--jobs", "2", "--out", out, data], removed(out), args.runs)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        rows = accounts_saved(report)
        ours_bytes = tree_bytes(os.path.join(out, "dump"))
        if not args.keep:
            shutil.rmtree(out)
        print(f"  pgrescue-salvage --in-place --jobs 2:    {ours:7.2f} s  ({ours_bytes / 1e9:.2f} GB written, "
              f"{rows} of {args.scale * 100000} pgbench_accounts rows)", flush=True)

        out_copy = os.path.join(base, "salvage-copy")
        with_copy, copy = None, None
        for _ in range(args.runs):
            shutil.rmtree(out_copy, ignore_errors=True)
            t = time.perf_counter()
            run([salvage, "--jobs", "2", "--out", out_copy, data])
            with_copy = min(with_copy or 1e9, time.perf_counter() - t)
            with open(os.path.join(out_copy, "report.json")) as f:
                this = json.load(f)["copy"]
            if copy is None or this["seconds"] < copy["seconds"]:
                copy = this
        if not args.keep:
            shutil.rmtree(out_copy)
        floor_dir = os.path.join(base, "cp")
        floor = timed(["cp", "-a", "--reflink=auto", data, floor_dir], removed(floor_dir), args.runs)
        shutil.rmtree(floor_dir)
        print(f"  pgrescue-salvage --jobs 2 (copy first):  {with_copy:7.2f} s  (copy: {copy['method']}, "
              f"{copy['bytes'] / 1e9:.2f} GB in {copy['seconds']:.2f} s; cp -a --reflink=auto {floor:.2f} s, "
              f"ratio {copy['seconds'] / floor:.2f})")

        print(f"ratio salvage / pg_dump -Fd -j 2: {ours / compressed:.2f}x (goal 1.2 or less); "
              f"salvage / pg_dump -Fd -j 2 -Z 0: {ours / plain:.2f}x")
        if rows != args.scale * 100000:
            print(f"pgrescue-salvage counted {rows} pgbench_accounts rows, not {args.scale * 100000}")
            return 1
        return 0
    except subprocess.CalledProcessError as e:
        print(f"failed (exit {e.returncode}): {' '.join(e.cmd)}\n{e.stdout}{e.stderr}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"failed: {e}", file=sys.stderr)
        return 1
    finally:
        if running:
            subprocess.run(as_user(args.user, [f"{PG}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
                           capture_output=True)
        if args.keep:
            print(f"kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
