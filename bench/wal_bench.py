#!/usr/bin/env python3
"""WAL scan speed against pg_waldump, in one run, on WAL made with pgbench.

Makes a cluster with Debian's PostgreSQL 15 (as an unprivileged user), then
  bulk: pgbench -i -s SCALE          (COPY and index builds: big records, FPIs)
  CHECKPOINT
  oltp: pgbench -T SECONDS -c 2      (small records, many commits)
  CHECKPOINT, a few seconds more OLTP, pg_ctl stop -m immediate
and times, best of three after a warm-up run, all from the page cache:
  1. `pgrescue-inspect --wal --full` against `pg_waldump -q` over the bulk
     segments, then over the OLTP segments (each in a directory of links to
     just those segments);
  2. the default latest-checkpoint search over all of pg_wal against
     pg_waldump's full scan of it, and the same search with only the newest
     tenth of the segments present (it should not care about older WAL).
Prints GB/s and ratios (pg_waldump time / ours). Nothing is asserted.
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

PG = "/usr/lib/postgresql/15/bin"


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def as_user(user, argv):
    return run(["runuser", "-u", user, "--", *argv])


def best_of(argv, runs=3):
    subprocess.run(argv, capture_output=True)  # warm the page cache
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True)
        best = min(best or 1e9, time.perf_counter() - t)
    return best


def segment_names(wal):
    return sorted(n for n in os.listdir(wal) if len(n) == 24 and all(c in "0123456789ABCDEF" for c in n))


def lsn_segment(lsn, segment_size=16 << 20):
    hi, lo = (int(x, 16) for x in lsn.split("/"))
    return ((hi << 32) | lo) // segment_size


def data_dir_with(base, name, data, segments):
    """A data directory holding pg_control, PG_VERSION and links to `segments`."""
    d = os.path.join(base, name)
    os.makedirs(os.path.join(d, "global"))
    os.makedirs(os.path.join(d, "pg_wal"))
    shutil.copy(os.path.join(data, "global", "pg_control"), os.path.join(d, "global"))
    shutil.copy(os.path.join(data, "PG_VERSION"), d)
    for s in segments:
        os.symlink(os.path.join(data, "pg_wal", s), os.path.join(d, "pg_wal", s))
    return d


def compare(label, inspect, d, segments, size_bytes):
    wal = os.path.join(d, "pg_wal")
    theirs = best_of([f"{PG}/pg_waldump", "-q", "-p", wal, segments[0], segments[-1]])
    ours = best_of([inspect, "--wal", "--full", d])
    gb = size_bytes / 1e9
    print(f"{label:<34} {len(segments):>5} segments {gb:6.2f} GB   pg_waldump -q {theirs:7.3f} s "
          f"({gb / theirs:5.2f} GB/s)   ours {ours:7.3f} s ({gb / ours:5.2f} GB/s)   ratio {theirs / ours:5.2f}x")
    return theirs / ours


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inspect", required=True, help="the pgrescue-inspect binary")
    ap.add_argument("--user", default="pgrescue-test", help="unprivileged user to run the server as")
    ap.add_argument("--scale", type=int, default=70, help="pgbench -i scale (70: about 1 GB of WAL)")
    ap.add_argument("--seconds", type=int, default=30, help="pgbench -T for the OLTP WAL")
    ap.add_argument("--work-dir", default="/tmp")
    ap.add_argument("--keep", action="store_true", help="leave the cluster and its WAL for a profiler")
    args = ap.parse_args()

    base = tempfile.mkdtemp(prefix="pgrescue-walbench-", dir=args.work_dir)
    shutil.chown(base, args.user)
    data = os.path.join(base, "data")
    port = "20400"
    pgbench = [f"{PG}/pgbench", "-h", base, "-p", port, "-U", "postgres"]
    psql = [f"{PG}/psql", "-X", "-q", "-A", "-t", "-h", base, "-p", port, "-U", "postgres", "-d", "postgres", "-c"]
    try:
        as_user(args.user, [f"{PG}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"])
        opts = (f"-c listen_addresses='' -c unix_socket_directories={base} -c port={port} -c fsync=off "
                "-c max_wal_size=50GB -c wal_keep_size=50GB -c checkpoint_timeout=1h -c synchronous_commit=off")
        as_user(args.user, [f"{PG}/pg_ctl", "-D", data, "-l", os.path.join(base, "log"), "-w", "-o", opts, "start"])
        lsn = lambda: run(psql + ["select pg_current_wal_insert_lsn()"]).stdout.strip()
        t = time.perf_counter()
        bulk_start = lsn()
        run(pgbench + ["-i", "-q", "-s", str(args.scale), "postgres"])
        bulk_end = lsn()
        run(psql + ["checkpoint"])
        oltp_start = lsn()
        run(pgbench + ["-n", "-T", str(args.seconds), "-c", "2", "postgres"])
        oltp_end = lsn()
        run(psql + ["checkpoint"])
        run(pgbench + ["-n", "-T", "3", "-c", "2", "postgres"])
        as_user(args.user, [f"{PG}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
        print(f"WAL generated in {time.perf_counter() - t:.0f} s: bulk {bulk_start}..{bulk_end}, "
              f"OLTP {oltp_start}..{oltp_end}")

        segments = segment_names(os.path.join(data, "pg_wal"))
        by_number = {int(s[8:16], 16) * 256 + int(s[16:], 16): s for s in segments}
        def between(a, b):
            return [by_number[n] for n in range(lsn_segment(a), lsn_segment(b) + 1) if n in by_number]
        bulk, oltp = between(bulk_start, bulk_end), between(oltp_start, oltp_end)
        ratios = {}
        ratios["bulk"] = compare("--full, bulk load (pgbench -i)", args.inspect,
                                 data_dir_with(base, "bulk", data, bulk), bulk, len(bulk) << 24)
        ratios["oltp"] = compare("--full, OLTP (pgbench -T)", args.inspect,
                                 data_dir_with(base, "oltp", data, oltp), oltp, len(oltp) << 24)

        all_bytes = len(segments) << 24
        theirs = best_of([f"{PG}/pg_waldump", "-q", "-p", os.path.join(data, "pg_wal"), segments[0], segments[-1]])
        ours = best_of([args.inspect, "--wal", data])
        tail = segments[-max(2, len(segments) // 10):]
        ours_tail = best_of([args.inspect, "--wal", data_dir_with(base, "tail", data, tail)])
        print(f"{'latest checkpoint search, all WAL':<34} {len(segments):>5} segments {all_bytes / 1e9:6.2f} GB   "
              f"pg_waldump -q {theirs:7.3f} s   ours {ours:7.3f} s   ratio {theirs / ours:6.1f}x")
        print(f"{'  same, newest tenth only':<34} {len(tail):>5} segments   ours {ours_tail:7.3f} s "
              f"(all WAL / newest tenth: {ours / ours_tail:4.2f})")
        print(f"ratios (pg_waldump / ours): bulk {ratios['bulk']:.2f}x (goal 1.5), OLTP {ratios['oltp']:.2f}x "
              f"(goal 2), latest checkpoint {theirs / ours:.1f}x (goal 10)")
    finally:
        subprocess.run(["runuser", "-u", args.user, "--", f"{PG}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        if args.keep:
            print(f"kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
