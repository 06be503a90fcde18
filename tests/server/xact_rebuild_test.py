#!/usr/bin/env python3
"""pgrescue-reset --rebuild-xact on a real server: lost pg_xact rebuilt from
evidence (WAL commit/abort records, hint bits, all-visible pages,
pg_commit_ts, surviving pg_xact segments), checked against the pg_xact the
server wrote itself.

One workload (database postgres, fsync=off, autovacuum=off so that only the
workload sets hint bits, max_prepared_transactions=5; --commit-ts adds
track_commit_timestamp=on): tables t and u, single-row committed inserts,
rolled-back transactions, savepoints rolled back to and released (and one
transaction with 70 subtransactions, past the 64 a backend caches), a
prepared transaction committed and one rolled back, updates, deletes, a
rolled-back update and delete; only the first pages of t are read (a
sequential scan with LIMIT), so t is partly hinted; VACUUM u sets its
all-visible bits; CHECKPOINT; more work, and one transaction (p4) left
prepared; clean stop. The stopped cluster is
copied once per scenario before anything reads it again; the original is then
started and its tables dumped (xmin, xmax, row) as the truth of the rows, and
its pg_xact as the truth of every XID's status.

  a  pg_xact's files deleted, WAL intact: the server's own refusal is
     recorded; -n writes nothing; the rebuild must decide every XID (no
     unknowns, no contradictions), each decision and the rebuilt status of
     every XID in t's and u's tuples equal to the truth, p4 "in progress";
     --undo puts the directory back byte for byte; rebuilt again, the server
     starts with every row as before, count(*) as the tool predicted, and p4
     still prepared (then committed).
  b  pg_xact and pg_wal emptied: without --unknown the tool must refuse when
     anything is unknown (exit 1, nothing written); every decision equals the
     truth, p4 (its state file in pg_twophase) "in progress"; with --unknown
     aborted, then pgrescue-reset --auto -f, the server starts; count(*) is
     the tool's prediction, every row whose XIDs were decided is one the server
     held before, and p4 is still prepared.
  c  (needs --resetwal) pg_resetwal -x to 0001, 0002, 0003's first XID with
     work between (table w never read: its rows keep no hint bits):
     pg_xact 0000-0003; 0001 deleted (its XIDs' WAL went with
     the resets): only 0001 is written, the others stay byte-identical, every
     decision equals the truth, --undo restores the tree; rebuilt again, the
     server starts and every row whose XIDs were decided is as before.
  d  a hint bit flipped against WAL on two tuples of t (HEAP_XMIN_INVALID on
     an unhinted committed insert, HEAP_XMIN_COMMITTED on a rolled-back
     insert), then pg_xact deleted: -n must list both XIDs as contradictions
     with both sides and decide them "unknown".

  e  a transaction cut short by a crash (-m immediate) after its rows reached
     the pages: with pg_xact deleted it is decided aborted by WAL's silence,
     nothing is unknown, and crash recovery then shows only committed rows.

  f  a primary key duplicated under --unknown committed (a rolled-back insert
     whose hint bit was never written, beside the committed row that took
     its key): the rebuild names k_pkey and both rows' ctids, and the server
     then returns the key twice.

--scenario all is a, b, d, e, f; a comma-separated list picks any (c needs
--resetwal). One SUMMARY line per run gives what each kind of evidence decided
in a and b and how many XIDs stayed unknown.
"""
import argparse
import glob
import json
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
import time

from pgtest import Cluster, Failure, run, tree_hashes

SEGMENT_XIDS = 32 * 32768  # pg_xact segment: 32 pages of 32768 XIDs (8 kB blocks)
TABLES = ("t", "u")
C_TABLES = ("t", "u", "w")
NOT_COMMITTED = "not committed"
HEAP_XMIN_COMMITTED, HEAP_XMIN_INVALID, HEAP_XMAX_IS_MULTI = 0x0100, 0x0200, 0x1000
PD_ALL_VISIBLE = 0x0004


# ---------------------------------------------------------------- the workload

def wide(tag, i):
    return f"'{tag}{i}-' || repeat('{tag}', 80)"


def incompressible(i):
    """About 1 kB of text: too wide for the free space left on any filled page, so the row goes to a new page."""
    return f"(SELECT string_agg(md5(g::text || '-{i}'), '') FROM generate_series(1, 30) g)"


def workload_before_checkpoint():
    """Statements for one psql session: each line outside BEGIN ... COMMIT is its own transaction. Updates and
    deletes touch only t's first pages (ids up to 150, read anyway) and its last (ids from 1001), so that pruning
    hint-marks none of the rest: ids 151-400 and the rolled-back inserts between them keep no hint bits."""
    s = ["CREATE TABLE t (id int PRIMARY KEY, v text);",
         "CREATE TABLE u (id int PRIMARY KEY, v text);"]
    s += [f"INSERT INTO t VALUES ({i}, {wide('t', i)});" for i in range(1, 251)]
    s += [f"BEGIN; INSERT INTO t VALUES ({i}, 'rolled back'); ROLLBACK;" for i in range(1001, 1011)]
    s += [f"INSERT INTO t VALUES ({i}, {wide('t', i)});" for i in range(251, 401)]
    s += [f"INSERT INTO u SELECT g, 'u' || g || '-' || repeat('u', 80) FROM generate_series({k}, {k + 29}) g;"
          for k in range(1, 301, 30)]
    s += ["BEGIN; INSERT INTO t VALUES (2001, 'top'); SAVEPOINT s; INSERT INTO t VALUES (2002, 'sub rolled back');"
          " ROLLBACK TO s; INSERT INTO t VALUES (2003, 'after rollback to'); COMMIT;",
          "BEGIN; INSERT INTO t VALUES (2011, 'top'); SAVEPOINT s; INSERT INTO t VALUES (2012, 'sub released');"
          " RELEASE s; INSERT INTO t VALUES (2013, 'after release'); COMMIT;",
          "BEGIN; INSERT INTO t VALUES (2021, 'top rolled back'); SAVEPOINT s;"
          " INSERT INTO t VALUES (2022, 'released, top rolled back'); RELEASE s; ROLLBACK;"]
    many = ["BEGIN;"]
    for k in range(70):  # more subtransactions than a backend caches (64)
        many.append(f"SAVEPOINT s{k}; INSERT INTO u VALUES ({3000 + k}, 'sub {k}');")
        many.append(f"ROLLBACK TO s{k};" if k % 10 == 3 else f"RELEASE s{k};")
    many.append("COMMIT;")
    s.append(" ".join(many))
    s += ["BEGIN; INSERT INTO t VALUES (4001, 'prepared, committed'); PREPARE TRANSACTION 'p1';",
          "COMMIT PREPARED 'p1';",
          "BEGIN; INSERT INTO t VALUES (4002, 'prepared, rolled back'); PREPARE TRANSACTION 'p2';",
          "ROLLBACK PREPARED 'p2';"]
    s += [f"UPDATE t SET v = v || '+' WHERE id = {i};" for i in range(5, 151, 7)]
    s += [f"DELETE FROM t WHERE id = {i};" for i in range(3, 151, 11)]
    s += ["BEGIN; UPDATE t SET v = 'update rolled back' WHERE id = 10; ROLLBACK;",
          "BEGIN; DELETE FROM t WHERE id = 12; ROLLBACK;",
          "UPDATE t SET v = 'updated twice' WHERE id = 2011;", "DELETE FROM t WHERE id = 2013;"]
    return "\n".join(s) + "\n"


