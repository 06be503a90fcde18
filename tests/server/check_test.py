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

A second cluster, without checksums, is damaged where checksums cannot see:
  - table a, block 5: line pointer 2 moved off alignment;
  - table a, block 6: tuple 1's t_hoff moved past where its data begins;
  - table a, block 7: tuple 3's xmin set past the cluster's next XID;
  - index a_pkey, block 2 (a leaf): its special space grown by 8 bytes;
  - table w: one pg_attribute row deleted (the server's "catalog is missing
    1 attribute(s)");
  - table gone: its file removed;
  - table dropped: dropped, and a copy of its file put back (an orphan).
pgrescue-check must report exactly these, with names. On Debian's 15 its
tuple findings must equal amcheck's verify_heapam. The server must refuse
the index block, the missing file and the broken attribute list by the same
numbers.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile

from pgtest import Cluster, Failure, patch, read, run

SETUP_SQL = [
    "CREATE TABLE t (id int PRIMARY KEY, pad text)",
    "INSERT INTO t SELECT i, repeat('p', 200) FROM generate_series(1, 6000) i",
    "CREATE TABLE u (id int)",
    "INSERT INTO u SELECT generate_series(1, 2000)",
    "CHECKPOINT",
]


LOGICAL_SQL = [
    "CREATE TABLE a (id int PRIMARY KEY, v int)",
    "INSERT INTO a SELECT i, i FROM generate_series(1, 6000) i",
    "CREATE TABLE w (x int, y int, z int)",
    "INSERT INTO w SELECT i, i, i FROM generate_series(1, 10) i",
    "CREATE TABLE gone (id int)",
    "INSERT INTO gone SELECT generate_series(1, 100)",
    "CREATE TABLE dropped (id int)",
    "INSERT INTO dropped SELECT generate_series(1, 1000)",
    "SELECT count(*) FROM a", "SELECT count(*) FROM dropped",  # hint bits
    "CHECKPOINT",
]


def item(path, block, offset):
    """A line pointer's (lp_off, flags, lp_len) and its byte position."""
    at = block * 8192 + 24 + 4 * (offset - 1)
    word = int.from_bytes(read(path, at, 4), "little")
    return at, word & 0x7FFF, (word >> 15) & 3, word >> 17


def hidden_damage(a, base):
    c = Cluster(a, base, "logical")
    c.initdb(checksums=False)
    c.start()
    try:
        for statement in LOGICAL_SQL:
            c.sql(statement)
        if a.pg_checksums:
            c.sql("CREATE EXTENSION amcheck")
        paths = {r: c.sql(f"SELECT pg_relation_filepath('{r}')").stdout.strip() for r in ("a", "a_pkey", "gone", "dropped")}
        w_oid = int(c.sql("SELECT 'w'::regclass::oid").stdout)
        dropped_copy = os.path.join(base, "dropped.copy")
        shutil.copyfile(os.path.join(c.data, paths["dropped"]), dropped_copy)
        c.sql("DROP TABLE dropped")
        c.sql("DELETE FROM pg_attribute WHERE attrelid = 'w'::regclass AND attnum = 2")
        missing = c.sql("SELECT * FROM w", check=False).stderr.strip()
        # Before 12 the server says "for relid N".
        if not re.search(rf"catalog is missing 1 attribute\(s\) for (relid|relation OID) {w_oid}\b", missing):
            raise Failure(f"after deleting w's attribute the server said: {missing}")
        next_xid = int(c.sql("SELECT txid_current()").stdout) + 1000
        c.sql("CHECKPOINT")
    finally:
        c.stop()
    code, doc = c.check()
    if code != 1 or doc["damaged"] or doc["tuple_problems"] or doc["structural"] or len(doc["catalog_problems"]) != 1:
        raise Failure(f"before the damage on disk: exit {code}, {doc['damaged']} {doc['tuple_problems']} "
                      f"{doc['catalog_problems']}")

    af, xf = (os.path.join(c.data, paths[r]) for r in ("a", "a_pkey"))
    at, off, flags, length = item(af, 5, 2)
    patch(af, at, (off + 1 | flags << 15 | length << 17).to_bytes(4, "little"))
    _, off6, _, _ = item(af, 6, 1)
    patch(af, 6 * 8192 + off6 + 22, bytes([32]))
    _, off7, _, _ = item(af, 7, 3)
    patch(af, 7 * 8192 + off7, next_xid.to_bytes(4, "little"))
    patch(xf, 2 * 8192 + 16, (8168).to_bytes(2, "little"))
    os.remove(os.path.join(c.data, paths["gone"]))
    shutil.copyfile(dropped_copy, os.path.join(c.data, paths["dropped"]))
    shutil.chown(os.path.join(c.data, paths["dropped"]), a.user)

    code, doc = c.check()
    tuples = {(t["file"], t["block"], t["offset"], t["message"]) for t in doc["tuple_problems"]}
    expected = {(paths["a"], 5, 2, f"line pointer to page offset {off + 1} is not maximally aligned"),
                (paths["a"], 6, 1, "tuple data should begin at byte 24, but actually begins at byte 32 "
                                   "(2 attributes, no nulls)")}
    future = [t for t in tuples if t[1] == 7 and t[2] == 3 and t[3].startswith(f"xmin {next_xid} equals or exceeds")]
    damaged = {(d["file"], d["block"], d["problem"]) for d in doc["damaged"]}
    catalog = sorted(p["message"] for p in doc["catalog_problems"])
    want_catalog = sorted([f"pg_attribute catalog is missing 1 attribute(s) for relation OID {w_oid}",
                           f"{paths['dropped']}: the file of postgres.public.dropped, whose pg_class row was deleted "
                           f"(a dropped relation), still holds {os.path.getsize(dropped_copy)} bytes: an orphan",
                           f"postgres.public.gone (table) has no file: its first segment, file "
                           f"{paths['gone'].split('/')[-1]} in database {paths['gone'].split('/')[-2]}, is missing"])
    if (code != 1 or tuples - set(future) != expected or len(future) != 1 or
            damaged != {(paths["a_pkey"], 2, "btree")} or catalog != want_catalog or doc["structural"]):
        raise Failure(f"hidden damage: exit {code}\n tuples {sorted(tuples)}\n  want {sorted(expected)} + xmin "
                      f"{next_xid}\n damaged {damaged}\n catalog {catalog}\n  want {want_catalog}")
    names = {t["name"] for t in doc["tuple_problems"]} | {d["name"] for d in doc["damaged"]}
    if names != {"postgres.public.a", "postgres.public.a_pkey"}:
        raise Failure(f"hidden damage named {names}")
    print(f"{a.label}: hidden damage found exactly: {len(tuples)} tuples, {sorted(damaged)}, {catalog}; "
          f"{doc['relations_named']} relations named")

    r = subprocess.run([a.check, "--json", "--relation", "public.a", c.data], capture_output=True, text=True)
    only = json.loads(r.stdout) if r.returncode == 1 else {}
    if (r.returncode != 1 or {x["name"] for x in only["relations"]} != {"postgres.public.a", "postgres.public.a_pkey"} or
            len(only["tuple_problems"]) != 3 or len(only["damaged"]) != 1 or only["catalog_problems"]):
        raise Failure(f"--relation public.a: exit {r.returncode}, {r.stderr.strip()} {only.get('relations')}")
    r = subprocess.run([a.check, "--relation", "nosuch", c.data], capture_output=True, text=True)
    if r.returncode != 2 or 'no relation named "nosuch"' not in r.stderr or r.stdout:
        raise Failure(f"--relation nosuch: exit {r.returncode}, {r.stderr.strip()}")
    print(f"{a.label}: --relation public.a checks {only['files']} files, a and a_pkey; an unknown name: "
          f"{r.stderr.strip()}")

    c.start()
    try:
        if a.pg_checksums:
            rows = c.sql("SELECT blkno, offnum, msg FROM verify_heapam('a')").stdout.strip().splitlines()
            theirs = {(paths["a"], int(b), int(o), m) for b, o, m in (r.split("|", 2) for r in rows)}
            if theirs != tuples:
                raise Failure(f"amcheck's verify_heapam found {sorted(theirs)}; pgrescue-check {sorted(tuples)}")
            print(f"{a.label}: tuple findings equal amcheck's verify_heapam: {sorted(theirs)}")
        index = c.sql("SET enable_seqscan = off; SET enable_bitmapscan = off; "
                      "SELECT count(*) FROM a WHERE id > 0", check=False).stderr
        gone = c.sql("SELECT * FROM gone", check=False).stderr
        broken = c.sql("SELECT * FROM w", check=False).stderr
    finally:
        c.stop()
    said = {'index "a_pkey" contains corrupted page at block 2': index,
            f'could not open file "{paths["gone"]}"': gone,
            f"catalog is missing 1 attribute(s) for": broken}
    for words, stderr in said.items():
        if words not in stderr or (stderr is broken and not re.search(rf"\b{w_oid}\b", stderr)):
            raise Failure(f"the server was expected to say '{words}', said: {stderr.strip()}")
    lines = [next(line for line in stderr.splitlines() if words.split(" for")[0] in line) for words, stderr in said.items()]
    print(f"{a.label}: the server refuses the same: {'; '.join(lines)}")


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
        hidden_damage(a, base)
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run(main)
