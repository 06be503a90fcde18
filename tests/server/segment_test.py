#!/usr/bin/env python3
"""pgrescue-check on a relation whose middle segment is gone, on a real server.

The builds have 1 GB segments (RELSEG_SIZE 131072 blocks of 8192), so the
relation is made to span three segments with sparse files, on a cluster
without data checksums (a page copied to another block number would fail its
checksum there):
  - a table of a few blocks is written, checkpointed, the server stopped;
  - segment 0 is extended to exactly 1 GB with truncate (its tail is holes:
    all-zero pages, which the server takes for new, empty pages);
  - segment .1 is a sparse 1 GB file;
  - segment .2 holds a copy of segment 0's first k blocks.
The server counts twice the rows: its mdnblocks() walks the segments while
they are full and adds the blocks of the first one that is not. pgrescue-check
finds nothing wrong.

Then segment .1 is removed. pgrescue-check must exit 1 with exactly one
structural finding, the missing segment, and no damaged block. The server
reports nothing: mdnblocks() stops at the first segment it cannot open, so
the relation ends after segment 0 and the count is the original one, without
an error. pgrescue-check names a loss the server does not report.

Last, segment .1 is put back truncated to three blocks while .2 still exists:
pgrescue-check reports a short segment followed by another; the server again
counts only segment 0's rows (the relation ends three blocks into .1), while
its pg_relation_size, which adds up the segment files' sizes, still counts
.2's blocks.

Sparse files stay sparse: nothing here reads or writes the holes but the
server's scans, and the
autovacuum launcher is off so no vacuum initialises the empty pages.
"""
import argparse
import os
import shutil
import tempfile

from pgtest import Cluster, Failure, run

PAGE = 8192
SEGMENT_BLOCKS = 131072
SEGMENT_BYTES = SEGMENT_BLOCKS * PAGE

SETUP_SQL = [
    "CREATE TABLE s (id int, pad text) WITH (autovacuum_enabled = false)",
    "INSERT INTO s SELECT i, repeat('s', 200) FROM generate_series(1, 300) i",
    "SELECT count(*) FROM s",  # hint bits, so that reading does not dirty the pages
    "CHECKPOINT",
]


class SegmentCluster(Cluster):
    """No checksums (the copied blocks would fail theirs at other block numbers) and no autovacuum (it
    would fill the sparse holes)."""

    def __init__(self, a, base, name):
        super().__init__(a, base, name, settings=("autovacuum=off",))

    def count(self):
        """What the server says to count(*): (rows, the relation's blocks as the server reads them, its
        pg_relation_size in blocks, what it said: psql's stderr and the server log's WARNING, ERROR, FATAL
        and PANIC lines of this run); the numbers None if count(*) failed."""
        log = f"{self.data}.log"
        at = os.path.getsize(log) if os.path.exists(log) else 0
        self.start()
        try:
            r = self.sql("SELECT count(*) FROM s", check=False)
            if r.returncode == 0:
                # ANALYZE sets relpages to the server's own relation size
                # (mdnblocks); pg_relation_size adds up the segment files'
                # sizes up to the first missing one, short ones or not.
                self.sql("ANALYZE s")
                r.stdout += "|" + self.sql("SELECT relpages, pg_relation_size('s') / 8192 FROM pg_class "
                                           "WHERE relname = 's'").stdout
        finally:
            # Up to the stop: a fast shutdown that meets a backend still
            # exiting logs "terminating connection due to administrator
            # command", which is the stop's, not the relation's.
            end = os.path.getsize(log)
            self.stop()
        with open(log, "rb") as f:
            f.seek(at)
            text = f.read(end - at).decode(errors="replace")
        said = [line.strip() for line in text.splitlines()
                if any(w in line for w in ("WARNING:", "ERROR:", "FATAL:", "PANIC:"))]
        said = "\n".join(([r.stderr.strip()] if r.stderr.strip() else []) + said)
        if r.returncode != 0:
            return None, None, None, said
        rows, blocks, size = r.stdout.replace("\n", "").split("|")
        return int(rows), int(blocks), int(size), said


def sparse_file(path, size, user):
    """A file of `size` bytes that is all holes, owned by the server's user."""
    with open(path, "wb"):
        pass
    os.truncate(path, size)
    os.chmod(path, 0o600)
    shutil.chown(path, user, user)


def allocated(path):
    return os.stat(path).st_blocks * 512


