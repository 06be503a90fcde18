#!/usr/bin/env python3
"""Real-server test of pgrescue-inspect for one PostgreSQL major version.

For each cluster variant: initdb (as an unprivileged user), start, run a
workload, CHECKPOINT, and compare `pgrescue-inspect --json` on
global/pg_control with the server's own pg_control_*() view; stop, compare the
shut-down file with what the server reports after a restart. Where Debian's
pg_controldata of the same major is given, the text output must equal it byte
for byte, on healthy and on damaged copies of the file.

Exit 0 when everything matched; the last line says how many checks passed.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

from pgtest import Failure, lsn, tree_hashes

SQL_VIEW = """select json_build_object(
  'system', (select row_to_json(s) from pg_control_system() s),
  'init', (select row_to_json(i) from pg_control_init() i),
  'checkpoint', (select row_to_json(c) from pg_control_checkpoint() c),
  'recovery', (select row_to_json(r) from pg_control_recovery() r))"""

WORKLOAD = """
create table t (id int primary key, v int);
insert into t select g, 0 from generate_series(1, 5000) g;
do $$ begin
  for i in 1..300 loop
    perform 1 from t where id = i for share;
    begin
      update t set v = v + 1 where id = i;
    exception when others then null;
    end;
  end loop;
end $$;
create table u as select g as id from generate_series(1, 1000) g;
"""


class Cluster:
    def __init__(self, args, name, initdb_flags, port):
        self.args = args
        self.name = name
        self.port = port
        self.base = tempfile.mkdtemp(prefix=f"pgrescue-{args.label}-{name}-", dir=args.work_dir)
        shutil.chown(self.base, args.user)
        self.data = os.path.join(self.base, "data")
        self.sock = self.base
        self.as_user([self.bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                      "--no-sync", *initdb_flags])

    def bin(self, name):
        return os.path.join(self.args.bin_dir, name)

    def as_user(self, argv):
        run(["runuser", "-u", self.args.user, "--", "env", "LANG=C", "LC_ALL=C", "TZ=UTC", *argv])

    def start(self, check=True, extra=""):
        opts = (f"-c listen_addresses='' -c unix_socket_directories={self.sock} -c port={self.port} "
                "-c max_connections=42 -c max_prepared_transactions=7 -c checkpoint_timeout=1h "
                "-c fsync=off -c track_commit_timestamp=on " + extra)
        argv = [self.bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.base, "log"),
                "-w", "-t", "120", "-o", opts, "start"]
        if check:
            self.as_user(argv)
            return True
        p = subprocess.run(["runuser", "-u", self.args.user, "--", *argv], capture_output=True, text=True)
        return p.returncode == 0

    def stop(self, mode="fast"):
        self.as_user([self.bin("pg_ctl"), "-D", self.data, "-w", "-t", "120", "-m", mode, "stop"])

    def sql(self, text):
        return run([self.args.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                    "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", text],
                   env={"PGTZ": "UTC", "PGOPTIONS": "-c TimeZone=UTC"})

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        """On failure, show the end of the server log; always stop and remove."""
        log = os.path.join(self.base, "log")
        if kind is not None and os.path.exists(log):
            sys.stderr.write(open(log).read()[-3000:])
        try:
            self.stop("immediate")
        except Failure:
            pass
        self.cleanup()
        return False


def run(argv, env=None, check=True):
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run(argv, capture_output=True, text=True, env=full_env)
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def inspect(args, target, *flags, check=True):
    argv = [args.inspect, *flags, target]
    p = subprocess.run(argv, capture_output=True, text=True,
                       env=dict(os.environ, TZ="UTC", LANG="C", LC_ALL="C"))
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {p.returncode}: {p.stderr}")
    return p


def compare_view(cluster, what, skip=()):
    """The server's SQL view against ours; returns the number of fields compared."""
    theirs = json.loads(cluster.sql(SQL_VIEW))
    ours = json.loads(inspect(cluster.args, cluster.data, "--json").stdout)
    compared = 0
    for group in ("system", "init", "checkpoint", "recovery"):
        if set(theirs[group]) != set(ours[group]):
            raise Failure(f"{cluster.name} {what}: {group} keys differ: server {sorted(theirs[group])}, "
                          f"pgrescue {sorted(ours[group])}")
        for key, value in theirs[group].items():
            if key in skip:
                continue
            if ours[group][key] != value:
                raise Failure(f"{cluster.name} {what}: {group}.{key}: server {value!r}, "
                              f"pgrescue {ours[group][key]!r}")
            compared += 1
    return compared