# Only t's first pages: a sequential scan (page at a time: every tuple of a page
# read is hint-marked) stopped by LIMIT.
READ_HALF = ("SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_tidscan = off;"
             " SET synchronize_seqscans = off; SELECT count(*) FROM (SELECT * FROM t LIMIT 150) s;")


def workload_after_checkpoint():
    """After VACUUM u: u's changes go to new pages (rows too wide for the space left), so most of its pages
    stay all-visible. Transaction p4 stays prepared."""
    s = [f"INSERT INTO t VALUES ({i}, {wide('t', i)});" for i in range(401, 501)]
    s += [f"UPDATE t SET v = v || '#' WHERE id = {i};" for i in list(range(2, 151, 13)) + list(range(405, 501, 13))]
    s += [f"DELETE FROM t WHERE id = {i};" for i in list(range(6, 151, 17)) + list(range(410, 501, 17))]
    s += [f"INSERT INTO u VALUES ({i}, {incompressible(i)});" for i in range(301, 311)]
    s += [f"UPDATE u SET v = {incompressible(-i)} WHERE id = {i};" for i in range(1, 4)]
    s += ["DELETE FROM u WHERE id = 7;",
          "BEGIN; INSERT INTO t VALUES (1020, 'late rolled back'); ROLLBACK;",
          "BEGIN; INSERT INTO t VALUES (4003, 'late prepared'); PREPARE TRANSACTION 'p3';",
          "COMMIT PREPARED 'p3';",
          # Still prepared at the stop (after VACUUM u, so it held back no all-visible bit): "in progress".
          "BEGIN; INSERT INTO t VALUES (4004, 'still prepared'); PREPARE TRANSACTION 'p4';"]
    return "\n".join(s) + "\n"


def phase_workload(k):
    """Scenario c, phase k (0-3): rows k*10000+1..+60 of t read by index (hinted one by one), +61..+120 not read
    but on pages the next phases prune; table w is never read: no hint bits."""
    b = k * 10000
    s = ["CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int PRIMARY KEY, v text);"
         " CREATE TABLE w (id int PRIMARY KEY, v text);"] if k == 0 else []
    s += [f"INSERT INTO t VALUES ({b + i}, {wide('p', i)});" for i in range(1, 61)]
    s += [f"BEGIN; INSERT INTO t VALUES ({b + 500 + i}, 'rolled back, read'); ROLLBACK;" for i in range(3)]
    s += ["BEGIN; INSERT INTO u VALUES (%d, 'top'); SAVEPOINT s; INSERT INTO u VALUES (%d, 'sub rolled back');"
          " ROLLBACK TO s; SAVEPOINT r; INSERT INTO u VALUES (%d, 'sub released'); RELEASE r; COMMIT;"
          % (b + 1, b + 2, b + 3)]
    s += [f"SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(v) FROM t WHERE id BETWEEN {b + 1}"
          f" AND {b + 503}; SELECT count(v) FROM u WHERE id BETWEEN {b + 1} AND {b + 3}; RESET enable_seqscan;"
          " RESET enable_bitmapscan;"]
    s += [f"INSERT INTO t VALUES ({b + i}, {wide('q', i)});" for i in range(61, 121)]
    s += [f"INSERT INTO w VALUES ({b + i}, {wide('w', i)});" for i in range(1, 41)]  # w: never read
    s += [f"BEGIN; INSERT INTO w VALUES ({b + 600 + i}, 'rolled back, unread'); ROLLBACK;" for i in range(3)]
    s += [f"INSERT INTO u VALUES ({b + 10 + i}, 'u unread');" for i in range(5)]
    if k > 0:  # the previous phase's read rows: XIDs of this phase in their xmax
        p = (k - 1) * 10000
        s += [f"UPDATE t SET v = v || '{k}' WHERE id = {p + i};" for i in range(5, 61, 10)]
        s += [f"DELETE FROM t WHERE id = {p + i};" for i in range(8, 61, 10)]
        s += [f"BEGIN; DELETE FROM t WHERE id = {p + 2}; ROLLBACK;"]
    return "\n".join(s) + "\n"


# ---------------------------------------------------------------- truth and pages