def main():
    ap = argparse.ArgumentParser()
    for name in ("--bin-dir", "--psql", "--check", "--user", "--label"):
        ap.add_argument(name, required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix=f"pgrescue-segment-{a.label}-")
    shutil.chown(base, a.user)
    try:
        c = SegmentCluster(a, base, "data")
        c.initdb(checksums=False)
        c.start()
        try:
            for statement in SETUP_SQL:
                c.sql(statement)
            rel = c.sql("SELECT pg_relation_filepath('s')").stdout.strip()
            rows = int(c.sql("SELECT count(*) FROM s").stdout)
        finally:
            c.stop()
        seg0 = os.path.join(c.data, rel)
        seg1, seg2 = seg0 + ".1", seg0 + ".2"
        k = os.path.getsize(seg0) // PAGE
        if k < 2 or os.path.getsize(seg0) != k * PAGE:
            raise Failure(f"{rel}: {os.path.getsize(seg0)} bytes after the inserts")
        code, doc = c.check()
        if code != 0 or doc["damaged"] or doc["structural"] or doc["checksums"]:
            raise Failure(f"clean cluster: exit {code}, damaged {doc['damaged'][:3]}, structural {doc['structural']}, "
                          f"checksums {doc['checksums']}")

        # Three segments: 0 full (k real blocks, then holes), 1 all holes, 2
        # a copy of 0's k real blocks.
        with open(seg0, "rb") as f:
            real = f.read(k * PAGE)
        os.truncate(seg0, SEGMENT_BYTES)
        sparse_file(seg1, SEGMENT_BYTES, a.user)
        with open(seg2, "wb") as f:
            f.write(real)
        os.chmod(seg2, 0o600)
        shutil.chown(seg2, a.user, a.user)

        def still_sparse():
            for path in (seg0, seg1):
                if os.path.exists(path) and allocated(path) > 64 * PAGE:
                    raise Failure(f"{path} is no longer sparse: {allocated(path)} bytes allocated")

        still_sparse()
        three = 2 * SEGMENT_BLOCKS + k
        seen, blocks, size, err = c.count()
        if (seen, blocks, size) != (2 * rows, three, three) or err:
            raise Failure(f"three segments: the server counted {seen} rows in {blocks} blocks, pg_relation_size "
                          f"{size} blocks (expected {2 * rows} in {three}): {err}")
        still_sparse()
        print(f"{a.label}: {rel} in three segments ({k} real blocks in 0 and in .2, holes between): the server "
              f"counts {seen} rows (2 x {rows}) in {blocks} blocks")
        code, doc = c.check()
        if code != 0 or doc["damaged"] or doc["structural"]:
            raise Failure(f"three segments: exit {code}, damaged {doc['damaged'][:3]}, structural {doc['structural']}")
        print(f"{a.label}: pgrescue-check: no damage in {doc['blocks']} blocks")

        # The middle segment removed.
        os.remove(seg1)
        code, doc = c.check()
        structural = [(s["file"], s["problem"]) for s in doc["structural"]]
        if code != 1 or structural != [(rel + ".1", "missing-segment")] or doc["damaged"]:
            raise Failure(f"without .1: exit {code}, structural {doc['structural']}, damaged {doc['damaged'][:3]}")
        message = doc["structural"][0]["message"]
        if f"blocks {SEGMENT_BLOCKS} to {2 * SEGMENT_BLOCKS - 1} are gone" not in message:
            raise Failure(f"without .1: {message}")
        print(f"{a.label}: pgrescue-check without .1: {message}")
        # The server's mdnblocks() stops at the first segment it cannot open:
        # the relation ends after segment 0, and nothing is said.
        seen, blocks, size, err = c.count()
        if (seen, blocks, size) != (rows, SEGMENT_BLOCKS, SEGMENT_BLOCKS) or err:
            raise Failure(f"without .1: the server counted {seen} rows in {blocks} blocks, pg_relation_size "
                          f"{size} blocks (expected {rows} in {SEGMENT_BLOCKS}, silently): {err}")
        still_sparse()
        print(f"{a.label}: the server without .1: {seen} rows in {blocks} blocks (pg_relation_size too), no error "
              f"or warning; .2's {rows} rows are not seen")

        # Segment .1 short (three blocks of holes) with .2 after it.
        sparse_file(seg1, 3 * PAGE, a.user)
        code, doc = c.check()
        structural = [(s["file"], s["problem"]) for s in doc["structural"]]
        if code != 1 or structural != [(rel + ".1", "short-segment")] or doc["damaged"]:
            raise Failure(f".1 short: exit {code}, structural {doc['structural']}, damaged {doc['damaged'][:3]}")
        print(f"{a.label}: pgrescue-check with .1 three blocks long: {doc['structural'][0]['message']}")
        # The scan ends three blocks into .1; pg_relation_size still counts
        # .2's bytes, so the server's two sizes disagree and nothing is said.
        seen, blocks, size, err = c.count()
        if (seen, blocks, size) != (rows, SEGMENT_BLOCKS + 3, SEGMENT_BLOCKS + 3 + k) or err:
            raise Failure(f".1 short: the server counted {seen} rows in {blocks} blocks, pg_relation_size {size} "
                          f"blocks (expected {rows} in {SEGMENT_BLOCKS + 3}, pg_relation_size "
                          f"{SEGMENT_BLOCKS + 3 + k}, silently): {err}")
        still_sparse()
        print(f"{a.label}: the server with .1 short: {seen} rows in {blocks} blocks, no error or warning, yet "
              f"pg_relation_size says {size} blocks (.2's {k} included)")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run(main)