def compare_text(args, cluster, what, target=None):
    """Debian's pg_controldata against ours on the same data directory."""
    target = target or cluster.data
    env = dict(os.environ, TZ="UTC", LANG="C", LC_ALL="C")
    theirs = subprocess.run([os.path.join(args.debian_tools, "pg_controldata"), target],
                            capture_output=True, text=True, env=env)
    ours = inspect(args, target, check=False)
    if theirs.stdout != ours.stdout:
        raise Failure(f"{cluster.name} {what}: text differs from Debian's pg_controldata:\n"
                      f"--- pg_controldata\n{theirs.stdout}\n--- pgrescue-inspect\n{ours.stdout}")
    if (theirs.returncode == 0) != (ours.returncode in (0, 1)):
        raise Failure(f"{cluster.name} {what}: pg_controldata exited {theirs.returncode}, "
                      f"pgrescue-inspect {ours.returncode}")


XACT_SEGMENT = 1048576
OFFSETS_SEGMENT = 65536
MEMBERS_SEGMENT = 52352


def plan(args, data, check_exit=None):
    p = subprocess.run([args.plan, "--json", data], capture_output=True, text=True)
    if check_exit is not None and p.returncode != check_exit:
        raise Failure(f"pgrescue-plan exited {p.returncode}, expected {check_exit}:\n{p.stdout}\n{p.stderr}")
    if p.returncode not in (0, 1):
        raise Failure(f"pgrescue-plan exited {p.returncode}: {p.stderr}")
    doc = json.loads(p.stdout)
    return doc, {v["option"]: v["value"] for v in doc["values"]}


def ahead_within(planned, actual, segment, what, modulus=2**32):
    """planned is at or after actual, by less than one segment (circularly)."""
    gap = (planned - actual) % modulus
    if gap > segment:
        raise Failure(f"planned {what} {planned} is not within one segment ({segment}) at or after the "
                      f"server's {actual}")
    return gap


def check_plan_against_control(args, cluster, ctl):
    """A plan of a cleanly stopped cluster: no hazards, every value at or
    just past what pg_control holds."""
    doc, v = plan(args, cluster.data, check_exit=0)
    cp = ctl["checkpoint"]
    xid = int(cp["next_xid"].split(":")[1])
    notes = []
    notes.append(f"-x {v['-x']} vs {xid} (+{ahead_within(int(v['-x']), xid, XACT_SEGMENT, '-x')})")
    next_multi, oldest_multi = (int(x) for x in v["-m"].split(","))
    notes.append(f"-m {v['-m']} vs {cp['next_multixact_id']},{cp['oldest_multi_xid']} "
                 f"(+{ahead_within(next_multi, int(cp['next_multixact_id']), OFFSETS_SEGMENT, '-m')})")
    if oldest_multi != int(cp["oldest_multi_xid"]):
        raise Failure(f"planned oldest multixact {oldest_multi}, server {cp['oldest_multi_xid']}")
    notes.append(f"-O {v['-O']} vs {cp['next_multi_offset']} "
                 f"(+{ahead_within(int(v['-O']), int(cp['next_multi_offset']), MEMBERS_SEGMENT, '-O')})")
    if int(v["-o"]) < int(cp["next_oid"]):
        raise Failure(f"planned -o {v['-o']} below the server's {cp['next_oid']}")
    notes.append(f"-o {v['-o']} vs {cp['next_oid']}")
    if v["-u"] != cp["oldest_xid"]:
        raise Failure(f"planned -u {v['-u']}, server's oldest XID {cp['oldest_xid']}")
    redo_file = cp["redo_wal_file"]
    if v["-l"] <= redo_file or v["-l"][:8] != redo_file[:8]:
        raise Failure(f"planned -l {v['-l']} is not past the REDO file {redo_file} on its timeline")
    notes.append(f"-l {v['-l']} vs REDO {redo_file}")
    if "-c" in v and cp["newest_commit_ts_xid"] != "0":
        oldest_ts, newest_ts = (int(x) for x in v["-c"].split(","))
        if oldest_ts > int(cp["oldest_commit_ts_xid"]) or newest_ts < int(cp["newest_commit_ts_xid"]):
            raise Failure(f"planned -c {v['-c']} does not cover the server's "
                          f"{cp['oldest_commit_ts_xid']},{cp['newest_commit_ts_xid']}")
        notes.append(f"-c {v['-c']} vs {cp['oldest_commit_ts_xid']},{cp['newest_commit_ts_xid']}")
    return notes


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def damaged_copies(args, cluster):
    """pg_control of a stopped 13-16 cluster, damaged four ways; each copy's
    text must equal Debian's pg_controldata 15 on it."""
    original = open(os.path.join(cluster.data, "global", "pg_control"), "rb").read()
    # Offsets in the 1300 layout: state 16, wal_level 172, xlog_seg_size 228; CRC at 288.
    cases = {"flipped-byte": (100, None), "state-9": (16, 9), "wal-level-7": (172, 7),
             "segsize-3000000": (228, 3000000), "segsize-1": (228, 1)}
    checks = 0
    for name, (offset, value) in cases.items():
        data = bytearray(original)
        if value is None:
            data[offset] ^= 0x55
        else:
            struct.pack_into("<I", data, offset, value)
            struct.pack_into("<I", data, 288, crc32c(bytes(data[:288])))
        copy = os.path.join(cluster.base, "damaged-" + name)
        os.makedirs(os.path.join(copy, "global"))
        open(os.path.join(copy, "global", "pg_control"), "wb").write(data)
        shutil.copy(os.path.join(cluster.data, "PG_VERSION"), copy)
        compare_text(args, cluster, "damaged " + name, target=copy)
        ours = inspect(args, copy, check=False)
        if ours.returncode != 1:
            raise Failure(f"damaged {name}: pgrescue-inspect exited {ours.returncode}, expected 1")
        checks += 1
    return checks