def xact_status(xact_dir, xid):
    """2-bit status of xid in a pg_xact directory (0 in progress, 1 committed, 2 aborted, 3 subcommitted);
    None if its segment is absent or too short."""
    seg, within = divmod(xid, SEGMENT_XIDS)
    byte, shift = within // 4, (xid % 4) * 2
    for name in (f"{seg:04X}", f"{seg:015X}"):
        path = os.path.join(xact_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                f.seek(byte)
                b = f.read(1)
            return (b[0] >> shift) & 3 if b else None
    return None


def status_class(status):
    return {1: "committed", 0: NOT_COMMITTED, 2: NOT_COMMITTED}.get(status, status)


def decision_class(status):
    return {"committed": "committed", "aborted": NOT_COMMITTED, "in progress": NOT_COMMITTED}.get(status, status)


def heap_tuples(path):
    """(block, lp, offset in file, xmin, xmax, infomask, page all-visible, first column as int4) for each normal
    line pointer."""
    out = []
    for seg_path in [path] + sorted(glob.glob(path + ".[0-9]*"), key=lambda p: int(p.rsplit(".", 1)[1])):
        with open(seg_path, "rb") as f:
            data = f.read()
        first = 0 if seg_path == path else int(seg_path.rsplit(".", 1)[1]) * 131072
        for blk in range(len(data) // 8192):
            page = data[blk * 8192:(blk + 1) * 8192]
            if not any(page):
                continue
            flags, lower = struct.unpack_from("<HH", page, 10)
            for n, lp_at in enumerate(range(24, lower, 4), start=1):
                v = struct.unpack_from("<I", page, lp_at)[0]
                off, lflags, length = v & 0x7FFF, (v >> 15) & 3, v >> 17
                if lflags != 1 or length < 24:
                    continue
                xmin, xmax = struct.unpack_from("<II", page, off)
                infomask, hoff = struct.unpack_from("<HB", page, off + 20)
                first_col = struct.unpack_from("<i", page, off + hoff)[0] if hoff + 4 <= length else None
                out.append((first + blk, n, blk * 8192 + off, xmin, xmax, infomask, bool(flags & PD_ALL_VISIBLE),
                            first_col))
    return out


def tree_state(root):
    """Files with their SHA-256, and every directory."""
    dirs = sorted(os.path.relpath(d, root) for d, _, _ in os.walk(root))
    return tree_hashes(root), dirs


def state_diff(before, after):
    hb, db = before
    ha, da = after
    files = sorted(k for k in set(hb) | set(ha) if hb.get(k) != ha.get(k))
    dirs = sorted(set(db) ^ set(da))
    return files + [f"dir {d}" for d in dirs]


# ---------------------------------------------------------------- the cluster and the tool

class Server(Cluster):
    def try_start(self):
        """(started, the server's FATAL/PANIC/ERROR lines from this start)."""
        log = f"{self.data}.log"
        seen = os.path.getsize(log) if os.path.exists(log) else 0
        r = self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", log, "-o",
                         f"-p {self.a.port} -k {self.base} -c listen_addresses=''{self.settings}", "start",
                         check=False)
        said = []
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                f.seek(seen)
                said = [line.strip() for line in f if any(k in line for k in ("FATAL", "PANIC", "ERROR", "DETAIL"))]
        return r.returncode == 0, said

    def start(self):
        ok, said = self.try_start()
        if not ok:
            raise Failure(f"the server in {self.data} did not start: {said[-6:]}")

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def script(self, text):
        self.as_user(self.a.psql, "-h", self.base, "-p", str(self.a.port), "-U", "postgres", "-d", "postgres", "-q",
                     "-o", "/dev/null", "-v", "ON_ERROR_STOP=1", "-f", "-", stdin=text)

    def query(self, text):
        return self.sql(text).stdout

    def dump(self, tables=TABLES):
        """Per table: sorted rows as (xmin, xmax, id, v), and count(*)."""
        out = {}
        for t in tables:
            rows = []
            text = self.query(f"SELECT xmin::text, xmax::text, id, v FROM {t} ORDER BY id")
            for line in text.splitlines():
                xmin, xmax, rid, v = line.split("|", 3)
                rows.append((int(xmin), int(xmax), int(rid), v))
            count = int(self.query(f"SELECT count(*) FROM {t}").strip())
            out[t] = (rows, count)
        return out

    def log_lines(self, pattern, start=0):
        log = f"{self.data}.log"
        if not os.path.exists(log):
            return []
        with open(log, errors="replace") as f:
            f.seek(start)
            return [line.strip() for line in f if pattern in line]


def tool(a, *argv, want_json=True):
    """pgrescue-reset with argv: (exit status, parsed JSON or None, stdout+stderr)."""
    r = subprocess.run([a.reset, *argv], capture_output=True, text=True, timeout=300)
    said = (r.stdout + r.stderr).strip()
    doc = None
    if want_json:
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            raise Failure(f"pgrescue-reset {' '.join(argv)} exited {r.returncode} without JSON on stdout: "
                          f"{said[-2000:]}")
    return r.returncode, doc, said


class Checks:
    """Problems collected in a scenario, so that one run reports all it found."""

    def __init__(self, name):
        self.name, self.problems, self.notes = name, [], []

    def expect(self, ok, message):
        if not ok:
            self.problems.append(message)
        return ok

    def note(self, message):
        self.notes.append(message)


def plan_remedy(a, data, code):
    """pgrescue-plan --json on data: (its remedies' codes, the one named `code` or None)."""
    r = subprocess.run([a.plan, "--json", data], capture_output=True, text=True, timeout=300)
    if r.returncode not in (0, 1):
        raise Failure(f"pgrescue-plan exited {r.returncode}: {r.stderr.strip()[-1500:]}")
    remedies = json.loads(r.stdout)["remedies"]
    return [x["code"] for x in remedies], next((x for x in remedies if x["code"] == code), None)


def run_printed(a, command):
    """A command pgrescue-plan printed, run as printed (pgrescue-reset being the binary under test)."""
    argv = shlex.split(command)
    if argv[0] != "pgrescue-reset":
        raise Failure(f"the plan printed {command!r}, not a pgrescue-reset command")
    r = subprocess.run([a.reset, *argv[1:]], capture_output=True, text=True, timeout=300)
    return r.returncode, (r.stdout + r.stderr).strip()


def rebuilt_ranges(doc):
    """XID ranges [lo, hi) of the segments the report says it rebuilt."""
    out = []
    for s in doc.get("segments", []):
        seg = int(s["name"], 16)
        out.append((seg * SEGMENT_XIDS, (seg + 1) * SEGMENT_XIDS))
    return out


def in_ranges(xid, ranges):
    return any(lo <= xid < hi for lo, hi in ranges)


def check_decisions(ck, doc, truth_dir, ranges, what=""):
    """Every decided status equal to the truth; truth's subcommitted fails for a referenced XID. Returns the
    XIDs decided (status other than unknown)."""
    decided, wrong = set(), []
    for d in doc.get("decisions", []):
        xid, status = d["xid"], d["status"]
        ck.expect(in_ranges(xid, ranges), f"{what}decision for XID {xid} outside the rebuilt segments {ranges}")
        truth = xact_status(truth_dir, xid)
        if truth == 3 and d.get("referenced"):
            ck.expect(False, f"{what}truth has XID {xid} subcommitted after a clean stop (referenced)")
            continue
        if status == "unknown":
            continue
        decided.add(xid)
        if decision_class(status) != status_class(truth):
            wrong.append(f"XID {xid}: tool {status} by {d.get('by')}, truth {truth} ({status_class(truth)}), "
                         f"referenced {d.get('referenced')}")
    ck.expect(not wrong, f"{what}{len(wrong)} decisions differ from the truth: {wrong[:10]}")
    return decided


def relation_prediction(doc, table):
    for r in doc.get("relations", []):
        if r.get("name", "").endswith(f".public.{table}"):
            return r
    return None


def referenced_in_tables(data, filepaths):
    """Every xmin and plain (non-MultiXact) xmax >= 3 in the tables' heap files."""
    xids = set()
    for path in filepaths.values():
        for (_, _, _, xmin, xmax, infomask, _, _) in heap_tuples(os.path.join(data, path)):
            if xmin >= 3:
                xids.add(xmin)
            if xmax >= 3 and not infomask & HEAP_XMAX_IS_MULTI:
                xids.add(xmax)
    return xids


def tuples_needing_status(data, path):
    """Tuples whose visibility a reader must look up in pg_xact: xmin >= 3 without hint bits, or a plain xmax
    (not a MultiXact, not a mere lock) without hint bits."""
    n = 0
    for (_, _, _, xmin, xmax, infomask, _, _) in heap_tuples(os.path.join(data, path)):
        locker = infomask & 0x0080 or (infomask & (0x1000 | 0x0010 | 0x0040)) == 0x0040
        if (xmin >= 3 and not infomask & 0x0300) or \
                (xmax >= 3 and not infomask & (0x1000 | 0x0C00) and not locker):
            n += 1
    return n


def check_names_lost_status(a, ck, data, filepaths):
    """pgrescue-check on a cluster without pg_xact: per table, the tuples our own page reader says need a status."""
    r = subprocess.run([a.check, "--json", data], capture_output=True, text=True, timeout=300)
    if not ck.expect(r.returncode == 1, f"pgrescue-check exited {r.returncode} with pg_xact gone: {r.stderr[-800:]}"):
        return
    lost = json.loads(r.stdout).get("xact_unanswered") or {}
    by_file = {x["relation"]: x["tuples"] for x in lost.get("relations", [])}
    for t, path in filepaths.items():
        want = tuples_needing_status(data, path)
        ck.expect(by_file.get(path, 0) == want, f"pgrescue-check: {t} ({path}) has {by_file.get(path, 0)} tuples "
                                                f"needing a lost status, the pages say {want}")
    ck.note(f"pgrescue-check: {lost.get('xids')} XIDs rows need, in {len(by_file)} relations")


def check_rebuilt_files(ck, data, truth_dir, xids, ranges, skip=()):
    """The rebuilt pg_xact's status of each XID (in the rebuilt ranges, not in skip) in the truth's class."""
    wrong = []
    for x in sorted(xids):
        if not in_ranges(x, ranges) or x in skip:
            continue
        got, want = xact_status(os.path.join(data, "pg_xact"), x), xact_status(truth_dir, x)
        if status_class(got) != status_class(want):
            wrong.append(f"XID {x}: rebuilt {got}, truth {want}")
    ck.expect(not wrong, f"{len(wrong)} XIDs in t's and u's tuples have a rebuilt status unlike the truth: "
                         f"{wrong[:10]}")


def check_all_visible(ck, data, doc, filepaths, ranges):
    """An all-visible page (VACUUM u set them) answers for the inserters of its tuples. The tool counts it
    where the tuple has no xmin hint bit: every such XID must be decided by all_visible."""
    on_page, unhinted = set(), set()
    for path in filepaths.values():
        for x in heap_tuples(os.path.join(data, path)):
            if x[6] and x[3] >= 3 and in_ranges(x[3], ranges):
                on_page.add(x[3])
                if not x[5] & (HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID):
                    unhinted.add(x[3])
    by = {d["xid"]: d.get("by", []) for d in doc.get("decisions", [])}
    without = sorted(x for x in unhinted if "all_visible" not in by.get(x, []))
    ck.expect(not without, f"{len(without)} XIDs of unhinted tuples on all-visible pages of t/u are not decided "
                           f"by all_visible: {[(x, by.get(x)) for x in without[:5]]}")
    ck.note(f"{len(on_page)} XIDs are xmin of tuples on all-visible pages of t/u ({len(unhinted)} unhinted); "
            f"of them decided by all_visible: {sum(1 for x in on_page if 'all_visible' in by.get(x, []))}")


def check_owner(ck, data, doc):
    want = os.stat(data).st_uid
    for s in doc.get("segments", []):
        p = os.path.join(data, "pg_xact", s["name"])
        if os.path.exists(p):
            ck.expect(os.stat(p).st_uid == want, f"pg_xact/{s['name']} is owned by uid {os.stat(p).st_uid}, "
                                                   f"not the data directory's {want}")


def summary_of(doc):
    return (f"decided_by={json.dumps(doc.get('decided_by'), separators=(',', ':'))} "
            f"unknown={len(doc.get('unknown_xids', []))}")


def clear_dir(path):
    for name in os.listdir(path):
        p = os.path.join(path, name)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)


