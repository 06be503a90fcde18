#!/usr/bin/env python3
"""The paths users have, through every tool, on a real server.

One cluster with all of them at once: its data directory's path has spaces
and is given with a trailing slash; pg_wal is a link to a directory on
another filesystem (initdb -X, /dev/shm), whose path has spaces too; a
tablespace lives in a third directory with a space in its name and holds the
table `far`. 3,000 rows go into `far` and 100 into `near`, CHECKPOINT, then
20,000 more into `far` with shared_buffers at 1 MB, so tablespace pages with
LSNs past the checkpoint reach the disk; then `pg_ctl stop -m immediate`.

  - inspect exits 0; plan's first remedy is start-server (the WAL is there);
    check reads every page, the tablespace's included, and names `far`;
    salvage saves 23,000 rows of far and 100 of near. None changes a byte of
    the data directory, the WAL directory or the tablespace.
  - The WAL is then lost. The plan's reset must start WAL past the largest
    page LSN we read ourselves, the tablespace's pages included; its
    commands, run as printed (the quoted paths with spaces), reset; `--undo`
    as printed puts every byte of all three directories back; the commands
    again, the server starts, CHECKPOINT works, and `near` has its 100 rows.
"""
import json
import os
import shutil
import struct
import subprocess
import tempfile

from pgtest import Failure, follow_top_remedy, lsn, plan, run, server_test_setup, tree_hashes

ROWS_FAR, ROWS_LATE, ROWS_NEAR = 3000, 20000, 100


def page_lsn_max(roots):
    best = 0
    for root in roots:
        for directory, _, files in os.walk(root):
            for name in files:
                if not name.split(".")[0].isdigit():
                    continue
                with open(os.path.join(directory, name), "rb") as f:
                    while len(page := f.read(8192)) >= 24:
                        hi, lo = struct.unpack_from("<II", page, 0)
                        best = max(best, (hi << 32) | lo)
    return best


def main():
    a, work = server_test_setup("paths", ("inspect", "check", "salvage"))
    base = tempfile.mkdtemp(prefix="pgrescue paths ", dir=work)
    other = tempfile.mkdtemp(prefix="pgrescue paths ", dir="/dev/shm")
    shutil.chown(base, a.user)
    shutil.chown(other, a.user)
    data, wal, space = os.path.join(base, "data dir"), os.path.join(other, "wal dir"), os.path.join(base, "space one")
    sockets = os.path.join(work, "s")

    def as_user(*argv, check=True):
        r = subprocess.run(["runuser", "-u", a.user, "--", "env", "LANG=C", "LC_ALL=C", *argv],
                           capture_output=True, text=True, timeout=600)
        if check and r.returncode != 0:
            raise Failure(f"{argv[0]}: {r.stderr.strip()[-1500:]}")
        return r

    def pg_ctl(*argv, check=True):
        return as_user(f"{a.bin_dir}/pg_ctl", "-D", data, "-w", "-t", "300", "-l", f"{work}/log", "-o",
                       f"-p {a.port} -k {sockets} -c listen_addresses='' -c shared_buffers=1MB", *argv, check=check)

    def sql(text):
        return as_user(a.psql, "-h", sockets, "-p", str(a.port), "-U", "postgres", "-d", "postgres", "-At",
                       "-v", "ON_ERROR_STOP=1", "-c", text).stdout.strip()

    def hashes():
        return tree_hashes(data), tree_hashes(wal), tree_hashes(space)

    def tool(argv, codes=(0,)):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if r.returncode not in codes:
            raise Failure(f"{' '.join(argv[:2])}: exit {r.returncode}\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
        return r

    try:
        as_user("mkdir", sockets, space)
        as_user(f"{a.bin_dir}/initdb", "-U", "postgres", "-k", "-X", wal, "-D", data)
        pg_ctl("start")
        sql(f"CREATE TABLESPACE \"t s\" LOCATION '{space}'")
        sql("CREATE TABLE far (id int, pad text) TABLESPACE \"t s\"")
        sql(f"INSERT INTO far SELECT g, repeat('f', 200) FROM generate_series(1, {ROWS_FAR}) g")
        sql(f"CREATE TABLE near AS SELECT g AS id FROM generate_series(1, {ROWS_NEAR}) g")
        sql("CHECKPOINT")
        sql(f"INSERT INTO far SELECT g, repeat('l', 200) FROM generate_series(1, {ROWS_LATE}) g")
        pg_ctl("-m", "immediate", "stop")
        given = data + "/"
        before = hashes()

        # Every read-only tool, and salvage, on the crashed cluster.
        tool([a.inspect, "-D", given])
        doc = plan(a, given)
        if doc["remedies"][0]["code"] != "start-server":
            raise Failure(f"first remedy {doc['remedies'][0]['code']}, not start-server")
        checked = json.loads(tool([a.check, "--json", given], (0, 1)).stdout)
        far = [r for r in checked["relations"] if r["name"] == "postgres.public.far"]
        if not far or not far[0]["relation"].startswith("pg_tblspc/"):
            raise Failure(f"check does not name the tablespace's table: {far}")
        out = os.path.join(work, "salvage out")
        tool([a.salvage, "--bindir", a.bin_dir, "--out", out, given])
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        saved = {t["name"]: t["rows_saved"] for d in report["databases"] if d["name"] == "postgres"
                 for t in d["tables"]}
        if saved.get("public.far") != ROWS_FAR + ROWS_LATE or saved.get("public.near") != ROWS_NEAR:
            raise Failure(f"salvage saved {saved}")
        if hashes() != before:
            raise Failure("a read-only tool or salvage changed the data, WAL or tablespace directory")
        print(f"inspect, plan (start-server), check ({far[0]['relation']}), salvage {saved}: nothing changed")

        # The WAL lost: the plan's reset, its undo, the reset again.
        for name in os.listdir(wal):
            if os.path.isfile(os.path.join(wal, name)):
                os.remove(os.path.join(wal, name))
        lost = hashes()
        ours = page_lsn_max([os.path.join(data, "base"), os.path.join(data, "global"), space])
        doc = plan(a, given)
        top = follow_top_remedy(a, doc, "reset")
        control = json.loads(tool([a.inspect, "--json", "-D", given]).stdout)
        redo = lsn(control["checkpoint"]["redo_lsn"])
        if redo <= ours:
            raise Failure(f"the reset's WAL starts at {control['checkpoint']['redo_lsn']}, not past the largest "
                          f"page LSN {ours:X} (tablespace included)")
        undo = [c for c in tool([a.reset, "--undo", "-D", given]).stdout.splitlines()]
        if hashes() != lost:
            raise Failure(f"--undo did not put every byte back: {undo}")
        top = follow_top_remedy(a, plan(a, given), "reset")
        pg_ctl("start")
        sql("CHECKPOINT")
        near, far_rows = sql("SELECT count(*) FROM near"), sql("SELECT count(*) FROM far")
        pg_ctl("-m", "fast", "stop")
        if near != str(ROWS_NEAR):
            raise Failure(f"near has {near} rows after the reset, not {ROWS_NEAR}")
        print(f"lost WAL: reset as printed ({' && '.join(top['commands'])[:300]}), WAL from {redo:X} past the "
              f"largest page LSN {ours:X}; --undo restored every byte; reset again: the server starts, near "
              f"{near} rows, far {far_rows} (those after the checkpoint are the reset's loss)")
        return 0
    finally:
        pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(other, ignore_errors=True)


if __name__ == "__main__":
    run(main)
