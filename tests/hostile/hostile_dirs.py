#!/usr/bin/env python3
"""Hostile data directories: every read-only tool, and a reset that must refuse, over
hundreds of malformed copies of real fixture clusters.

Each directory is fixtures/sample-cluster (PostgreSQL 15, crashed), or it with
another version's real pg_control and PG_VERSION (9.4 to 19), with one thing
wrong: a file deleted, emptied, cut short, replaced by a directory, a FIFO, a
symbolic link that loops or dangles, a huge sparse file, random or zeroed
bytes, a flipped byte; a directory replaced by a file; names with newlines;
garbage PG_VERSION and configuration files; stray labels and signal files.

Run on each: pgrescue-inspect, pgrescue-plan, pgrescue-check and
pgrescue-reset -n, each under a time limit, and where the dry run refuses,
pgrescue-reset itself, which must refuse too (exit 1 or 2). Every run must
  - end by itself within the limit (no hang), without a signal or a
    sanitizer report, with exit 0, 1 or 2;
  - when its exit differs from the same tool's on the unharmed base, name
    the harmed entry in what it prints;
  - leave the tree as it was: names, types, modes and SHA-256 of every file.
--sample N runs every Nth directory (the whole set is the default).
Prints one line per failure and the tally per outcome. Runs as root
(the copies are made unreadable to nobody: root reads everything).
"""

import argparse
import concurrent.futures
import hashlib
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time