def test_cluster(args, name, initdb_flags, port):
    checks = 0
    with Cluster(args, name, initdb_flags, port) as cluster:
        cluster.start()
        cluster.sql(WORKLOAD)
        cluster.sql("checkpoint")
        n_running = compare_view(cluster, "after CHECKPOINT")
        if args.debian_tools:
            compare_text(args, cluster, "running")
            checks += 1
        cluster.stop()
        stopped = json.loads(inspect(args, cluster.data, "--json").stdout)
        if stopped["control"]["state"] != "shut down":
            raise Failure(f"{name}: state after stop is {stopped['control']['state']!r}")
        plan_notes = check_plan_against_control(args, cluster, stopped)
        checks += 1
        if args.debian_tools:
            compare_text(args, cluster, "shut down")
            checks += 1 + damaged_copies(args, cluster)
        cluster.start()
        # The restart rewrote the state and time only; the rest still describes
        # the shut-down checkpoint.
        n_restart = compare_view(cluster, "after restart")
        ours_restart = json.loads(inspect(args, cluster.data, "--json").stdout)
        for group in ("init", "checkpoint"):
            if ours_restart[group] != stopped[group]:
                raise Failure(f"{name}: {group} changed across a restart: {stopped[group]} -> {ours_restart[group]}")
        cluster.stop()
        rebuilt = rebuild_checks(args, cluster)
        print(f"{args.label} {name}: {n_running} fields equal the server's view after CHECKPOINT, "
              f"{n_restart} after restart")
        print(f"{args.label} {name}: rebuild: {rebuilt}")
        print(f"{args.label} {name}: plan: " + "; ".join(plan_notes))
        return checks + 2 + n_running + n_restart


def reset_end_to_end(args, port):
    """Push a cluster to high XIDs, MultiXacts and offsets with the real
    pg_resetwal, let new segments appear, lose pg_control, plan from the files
    alone, apply the plan with the real pg_resetwal -f, and start: the server
    runs new transactions and MultiXacts without errors."""
    resetwal = os.path.join(args.bin_dir, "pg_resetwal")
    with Cluster(args, "reset-e2e", [], port) as cluster:
        cluster.start()
        cluster.sql(WORKLOAD)
        cluster.stop()
        # Segment boundaries: pg_xact 0100, offsets 0010, members 0028.
        cluster.as_user([resetwal, "-x", str(256 * XACT_SEGMENT), "-m", f"{16 * OFFSETS_SEGMENT},1",
                         "-O", str(40 * MEMBERS_SEGMENT), "-D", cluster.data])
        cluster.start()
        cluster.sql(WORKLOAD.replace("create table t ", "create table t2 ").replace(" t ", " t2 ")
                    .replace("into t ", "into t2 ").replace("create table u ", "create table u2 "))
        # Freeze everything so the old segments are truncated, as on a live
        # system long after such a jump.
        cluster.sql("alter database template0 allow_connections true")
        for db in ("template0", "template1", "postgres"):
            run([args.psql, "-X", "-q", "-h", cluster.sock, "-p", str(port), "-U", "postgres", "-d", db,
                 "-c", "vacuum freeze"])
        cluster.sql("checkpoint")
        cluster.sql("select count(*) from t2")
        cluster.stop()
        before = json.loads(inspect(args, cluster.data, "--json").stdout)
        os.remove(os.path.join(cluster.data, "global", "pg_control"))
        doc, v = plan(args, cluster.data, check_exit=1)
        if not any(h["code"] == "control-missing" for h in doc["hazards"]):
            raise Failure(f"no control-missing hazard: {doc['hazards']}")
        open(os.path.join(cluster.data, "global", "pg_control"), "w").close()
        shutil.chown(os.path.join(cluster.data, "global", "pg_control"), args.user)
        guessed = run(["runuser", "-u", args.user, "--", resetwal, "-n", "-D", cluster.data], check=False)
        first = [l.split()[-1] for l in guessed.splitlines() if l.startswith("First log segment after reset:")]
        if not first or v["-l"] < first[0]:
            raise Failure(f"planned -l {v['-l']} is before pg_resetwal's own choice {first}")
        cp = before["checkpoint"]
        notes = [f"-x {v['-x']} vs {cp['next_xid']}", f"-m {v['-m']} vs {cp['next_multixact_id']}",
                 f"-O {v['-O']} vs {cp['next_multi_offset']}", f"-l {v['-l']} vs pg_resetwal's {first[0]}"]
        ahead_within(int(v["-x"]), int(cp["next_xid"].split(":")[1]), XACT_SEGMENT, "-x")
        ahead_within(int(v["-m"].split(",")[0]), int(cp["next_multixact_id"]), OFFSETS_SEGMENT, "-m")
        ahead_within(int(v["-O"]), int(cp["next_multi_offset"]), MEMBERS_SEGMENT, "-O")
        argv = [resetwal, "-f"]
        for value in doc["values"]:
            if value["in_command"]:
                argv += [value["option"], value["value"]]
        cluster.as_user(argv + ["-D", cluster.data])
        cluster.start()
        cluster.sql(WORKLOAD.replace("create table t ", "create table t3 ").replace(" t ", " t3 ")
                    .replace("into t ", "into t3 ").replace("create table u ", "create table u3 "))
        rows = cluster.sql("select count(*) from t2").strip()
        if rows != "5000":
            raise Failure(f"t2 has {rows} rows after the reset")
        cluster.sql("checkpoint")
        cluster.stop()
        log = open(os.path.join(cluster.base, "log")).read()
        if "could not access status of transaction" in log:
            raise Failure("the server log reports 'could not access status of transaction'")
        print(f"{args.label} reset-e2e: planned from files alone, applied with pg_resetwal -f, server runs "
              f"new transactions and MultiXacts; " + "; ".join(notes))
        return 6


