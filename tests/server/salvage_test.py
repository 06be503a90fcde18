#!/usr/bin/env python3
"""pgrescue-salvage on a damaged cluster of a real server.

A cluster (data checksums unless --no-checksums) with the configured port and
socket in its postgresql.conf (port, unix_socket_directories, and
listen_addresses = '127.0.0.1', so "the configured port" is really served), a
role, and a database `salv` besides postgres:
  postgres.public.side    2,000 rows, undamaged;
  salv.public.heap_a      4,000 rows; blocks 3 and 7 damaged: with checksums
                          bytes inside tuple data flipped (the checksum
                          fails), without them pd_special set past the page
                          (the header check fails); line pointers intact;
  salv.public.hdr_b       3,000 rows; block 2's first 24 bytes garbage, line
                          pointers intact;
  salv.public.toasty      300 rows of 4,800-byte md5 chains stored EXTERNAL;
                          block 5 of its TOAST table damaged: with checksums
                          tuple data flipped, without them every line pointer
                          of the block cleared (chunks missing);
  salv.public.clean_c     3,000 rows with a sequence and two indexes, undamaged;
  salv's pg_class_oid_index block 1: a garbage page header.
Before the damage every table's rows (COPY ... ORDER BY id), the rows on each
damaged heap block (by ctid) and the rows whose TOAST values have a chunk on
the damaged TOAST block (read from the heap tuples' TOAST pointers) are
recorded. After it the server's own errors prove each scenario (the catalog
index without, the tables with ignore_system_indexes; pg_dump fails where
there is one for the server), and pgrescue-salvage must refuse (exit 2,
nothing written) while that server runs.

Then, with the cluster stopped cleanly, `pgrescue-salvage --out DIR [--reload
NEWDATADIR] --json DATADIR` runs; while its private servers are up (their
postmaster.pid says ready) neither psql on the configured socket and port nor
a TCP connect to 127.0.0.1:port may reach anything. Afterwards:
  - exit 1; report.json equals the JSON on stdout;
  - skipped blocks are exactly the damaged heap blocks (database, table,
    block), each with the server's "invalid page" and rows_lost equal to the
    rows that were on it; the TOAST damage is exactly the parent's failed_rows
    by ctid; ignore_system_indexes is true and says why;
  - rows_lost per table equals the rows on its damaged blocks and TOAST-failed
    rows; rows_saved the rest; the totals add up;
  - where a pg_dump >= the server's major exists (10-15 here, Debian's 15 found
    by the tool itself): the damaged tables are copied "by block", the others
    by pg_dump; the reload (NEWDATADIR, started here as the test user) holds
    every row that was not lost, byte for byte in COPY text, and nothing else;
  - without one (16-18): pg_dump_missing says why, and the salvaged COPY
    output holds every row that was not lost and nothing else;
  - the original data directory is byte-identical (every file's SHA-256).
One summary line per version: rows saved / lost / expected.

Options add scenarios to the same damaged cluster:
  --crash (with --no-checksums): salv.public.crash_d, 1,000 rows, whose tuple
      (2,5) has its text column's 1-byte varlena header overwritten by a 4-byte
      one claiming ~1 GB (0xFFFFFFF0): pgrescue-check (--check) sees nothing,
      a backend reading it dies of signal 11 (the server log says so) and
      pg_dump with it. The run must name exactly (2,5) in crash_d's
      failed_rows (the error saying it crashed), save every other row of it,
      still dump the undamaged tables with pg_dump, and crash its private
      server's backends exactly (1 with pg_dump) + (ranges halved down to the
      block) + 1 times, though the cluster's postgresql.conf says
      restart_after_crash = off.
      shared_buffers is 16MB: such a backend copies up to the end of the
      shared buffers before it dies, 1.5 s with 128MB, 0.5 s with 16MB; dying
      fast, it also catches pg_dump's other worker in the middle of a table,
      as a cluster with large tables would;
  --refusals OTHER_BINDIR (before the run, the cluster stopped): OTHER_BINDIR
      (a server of another major) as --bindir, an --out that is not empty,
      --reload the data directory and a link to it: each exit 2, naming both
      majors for the first; --out as it was, the data directory unchanged;
  --also zero: a second run with --zero-damaged-pages: the same losses,
      zero_damaged_pages true, each skipped block's error and the `zeroed`
      list in the server's words ("invalid page in block N of relation F;
      zeroing out page"), once per damaged page read; the original unchanged;
  --also in-place: a last run with --in-place: copy null, worked_on the data
      directory, the same losses; afterwards the original's configuration
      files are as they were, nothing runs in it, and its own server starts
      on it (configured socket and port) with the undamaged tables' rows.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from pgtest import Cluster, Failure, patch, read, run, tree_hashes

PAGE = 8192
HEAP_BLOCKS = (3, 7)           # salv.public.heap_a
HEADER_BLOCK = 2               # salv.public.hdr_b
TOAST_BLOCK = 5                # salv.public.toasty's TOAST table
CATALOG_INDEX, CATALOG_BLOCK = "pg_class_oid_index", 1
GARBAGE = hashlib.sha256(b"pgrescue salvage test: garbage page header").digest()[:24]

SETUP = [
    ("postgres", "CREATE ROLE salv_owner"),
    ("postgres", "CREATE DATABASE salv OWNER salv_owner"),
    ("postgres", "CREATE TABLE side (id int PRIMARY KEY, v text)"),
    ("postgres", "INSERT INTO side SELECT i, md5(i::text) FROM generate_series(1, 2000) i"),
    ("salv", "CREATE TABLE heap_a (id int PRIMARY KEY, v text)"),
    ("salv", "INSERT INTO heap_a SELECT i, md5(i::text) || ' ' || i * 7 FROM generate_series(1, 4000) i"),
    ("salv", "CREATE TABLE hdr_b (id int, v text)"),
    ("salv", "INSERT INTO hdr_b SELECT i, repeat(chr(97 + i % 26), 30 + i % 20) FROM generate_series(1, 3000) i"),
    ("salv", "CREATE TABLE toasty (id int PRIMARY KEY, body text)"),
    ("salv", "ALTER TABLE toasty ALTER COLUMN body SET STORAGE EXTERNAL"),
    ("salv", "INSERT INTO toasty SELECT i, (SELECT string_agg(md5(i || '.' || j), '') FROM generate_series(1, 150) j) "
             "FROM generate_series(1, 300) i"),
    ("salv", "CREATE TABLE clean_c (id serial PRIMARY KEY, v text, at date)"),
    ("salv", "INSERT INTO clean_c (v, at) SELECT 'row ' || i, date '2020-01-01' + i FROM generate_series(1, 3000) i"),
    ("salv", "CREATE INDEX clean_c_at ON clean_c (at)"),
]
TABLES = {("postgres", "public.side"), ("salv", "public.heap_a"), ("salv", "public.hdr_b"),
          ("salv", "public.toasty"), ("salv", "public.clean_c")}
# --crash (no checksums): one more table, undamaged to every page check, whose tuple CRASH_ITEM on
# CRASH_BLOCK has its text column's varlena header replaced by a 4-byte one claiming ~1 GB: the backend
# that reads it dies (signal 11), and with it pg_dump.
CRASH_TABLE = ("salv", "public.crash_d")
CRASH_BLOCK, CRASH_ITEM = 2, 5
CRASH_HEADER = (0xFFFFFFF0).to_bytes(4, "little")
CRASH_SETUP = [
    ("salv", "CREATE TABLE crash_d (id int PRIMARY KEY, v text)"),
    ("salv", "INSERT INTO crash_d SELECT i, md5(i::text) FROM generate_series(1, 1000) i"),
]


def u16(b, at):
    return int.from_bytes(b[at:at + 2], "little")


def u32(b, at):
    return int.from_bytes(b[at:at + 4], "little")


def items(page):
    """A heap page's line pointers: (offset number, lp_off, lp_flags, lp_len)."""
    count = (u16(page, 12) - 24) // 4
    out = []
    for i in range(count):
        word = u32(page, 24 + 4 * i)
        out.append((i + 1, word & 0x7FFF, (word >> 15) & 3, word >> 17))
    return out


