#!/usr/bin/env python3
"""pgrescue-check against real damage on a real server.

A cluster (with data checksums unless --no-checksums) gets a table of a few
hundred blocks with an index and a second small table; it is stopped, and
damage is injected the way disks and crashes do it:
  - a bit flipped in the middle of heap block 1;
  - heap block 2's page header zeroed (pd_upper 0, the rest not zero);
  - heap block 3 torn: its second half copied from block 4;
  - a bit flipped in the middle of index block 1;
  - the second table's file cut to two blocks and 100 bytes.
pgrescue-check must report exactly the damage it can see (without checksums
a change behind an intact header is invisible offline, as it is to the
server), the cut file as a partial block, and nothing else. With Debian's
pg_checksums its checksum findings must equal pg_checksums --check's. The
server, started on the damaged cluster, must refuse a damaged block by the
same number. A crashed cluster (stopped with -m immediate) is refused by
pg_checksums and checked by pgrescue-check.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from pgtest import Failure

SETUP_SQL = [
    "CREATE TABLE t (id int PRIMARY KEY, pad text)",
    "INSERT INTO t SELECT i, repeat('p', 200) FROM generate_series(1, 6000) i",
    "CREATE TABLE u (id int)",
    "INSERT INTO u SELECT generate_series(1, 2000)",
    "CHECKPOINT",
]


class Cluster:
    def __init__(self, a, base, name):
        self.a, self.base = a, base
        self.data = os.path.join(base, name)

    def as_user(self, *argv, check=True):
        r = subprocess.run(["runuser", "-u", self.a.user, "--", "env", "LANG=C", "LC_ALL=C", *argv],
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise Failure(f"{argv[0]} failed: {r.stderr.strip()}")
        return r

    def initdb(self, checksums):
        self.as_user(f"{self.a.bin_dir}/initdb", "-U", "postgres", *(["-k"] if checksums else []), "-D", self.data)

    def start(self):
        self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-l", f"{self.data}.log", "-o",
                     f"-p {self.a.port} -k {self.base} -c listen_addresses=''", "start")

    def stop(self, mode="fast"):
        self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop", check=False)

    def sql(self, text, check=True):
        return self.as_user(self.a.psql, "-h", self.base, "-p", str(self.a.port), "-U", "postgres", "-d",
                            "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", text, check=check)

    def check(self):
        r = subprocess.run([self.a.check, "--json", "--jobs", "2", self.data], capture_output=True, text=True)
        if r.returncode not in (0, 1):
            raise Failure(f"pgrescue-check exit {r.returncode}: {r.stderr}")
        return r.returncode, json.loads(r.stdout)


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def read(path, offset, size):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def main():
    ap = argparse.ArgumentParser()
    for name in ("--bin-dir", "--psql", "--check", "--user", "--label"):
        ap.add_argument(name, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pg-checksums", help="Debian's pg_checksums, to compare with")
    ap.add_argument("--no-checksums", action="store_true")
    a = ap.parse_args()
    checksums = not a.no_checksums
    base = tempfile.mkdtemp(prefix=f"pgrescue-check-{a.label}-")
    shutil.chown(base, a.user)
    try:
        c = Cluster(a, base, "data")
        c.initdb(checksums)
        c.start()
        try:
            for statement in SETUP_SQL:
                c.sql(statement)
            t, idx, u = (c.sql(f"SELECT pg_relation_filepath('{r}')").stdout.strip() for r in ("t", "t_pkey", "u"))
        finally:
            c.stop()
        code, doc = c.check()
        if code != 0 or doc["damaged"] or doc["structural"] or doc["checksums"] != checksums:
            raise Failure(f"clean cluster: exit {code}, damaged {doc['damaged'][:3]}, structural {doc['structural']}")

        page = 8192
        tf, xf, uf = (os.path.join(c.data, p) for p in (t, idx, u))
        patch(tf, 1 * page + 4000, bytes([read(tf, 1 * page + 4000, 1)[0] ^ 0x10]))
        patch(tf, 2 * page, bytes(24))
        patch(tf, 3 * page + page // 2, read(tf, 4 * page + page // 2, page // 2))
        patch(xf, 1 * page + 4000, bytes([read(xf, 1 * page + 4000, 1)[0] ^ 0x10]))
        code, doc = c.check()
        found = {(d["file"], d["block"]) for d in doc["damaged"]}
        # Without checksums only the zeroed header shows: the other changes
        # leave a sane header, and the server would read those pages too.
        expected = {(t, 1), (t, 2), (t, 3), (idx, 1)} if checksums else {(t, 2)}
        if code != 1 or found != expected or doc["structural"]:
            raise Failure(f"damage found {sorted(found)}, injected (visible) {sorted(expected)}; "
                          f"structural {doc['structural']}")
        problems = {(d["file"], d["block"]): d["problem"] for d in doc["damaged"]}
        if problems[(t, 2)] != "not-zero":
            raise Failure(f"a zeroed header reads as {problems[(t, 2)]}")
        names = {d["block"]: d["name"] for d in doc["damaged"] if d["file"] == t}
        if any(n != "postgres.public.t" for n in names.values()):
            raise Failure(f"damaged blocks named {names}")
        print(f"{a.label}: injected damage found exactly: {sorted(found)}")

        def pg_checksums():
            return c.as_user(a.pg_checksums, "--check", "-D", c.data, check=False)

        if a.pg_checksums:
            r = pg_checksums()
            theirs = {(os.path.relpath(f, c.data), int(b), int(calc, 16), int(stored, 16)) for f, b, calc, stored in
                      re.findall(r'file "([^"]+)", block (\d+): calculated checksum ([0-9A-F]+) but block contains '
                                 r'([0-9A-F]+)', r.stderr)}
            ours = {(d["file"], d["block"], d["checksum_calculated"], d["checksum_stored"]) for d in doc["damaged"]
                    if "checksum" in d["problem"]}
            if theirs != ours:
                raise Failure(f"pg_checksums found {sorted(theirs)}; pgrescue-check {sorted(ours)}\n{r.stderr}")
            print(f"{a.label}: checksum findings equal pg_checksums --check's: {sorted(theirs)} (it skips the "
                  f"zeroed header: pd_upper 0 is a new page to it)")

        os.truncate(uf, 2 * page + 100)
        code, doc = c.check()
        structural = [(s["file"], s["problem"]) for s in doc["structural"]]
        if code != 1 or structural != [(u, "partial-block")] or {(d["file"], d["block"]) for d in doc["damaged"]} != found:
            raise Failure(f"after cutting {u}: structural {structural}, damaged {doc['damaged'][:5]}")
        print(f"{a.label}: {u} cut to 2 blocks and 100 bytes: a partial block, the rest still checked")
        if a.pg_checksums:
            r = pg_checksums()
            if f'could not read block 2 in file "{uf}": read 100 of 8192' not in r.stderr:
                raise Failure(f"pg_checksums on the cut file said: {r.stderr.strip()}")
            print(f"{a.label}: pg_checksums stops there: {r.stderr.strip().splitlines()[-1]}")

        c.start()
        try:
            r = c.sql("SELECT count(*) FROM t", check=False)
        finally:
            c.stop()
        # Up to 17 the server names one block; 18 reads blocks in batches and
        # counts the invalid ones in a range.
        one = re.search(r"invalid page in block (\d+) of relation (\S+)", r.stderr)
        many = re.search(r'(\d+) invalid pages among blocks (\d+)\.\.(\d+) of relation "([^"]+)"', r.stderr)
        if one:
            agrees = (one.group(2), int(one.group(1))) in found
        elif many:
            count, first, last, rel = int(many.group(1)), int(many.group(2)), int(many.group(3)), many.group(4)
            agrees = count == sum(1 for f, b in found if f == rel and first <= b <= last)
        else:
            agrees = False
        if not agrees:
            raise Failure(f"the server's error does not match what pgrescue-check found ({sorted(found)}): "
                          f"{r.stderr.strip()}")
        print(f"{a.label}: the server refuses the same block: {r.stderr.strip().splitlines()[-1]}")

        crashed = Cluster(a, base, "crashed")
        crashed.initdb(checksums)
        crashed.start()
        try:
            for statement in SETUP_SQL[:2]:
                crashed.sql(statement)
        finally:
            crashed.stop("immediate")
        if a.pg_checksums:
            r = crashed.as_user(a.pg_checksums, "--check", "-D", crashed.data, check=False)
            if r.returncode == 0 or "cluster must be shut down" not in r.stderr:
                raise Failure(f"pg_checksums on a crashed cluster: exit {r.returncode}, {r.stderr.strip()}")
        code, doc = crashed.check()
        if code != 0 or doc["blocks"] == 0:
            raise Failure(f"crashed cluster: exit {code}, {doc['blocks']} blocks, {doc['damaged'][:3]}")
        print(f"{a.label}: a crashed cluster checked: {doc['blocks']} blocks, none damaged")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