def reset(args, *argv, expect=0):
    p = subprocess.run([args.reset, *argv], capture_output=True, text=True, env=dict(os.environ, TZ="UTC"))
    if p.returncode != expect:
        raise Failure(f"pgrescue-reset {' '.join(argv)} exited {p.returncode}, expected {expect}:\n"
                      f"{p.stdout}\n{p.stderr}")
    return p.stdout


def identity(args, data):
    doc = json.loads(inspect(args, data, "--json").stdout)
    return (doc["system"]["system_identifier"], doc["init"]["bytes_per_wal_segment"],
            doc["init"]["data_page_checksum_version"])


def rebuild_checks(args, cluster):
    """pg_control deleted (b), then overwritten with random bytes (c):
    pgrescue-reset --rebuild brings the server back with the same system
    identifier, segment size and checksum setting, and its data."""
    original = identity(args, cluster.data)
    control = os.path.join(cluster.data, "global", "pg_control")
    results = []
    for damage in ("deleted", "random bytes"):
        if damage == "deleted":
            os.remove(control)
        else:
            with open(control, "wb") as f:
                f.write(os.urandom(8192))
        reset(args, "--rebuild", "-D", cluster.data, expect=0)
        rebuilt = identity(args, cluster.data)
        if rebuilt != original:
            raise Failure(f"rebuild after pg_control {damage}: identity {rebuilt}, original {original}")
        cluster.start()
        rows = cluster.sql("select count(*) from t").strip()
        if rows != "5000":
            raise Failure(f"rebuild after pg_control {damage}: t has {rows} rows")
        cluster.sql("create table after_rebuild_%d as select g from generate_series(1, 10) g" % len(results))
        cluster.stop()
        results.append(damage)
    return (f"pg_control {' / '.join(results)}: --rebuild, server starts, 5000 rows; system identifier "
            f"{original[0]}, {original[1]}-byte segments, checksum version {original[2]} as before")


def lost_wal(args, port):
    """WAL lost after a crash: the server cannot start; pgrescue-reset --auto -f
    makes it start with the data of the last checkpoint. -n changes nothing and
    --undo puts back every byte."""
    with Cluster(args, "lost-wal", [], port) as cluster:
        cluster.start()
        cluster.sql(WORKLOAD)
        cluster.sql("checkpoint")
        cluster.sql("create table after_checkpoint as select g from generate_series(1, 100) g")
        cluster.stop("immediate")
        wal = os.path.join(cluster.data, "pg_wal")
        for name in os.listdir(wal):
            if len(name) == 24:
                os.remove(os.path.join(wal, name))
        if cluster.start(check=False):
            raise Failure("the server started although its WAL was deleted")
        if os.path.exists(os.path.join(cluster.data, "postmaster.pid")):
            os.remove(os.path.join(cluster.data, "postmaster.pid"))
        before = tree_hashes(cluster.data)
        reset(args, "-n", "--auto", "-f", "-D", cluster.data)
        if tree_hashes(cluster.data) != before:
            raise Failure("pgrescue-reset -n changed the data directory")
        reset(args, "--auto", "-f", "-D", cluster.data)
        if tree_hashes(cluster.data) == before:
            raise Failure("the reset changed nothing")
        reset(args, "--undo", "-D", cluster.data)
        after_undo = tree_hashes(cluster.data)
        if after_undo != before:
            changed = sorted(k for k in set(before) | set(after_undo) if before.get(k) != after_undo.get(k))
            raise Failure(f"--undo left differences: {changed}")
        out = reset(args, "--auto", "-f", "-D", cluster.data)
        cluster.start()
        rows = cluster.sql("select count(*) from t").strip()
        if rows != "5000":
            raise Failure(f"t has {rows} rows after the reset, expected the 5000 committed before the checkpoint")
        cluster.sql(WORKLOAD.replace("create table t ", "create table t3 ").replace(" t ", " t3 ")
                    .replace("into t ", "into t3 ").replace("create table u ", "create table u3 "))
        cluster.sql("checkpoint")
        cluster.stop()
        log = open(os.path.join(cluster.base, "log")).read()
        if "could not access status of transaction" in log:
            raise Failure("the server log reports 'could not access status of transaction'")
        command = [l for l in out.splitlines() if l.startswith("-x ")]
        print(f"{args.label} lost-wal: server refused to start; -n changed nothing; reset --auto -f; "
              f"--undo restored {len(before)} files byte for byte; reset again; server starts, 5000 rows, "
              f"new transactions and MultiXacts work ({command[0] if command else ''})")
        return 5