def rows_check(ck, before_rows, after_rows, decided, table):
    """Rows of the server after a rebuild with unknowns: every row it returns whose xmin and xmax (if any) were
    decided must have been there before; every row there before whose xmin was decided must still be there."""
    before = {r[2]: r for r in before_rows}
    after = {r[2]: r for r in after_rows}
    extra = [r for r in after_rows if decided(r[0]) and (r[1] == 0 or decided(r[1])) and before.get(r[2]) != r]
    lost = [r for r in before_rows if decided(r[0]) and after.get(r[2]) != r]
    ck.expect(not extra, f"{table}: {len(extra)} rows with decided XIDs that were not there before: "
                         f"{[r[:3] for r in extra[:8]]}")
    ck.expect(not lost, f"{table}: {len(lost)} rows with a decided xmin lost: {[r[:3] for r in lost[:8]]}")


# ---------------------------------------------------------------- setup

class Setup:
    """The stopped workload cluster, the truth of its rows and pg_xact, and copies of it."""

    def __init__(self, a, base, settings):
        self.a, self.base, self.settings = a, base, settings
        self.orig = Server(a, base, "orig", settings)
        self.truth = os.path.join(base, "truth-xact")

    def build(self):
        srv = self.orig
        srv.initdb(False)
        srv.start()
        try:
            srv.script(workload_before_checkpoint())
            srv.script(READ_HALF)
            srv.script("VACUUM u; CHECKPOINT;")
            srv.script(workload_after_checkpoint())
            self.filepaths = {t: srv.query(f"SELECT pg_relation_filepath('{t}')").strip() for t in TABLES}
            self.next_xid = int(srv.query("SELECT txid_current() % 4294967296").strip())
            self.prepared = int(srv.query("SELECT transaction::text FROM pg_prepared_xacts WHERE gid = 'p4'").strip())
        finally:
            srv.stop()
        if srv.running():
            raise Failure("the workload cluster did not stop")
        shutil.copytree(os.path.join(srv.data, "pg_xact"), self.truth)
        self.shape = {}
        for t in TABLES:
            tups = heap_tuples(os.path.join(srv.data, self.filepaths[t]))
            hinted = sum(1 for x in tups if x[5] & (HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID))
            pages = {x[0] for x in tups}
            allvis = {x[0] for x in tups if x[6]}
            self.shape[t] = (f"{len(tups)} tuples ({hinted} xmin-hinted) on {len(pages)} pages "
                             f"({len(allvis)} all-visible)")
        self.wal = sorted(os.listdir(os.path.join(srv.data, "pg_wal")))

    def snapshot(self, names):
        """Copies of the stopped cluster (owner and modes kept) for the scenarios, taken before anything reads
        its tables again (which would hint-mark every row)."""
        for name in names:
            subprocess.run(["cp", "-a", self.orig.data, os.path.join(self.base, f"{name}-src")], check=True)

    def copy(self, name):
        """The scenario's copy, as a Server."""
        os.rename(os.path.join(self.base, f"{name}-src"), os.path.join(self.base, name))
        return Server(self.a, self.base, name, self.settings)

    def read_truth(self):
        """Start the original (its copies stay as the workload left them), dump its tables, stop it."""
        self.orig.start()
        try:
            self.dump = self.orig.dump()
        finally:
            self.orig.stop()


# ---------------------------------------------------------------- scenarios