def header_valid(header):
    """PageHeaderIsValid's test on 24 header bytes."""
    flags, lower, upper, special = u16(header, 10), u16(header, 12), u16(header, 14), u16(header, 16)
    return flags & ~7 == 0 and lower <= upper <= special <= PAGE and special % 8 == 0


def toast_pointers(path):
    """toasty's heap file read directly: TOAST value id -> "(block,offset)" of the row that points at it.
    Each tuple is (id int, body text) with no nulls; body is an on-disk TOAST pointer (varattrib_1b_e,
    tag 18: va_rawsize, va_extinfo, va_valueid, va_toastrelid)."""
    out = {}
    size = os.path.getsize(path)
    for block in range(size // PAGE):
        page = read(path, block * PAGE, PAGE)
        for number, off, flags, length in items(page):
            if flags != 1:
                continue
            data = off + page[off + 22]
            body = data + 4
            if page[body] != 0x01 or page[body + 1] != 18:
                raise Failure(f"toasty ({block},{number}): body is not an on-disk TOAST pointer "
                              f"({page[body]:#x} {page[body + 1]})")
            out[u32(page, body + 2 + 8)] = f"({block},{number})"
    return out


def ctid_block(ctid):
    return int(ctid.strip("()").split(",")[0])


def flip_tuple_data(path, block):
    """Inverts 4 bytes inside line pointer 1's tuple data: only the checksum can tell."""
    page = read(path, block * PAGE, PAGE)
    _, off, flags, length = items(page)[0]
    if flags != 1 or length < 40:
        raise Failure(f"{path} block {block}: line pointer 1 is {flags}, {length} bytes")
    at = block * PAGE + off + page[off + 22] + 8
    patch(path, at, bytes(x ^ 0xFF for x in read(path, at, 4)))


class Salvage:
    def __init__(self, a, base):
        self.a, self.base = a, base
        self.c = Cluster(a, base, "data")
        self.data = self.c.data
        self.runs = []     # (out, reloaded) of every run, for stop_all
        self.use("out", "reloaded")

    def use(self, out, reloaded):
        """The --out and --reload directories (under base) of the next run."""
        self.out, self.reloaded = os.path.join(self.base, out), os.path.join(self.base, reloaded)
        self.runs.append((self.out, self.reloaded))

    # The original, started with its own postgresql.conf (configured port, socket and TCP address);
    # autovacuum off here only, the conf keeps it on for the tool to override.
    def start(self, settings=""):
        self.c.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-t", "300", "-l", f"{self.data}.log",
                       "-o", f"-c autovacuum=off {settings}", "start")

    def psql(self, db, text, check=True):
        return self.c.as_user(self.a.psql, "-X", "-h", self.base, "-p", str(self.a.port), "-U", "postgres",
                              "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", text, check=check)

    def rows(self, db, table):
        """COPY text lines of a table ordered by id."""
        text = self.psql(db, f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT").stdout
        return text.splitlines()

    def reachable(self):
        """(psql on the configured socket and port works, TCP 127.0.0.1:port accepts)."""
        r = self.psql("postgres", "SELECT 1", check=False)
        try:
            socket.create_connection(("127.0.0.1", self.a.port), timeout=2).close()
            tcp = True
        except OSError:
            tcp = False
        return r.returncode == 0, tcp

    def dumper(self, major):
        """Where the tool must find pg_dump: the newest /usr/lib/postgresql/<m>/bin, m >= major, holding one."""
        found = []
        for d in glob.glob("/usr/lib/postgresql/*/bin"):
            m = os.path.basename(os.path.dirname(d))
            if m.isdigit() and int(m) >= major and os.access(os.path.join(d, "pg_dump"), os.X_OK):
                found.append((int(m), d))
        return max(found)[1] if found else None


    def stop_all(self):
        """Stops whatever server still runs in the original, the tool's copy or the reload (after a failure)."""
        for d in [self.data] + [d for out, reloaded in self.runs for d in (os.path.join(out, "copy"), reloaded)]:
            if os.path.exists(os.path.join(d, "postmaster.pid")):
                self.c.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", d, "-w", "-m", "immediate", "stop", check=False)


class Record:
    """What the cluster held before the damage, and where the damage goes."""


def build(s, checksums):
    c, r = s.c, Record()
    c.initdb(checksums)
    with open(os.path.join(s.data, "postgresql.conf"), "a") as f:
        f.write(f"\nport = {s.a.port}\nunix_socket_directories = '{s.base}'\nlisten_addresses = '127.0.0.1'\n")
        if CRASH_TABLE in TABLES:
            # A backend reading the ~1 GB header copies until it leaves mapped memory: to the end of the
            # shared buffers, 1.5 s with 128MB, 0.5 s with 16MB; each run crashes 4 to 7 of them.
            f.write("shared_buffers = 16MB\n")
    with open(os.path.join(s.data, "PG_VERSION")) as f:
        r.major = int(f.read().split(".")[0])
    s.start()
    try:
        # The probes used against the tool's private server must see this one.
        if s.reachable() != (True, True):
            raise Failure(f"the original on its configured socket and port: psql, TCP reachable = {s.reachable()}")
        for db, statement in SETUP:
            s.psql(db, statement)
        r.before = {(db, t): s.rows(db, t) for db, t in TABLES}
        r.ctids = {}    # (db, table) -> {ctid: id}
        for db, t in TABLES:
            r.ctids[(db, t)] = {ctid: int(i) for i, ctid in
                                (line.split("|") for line in s.psql(db, f"SELECT id, ctid FROM {t}").stdout.splitlines())}
        r.files = {(db, t): s.psql(db, f"SELECT pg_relation_filepath('{t}')").stdout.strip() for db, t in TABLES}
        toast_rel = s.psql("salv", "SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'toasty'::regclass").stdout.strip()
        r.toast_file = s.psql("salv", f"SELECT pg_relation_filepath('{toast_rel}')").stdout.strip()
        chunks = s.psql("salv", f"SELECT chunk_id, ctid FROM {toast_rel}").stdout.splitlines()
        r.damaged_values = {int(v) for v, ctid in (line.split("|") for line in chunks) if ctid_block(ctid) == TOAST_BLOCK}
        r.catalog_file = s.psql("salv", f"SELECT pg_relation_filepath('{CATALOG_INDEX}')").stdout.strip()
        s.psql("postgres", "CHECKPOINT")
    finally:
        s.c.stop()
    pointers = toast_pointers(os.path.join(s.data, r.files[("salv", "public.toasty")]))
    if not r.damaged_values or not r.damaged_values <= set(pointers):
        raise Failure(f"TOAST block {TOAST_BLOCK} holds values {sorted(r.damaged_values)}; rows point at "
                      f"{len(pointers)} values")
    r.toast_ctids = {pointers[v] for v in r.damaged_values}
    # Expected: the rows on each damaged heap block, and every table's lost ids.
    r.blocks = {}
    for key, block in [(("salv", "public.heap_a"), b) for b in HEAP_BLOCKS] + [(("salv", "public.hdr_b"), HEADER_BLOCK)]:
        r.blocks[key + (block,)] = {i for ctid, i in r.ctids[key].items() if ctid_block(ctid) == block}
        if not r.blocks[key + (block,)]:
            raise Failure(f"{key} has no rows on block {block}")
    r.lost = {key: set() for key in TABLES}
    for (db, t, _), ids in r.blocks.items():
        r.lost[(db, t)] |= ids
    r.lost[("salv", "public.toasty")] = {r.ctids[("salv", "public.toasty")][ctid] for ctid in r.toast_ctids}
    r.failed = {("salv", "public.toasty"): r.toast_ctids}     # table -> the ctids failed_rows must name
    if CRASH_TABLE in TABLES:
        r.crash_ctid = f"({CRASH_BLOCK},{CRASH_ITEM})"
        if r.crash_ctid not in r.ctids[CRASH_TABLE]:
            raise Failure(f"{CRASH_TABLE} has no row at {r.crash_ctid}")
        r.lost[CRASH_TABLE] = {r.ctids[CRASH_TABLE][r.crash_ctid]}
        r.failed[CRASH_TABLE] = {r.crash_ctid}
        r.crash_blocks = os.path.getsize(os.path.join(s.data, r.files[CRASH_TABLE])) // PAGE
    return r


def crash_tuple(path, block, item):
    """Replaces the text column's 1-byte varlena header (after the int4 id) of tuple `item` by CRASH_HEADER."""
    page = read(path, block * PAGE, PAGE)
    _, off, flags, length = items(page)[item - 1]
    if flags != 1 or length < 24 + 4 + 8:
        raise Failure(f"{path} ({block},{item}): line pointer {flags}, {length} bytes")
    at = off + page[off + 22] + 4
    if page[at] & 1 != 1 or page[at] >> 1 != 32 + 1:
        raise Failure(f"{path} ({block},{item}): {page[at]:#x} at the text column is not md5's 1-byte header")
    patch(path, block * PAGE + at, CRASH_HEADER)


def damage(s, r, checksums):
    d = s.data
    heap = os.path.join(d, r.files[("salv", "public.heap_a")])
    for block in HEAP_BLOCKS:
        if checksums:
            flip_tuple_data(heap, block)
        else:
            patch(heap, block * PAGE + 16, (0x3000).to_bytes(2, "little"))   # pd_special past the page
    patch(os.path.join(d, r.files[("salv", "public.hdr_b")]), HEADER_BLOCK * PAGE, GARBAGE)
    toast = os.path.join(d, r.toast_file)
    if checksums:
        flip_tuple_data(toast, TOAST_BLOCK)
    else:
        for number, _, _, _ in items(read(toast, TOAST_BLOCK * PAGE, PAGE)):
            patch(toast, TOAST_BLOCK * PAGE + 24 + 4 * (number - 1), bytes(4))   # LP_UNUSED: the chunk is gone
    catalog = os.path.join(d, r.catalog_file)
    if os.path.getsize(catalog) < (CATALOG_BLOCK + 1) * PAGE:
        raise Failure(f"{r.catalog_file} has no block {CATALOG_BLOCK}")
    patch(catalog, CATALOG_BLOCK * PAGE, GARBAGE)
    if CRASH_TABLE in TABLES:
        crash_tuple(os.path.join(d, r.files[CRASH_TABLE]), CRASH_BLOCK, CRASH_ITEM)


def invalid_page(stderr, file, blocks):
    """The server's "invalid page" error naming one of blocks of file (18 may count them in a range)."""
    one = re.search(r'invalid page in block (\d+) of relation "?([^"\s]+)"?', stderr)
    if one:
        return one.group(2) == file and int(one.group(1)) in blocks
    many = re.search(r'(\d+) invalid pages among blocks (\d+)\.\.(\d+) of relation "?([^"\s]+)"?', stderr)
    return bool(many) and many.group(4) == file and int(many.group(1)) == sum(
        1 for b in blocks if int(many.group(2)) <= b <= int(many.group(3)))


def last_error(stderr):
    lines = [line for line in stderr.splitlines() if "ERROR" in line or "FATAL" in line]
    return lines[-1] if lines else stderr.strip()[-300:]


def refuses(s, salvage_argv):
    """pgrescue-salvage on the running cluster: exit 2, --out not created."""
    a = s.a
    refused = os.path.join(s.base, "refused")
    p = subprocess.run([a.salvage, "--out", refused, *salvage_argv, "--json", s.data], capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 2 or os.path.exists(refused):
        raise Failure(f"pgrescue-salvage on a running cluster: exit {p.returncode} (want 2), --out "
                      f"{'created' if os.path.exists(refused) else 'not created'}: {p.stderr.strip()[-500:]}")
    print(f"{a.label}: pgrescue-salvage refuses the running cluster: {p.stderr.strip().splitlines()[-1:]}")


def prove(s, r, checksums, dumper, salvage_argv):
    """The server's own errors on the damage (the tables' with ignore_system_indexes, which a backend only
    takes at its start: the server is restarted with it); pgrescue-salvage refuses while it runs."""
    a, said = s.a, []
    s.start()
    try:
        if a.setup_only:
            print(f"{a.label}: --setup-only: pgrescue-salvage not run")
        else:
            refuses(s, salvage_argv)
        e = s.psql("salv", "SELECT count(*) FROM clean_c", check=False).stderr
        if not invalid_page(e, r.catalog_file, {CATALOG_BLOCK}):
            raise Failure(f"salv with {CATALOG_INDEX} damaged, without ignore_system_indexes: {e.strip()}")
        said.append(last_error(e))
        if dumper:
            p = s.c.as_user(f"{dumper}/pg_dump", "-h", s.base, "-p", str(a.port), "-U", "postgres", "-d", "salv",
                            "-f", "/dev/null", check=False)
            if p.returncode == 0 or "invalid page" not in p.stderr:
                raise Failure(f"{dumper}/pg_dump of salv: exit {p.returncode}: {p.stderr.strip()}")
            said.append(last_error(p.stderr))
    finally:
        s.c.stop()
    s.start("-c ignore_system_indexes=on")
    try:
        e = s.psql("salv", "SELECT count(*) FROM heap_a", check=False).stderr
        if not invalid_page(e, r.files[("salv", "public.heap_a")], set(HEAP_BLOCKS)):
            raise Failure(f"heap_a with blocks {HEAP_BLOCKS} damaged: {e.strip()}")
        said.append(last_error(e))
        e = s.psql("salv", "SELECT count(*) FROM hdr_b", check=False).stderr
        if not invalid_page(e, r.files[("salv", "public.hdr_b")], {HEADER_BLOCK}):
            raise Failure(f"hdr_b with block {HEADER_BLOCK}'s header garbage: {e.strip()}")
        said.append(last_error(e))
        e = s.psql("salv", "SELECT count(md5(body)) FROM toasty", check=False).stderr
        if checksums:
            ok = invalid_page(e, r.toast_file, {TOAST_BLOCK})
        else:
            m = re.search(r"(missing|unexpected) chunk number \d+ .*for toast value (\d+)", e)
            ok = bool(m) and int(m.group(2)) in r.damaged_values
        if not ok:
            raise Failure(f"toasty with TOAST block {TOAST_BLOCK} damaged (values {sorted(r.damaged_values)}): "
                          f"{e.strip()}")
        said.append(last_error(e))
        if s.rows("salv", "public.clean_c") != r.before[("salv", "public.clean_c")]:
            raise Failure("clean_c reads differently with ignore_system_indexes")
        if CRASH_TABLE in TABLES:
            said += prove_crash(s, r, dumper)
    finally:
        s.c.stop()
    if CRASH_TABLE in TABLES:
        # As a cluster manager (Pacemaker's PAF) wants it: the tool's private server must restart all the same.
        with open(os.path.join(s.data, "postgresql.conf"), "a") as f:
            f.write("restart_after_crash = off\n")
    if CRASH_TABLE in TABLES and a.check:
        print(f"{a.label}: {unseen_by_check(s, r)}")
    for line in said:
        print(f"{a.label}: the server says: {line}")


def crashes(log):
    """The server log's "server process (PID n) was terminated by signal n" lines ("client backend" from 18)."""
    try:
        with open(log, errors="replace") as f:
            return re.findall(r"(?:server process|client backend) \(PID \d+\) was terminated by signal \d+[^\n]*",
                              f.read())
    except OSError:
        return []


def wait_recovered(s, limit=120):
    deadline = time.monotonic() + limit
    while s.psql("postgres", "SELECT 1", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise Failure(f"the server did not come back {limit} s after a crash: {open(s.data + '.log').read()[-1500:]}")
        time.sleep(0.2)


def unseen_by_check(s, r):
    """pgrescue-check (--check) on the stopped cluster finds nothing wrong with crash_d: no damaged block,
    no tuple problem."""
    p = subprocess.run([s.a.check, "--json", s.data], capture_output=True, text=True, timeout=300)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise Failure(f"pgrescue-check exit {p.returncode}: {p.stderr.strip()[-500:]}")
    file = r.files[CRASH_TABLE]
    seen = [d for d in doc.get("damaged", []) if d.get("file") == file] + \
        [t for t in doc.get("tuple_problems", []) if file in json.dumps(t) or "crash_d" in json.dumps(t)]
    if seen:
        raise Failure(f"pgrescue-check sees the crashing tuple after all (the test's premise): {seen[:3]}")
    return f"pgrescue-check (exit {p.returncode}) finds nothing in {file}: {len(doc.get('damaged', []))} damaged " \
           f"blocks elsewhere, {len(doc.get('tuple_problems', []))} tuple problems"


def crashes_logged(log, before, seconds=60):
    """The crashes logged after the first `before`: the client sees its connection close before the postmaster
    has reaped the process and logged why, so wait (on a loaded machine, seconds) for the line."""
    deadline = time.monotonic() + seconds
    while len(crashes(log)) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    return crashes(log)[before:]


def prove_crash(s, r, dumper):
    """Reading crash_d's damaged tuple kills the backend (the server log says so), and pg_dump with it; reading
    the other rows does not."""
    said, log = [], s.data + ".log"
    before = len(crashes(log))
    p = s.psql("salv", "COPY (SELECT * FROM crash_d ORDER BY id) TO STDOUT", check=False)
    died = crashes_logged(log, before)
    if p.returncode == 0 or len(died) != 1:
        raise Failure(f"crash_d with a ~1 GB varlena header at {r.crash_ctid}: psql exit {p.returncode}, "
                      f"{p.stderr.strip()[-500:]}; server log: {died}")
    said += [next((line for line in p.stderr.splitlines() if "closed the connection" in line), last_error(p.stderr)),
             died[0]]
    wait_recovered(s)
    others = [i for ctid, i in r.ctids[CRASH_TABLE].items() if ctid != r.crash_ctid]
    got = s.psql("salv", f"COPY (SELECT * FROM crash_d WHERE ctid <> '{r.crash_ctid}' ORDER BY id) TO STDOUT").stdout
    if sorted(int(line.split("\t")[0]) for line in got.splitlines()) != sorted(others):
        raise Failure(f"crash_d without {r.crash_ctid}: {len(got.splitlines())} rows, want {len(others)}")
    if dumper:
        before = len(crashes(log))
        p = s.c.as_user(f"{dumper}/pg_dump", "-h", s.base, "-p", str(s.a.port), "-U", "postgres", "-d", "salv",
                        "-t", "public.crash_d", "-f", "/dev/null", check=False)
        died = crashes_logged(log, before)
        if p.returncode == 0 or len(died) != 1:
            raise Failure(f"{dumper}/pg_dump -t crash_d: exit {p.returncode}: {p.stderr.strip()[-500:]}; server log: "
                          f"{died}")
        said.append(last_error(p.stderr))
        wait_recovered(s)
    return said


def watch(s, proc, limit, worked_on):
    """Until proc exits: each time a private server's postmaster.pid (worked_on's: the copy's, or with
    --in-place the original's; the reload's) says ready, psql on the configured socket and port and TCP on
    127.0.0.1:port must reach nothing."""
    pidfiles = [os.path.join(worked_on, "postmaster.pid"), os.path.join(s.reloaded, "postmaster.pid")]
    seen, problems = {}, []
    deadline = time.monotonic() + limit
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise Failure(f"pgrescue-salvage still running after {limit} s; killed")
        for pf in pidfiles:
            try:
                with open(pf) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            if len(lines) < 8 or lines[7].strip() != "ready" or (pf, lines[0]) in seen:
                continue
            reach = s.reachable()
            try:
                with open(pf) as f:
                    still = f.read().splitlines()[:1] == lines[:1]
            except OSError:
                still = False
            if not still:
                continue     # it stopped while probed: the probes proved nothing; look again
            where = os.path.dirname(pf)
            seen[(pf, lines[0])] = reach
            sockdir, listen = lines[4].strip(), lines[5].strip()
            if reach != (False, False):
                problems.append(f"while the private server in {where} ran (port {lines[3].strip()}, socket "
                                f"{sockdir}, listen '{listen}'): psql on {s.base}:{s.a.port} reachable = {reach[0]}, "
                                f"TCP 127.0.0.1:{s.a.port} reachable = {reach[1]}")
            if listen:
                problems.append(f"the private server in {where} listens on '{listen}'")
            if os.path.realpath(sockdir) == os.path.realpath(s.base):
                problems.append(f"the private server in {where} has its socket in the configured directory")
            elif os.path.isdir(sockdir) and os.stat(sockdir).st_mode & 0o777 != 0o700:
                problems.append(f"the private server's socket directory {sockdir} is {os.stat(sockdir).st_mode & 0o777:o}")
        time.sleep(0.02)
    if not any(pf == pidfiles[0] for pf, _ in seen):
        problems.append(f"never saw the private server on {worked_on} ready ({pidfiles[0]})")
    return seen, problems


def copy_blocks(path):
    """COPY ... FROM stdin blocks of a psql script: table ("schema.table") -> data lines."""
    out, name = {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if name is None:
                m = re.match(r"COPY\s+(\S+?)\s*(\(.*\))?\s+FROM\s+stdin", line, re.I)
                if m:
                    name = m.group(1).replace('"', "")
                    name = name if "." in name else "public." + name
                    out.setdefault(name, [])
            elif line == "\\.":
                name = None
            else:
                out[name].append(line)
    return out


def compare(label, before, lost, got):
    """got (COPY lines) must be before's lines without the lost ids, each once. Problems as text."""
    want = sorted(line for line in before if int(line.split("\t")[0]) not in lost)
    got = sorted(got)
    if got == want:
        return []
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    dup = len(got) - len(set(got))
    return [f"{label}: {len(got)} rows, want {len(want)}: {len(missing)} missing (ids "
            f"{[m.split(chr(9))[0] for m in missing[:10]]}), {len(extra)} not expected "
            f"({[e[:60] for e in extra[:3]]}), {dup} duplicates"]


def zeroed_blocks(words):
    """The server's "invalid page in block N of relation F; zeroing out page": (F, N), or None."""
    m = re.search(r'invalid page in block (\d+) of relation "?([^"\s;]+)"?; zeroing out page', words)
    return (m.group(2), int(m.group(1))) if m else None


def check_report(s, r, rep, code, dumper, checksums, mode):
    """mode: "copy" (the default run), "zero" (--zero-damaged-pages), "in-place"."""
    a, problems = s.a, []

    def expect(ok, text):
        if not ok:
            problems.append(text)

    expect(code == 1, f"exit {code}, want 1 (saved with losses)")
    expect(os.path.realpath(rep.get("data_dir", "")) == os.path.realpath(s.data), f"data_dir {rep.get('data_dir')}")
    worked_on = s.data if mode == "in-place" else os.path.join(s.out, "copy")
    expect(os.path.realpath(rep.get("worked_on", "")) == os.path.realpath(worked_on),
           f"worked_on {rep.get('worked_on')}, want {worked_on}")
    expect(rep.get("in_place") is (mode == "in-place"), f"in_place {rep.get('in_place')}")
    if mode == "in-place":
        expect("copy" in rep and rep["copy"] is None, f"copy {rep.get('copy', '(absent)')}, want null in place")
        expect(not os.path.exists(os.path.join(s.out, "copy")), f"{s.out}/copy exists in place")
    else:
        copy = rep.get("copy") or {}
        expect(copy.get("method") in ("reflink", "copy") and copy.get("bytes", 0) > 0, f"copy {copy}")
    server = rep.get("server") or {}
    want_bin = a.bin_dir
    expect(os.path.realpath(server.get("bindir", "")) == os.path.realpath(want_bin)
           and re.search(rf"(^|\D){r.major}(\.|$|\D)", server.get("version", "")), f"server {server}, want {want_bin}")
    if dumper:
        expect(os.path.realpath((rep.get("pg_dump") or {}).get("bindir", "")) == dumper
               and rep.get("pg_dump_missing") is None, f"pg_dump {rep.get('pg_dump')}, want {dumper}; "
               f"pg_dump_missing {rep.get('pg_dump_missing')}")
    else:
        expect(rep.get("pg_dump") is None and isinstance(rep.get("pg_dump_missing"), str)
               and rep["pg_dump_missing"].strip(), f"no pg_dump >= {r.major} here: pg_dump {rep.get('pg_dump')}, "
               f"pg_dump_missing {rep.get('pg_dump_missing')!r}")
    why = rep.get("ignore_system_indexes_why") or ""
    expect(rep.get("ignore_system_indexes") is True and (CATALOG_INDEX in why or r.catalog_file in why),
           f"ignore_system_indexes {rep.get('ignore_system_indexes')}, why {why!r} (damaged: {CATALOG_INDEX}, "
           f"{r.catalog_file} block {CATALOG_BLOCK})")
    expect(rep.get("zero_damaged_pages") is (mode == "zero"), f"zero_damaged_pages {rep.get('zero_damaged_pages')}")
    zeroed = rep.get("zeroed")
    if mode == "zero":
        # Every damaged page the table pass read, in the server's words, each once: the damaged heap blocks
        # and, with checksums, the TOAST block (without them its page is valid, its chunks gone).
        want = {(r.files[(db, t)], b) for db, t, b in r.blocks} | ({(r.toast_file, TOAST_BLOCK)} if checksums else set())
        got = [zeroed_blocks(w) for w in zeroed or []]
        expect(isinstance(zeroed, list) and None not in got and sorted(got) == sorted(want),
               f"zeroed {zeroed}; want once each, the server's 'invalid page in block N of relation F; zeroing "
               f"out page' for {sorted(want)}")
    else:
        expect(zeroed in (None, []), f"zeroed {zeroed} without --zero-damaged-pages")
    expect(isinstance(rep.get("restore"), list) and rep["restore"], f"restore {rep.get('restore')}")

    tables = {(d["name"], t["name"]): t for d in rep.get("databases", []) for t in d.get("tables", [])}
    expect(set(tables) == TABLES, f"tables {sorted(tables)}, want {sorted(TABLES)}")
    skipped = {(db, name, b["block"]): b for (db, name), t in tables.items() for b in t.get("skipped_blocks", [])}
    expect(set(skipped) == set(r.blocks), f"skipped blocks {sorted(skipped)}, injected {sorted(r.blocks)}")
    for key, b in skipped.items():
        if key in r.blocks:
            expect(b.get("rows_lost") == len(r.blocks[key]), f"{key}: rows_lost {b.get('rows_lost')}, "
                   f"{len(r.blocks[key])} rows were on it")
            words = "zeroing out page" if mode == "zero" else "invalid page"
            expect(words in (b.get("error") or ""), f"{key}: error {b.get('error')!r}, want the server's "
                   f"'{words}'")
            if mode == "zero":
                expect(zeroed_blocks(b.get("error") or "") == (r.files[key[:2]], key[2]),
                       f"{key}: error {b.get('error')!r} names another page")
    for key, t in sorted(tables.items()):
        rows = t.get("failed_rows") or []
        failed = {f["ctid"].replace(" ", ""): f.get("error") or "" for f in rows}
        want = r.failed.get(key, set())
        expect(set(failed) == want and len(rows) == len(failed),
               f"{key}: failed_rows {[f.get('ctid') for f in rows]}, want {sorted(want)}"
               + (f" (the rows with a chunk on TOAST block {TOAST_BLOCK})" if key == ("salv", "public.toasty") else ""))
        for ctid, error in failed.items():
            if key == CRASH_TABLE:
                words = "crash"
            else:
                # zero_damaged_pages turns the TOAST page's checksum failure into a chunk that is missing.
                words = "invalid page" if checksums and mode != "zero" else "chunk number"
            expect(words in error, f"{key} {ctid}: error {error!r}, want '{words} ...'")
    saved = lost = 0
    for key in sorted(TABLES & set(tables)):
        t, before = tables[key], len(r.before[key])
        want_lost = len(r.lost[key])
        saved += t.get("rows_saved", 0)
        lost += t.get("rows_lost", 0)
        expect(t.get("file") == r.files[key], f"{key}: file {t.get('file')}, want {r.files[key]}")
        expect(t.get("rows_lost") == want_lost and t.get("rows_saved") == before - want_lost
               and t.get("rows_lost_uncounted_blocks") == 0,
               f"{key}: rows_saved {t.get('rows_saved')}, rows_lost {t.get('rows_lost')}, uncounted "
               f"{t.get('rows_lost_uncounted_blocks')}; want {before - want_lost} saved, {want_lost} lost")
        if dumper:
            how = "by block" if r.lost[key] else "pg_dump"
            expect(t.get("how") == how, f"{key}: how {t.get('how')!r}, want {how!r}")
    totals = {k: v for k, v in (rep.get("totals") or {}).items() if k in ("tables", "rows_saved", "rows_lost",
                                                                          "blocks_skipped")}
    expect(totals == {"tables": len(TABLES), "rows_saved": saved, "rows_lost": lost, "blocks_skipped": len(r.blocks)},
           f"totals {totals}, the tables add up to {len(TABLES)} tables, {saved} saved, {lost} lost, "
           f"{len(skipped)} blocks skipped")
    for d in rep.get("databases", []):
        dump, salvaged = d.get("dump"), d.get("salvaged")
        dump = dump and (dump if os.path.isabs(dump) else os.path.join(s.out, dump))
        salvaged = salvaged and (salvaged if os.path.isabs(salvaged) else os.path.join(s.out, salvaged))
        if dumper:
            expect(dump and os.path.isfile(os.path.join(dump, "toc.dat")), f"database {d.get('name')}: dump {dump}")
        if d.get("name") == "salv":
            expect(salvaged and os.path.exists(salvaged), f"database salv: salvaged {salvaged}")
    for d in (worked_on, s.reloaded):
        expect(not os.path.exists(os.path.join(d, "postmaster.pid")), f"a server still runs in {d} after the tool exited")
    return problems, tables


def check_reload(s, r, rep):
    problems = []
    reload = rep.get("reload") or {}
    if os.path.realpath(reload.get("data_dir", "")) != os.path.realpath(s.reloaded) or reload.get("mismatches") \
            or reload.get("tables_checked") != len(TABLES):
        problems.append(f"reload {reload}")
    if not os.path.isfile(os.path.join(s.reloaded, "PG_VERSION")):
        return problems + [f"no cluster in {s.reloaded}"]
    new = Cluster(s.a, s.base, os.path.basename(s.reloaded))
    new.start()
    try:
        for db, t in sorted(TABLES):
            p = s.psql(db, f"COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT", check=False)
            if p.returncode != 0:
                problems.append(f"reloaded {db}.{t}: {p.stderr.strip()}")
                continue
            problems += compare(f"reloaded {db}.{t}", r.before[(db, t)], r.lost[(db, t)], p.stdout.splitlines())
        if s.psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'salv_owner'").stdout.strip() != "1":
            problems.append("reloaded: role salv_owner (globals) missing")
    finally:
        new.stop()
    return problems


def check_data_only(s, r, rep):
    problems, got = [], {}
    for d in rep.get("databases", []):
        path = d.get("salvaged")
        if not path and not d.get("tables"):
            continue    # template1: no tables, nothing to salvage
        if not path:
            problems.append(f"database {d.get('name')}: salvaged {path}")
            continue
        path = path if os.path.isabs(path) else os.path.join(s.out, path)
        files = [path] if os.path.isfile(path) else [os.path.join(w, f) for w, _, fs in os.walk(path) for f in fs]
        for f in files:
            for name, lines in copy_blocks(f).items():
                got.setdefault((d["name"], name), []).extend(lines)
    for key in sorted(TABLES):
        if key not in got:
            problems.append(f"no COPY data for {key} in the salvaged output (have {sorted(got)})")
            continue
        problems += compare(f"salvaged {key[0]}.{key[1]}", r.before[key], r.lost[key], got[key])
    return problems


def salvage_run(s, r, dumper, bindir, checksums, mode):
    """One pgrescue-salvage run into s.out (and s.reloaded) and its checks: (problems, context)."""
    a = s.a
    extra = {"copy": [], "zero": ["--zero-damaged-pages"], "in-place": ["--in-place"]}[mode]
    worked_on = s.data if mode == "in-place" else os.path.join(s.out, "copy")
    argv = [a.salvage, "--out", s.out, *bindir, *extra, *(["--reload", s.reloaded] if dumper else []), "--json",
            s.data]
    name = os.path.basename(s.out)
    out_path, err_path = os.path.join(s.base, f"{name}.stdout"), os.path.join(s.base, f"{name}.stderr")
    started = time.monotonic()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        seen, problems = watch(s, proc, a.limit, worked_on)
    seconds = time.monotonic() - started
    with open(out_path) as f:
        stdout = f.read()
    with open(err_path) as f:
        stderr = f.read()
    log = os.path.join(s.out, "server.log")
    tail = open(log, errors="replace").read()[-2000:] if os.path.exists(log) else "(no server.log)"
    context = (f"\n--- {' '.join(argv)}: exit {proc.returncode} after {seconds:.1f} s\n--- stderr:\n{stderr[-3000:]}"
               f"\n--- stdout (head):\n{stdout[:3000]}\n--- server.log (tail):\n{tail}")
    try:
        rep = json.loads(stdout)
    except ValueError:
        raise Failure(f"{mode}: no JSON on stdout{context}")
    try:
        with open(os.path.join(s.out, "report.json")) as f:
            if json.load(f) != rep:
                problems.append("report.json differs from the JSON on stdout")
    except (OSError, ValueError) as e:
        problems.append(f"report.json: {e}")
    print(f"{a.label} [{mode}]: pgrescue-salvage {' '.join(extra)} exit {proc.returncode} in {seconds:.1f} s; private "
          f"servers seen ready {len(seen)} time(s), psql/TCP on the configured socket and port reached nothing: "
          f"{all(v == (False, False) for v in seen.values()) and bool(seen)}")

    more, tables = check_report(s, r, rep, proc.returncode, dumper, checksums, mode)
    problems += more
    problems += check_reload(s, r, rep) if dumper else check_data_only(s, r, rep)
    if CRASH_TABLE in TABLES:
        # Each crash costs a crash restart of the private server: pg_dump's, then each range holding the
        # block as the copy halves it down to the block, then the row. More would mean the tool reads the
        # tuple again, or blamed a read that another crash ended; fewer, that it skipped the halving.
        died = crashes(log)
        want = (1 if dumper else 0) + len(ranges_holding(r.crash_blocks, CRASH_BLOCK)) + 1
        print(f"{a.label} [{mode}]: the private server's backends crashed {len(died)} time(s) ({want} expected "
              f"for {r.crash_blocks} blocks): {died[:1]}")
        if len(died) != want:
            problems.append(f"{len(died)} backend crashes in {log}, want {want}: {died[:8]}")

    saved = sum(t.get("rows_saved", 0) for t in tables.values())
    lost = sum(t.get("rows_lost", 0) for t in tables.values())
    total = sum(len(v) for v in r.before.values())
    want_lost = sum(len(v) for v in r.lost.values())
    print(f"{a.label} [{mode}]: rows saved {saved} / lost {lost} / expected {total - want_lost} saved, {want_lost} "
          f"lost of {total} ({'pg_dump ' + dumper + ' and reload' if dumper else 'data-only: ' + str(rep.get('pg_dump_missing'))}"
          f"; checksums {'on' if checksums else 'off'})")
    return problems, context


def ranges_holding(blocks, block):
    """The block ranges [lo, hi) the copy by block reads, halving each failed one, that hold `block`: for a table
    read as one range (up to 256 blocks before 14, 2048 from 14) with no block known damaged, as crash_d is."""
    lo, hi, held = 0, blocks, []
    while True:
        held.append((lo, hi))
        if hi - lo == 1:
            return held
        mid = lo + (hi - lo) // 2
        lo, hi = (lo, mid) if block < mid else (mid, hi)


def config_hashes(s):
    return {name: file_hash(os.path.join(s.data, name))
            for name in ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf")}


def file_hash(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def check_in_place(s, r, hashes, configs):
    """After --in-place: the original was written, but its configuration is its own again, nothing runs in
    it, and its own server starts on it (configured socket and port) with the undamaged tables' rows."""
    problems = []
    after = tree_hashes(s.data)
    changed = sorted(k for k in set(after) | set(hashes) if after.get(k) != hashes.get(k))
    print(f"{s.a.label} [in-place]: {len(changed)} file(s) of the original written: {changed[:8]}")
    if config_hashes(s) != configs:
        problems.append(f"the original's configuration files changed: {config_hashes(s)} vs {configs}")
    if os.path.exists(os.path.join(s.data, "postmaster.pid")):
        return problems + ["postmaster.pid left in the original"]
    try:
        s.start("-c ignore_system_indexes=on")
    except Failure as e:
        return problems + [f"the original does not start after --in-place: {e}"]
    try:
        if s.reachable() != (True, True):
            problems.append(f"the original after --in-place on its configured socket and port: psql, TCP reachable "
                            f"= {s.reachable()}")
        for key in sorted(TABLES):
            if r.lost[key]:
                continue
            got = s.rows(*key)
            if got != r.before[key]:
                problems.append(f"the original after --in-place: {key} has {len(got)} rows, "
                                f"{len(r.before[key])} before" + ("" if len(got) != len(r.before[key]) else
                                                                  " (different)"))
            else:
                print(f"{s.a.label} [in-place]: the original starts; {key[0]}.{key[1]} has its {len(got)} rows")
    finally:
        s.c.stop()
    return problems


def refusals(s, r, hashes, other_bindir):
    """Refused before anything is written (exit 2): a --bindir of another major, an --out that is not empty,
    a --reload that is the data directory (as given, and through a symbolic link)."""
    a, problems = s.a, []
    other = server_major(other_bindir)
    if other == r.major:
        raise Failure(f"--other-bindir {other_bindir} is of the cluster's major {r.major}")
    full = os.path.join(s.base, "full")
    os.mkdir(full)
    with open(os.path.join(full, "keep.txt"), "w") as f:
        f.write("not salvage's\n")
    shutil.chown(full, a.user)
    link = os.path.join(s.base, "data-link")
    os.symlink(s.data, link)
    bindir = [] if a.no_bindir else ["--bindir", a.bin_dir]
    cases = [
        ("--bindir of another major", os.path.join(s.base, "refused-bindir"), ["--bindir", other_bindir],
         [rf"(^|\D){other}(\D|$)", rf"(^|\D){r.major}(\D|$)"]),
        ("--out not empty", full, bindir, []),
        ("--reload the data directory", os.path.join(s.base, "refused-reload"), [*bindir, "--reload", s.data], []),
        ("--reload a link to the data directory", os.path.join(s.base, "refused-reload-link"),
         [*bindir, "--reload", link], []),
    ]
    for what, out, argv, words in cases:
        before = tree_hashes(out) if os.path.exists(out) else None
        started = time.monotonic()
        p = subprocess.run([a.salvage, "--out", out, *argv, "--json", s.data], capture_output=True, text=True,
                           timeout=120)
        seconds = time.monotonic() - started
        after = tree_hashes(out) if os.path.exists(out) else None
        said = p.stderr.strip().splitlines()[-1:] or p.stdout.strip()[-300:]
        print(f"{a.label} [refusals]: {what}: exit {p.returncode} in {seconds:.1f} s: {said}")
        if p.returncode != 2:
            problems.append(f"{what}: exit {p.returncode}, want 2: {p.stderr.strip()[-500:]} {p.stdout[:500]}")
        if after != before:
            problems.append(f"{what}: --out {out} was {sorted(before) if before is not None else 'absent'}, is "
                            f"{sorted(after) if after is not None else 'absent'}")
        missing = [w for w in words if not re.search(w, p.stderr)]
        if missing:
            problems.append(f"{what}: the message names not both majors ({other} and {r.major}): {p.stderr.strip()}")
        if tree_hashes(s.data) != hashes:
            problems.append(f"{what}: the original data directory changed")
        if os.path.exists(os.path.join(s.data, "postmaster.pid")):
            problems.append(f"{what}: postmaster.pid in the original")
    os.unlink(link)
    return problems


def server_major(bindir):
    v = subprocess.run([f"{bindir}/postgres", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)(\.\d+)?", v)
    if not m:
        raise Failure(f"{bindir}/postgres --version: {v!r}")
    return int(m.group(1))


def scenario(s):
    a = s.a
    checksums = not a.no_checksums
    if a.crash:
        if checksums:
            raise Failure("--crash needs --no-checksums: a checksum would catch the damaged tuple")
        SETUP.extend(CRASH_SETUP)
        TABLES.add(CRASH_TABLE)
    r = build(s, checksums)
    dumper = s.dumper(r.major)
    bindir = [] if a.no_bindir else ["--bindir", a.bin_dir]
    damage(s, r, checksums)
    prove(s, r, checksums, dumper, bindir)
    if a.setup_only:
        return 0
    hashes = tree_hashes(s.data)
    problems, contexts = [], []
    if a.refusals:
        problems += refusals(s, r, hashes, a.refusals)

    modes = ["copy"] + [m for m in ("zero", "in-place") if m in (a.also or [])]
    configs = config_hashes(s)
    for mode in modes:
        if mode != "copy":
            s.use(f"out-{mode}", f"reloaded-{mode}")
        more, context = salvage_run(s, r, dumper, bindir, checksums, mode)
        if mode == "in-place":
            more += check_in_place(s, r, hashes, configs)
        else:
            after = tree_hashes(s.data)
            if after != hashes:
                changed = sorted(k for k in set(after) | set(hashes) if after.get(k) != hashes.get(k))
                more.append(f"the original data directory changed: {changed[:20]}")
        problems += [f"[{mode}] {p}" for p in more]
        if more:
            contexts.append(context)
    if problems:
        raise Failure(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems) + "".join(contexts))
    return 0


def main():
    ap = argparse.ArgumentParser()
    for name in ("--label", "--bin-dir", "--psql", "--salvage", "--user"):
        ap.add_argument(name, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--no-checksums", action="store_true")
    ap.add_argument("--no-bindir", action="store_true", help="run pgrescue-salvage without --bindir: it must "
                    "find the server (and pg_dump) itself")
    ap.add_argument("--limit", type=int, default=240, help="seconds pgrescue-salvage may take")
    ap.add_argument("--crash", action="store_true", help="(with --no-checksums) one more table with a tuple "
                    "that crashes the backend reading it")
    ap.add_argument("--check", help="pgrescue-check, to show that it does not see --crash's tuple")
    ap.add_argument("--also", action="append", choices=("zero", "in-place"), help="after the default run, run "
                    "again with --zero-damaged-pages (zero) or --in-place (last: it writes the original)")
    ap.add_argument("--refusals", metavar="OTHER_BINDIR", help="before the run, the refusals that need no "
                    "server: OTHER_BINDIR (a server of another major) as --bindir, a non-empty --out, "
                    "--reload the data directory")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--setup-only", action="store_true", help="build, damage and prove the damage; no salvage")
    a = ap.parse_args()
    if header_valid(GARBAGE):
        raise Failure("the garbage header would pass the server's header check")
    base = tempfile.mkdtemp(prefix=f"pgrescue-salvage-{a.label}-")
    shutil.chown(base, a.user)
    os.chmod(base, 0o755)
    s = Salvage(a, base)
    try:
        return scenario(s)
    finally:
        s.stop_all()
        if a.keep:
            print(f"{a.label}: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run(main)