VERSIONS = ["94", "95", "96", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19"]
FILES = ["global/pg_control", "PG_VERSION", "pg_wal/000000010000000000000001", "pg_xact/0000",
         "pg_multixact/offsets/0000", "pg_multixact/members/0000", "pg_commit_ts/0000"]
DIRS = ["global", "pg_wal", "pg_xact", "pg_multixact/offsets", "pg_multixact/members", "pg_commit_ts"]
# Files a data directory may hold that the sample does not: each appears
# holding garbage, as a directory, as a FIFO.
EXTRA = ["backup_label", "tablespace_map", "postgresql.conf", "postgresql.auto.conf", "postmaster.pid",
         "recovery.signal", "standby.signal", "recovery.conf", "pg_wal/00000002.history",
         "pg_wal/000000010000000000000002", "global/pg_filenode.map", "pg_tblspc/16400"]
ASAN_REPORT = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def mutations():
    """(name, harmed entry, function(root)) for every hostile directory."""
    out = []

    def add(name, entry, fn):
        out.append((name, entry, fn))

    for f in FILES:
        add(f"{f}: deleted", f, lambda r, f=f: os.remove(os.path.join(r, f)))
        add(f"{f}: empty", f, lambda r, f=f: open(os.path.join(r, f), "w").close())
        add(f"{f}: cut to half", f, lambda r, f=f: os.truncate(os.path.join(r, f), os.path.getsize(os.path.join(r, f)) // 2))
        add(f"{f}: one byte", f, lambda r, f=f: os.truncate(os.path.join(r, f), 1))
        add(f"{f}: a directory", f, lambda r, f=f: (os.remove(os.path.join(r, f)), os.mkdir(os.path.join(r, f))))
        add(f"{f}: a FIFO", f, lambda r, f=f: (os.remove(os.path.join(r, f)), os.mkfifo(os.path.join(r, f))))
        add(f"{f}: a link to itself", f, lambda r, f=f: (os.remove(os.path.join(r, f)),
                                                          os.symlink(os.path.basename(f), os.path.join(r, f))))
        add(f"{f}: a dangling link", f, lambda r, f=f: (os.remove(os.path.join(r, f)),
                                                         os.symlink("/nonexistent/x", os.path.join(r, f))))
        add(f"{f}: a link to /dev/zero", f, lambda r, f=f: (os.remove(os.path.join(r, f)),
                                                             os.symlink("/dev/zero", os.path.join(r, f))))
        add(f"{f}: 8 GB sparse", f, lambda r, f=f: os.truncate(os.path.join(r, f), 8 << 30))
        add(f"{f}: zeroed", f, lambda r, f=f: overwrite(os.path.join(r, f), lambda n: bytes(n)))
        add(f"{f}: random bytes", f, lambda r, f=f: overwrite(os.path.join(r, f), lambda n: random.Random(n).randbytes(n)))
        for at in (0, 8, 16, 40, 100, 200, 300, 8191):
            add(f"{f}: byte {at} flipped", f, lambda r, f=f, at=at: flip(os.path.join(r, f), at))
    for d in DIRS:
        add(f"{d}/: deleted", d, lambda r, d=d: shutil.rmtree(os.path.join(r, d)))
        add(f"{d}/: a file", d, lambda r, d=d: (shutil.rmtree(os.path.join(r, d)), open(os.path.join(r, d), "w").close()))
        add(f"{d}/: a link to itself", d, lambda r, d=d: (shutil.rmtree(os.path.join(r, d)),
                                                           os.symlink(os.path.basename(d), os.path.join(r, d))))
        add(f"{d}/: a dangling link", d, lambda r, d=d: (shutil.rmtree(os.path.join(r, d)),
                                                          os.symlink("/nonexistent/d", os.path.join(r, d))))
        add(f"{d}/: a name with a newline", d, lambda r, d=d: open(os.path.join(r, d, "0000\n0001"), "w").close())
        add(f"{d}/: 10,000 stray names", d, lambda r, d=d: [open(os.path.join(r, d, f"x{i:05}"), "w").close()
                                                             for i in range(10000)])
    for e in EXTRA:
        add(f"{e}: garbage", e, lambda r, e=e: write(os.path.join(r, e), random.Random(e).randbytes(5000)))
        add(f"{e}: a directory", e, lambda r, e=e: os.makedirs(os.path.join(r, e)))
        add(f"{e}: a FIFO", e, lambda r, e=e: (os.makedirs(os.path.dirname(os.path.join(r, e)), exist_ok=True),
                                               os.mkfifo(os.path.join(r, e))))
        add(f"{e}: one line of 1 MB", e, lambda r, e=e: write(os.path.join(r, e), b"x" * (1 << 20)))
    for text in (b"", b"\n", b"15garbage\n", b"99\n", b"-1\n", b"9.3\n", b"\xff\xfe\x00\n", b"15" * 5000,
                 b"1" * 40 + b"\n", b"1.5\n", b"0\n", b"20\n"):
        add(f"PG_VERSION: {text[:20]!r}", "PG_VERSION", lambda r, t=text: write(os.path.join(r, "PG_VERSION"), t))
    for line in (b"wal_segment_size = 0", b"data_directory = '/nonexistent'", b"include = 'postgresql.conf'",
                 b"recovery_target_lsn = 'zz'", b"log_directory = '/dev/null/x'", b"'''''''''",
                 b"wal_level = \xff\xff", b"primary_conninfo = '" + b"a" * 100000 + b"'"):
        add(f"postgresql.conf: {line[:30]!r}", "postgresql.conf",
            lambda r, t=line: write(os.path.join(r, "postgresql.conf"), t + b"\n"))
    for label in (b"START WAL LOCATION: zz/zz (file 0000)\n", b"START WAL LOCATION: 0/1000028 (file 000000010000000000000001)\n"
                  b"CHECKPOINT LOCATION: 0/1000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n"
                  b"START TIME: 2026-01-01 00:00:00 UTC\nLABEL: x\nSTART TIMELINE: 1\n",
                  b"START WAL LOCATION: FFFFFFFF/FFFFFFFF (file FFFFFFFFFFFFFFFFFFFFFFFF)\n"):
        add(f"backup_label: {label[:30]!r}", "backup_label", lambda r, t=label: write(os.path.join(r, "backup_label"), t))
    # pgrescue's own lock, left by a killed run (no process holds it), or with a bad writer line.
    for lock in (b"999999\n/x\n1\n\n\n\n\npgrescue\npgrescue-lock 999998 pgrescue-reset -D /x\npgrescue-rescue-dir /x.r\n",
                 b"999999\n/x\n1\n\n\n\n\npgrescue\npgrescue-lock 999998 x\npgrescue-rescue-dir ../../etc\n",
                 b"999999\n\n\n\n\n\n\n\npgrescue-lock -5 \xff\n"):
        add(f"postmaster.pid: {lock[-40:]!r}", "postmaster.pid",
            lambda r, t=lock: write(os.path.join(r, "postmaster.pid"), t))
    add("base/1/1259: random pages", "base/1/1259", lambda r: write_made(r, "base/1/1259", random.Random(1).randbytes(8192 * 3)))
    add("base/1/1259: 8 GB sparse", "base/1/1259", lambda r: (write_made(r, "base/1/1259", b""),
                                                              os.truncate(os.path.join(r, "base/1/1259"), 8 << 30)))
    add("base/1/1259.3 without .1 and .2", "base/1/1259.3", lambda r: write_made(r, "base/1/1259.3", bytes(8192)))
    add("base/1/1259: a FIFO", "base/1/1259", lambda r: (os.makedirs(os.path.join(r, "base/1")),
                                                         os.mkfifo(os.path.join(r, "base/1/1259"))))
    add("base/: a link loop", "base", lambda r: os.symlink("base", os.path.join(r, "base")))
    add("pg_tblspc/16400: a link to the data directory", "pg_tblspc/16400",
        lambda r: (os.makedirs(os.path.join(r, "pg_tblspc")), os.symlink(r, os.path.join(r, "pg_tblspc/16400"))))
    return out


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_made(root, rel, data):
    write(os.path.join(root, rel), data)


def overwrite(path, make):
    write(path, make(os.path.getsize(path)))


def flip(path, at):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(at % max(size, 1))
        b = f.read(1) or b"\0"
        f.seek(at % max(size, 1))
        f.write(bytes([b[0] ^ 0xA5]))


def tree(root):
    """Every entry's type, mode and SHA-256 (links by target), without following links."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                if st.st_size > 64 << 20:
                    what = ("sparse", st.st_size, st.st_blocks)
                else:
                    with open(p, "rb") as f:
                        what = ("file", hashlib.sha256(f.read()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(p))
            else:
                what = (stat.S_IFMT(st.st_mode),)
            out[os.path.relpath(p, root)] = (what, stat.S_IMODE(st.st_mode))
    return out


def bases(fixtures, work):
    """The unharmed directories: the sample, and the sample with each version's pg_control."""
    out = []
    for v in ["sample"] + VERSIONS:
        d = os.path.join(work, f"base-{v}")
        shutil.copytree(os.path.join(fixtures, "sample-cluster"), d, symlinks=True)
        if v != "sample":
            shutil.copy(os.path.join(fixtures, f"pg{v}", "pg_control.shutdown"), os.path.join(d, "global/pg_control"))
            shutil.copy(os.path.join(fixtures, f"pg{v}", "PG_VERSION"), os.path.join(d, "PG_VERSION"))
        out.append((v, d))
    return out


def commands(tools, data):
    return {
        "inspect": [tools["inspect"], "-D", data],
        "plan": [tools["plan"], "-D", data],
        "check": [tools["check"], "-D", data],
        "reset -n": [tools["reset"], "-n", "-D", data],
    }


def run(argv, seconds):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=seconds,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return "hang", ""


def trial(job):
    name, entry, fn, base, base_exits, tools, work, seconds = job
    data = os.path.join(work, f"d{abs(hash((name, base))) % 10**12}")
    shutil.copytree(base, data, symlinks=True)
    failures, outcomes = [], []
    try:
        fn(data)
        before = tree(data)
        for tool, argv in commands(tools, data).items():
            code, said = run(argv, seconds)
            where = f"[{os.path.basename(base)}] {name}: {tool}"
            if code == "hang":
                failures.append(f"{where}: still running after {seconds} s")
            elif code not in (0, 1, 2):
                failures.append(f"{where}: exit {code}\n{said[-1500:]}")
            elif any(a in said for a in ASAN_REPORT):
                failures.append(f"{where}: sanitizer report\n{said[-1500:]}")
            elif code != base_exits[tool] and os.path.basename(entry) not in said:
                failures.append(f"{where}: exit {code} (unharmed: {base_exits[tool]}) without naming "
                                f"{os.path.basename(entry)}:\n{said[-800:]}")
            outcomes.append((tool, code))
        # Where the dry run refuses, the write must refuse too, writing nothing.
        if dict(outcomes).get("reset -n") in (1, 2):
            code, said = run([tools["reset"], "-D", data], seconds)
            where = f"[{os.path.basename(base)}] {name}: reset (refused write)"
            if code not in (1, 2):
                failures.append(f"{where}: exit {code}, not a refusal\n{said[-1500:]}")
            elif any(a in said for a in ASAN_REPORT):
                failures.append(f"{where}: sanitizer report\n{said[-1500:]}")
            outcomes.append(("reset (refused write)", code))
        after = tree(data)
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            failures.append(f"[{os.path.basename(base)}] {name}: the tree changed: {changed[:5]}")
    except OSError as e:
        failures.append(f"[{os.path.basename(base)}] {name}: could not make it: {e}")
    finally:
        subprocess.run(["rm", "-rf", data])
    return failures, outcomes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tools", required=True, help="directory holding pgrescue-inspect, -plan, -check, -reset")
    ap.add_argument("--fixtures", required=True, help="the fixtures/ directory")
    ap.add_argument("--seconds", type=float, default=10, help="time limit of each run")
    ap.add_argument("--sample", type=int, default=1, help="run every Nth directory")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    args = ap.parse_args()
    tools = {t: os.path.join(args.tools, f"pgrescue-{t}") for t in ("inspect", "plan", "check", "reset")}
    start = time.monotonic()
    work = tempfile.mkdtemp(prefix="pgrescue-hostile-")
    try:
        all_bases = bases(args.fixtures, work)
        exits = {}
        for v, d in all_bases:
            exits[d] = {tool: run(argv, 60)[0] for tool, argv in commands(tools, d).items()}
        jobs = []
        sample_base = all_bases[0][1]
        for name, entry, fn in mutations():
            jobs.append((name, entry, fn, sample_base, exits[sample_base], tools, work, args.seconds))
        # Each version's pg_control, harmed the ways that reach the layout code.
        for v, d in all_bases[1:]:
            for name, entry, fn in mutations():
                if entry == "global/pg_control" and ("flipped" in name or "cut" in name or "random" in name):
                    jobs.append((name, entry, fn, d, exits[d], tools, work, args.seconds))
        jobs = jobs[::args.sample]
        failures, tally = [], {}
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for f, outcomes in pool.map(trial, jobs):
                failures += f
                for tool, code in outcomes:
                    tally[(tool, code)] = tally.get((tool, code), 0) + 1
        for f in failures:
            print("FAIL " + f)
        print(f"{len(jobs)} hostile data directories, {sum(tally.values())} runs in {time.monotonic() - start:.0f} s; "
              "exits: " + ", ".join(f"{tool} {code}: {n}" for (tool, code), n in sorted(tally.items(), key=str)))
        print(f"{len(failures)} failures")
        return 1 if failures or not jobs else 0
    finally:
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