def scenario_a(a, setup, results):
    ck = Checks("a")
    srv = setup.copy("a")
    xact = os.path.join(srv.data, "pg_xact")
    clear_dir(xact)
    ok, said = srv.try_start()
    if ok:
        r = srv.sql("SELECT count(*) FROM t", check=False)
        ck.note(f"the server started without pg_xact; a query said {(r.stdout + r.stderr).strip()[:300]!r}")
        srv.stop()
    else:
        refusal = [l for l in said if "could not access status of transaction" in l or "Could not open file" in l]
        ck.expect(refusal, f"the server refused to start without pg_xact but not with a status error: {said[-5:]}")
        ck.note(f"the server refused: {' / '.join(refusal[:2])}")
    if os.path.exists(os.path.join(srv.data, "postmaster.pid")):
        raise Failure(f"a: postmaster.pid left after the failed start: {said}")
    before = tree_state(srv.data)
    rescue_glob = glob.glob(srv.data + ".pgrescue*")

    code, dry, out = tool(a, "--rebuild-xact", "-n", "--json", "-D", srv.data)
    ck.expect(code == 0, f"-n exited {code}: {out[-1500:]}")
    ck.expect(not state_diff(before, tree_state(srv.data)), f"-n changed {state_diff(before, tree_state(srv.data))}")
    ck.expect(glob.glob(srv.data + ".pgrescue*") == rescue_glob, "-n made a rescue folder")
    ck.expect(dry.get("written") is False, f"-n reports written={dry.get('written')}")

    code, doc, out = tool(a, "--rebuild-xact", "--json", "-D", srv.data)
    results["a"] = doc
    if not ck.expect(code == 0, f"--rebuild-xact exited {code}: {out[-3000:]}"):
        raise Failure(f"a: {ck.problems}")
    ranges = rebuilt_ranges(doc)
    truth_segments = sorted(os.listdir(setup.truth))
    ck.expect(sorted(s["name"] for s in doc["segments"]) == truth_segments,
              f"segments {doc['segments']}, the server had {truth_segments}")
    ck.expect(all(s["state"] == "missing" for s in doc["segments"]), f"segment states {doc['segments']}")
    ck.expect(doc.get("written") is True, f"written={doc.get('written')}")
    ck.expect(doc.get("unknown_xids") == [], f"unknown XIDs with WAL intact: {doc.get('unknown_xids')[:20]}")
    ck.expect(doc.get("contradictions") == [], f"contradictions: {doc.get('contradictions')[:10]}")
    ck.expect(dry.get("decisions") == doc.get("decisions"), "-n and the rebuild decided differently")
    decided = check_decisions(ck, doc, setup.truth, ranges)
    committed_truth = [d["xid"] for d in doc["decisions"] if xact_status(setup.truth, d["xid"]) == 1]
    ck.expect(all(d["status"] == "committed" for d in doc["decisions"] if d["xid"] in set(committed_truth)),
              "an XID the server committed is not decided committed")
    referenced = referenced_in_tables(srv.data, setup.filepaths)
    by_xid = {d["xid"]: d for d in doc["decisions"]}
    p4 = by_xid.get(setup.prepared)
    ck.expect(p4 is not None and p4["status"] == "in progress",
              f"the still-prepared transaction {setup.prepared} is decided {p4}")
    in_range = {x for x in referenced if in_ranges(x, ranges)}
    ck.expect(doc.get("referenced_xids", 0) >= len(in_range),
              f"referenced_xids {doc.get('referenced_xids')} < {len(in_range)} distinct XIDs in t's and u's tuples")
    unflagged = sorted(x for x in in_range if x in by_xid and not by_xid[x].get("referenced"))
    ck.expect(not unflagged, f"XIDs in t's and u's tuples with referenced false: {unflagged[:10]}")
    missing = sorted(x for x in referenced if x not in decided and x != setup.prepared)
    ck.expect(not missing, f"XIDs in t's and u's tuples with no decision: {missing[:20]}")
    check_rebuilt_files(ck, srv.data, setup.truth, referenced | decided, ranges)
    check_owner(ck, srv.data, doc)
    check_all_visible(ck, srv.data, doc, setup.filepaths, ranges)
    ck.note(f"referenced_xids {doc.get('referenced_xids')}, {len(doc['decisions'])} decisions, "
            f"{len(referenced)} XIDs in t and u; segments {doc['segments']}")

    code, _, out = tool(a, "--undo", "-D", srv.data, want_json=False)
    ck.expect(code == 0, f"--undo exited {code}: {out[-1500:]}")
    diff = state_diff(before, tree_state(srv.data))
    ck.expect(not diff, f"--undo left differences: {diff[:10]}")

    # The plan's advice, followed as printed: the rebuild loses nothing and
    # comes before starting the server.
    codes, remedy = plan_remedy(a, srv.data, "rebuild-xact")
    ck.expect(codes[:1] == ["rebuild-xact"] and remedy["loses"].startswith("nothing"),
              f"the plan's remedies are {codes}; rebuild-xact: {remedy}")
    ck.expect(remedy is not None and remedy["commands"] == [f"pgrescue-reset --rebuild-xact -D '{srv.data}'"],
              f"the plan's rebuild-xact commands: {remedy and remedy['commands']}")
    code, out = run_printed(a, remedy["commands"][0])
    if not ck.expect(code == 0, f"the plan's {remedy['commands'][0]} exited {code}: {out[-1500:]}"):
        raise Failure(f"a: {ck.problems}")
    doc2 = doc  # the first rebuild's predictions: the same decisions
    log_from = os.path.getsize(f"{srv.data}.log")
    ok, said = srv.try_start()
    if not ck.expect(ok, f"the server does not start after the rebuild: {said[-6:]}"):
        raise Failure(f"a: {ck.problems}")
    try:
        after = srv.dump()
        prepared = srv.query("SELECT gid || ' ' || transaction::text FROM pg_prepared_xacts").split()
        ck.expect(prepared == ["p4", str(setup.prepared)], f"prepared transactions after the rebuild: {prepared}")
        srv.script("COMMIT PREPARED 'p4'; CHECKPOINT; INSERT INTO u VALUES (-1, 'after the rebuild'); CHECKPOINT;")
        p4_row = srv.query("SELECT xmin::text || '|' || v FROM t WHERE id = 4004").strip()
        ck.expect(p4_row == f"{setup.prepared}|still prepared", f"after COMMIT PREPARED 'p4' row 4004 is {p4_row!r}")
    finally:
        srv.stop()
    for t in TABLES:
        rows, count = after[t]
        ck.expect(rows == setup.dump[t][0],
                  f"{t}: rows differ from before: lost {[r[:3] for r in setup.dump[t][0] if r not in rows][:8]}, "
                  f"new {[r[:3] for r in rows if r not in setup.dump[t][0]][:8]}")
        pred = relation_prediction(doc2, t)
        if ck.expect(pred is not None, f"no prediction for {t} in relations {doc2.get('relations')}"):
            ck.expect(pred["rows_if_unknown_aborted"] == count == pred["rows_if_unknown_committed"],
                      f"{t}: count(*) {count}, predicted {pred}")
    status = srv.log_lines("could not access status", log_from)
    ck.expect(not status, f"the server log after the rebuild: {status[:3]}")
    ck.note(f"after the rebuild the server starts; t/u {after['t'][1]}/{after['u'][1]} rows as before")
    return ck