def wal_json(args, data, *flags):
    return json.loads(inspect(args, data, "--wal", "--json", *flags, check=False).stdout)


def lsn_text(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def damage_record(cluster, lsn_text, segment_size, timeline=1, at=30):
    """Flips a byte `at` bytes into the record at `lsn_text` (a page header in
    between is skipped), in the segment file that holds it."""
    hi, lo = (int(x, 16) for x in lsn_text.split("/"))
    lsn = (hi << 32) | lo
    pos = lsn + at
    if pos // 8192 != lsn // 8192:
        # Past a page header: the long one (40 bytes) when the page starts a
        # segment; where the checkpoint lands depends on the workload's WAL.
        pos += 40 if pos // 8192 * 8192 % segment_size == 0 else 24
    segno = pos // segment_size
    per_log = 0x100000000 // segment_size
    name = f"{timeline:08X}{segno // per_log:08X}{segno % per_log:08X}"
    with open(os.path.join(cluster.data, "pg_wal", name), "r+b") as f:
        f.seek(pos % segment_size)
        b = f.read(1)
        f.seek(pos % segment_size)
        f.write(bytes([b[0] ^ 0xFF]))


def from_wal(args, port):
    """pg_control lost after a crash with WAL intact: --rebuild --from-wal makes
    the server run crash recovery, and every committed row is there, also
    those after the checkpoint. Then pg_control intact but pointing at a
    checkpoint whose record is damaged: --from-wal picks the older one."""
    with Cluster(args, "from-wal", [], port) as cluster:
        # No autovacuum: its ANALYZE of the new rows commits a transaction of
        # its own whenever its naptime comes round, which on a slow machine can
        # fall between pg_last_committed_xact() and the crash, and then the
        # last commit in WAL is not the one the server reported.
        cluster.start(extra="-c autovacuum=off")
        cluster.sql(WORKLOAD)
        cluster.sql("checkpoint")
        cluster.sql("create table after_checkpoint as select g from generate_series(1, 3000) g")
        cluster.sql("insert into t select g, 1 from generate_series(5001, 6000) g")
        last_xid, last_time = cluster.sql("select xid, timestamp from pg_last_committed_xact()").strip().split("|")
        cluster.stop("immediate")
        ctl = json.loads(inspect(args, cluster.data, "--json").stdout)
        segment_size = int(ctl["init"]["bytes_per_wal_segment"])
        latest, full = wal_json(args, cluster.data), wal_json(args, cluster.data, "--full")
        for doc in (latest, full):
            if lsn(doc["newest_usable_checkpoint"]) != lsn(ctl["checkpoint"]["checkpoint_lsn"]):
                raise Failure(f"--wal ({doc['mode']}) found {doc['newest_usable_checkpoint']}, pg_control says "
                              f"{ctl['checkpoint']['checkpoint_lsn']}")
        if latest["end"] != full["end"]:
            raise Failure(f"end of WAL: latest search {latest['end']}, full scan {full['end']}")
        # What the decoded records say, against the server's own view: the
        # workload's MultiXacts end where the checkpoint's counters continue,
        # and the last commit is the one the server reported.
        m = full["maxima"]
        if (m["newest_multixact"] + 1, m["next_multixact_offset"]) != (
                int(ctl["checkpoint"]["next_multixact_id"]), int(ctl["checkpoint"]["next_multi_offset"])):
            raise Failure(f"newest MultiXact {m['newest_multixact']} / next offset {m['next_multixact_offset']} "
                          f"in WAL; the checkpoint says next {ctl['checkpoint']['next_multixact_id']} / "
                          f"{ctl['checkpoint']['next_multi_offset']}")
        if m["next_oid"] is None or m["next_oid"] < int(ctl["checkpoint"]["next_oid"]):
            raise Failure(f"NEXTOID in WAL {m['next_oid']} is below the checkpoint's NextOID "
                          f"{ctl['checkpoint']['next_oid']}")
        ours_time = datetime.datetime.strptime(m["last_commit_time"], "%Y-%m-%d %H:%M:%S.%f UTC")
        # psql prints timestamptz in UTC as "… 19:37:33.2690+00", trailing zeros of the fraction dropped.
        theirs_time = datetime.datetime.fromisoformat(last_time.removesuffix("+00"))
        if (str(m["last_commit_xid"]), ours_time) != (last_xid, theirs_time):
            raise Failure(f"last commit in WAL: XID {m['last_commit_xid']} at {m['last_commit_time']}; the server: "
                          f"XID {last_xid} at {last_time}")
        if int(latest["maxima"]["newest_xid"]) < int(ctl["checkpoint"]["next_xid"].split(":")[-1]):
            raise Failure(f"newest XID in WAL {latest['maxima']['newest_xid']} is not past the checkpoint's "
                          f"{ctl['checkpoint']['next_xid']} although transactions committed after it")
        os.remove(os.path.join(cluster.data, "global", "pg_control"))
        before = tree_hashes(cluster.data)
        reset(args, "-n", "--rebuild", "--from-wal", "-D", cluster.data)
        if tree_hashes(cluster.data) != before:
            raise Failure("pgrescue-reset -n --rebuild --from-wal changed the data directory")
        reset(args, "--rebuild", "--from-wal", "-D", cluster.data)
        cluster.start()
        counts = cluster.sql("select (select count(*) from t), (select count(*) from after_checkpoint)").strip()
        if counts != "6000|3000":
            raise Failure(f"after --rebuild --from-wal: t and after_checkpoint have {counts} rows, expected "
                          "6000|3000 (all committed, 1000 + 3000 of them after the checkpoint)")
        log = open(os.path.join(cluster.base, "log")).read()
        if "redo starts at" not in log:
            raise Failure("the server did not run crash recovery (no 'redo starts at' in its log)")
        first = (f"{args.label} from-wal: pg_control deleted after a crash; --wal found checkpoint "
                 f"{latest['newest_usable_checkpoint']} (full scan agrees, end {latest['end']['lsn']}); "
                 f"--rebuild --from-wal: crash recovery, 6000|3000 rows incl. 4000 after the checkpoint; "
                 f"WAL's newest MultiXact {m['newest_multixact']}, next offset {m['next_multixact_offset']}, "
                 f"last commit XID {last_xid} at {last_time} as the server says")

        # Damaged newest checkpoint, older one intact.
        cluster.sql("insert into t select g, 2 from generate_series(6001, 7000) g")
        cluster.sql("checkpoint")
        older = json.loads(inspect(args, cluster.data, "--json").stdout)["checkpoint"]["checkpoint_lsn"]
        cluster.sql("insert into t select g, 3 from generate_series(7001, 8000) g")
        cluster.sql("checkpoint")
        cluster.sql("insert into t select g, 4 from generate_series(8001, 9000) g")
        cluster.stop("immediate")
        newer = json.loads(inspect(args, cluster.data, "--json").stdout)["checkpoint"]["checkpoint_lsn"]
        damage_record(cluster, newer, segment_size)
        # 10 would fall back to its prior checkpoint on its own (and overwrite the evidence).
        if args.major >= 11 and cluster.start(check=False):
            raise Failure("the server started although its checkpoint record is damaged")
        pid = os.path.join(cluster.data, "postmaster.pid")
        if os.path.exists(pid):
            os.remove(pid)
        doc = wal_json(args, cluster.data, "--full")
        if lsn(doc["newest_usable_checkpoint"]) != lsn(older) or lsn(doc["end"]["lsn"]) != lsn(newer):
            raise Failure(f"damaged {newer}: --wal --full found {doc['newest_usable_checkpoint']} ending at "
                          f"{doc['end']}, expected {older} ending at {newer}")
        out = reset(args, "--from-wal", "-D", cluster.data)
        if f"Checkpoint to start from: {older}" not in out:
            raise Failure(f"--from-wal did not choose the older checkpoint {older}:\n{out}")
        cluster.start()
        rows = cluster.sql("select count(*) from t").strip()
        if rows != "8000":
            raise Failure(f"after --from-wal past a damaged checkpoint: t has {rows} rows, expected 8000 (those "
                          "committed before the damaged record)")
        cluster.stop()
        print(first)
        refused = "server refused" if args.major >= 11 else "10 would fall back on its own"
        print(f"{args.label} from-wal: checkpoint {newer} damaged, {refused}; --wal --full ends there "
              f"(record CRC); --from-wal chose {older}; server starts, 8000 rows (all before the damage)")
        return 2


def pgbench(cluster, *argv):
    run([os.path.join(cluster.args.bin_dir, "pgbench"), "-h", cluster.sock, "-p", str(cluster.port), "-U", "postgres",
         *argv, "postgres"])


def waldump_end(stderr, segment_size):
    """Where pg_waldump stopped reading, from its last error: the LSN the
    reader's message names ("invalid record length at X/X", "incorrect
    resource manager data checksum in record at X/X", ...), or for a page it
    rejects ("invalid magic number ... in log segment S, offset N", "unexpected
    pageaddr ...") that page's start. Which of them ends a run depends on what
    the server was doing when it was stopped. Returns (LSN, is_page)."""
    lines = [l for l in stderr.splitlines() if "error in WAL record at " in l]
    if not lines:
        return None, False
    inner = lines[-1].split("error in WAL record at ", 1)[1].split(": ", 1)[-1]
    page = re.search(r"segment ([0-9A-F]{24}), (?:LSN [0-9A-F]+/[0-9A-F]+, )?offset (\d+)", inner)
    if page:
        name, offset = page.group(1), int(page.group(2))
        segno = int(name[8:16], 16) * (0x100000000 // segment_size) + int(name[16:24], 16)
        return segno * segment_size + offset, True
    at = re.findall(r" at ([0-9A-F]+/[0-9A-F]+)", inner)
    return (lsn(at[-1]), False) if at else (None, False)


def same_end(ours, theirs, theirs_is_page, wal_dir, segment_size, timeline=1):
    """Our end of WAL is pg_waldump's: the same LSN, or, when pg_waldump
    rejects a page, the start of the record that continues onto that page
    (we name the record that cannot be completed, it names the page)."""
    if ours == theirs:
        return True
    if not theirs_is_page or theirs % 8192 != 0 or ours >= theirs:
        return False
    segno = ours // segment_size
    per_log = 0x100000000 // segment_size
    name = f"{timeline:08X}{segno // per_log:08X}{segno % per_log:08X}"
    with open(os.path.join(wal_dir, name), "rb") as f:
        f.seek(ours % segment_size)
        (total,) = struct.unpack("<I", f.read(4))
    # The record's bytes, with a page header on every page it crosses into.
    return theirs < ours + total + 40 * (total // 8192 + 2)


def against_pg_waldump(args, port):
    """On the WAL of a pgbench run (1 MB segments, so records cross many
    segment boundaries; a small max_wal_size, so checkpoints come on their own
    and old segments are recycled ahead), --wal --full finds the same
    checkpoint records as pg_waldump and the same end of WAL, and the default
    search finds the newest one and the same end."""
    waldump = os.path.join(args.bin_dir, "pg_waldump")
    with Cluster(args, "vs-pg_waldump", ["--wal-segsize=1"], port) as cluster:
        cluster.start(extra="-c max_wal_size=32MB -c min_wal_size=32MB -c wal_keep_size=24MB")
        pgbench(cluster, "-i", "-s", "4", "-q")
        cluster.sql("checkpoint")
        pgbench(cluster, "-T", "4", "-c", "2", "-n")
        cluster.sql("checkpoint")
        pgbench(cluster, "-T", "2", "-c", "2", "-n")
        cluster.stop("immediate")
        wal = os.path.join(cluster.data, "pg_wal")
        names = sorted(n for n in os.listdir(wal) if len(n) == 24)
        p = subprocess.run([waldump, "-p", wal, "-r", "XLOG", names[0], names[-1]], capture_output=True, text=True)
        theirs = []
        for line in p.stdout.splitlines():
            if "desc: CHECKPOINT_ONLINE" in line or "desc: CHECKPOINT_SHUTDOWN" in line:
                theirs.append(line.split("lsn: ")[1].split(",")[0])
        end, end_is_page = waldump_end(p.stderr, 1 << 20)
        if end is None or not theirs:
            raise Failure(f"pg_waldump did not report checkpoints and an end of WAL:\n{p.stderr[-2000:]}")
        their_end = lsn_text(end)
        full = wal_json(args, cluster.data, "--full")
        latest = wal_json(args, cluster.data)
        # pg_waldump pads the low half of an LSN to 8 digits; ours does not:
        # compare the numbers, never the text.
        ours = [c["lsn"] for c in full["checkpoints"]]
        if [lsn(x) for x in ours] != [lsn(x) for x in theirs]:
            raise Failure(f"checkpoints: pg_waldump {theirs}, ours {ours}")
        if not all(same_end(lsn(d["end"]["lsn"]), end, end_is_page, wal, 1 << 20) for d in (full, latest)):
            raise Failure(f"end of WAL: pg_waldump {their_end}, --full {full['end']['lsn']}, "
                          f"default {latest['end']['lsn']}")
        if lsn(latest["newest_usable_checkpoint"]) != lsn(theirs[-1]):
            raise Failure(f"newest checkpoint: pg_waldump {theirs[-1]}, default search "
                          f"{latest['newest_usable_checkpoint']}")
        print(f"{args.label} vs pg_waldump: pgbench WAL in {full['segments_present']} segments "
              f"({latest['recycled_segments']} recycled ahead): {len(theirs)} checkpoints "
              f"({theirs[0]} .. {theirs[-1]}) and end of WAL {their_end} as pg_waldump; the default search read "
              f"{latest['segments_read']} segments, the full scan {full['segments_read']}")
        return 1


def against_pg_resetwal(args, port):
    """The same explicit options through Debian's pg_resetwal and ours, on two
    copies of one cluster: the same -n output and the same files but for the
    times and CRCs."""
    resetwal = os.path.join(args.bin_dir, "pg_resetwal")
    opts = ["-x", "5000000", "-m", "131072,3", "-O", "104704", "-o", "40000", "-e", "2", "-u", "900",
            "-c", "1000,2000", "-l", "000000010000000000000007"]
    with Cluster(args, "vs-pg_resetwal", [], port) as cluster:
        cluster.start()
        cluster.sql(WORKLOAD)
        cluster.stop()
        theirs, ours = cluster.data, cluster.data + "-copy"
        run(["cp", "-a", theirs, ours])
        n_theirs = run(["runuser", "-u", args.user, "--", "env", "TZ=UTC", "LANG=C", resetwal, "-n", *opts,
                        "-D", theirs])
        n_ours = reset(args, "-n", *opts, "-D", ours)
        if n_theirs != n_ours:
            raise Failure(f"-n output differs:\n--- pg_resetwal\n{n_theirs}\n--- pgrescue-reset\n{n_ours}")
        run(["runuser", "-u", args.user, "--", resetwal, *opts, "-D", theirs])
        reset(args, *opts, "-D", ours)
        # 13-16 layout: time at 24, checkpoint time at 104, CRC at 288.
        masks = {"global/pg_control": [(24, 32), (104, 112), (288, 292)],
                 # record CRC at page offset 60, the checkpoint copy's time at 66 + 64
                 "pg_wal/000000010000000000000007": [(60, 64), (130, 138)]}
        for rel, ranges in masks.items():
            a = bytearray(open(os.path.join(theirs, rel), "rb").read())
            b = bytearray(open(os.path.join(ours, rel), "rb").read())
            for lo, hi in ranges:
                a[lo:hi] = b[lo:hi] = b"\0" * (hi - lo)
            if a != b:
                first = next(i for i in range(min(len(a), len(b))) if a[i] != b[i]) if len(a) == len(b) else -1
                raise Failure(f"{rel} differs from pg_resetwal's beyond times and CRCs (first at byte {first}, "
                              f"sizes {len(a)} and {len(b)})")
        st_theirs = os.stat(os.path.join(theirs, "global/pg_control"))
        st_ours = os.stat(os.path.join(ours, "global/pg_control"))
        if (st_theirs.st_uid, st_theirs.st_mode) != (st_ours.st_uid, st_ours.st_mode):
            raise Failure("pg_control's owner or mode differs from what pg_resetwal writes")
        shutil.rmtree(ours, ignore_errors=True)
        print(f"{args.label} vs pg_resetwal: {' '.join(opts)}: -n identical; pg_control and the new WAL "
              f"segment identical except times and CRCs; same owner and mode")
        return 3


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--label", required=True, help="name in messages, e.g. pg15")
    ap.add_argument("--major", type=int, required=True)
    ap.add_argument("--bin-dir", required=True, help="directory with initdb, pg_ctl, postgres")
    ap.add_argument("--inspect", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--reset", required=True)
    ap.add_argument("--reset-e2e", action="store_true",
                    help="also run the end-to-end reset with this bin dir's pg_resetwal")
    ap.add_argument("--psql", required=True)
    ap.add_argument("--user", required=True, help="unprivileged user to run the server as")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--debian-tools", help="Debian's bin dir of the same major, for text comparison")
    ap.add_argument("--work-dir", default="/tmp")
    ap.add_argument("--only", help="run only this check (e.g. from_wal), when working on it")
    args = ap.parse_args()

    variants = [("default", [])]
    if args.major >= 11:
        variants.append(("checksums-segsize64", ["-k", "--wal-segsize=64"]))
    else:
        variants.append(("checksums", ["-k"]))
    if args.major >= 18:
        variants.append(("no-checksums", ["--no-data-checksums"]))
    checks = 0
    if args.only:
        try:
            checks += globals()[args.only](args, args.port)
        except Failure as e:
            print(f"FAIL {args.label}: {e}")
            return 1
        print(f"{checks} passed, 0 failed")
        return 0
    try:
        for i, (name, flags) in enumerate(variants):
            checks += test_cluster(args, name, flags, args.port + i)
        checks += lost_wal(args, args.port + len(variants))
        checks += from_wal(args, args.port + len(variants) + 3)
        if args.reset_e2e:
            checks += reset_end_to_end(args, args.port + len(variants) + 1)
            checks += against_pg_resetwal(args, args.port + len(variants) + 2)
            checks += against_pg_waldump(args, args.port + len(variants) + 4)
    except Failure as e:
        print(f"FAIL {args.label}: {e}")
        print(f"{checks} passed, 1 failed")
        return 1
    print(f"{checks} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