def scenario_b(a, setup, results):
    ck = Checks("b")
    srv = setup.copy("b")
    for sub in ("pg_xact", "pg_wal"):
        clear_dir(os.path.join(srv.data, sub))
    check_names_lost_status(a, ck, srv.data, setup.filepaths)
    before = tree_state(srv.data)

    code, doc, out = tool(a, "--rebuild-xact", "--json", "-D", srv.data)
    results["b"] = doc
    unknown = doc.get("unknown_xids", [])
    # The plan offers the rebuild after a backup, as its dry run, when XIDs stay unknown.
    codes, remedy = plan_remedy(a, srv.data, "rebuild-xact")
    if unknown and ck.expect(remedy is not None and codes.index("rebuild-xact") > codes.index("restore-xact"),
                             f"the plan's remedies are {codes}"):
        ck.expect(f"{len(unknown)} XID(s) no evidence decides" in remedy["loses"], f"rebuild-xact loses {remedy['loses']}")
        code_n, out_n = run_printed(a, remedy["commands"][0])
        ck.expect(code_n == 0 and "--unknown committed" in out_n, f"the plan's {remedy['commands']} exited {code_n}: "
                                                                  f"{out_n[-800:]}")
    if unknown:
        ck.expect(code == 1, f"with {len(unknown)} unknown XIDs and no --unknown the rebuild exited {code}")
        ck.expect(not state_diff(before, tree_state(srv.data)),
                  f"the refused rebuild changed {state_diff(before, tree_state(srv.data))[:10]}")
        ck.expect(doc.get("written") is False, f"the refused rebuild reports written={doc.get('written')}")
    else:
        ck.expect(code == 0, f"no unknowns, yet the rebuild exited {code}: {out[-1500:]}")
    ck.expect((doc.get("decided_by") or {}).get("wal", 0) == 0, f"WAL decided XIDs without WAL: {doc.get('decided_by')}")
    ck.expect(doc.get("contradictions") == [], f"contradictions: {doc.get('contradictions')[:10]}")
    ranges = rebuilt_ranges(doc)
    decided = check_decisions(ck, doc, setup.truth, ranges)
    check_all_visible(ck, srv.data, doc, setup.filepaths, ranges)
    # p4 is still prepared: its state file is in pg_twophase (written by the shutdown checkpoint).
    p4 = next((d for d in doc["decisions"] if d["xid"] == setup.prepared), None)
    twophase = sorted(os.listdir(os.path.join(srv.data, "pg_twophase")))
    ck.expect(p4 is not None and p4["status"] == "in progress",
              f"the still-prepared transaction {setup.prepared} (pg_twophase holds {twophase}) is decided {p4}")
    unknown_set = set(unknown)
    ck.expect(all(d["status"] == "unknown" for d in doc["decisions"] if d["xid"] in unknown_set)
              and all(d["xid"] in unknown_set for d in doc["decisions"] if d["status"] == "unknown"),
              "unknown_xids and the decisions marked unknown disagree")
    if unknown:
        code, doc2, out = tool(a, "--rebuild-xact", "--unknown", "aborted", "--json", "-D", srv.data)
        if not ck.expect(code == 0, f"--unknown aborted exited {code}: {out[-3000:]}"):
            raise Failure(f"b: {ck.problems}")
        ck.expect(doc2.get("unknown_policy") == "aborted", f"unknown_policy {doc2.get('unknown_policy')}")
        ck.expect(doc2.get("decisions") == doc.get("decisions"), "--unknown aborted decided differently")
    else:
        doc2 = doc
    check_owner(ck, srv.data, doc2)
    referenced = referenced_in_tables(srv.data, setup.filepaths)
    check_rebuilt_files(ck, srv.data, setup.truth, referenced | decided, ranges, skip=unknown_set)
    unknown_truth = {}
    for x in unknown:
        unknown_truth[status_class(xact_status(setup.truth, x))] = unknown_truth.get(
            status_class(xact_status(setup.truth, x)), 0) + 1
    ck.note(f"{len(unknown)} unknown ({unknown_truth} by the truth; in t/u tuples "
            f"{len(unknown_set & referenced)}), referenced_xids {doc.get('referenced_xids')}")

    code, _, out = tool(a, "--auto", "-f", "-D", srv.data, want_json=False)
    if not ck.expect(code == 0, f"pgrescue-reset --auto -f exited {code}: {out[-3000:]}"):
        raise Failure(f"b: {ck.problems}")
    log_from = os.path.getsize(f"{srv.data}.log") if os.path.exists(f"{srv.data}.log") else 0
    ok, said = srv.try_start()
    if not ck.expect(ok, f"the server does not start after the rebuild and the reset: {said[-6:]}"):
        raise Failure(f"b: {ck.problems}")
    try:
        after = {}
        for t in TABLES:
            r = srv.sql(f"SELECT xmin::text, xmax::text, id, v FROM {t} ORDER BY id", check=False)
            if not ck.expect(r.returncode == 0, f"reading {t}: {r.stderr.strip()[:500]}"):
                continue
            rows = []
            for line in r.stdout.splitlines():
                xmin, xmax, rid, v = line.split("|", 3)
                rows.append((int(xmin), int(xmax), int(rid), v))
            after[t] = (rows, int(srv.query(f"SELECT count(*) FROM {t}").strip()))
        prepared = srv.query("SELECT gid || ' ' || transaction::text FROM pg_prepared_xacts").split()
        ck.expect(prepared == ["p4", str(setup.prepared)],
                  f"prepared transactions after the rebuild and reset: {prepared}; the server said "
                  f"{srv.log_lines('two-phase', log_from)[:2]}")
        srv.sql("CHECKPOINT", check=False)
    finally:
        srv.stop()
    is_decided = lambda x: x in decided or not in_ranges(x, ranges)
    for t, (rows, count) in after.items():
        pred = relation_prediction(doc2, t)
        if ck.expect(pred is not None, f"no prediction for {t} in relations {doc2.get('relations')}"):
            ck.expect(pred["rows_if_unknown_aborted"] == count, f"{t}: count(*) {count}, predicted {pred}")
        rows_check(ck, setup.dump[t][0], rows, is_decided, t)
    ck.note("rows after: " + ", ".join(f"{t} {after[t][1]} (before {setup.dump[t][1]})" for t in after))
    return ck


def scenario_d(a, setup, results):
    ck = Checks("d")
    srv = setup.copy("d")
    # XIDs that wrote exactly one tuple in t and u, so that no other tuple's hint bits speak for them.
    tuples = {t: heap_tuples(os.path.join(srv.data, setup.filepaths[t])) for t in TABLES}
    writes = {}
    for t in TABLES:
        for tup in tuples[t]:
            writes[tup[3]] = writes.get(tup[3], 0) + 1
            if tup[4]:
                writes[tup[4]] = writes.get(tup[4], 0) + 1
    committed = aborted = None
    for tup in tuples["t"]:
        blk, lp, off, xmin, xmax, infomask, allvis, rid = tup
        if xmin < 3 or writes.get(xmin) != 1 or allvis:
            continue
        truth = xact_status(setup.truth, xmin)
        # A single-row insert of the unread half (ids 200-400), and a BEGIN; INSERT; ROLLBACK (ids 1001-1010).
        if (committed is None and 200 <= rid <= 400 and truth == 1 and xmax == 0
                and not infomask & (HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID)):
            committed = tup
        if aborted is None and 1001 <= rid <= 1010 and truth == 2 and not infomask & HEAP_XMIN_COMMITTED:
            aborted = tup
    if committed is None or aborted is None:
        raise Failure(f"d: no unhinted committed ({committed}) or rolled-back ({aborted}) single-tuple insert in t")
    path = os.path.join(srv.data, setup.filepaths["t"])
    with open(path, "r+b") as f:
        for tup, clear, set_ in ((committed, 0, HEAP_XMIN_INVALID), (aborted, HEAP_XMIN_INVALID, HEAP_XMIN_COMMITTED)):
            f.seek(tup[2] + 20)
            mask = struct.unpack("<H", f.read(2))[0]
            f.seek(tup[2] + 20)
            f.write(struct.pack("<H", (mask & ~clear) | set_))
    clear_dir(os.path.join(srv.data, "pg_xact"))
    before = tree_state(srv.data)
    code, doc, out = tool(a, "--rebuild-xact", "-n", "--json", "-D", srv.data)
    results["d"] = doc
    ck.expect(code in (0, 1), f"-n exited {code}: {out[-1500:]}")
    ck.expect(not state_diff(before, tree_state(srv.data)), "-n changed the data directory")
    contra = {c["xid"]: c for c in doc.get("contradictions", [])}
    decisions = {d["xid"]: d for d in doc.get("decisions", [])}
    for tup, truth_side, lie_side in ((committed, "committed_by", "aborted_by"), (aborted, "aborted_by", "committed_by")):
        xid = tup[3]
        c = contra.get(xid)
        if ck.expect(c is not None, f"XID {xid} (truth {xact_status(setup.truth, xid)}, hint flipped at block {tup[0]} "
                                    f"lp {tup[1]}) is not among the contradictions {list(contra)[:10]}"):
            ck.expect("hint_bits" in c.get(lie_side, []) and "wal" in c.get(truth_side, []),
                      f"contradiction for XID {xid}: {c}")
        d = decisions.get(xid)
        ck.expect(d is not None and d["status"] == "unknown", f"decision for flipped XID {xid}: {d}")
        ck.note(f"XID {xid}: decision {d}; in unknown_xids: {xid in doc.get('unknown_xids', [])}")
    others = sorted(set(contra) - {committed[3], aborted[3]})
    ck.expect(not others, f"other contradictions: {[contra[x] for x in others[:5]]}")
    if doc.get("unknown_xids"):
        ck.expect(code == 0, f"-n with unknown XIDs and no --unknown exited {code}: a dry run reports")
    ranges = rebuilt_ranges(doc)
    check_decisions(ck, doc, setup.truth, ranges)
    ck.note(f"flipped XID {committed[3]} (committed) to HEAP_XMIN_INVALID and XID {aborted[3]} (rolled back) to "
            f"HEAP_XMIN_COMMITTED; -n exit {code}; contradictions {list(contra)}; unknown {doc.get('unknown_xids')}")
    return ck


def scenario_e(a, base, settings, results):
    """A transaction cut short by a crash: its rows reach the pages (a CHECKPOINT while it runs), it never
    commits, the server stops with -m immediate. pg_xact deleted: WAL runs unbroken from initdb's first
    checkpoint to its end, so the rebuild must decide the cut transaction "aborted" from WAL's silence
    (wal_absent) and leave nothing unknown; crash recovery then starts and count(*) is the committed rows."""
    ck = Checks("e")
    srv = Server(a, base, "e", settings)
    srv.initdb(False)
    srv.start()
    cut = None
    try:
        srv.script("CREATE TABLE e (id int PRIMARY KEY, v text);"
                   "INSERT INTO e SELECT g, 'committed' FROM generate_series(1, 100) g;")
        relpath = srv.query("SELECT pg_relation_filepath('e')").strip()
        # The open transaction: psql as the test user, kept alive by pg_sleep, in the background.
        cut = subprocess.Popen(["runuser", "-u", a.user, "--", a.psql, "-h", base, "-p", str(a.port), "-U", "postgres",
                                "-d", "postgres", "-At", "-c",
                                "BEGIN; INSERT INTO e SELECT g, 'cut short' FROM generate_series(101, 150) g; "
                                "SELECT txid_current(); SELECT pg_sleep(60);"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        xid = None
        for _ in range(100):
            r = srv.sql("SELECT backend_xid::text FROM pg_stat_activity WHERE backend_xid IS NOT NULL", check=False)
            if r.stdout.strip():
                xid = int(r.stdout.split()[0])
                if srv.query("SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid'").strip() != "0":
                    break
            time.sleep(0.1)
        if xid is None:
            raise Failure("e: the open transaction never got an XID")
        time.sleep(0.5)  # its 50 rows inserted (the INSERT runs before txid_current and pg_sleep)
        srv.script("CHECKPOINT;")  # the uncommitted rows reach the pages
    finally:
        srv.stop("immediate")
        if cut is not None:
            cut.kill()
            cut.wait()
    truth = os.path.join(base, "e-truth")
    shutil.copytree(os.path.join(srv.data, "pg_xact"), truth)
    clear_dir(os.path.join(srv.data, "pg_xact"))
    path = os.path.join(srv.data, relpath)
    on_page = sum(1 for t in heap_tuples(path) if t[3] == xid)
    ck.expect(on_page == 50, f"the cut transaction's rows on the pages: {on_page}, expected 50")
    ck.expect(xact_status(truth, xid) == 0, f"the server's pg_xact says {xact_status(truth, xid)} for the cut "
                                            f"transaction {xid}, expected 0 (in progress)")
    code, doc, out = tool(a, "--rebuild-xact", "--json", "-D", srv.data)
    results["e"] = doc
    if not ck.expect(code == 0, f"--rebuild-xact exited {code}: {out[-1500:]}"):
        return ck
    d = next((x for x in doc["decisions"] if x["xid"] == xid), None)
    ck.expect(d is not None and d["status"] == "aborted" and d["by"] == ["wal_absent"],
              f"the cut transaction {xid} is decided {d}")
    ck.expect(doc["unknown_xids"] == [], f"unknown XIDs: {doc['unknown_xids'][:10]}")
    check_decisions(ck, doc, truth, rebuilt_ranges(doc))
    ok, said = srv.try_start()
    if not ck.expect(ok, f"crash recovery did not start after the rebuild: {said[-6:]}"):
        return ck
    try:
        rows = srv.query("SELECT count(*), count(*) FILTER (WHERE v = 'committed') FROM e").strip()
        ck.expect(rows == "100|100", f"after crash recovery e holds {rows} (count, committed), expected 100|100")
    finally:
        srv.stop()
    ck.note(f"the cut transaction {xid}: 50 rows on the pages, decided {d and d['status']} by {d and d['by']}")
    return ck


def scenario_f(a, base, settings, results):
    """A primary key the --unknown choice would duplicate. Key 2001 is inserted and rolled back, then inserted
    and committed; the unique check of the second insert hint-marks the first aborted, so that hint is cleared
    on disk (a hint bit never written, as after a crash) and pg_xact and pg_wal are deleted. The rebuild must
    name k_pkey as duplicated under "committed" at exactly the two rows' ctids, and nothing under "aborted";
    after --unknown committed and the plan's reset, the server returns key 2001 twice."""
    ck = Checks("f")
    srv = Server(a, base, "f", settings)
    srv.initdb(False)
    srv.start()
    try:
        srv.script("CREATE TABLE k (id int PRIMARY KEY, v text);"
                   "INSERT INTO k SELECT g, 'committed' FROM generate_series(1, 1000) g;"
                   "SELECT count(*) FROM k;"
                   "BEGIN; INSERT INTO k VALUES (2001, 'rolled back'); ROLLBACK;"
                   "INSERT INTO k VALUES (2001, 'committed');")
        relpath = srv.query("SELECT pg_relation_filepath('k')").strip()
    finally:
        srv.stop()
    for sub in ("pg_xact", "pg_wal"):
        clear_dir(os.path.join(srv.data, sub))
    path = os.path.join(srv.data, relpath)
    rows = {}  # id 2001's tuples: ctid -> xmin
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        for (blk, lp, at, xmin, _, infomask, _, first) in heap_tuples(path):
            if first == 2001:
                rows[f"({blk},{lp})"] = xmin
                if infomask & HEAP_XMIN_INVALID:
                    struct.pack_into("<H", data, at + 20, infomask & ~HEAP_XMIN_INVALID)
        f.seek(0)
        f.write(data)
    ck.expect(len(rows) == 2, f"key 2001's tuples on the page: {rows}")
    code, doc, out = tool(a, "--rebuild-xact", "-n", "--json", "-D", srv.data)
    results["f"] = doc
    rel = relation_prediction(doc, "k")
    if not ck.expect(code == 0 and rel is not None, f"-n exited {code}, relation k: {rel}: {out[-1500:]}"):
        return ck
    dups = rel["duplicate_keys_if_committed"]
    ck.expect(len(dups) == 1 and dups[0]["index"].endswith(".public.k_pkey") and dups[0]["primary_key"]
              and [sorted(r) for r in dups[0]["rows"]] == [sorted(rows)],
              f"duplicates if committed: {dups}; key 2001 is at {sorted(rows)}")
    ck.expect(rel["duplicate_keys_if_aborted"] == [], f"duplicates if aborted: {rel['duplicate_keys_if_aborted']}")
    code, _, out = tool(a, "--rebuild-xact", "--unknown", "committed", "-D", srv.data, want_json=False)
    ck.expect(code == 0, f"--unknown committed exited {code}: {out[-1500:]}")
    code, _, out = tool(a, "--auto", "-f", "-D", srv.data, want_json=False)
    if not ck.expect(code == 0, f"pgrescue-reset --auto -f exited {code}: {out[-1500:]}"):
        return ck
    ok, said = srv.try_start()
    if not ck.expect(ok, f"the server does not start: {said[-6:]}"):
        return ck
    try:
        seen = srv.query("SET enable_indexscan = off; SET enable_bitmapscan = off; "
                         "SELECT ctid::text FROM k WHERE id = 2001 ORDER BY ctid").split()
        seen = [x for x in seen if x.startswith("(")]  # past the SET tags
        ck.expect(sorted(seen) == sorted(rows), f"the server returns key 2001 at {seen}, predicted {sorted(rows)}")
    finally:
        srv.stop()
    ck.note(f"k_pkey key 2001 duplicated under committed at {sorted(rows)}, as the server then shows")
    return ck


def scenario_c(a, base, settings, results):
    ck = Checks("c")
    srv = Server(a, base, "c-orig", settings)
    srv.initdb(False)
    for k in range(4):
        if k:
            srv.as_user(a.resetwal, "-x", str(k * SEGMENT_XIDS), "-D", srv.data)
        srv.start()
        try:
            srv.script(phase_workload(k))
            if k == 3:
                filepaths = {t: srv.query(f"SELECT pg_relation_filepath('{t}')").strip() for t in C_TABLES}
        finally:
            srv.stop()
    segments = sorted(os.listdir(os.path.join(srv.data, "pg_xact")))
    if segments != ["0000", "0001", "0002", "0003"]:
        raise Failure(f"c: pg_xact holds {segments} after the jumps")
    truth = os.path.join(base, "c-truth-xact")
    shutil.copytree(os.path.join(srv.data, "pg_xact"), truth)
    subprocess.run(["cp", "-a", srv.data, os.path.join(base, "c")], check=True)
    srv.start()
    try:
        dump = srv.dump(C_TABLES)
    finally:
        srv.stop()
    work = Server(a, base, "c", settings)
    os.remove(os.path.join(work.data, "pg_xact", "0001"))
    others = {n: tree_hashes(os.path.join(work.data, "pg_xact"))[n] for n in ("0000", "0002", "0003")}
    before = tree_state(work.data)

    code, doc, out = tool(a, "--rebuild-xact", "--json", "-D", work.data)
    results["c"] = doc
    flags = []
    if doc.get("unknown_xids"):
        ck.expect(code == 1, f"with unknowns and no --unknown the rebuild exited {code}")
        ck.expect(not state_diff(before, tree_state(work.data)), "the refused rebuild wrote")
        ck.note(f"refused with {len(doc['unknown_xids'])} unknown XIDs; again with --unknown aborted")
        flags = ["--unknown", "aborted"]
        code, doc, out = tool(a, "--rebuild-xact", *flags, "--json", "-D", work.data)
    if not ck.expect(code == 0, f"--rebuild-xact {' '.join(flags)} exited {code}: {out[-3000:]}"):
        raise Failure(f"c: {ck.problems}")
    ck.expect([s["name"] for s in doc["segments"]] == ["0001"], f"segments {doc['segments']}")
    now = tree_hashes(os.path.join(work.data, "pg_xact"))
    ck.expect(all(now.get(n) == h for n, h in others.items()), "a surviving segment changed")
    ranges = rebuilt_ranges(doc)
    decided = check_decisions(ck, doc, truth, ranges)
    unknown = set(doc.get("unknown_xids", []))
    referenced = referenced_in_tables(work.data, filepaths)
    in_0001 = {x for x in referenced if SEGMENT_XIDS <= x < 2 * SEGMENT_XIDS}
    check_rebuilt_files(ck, work.data, truth, referenced | decided, ranges, skip=unknown)
    check_owner(ck, work.data, doc)
    ck.note(f"0001: {summary_of(doc)}; {len(in_0001)} of t's and u's XIDs in 0001; referenced_xids "
            f"{doc.get('referenced_xids')}")

    code, _, out = tool(a, "--undo", "-D", work.data, want_json=False)
    ck.expect(code == 0, f"--undo exited {code}: {out[-1500:]}")
    diff = state_diff(before, tree_state(work.data))
    ck.expect(not diff, f"--undo left differences: {diff[:10]}")

    code, doc2, out = tool(a, "--rebuild-xact", *flags, "--json", "-D", work.data)
    if not ck.expect(code == 0, f"the second rebuild exited {code}: {out[-1500:]}"):
        raise Failure(f"c: {ck.problems}")
    ok, said = work.try_start()
    if not ck.expect(ok, f"the server does not start after the rebuild: {said[-6:]}"):
        raise Failure(f"c: {ck.problems}")
    try:
        after = work.dump(C_TABLES)
    finally:
        work.stop()
    is_decided = lambda x: not in_ranges(x, ranges) or x in decided
    for t in C_TABLES:
        if unknown:
            rows_check(ck, dump[t][0], after[t][0], is_decided, t)
            pred = relation_prediction(doc2, t)
            if ck.expect(pred is not None, f"no prediction for {t}"):
                ck.expect(pred["rows_if_unknown_aborted"] == after[t][1], f"{t}: count(*) {after[t][1]}, "
                                                                          f"predicted {pred}")
        else:
            ck.expect(after[t][0] == dump[t][0], f"{t}: rows differ after the rebuild")
    ck.note("rows after: " + ", ".join(f"{t} {after[t][1]} (before {dump[t][1]})" for t in C_TABLES))
    return ck


def main():
    ap = argparse.ArgumentParser()
    for name in ("--bin-dir", "--psql", "--reset", "--plan", "--user", "--label"):
        ap.add_argument(name, required=True)
    ap.add_argument("--check", required=True, help="pgrescue-check")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--resetwal", help="pg_resetwal of the server's version (scenario c)")
    ap.add_argument("--commit-ts", action="store_true", help="track_commit_timestamp=on")
    ap.add_argument("--scenario", default="all", help="all (a, b, d, e, f), or a comma-separated list of a, b, c, d, e, f")
    a = ap.parse_args()
    wanted = []
    for s in a.scenario.split(","):
        wanted += ["a", "b", "d", "e", "f"] if s == "all" else [s]
    if set(wanted) - set("abcdef"):
        ap.error(f"unknown scenario in {a.scenario}")
    if "c" in wanted and not a.resetwal:
        ap.error("scenario c needs --resetwal")
    settings = ["fsync=off", "autovacuum=off", "max_prepared_transactions=5"]
    if a.commit_ts:
        settings.append("track_commit_timestamp=on")
    base = tempfile.mkdtemp(prefix=f"pgrescue-rebuild-{a.label}-")
    shutil.chown(base, a.user)
    started = time.time()
    servers, results, checks = [], {}, []
    try:
        setup = None
        if set(wanted) & set("abd"):
            setup = Setup(a, base, settings)
            servers.append(setup.orig)
            setup.build()
            setup.snapshot([n for n in ("a", "b", "d") if n in wanted])
            setup.read_truth()
            print(f"{a.label}: workload done ({time.time() - started:.1f} s), next XID {setup.next_xid}, pg_wal "
                  f"{setup.wal}, pg_xact {sorted(os.listdir(setup.truth))}; t/u "
                  f"{setup.dump['t'][1]}/{setup.dump['u'][1]} rows; t: {setup.shape['t']}; u: {setup.shape['u']}")
        for name in wanted:
            t0 = time.time()
            try:
                if name in ("e", "f"):
                    ck = {"e": scenario_e, "f": scenario_f}[name](a, base, settings, results)
                elif name == "c":
                    servers.append(Server(a, base, "c-orig", settings))
                    servers.append(Server(a, base, "c", settings))
                    ck = scenario_c(a, base, settings, results)
                else:
                    servers.append(Server(a, base, name, settings))
                    ck = {"a": scenario_a, "b": scenario_b, "d": scenario_d}[name](a, setup, results)
            except Failure as e:
                ck = Checks(name)
                ck.problems.append(str(e))
            checks.append(ck)
            verdict = "PASS" if not ck.problems else "FAIL"
            print(f"{a.label} {name}: {verdict} ({time.time() - t0:.1f} s)")
            for n in ck.notes:
                print(f"  {n}")
            for p in ck.problems:
                print(f"  FAIL: {p}")
        parts = [f"{n}: {summary_of(results[n])}" for n in ("a", "b", "c", "e") if n in results]
        print(f"SUMMARY {a.label} {'; '.join(parts)} ({time.time() - started:.1f} s)")
        failed = [ck.name for ck in checks if ck.problems]
        if failed:
            raise Failure(f"{a.label}: scenarios {failed} failed")
        return 0
    finally:
        for srv in servers:
            if srv.running():
                srv.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run(main)
