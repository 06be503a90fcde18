#!/usr/bin/env python3
"""From the server's own log to the remedy, on a real server.

Each scenario breaks a cluster the way it breaks in the field, lets the
server fail and write its log (pg_ctl -l), and hands that log to
pgrescue-plan --log. The plan must name the failure class and confirm it
from the disk. Where the top remedy is a pgrescue command, it is run exactly
as printed, the server must start, and the rows promised are counted.

  crash            pg_ctl stop -m immediate after committed work; the log
                   names nothing, and the only remedy is start-server: no
                   reset may be offered. Started: every row.
  live-backend     the postmaster SIGKILLed while a backend runs a long
                   query: the backend keeps the shared memory, the next
                   start refuses; the plan's only remedy is to wait, naming
                   that backend's PID; once it is killed, start-server;
                   every row.
  control-missing  global/pg_control removed; the server's stderr says it
                   cannot find the database system. Top remedy from-wal
                   (--rebuild); every row, as it says "loses: nothing".
  control-crc      a byte of pg_control flipped ("incorrect checksum in
                   control file"); the top remedy is run; every row.
  no-checkpoint    immediate stop, then every WAL file removed ("could not
                   locate a valid checkpoint record"); the reset is run; the
                   rows checkpointed before the stop survive.
  page-damaged     (checksums on) a table's block 1 overwritten; a query
                   fails with "invalid page in block 1 of relation ..."; the
                   plan confirms it and names that block.
  wal-damaged      after a checkpoint, 3000 one-row transactions, an
                   immediate stop, and a WAL page header zeroed halfway: the
                   plan (run before any start, as it must be) still ranks
                   start-server first, but says it loses "at least N
                   commits" and exits 1; started, the server silently drops
                   rows, and the rows lost must be N or at most one page's
                   worth more.
  system-id        another cluster's first WAL segment copied over this one's
                   after a crash: the server refuses it (12+ say "WAL file is
                   from different database system", 10 and 11 only that no
                   checkpoint is valid). The plan confirms it from the long
                   page header, never offers that WAL's checkpoints, and its
                   reset gives back the 5,000 checkpointed rows.
  xact-zeroed      pg_xact/0000 deleted after a crash: the server's recovery
                   logs "doesn't exist, reading as zeroes", starts, and the
                   rows of those transactions vanish without an error. Fed
                   that log, the plan confirms xact-missing although pg_xact
                   looks whole again.
  wraparound       next XID 500,000 short of wraparound (pgrescue-reset -x
                   -u): the server refuses to assign XIDs; the plan confirms
                   it, its top remedy is a single-user VACUUM of every
                   database, never a reset; run as printed, XIDs flow again
                   and every row is there.
  standby-behind   a standby (a copy of the cleanly stopped primary) stopped
                   while its archiving primary switches WAL and checkpoints
                   six times: it cannot stream ("requested WAL segment ...
                   has already been removed"). The plan confirms wal-gone and
                   its only remedy keeps it a standby; with restore_command
                   set to the archive, as it says, it catches up to 11,000
                   rows, still a standby.
  symptom          --symptom with a pasted line names the class too.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

from pgtest import (Cluster, Failure, follow_top_remedy, lsn, plan, run, server_test_setup, symptom,
                    wait_gone)

ROWS = 5000


def fresh(a, base, name, checksums=False):
    c = Cluster(a, base, name)
    c.initdb(checksums)
    c.start()
    c.sql(f"CREATE TABLE t (id int, body text); INSERT INTO t SELECT g, repeat('x', 50) FROM generate_series(1, {ROWS}) g")
    return c


def count(c):
    c.start()
    n = int(c.sql("SELECT count(*) FROM t").stdout.strip())
    c.stop()
    return n


def start_fails(c):
    try:
        c.start()
    except Failure:
        return
    raise Failure("the server started, but the scenario should stop it")


def crash(a, base):
    c = fresh(a, base, "crash")
    c.stop("immediate")
    p = plan(a, c.data, "--log", c.data + ".log")
    codes = [r["code"] for r in p["remedies"]]
    if codes != ["start-server"]:
        raise Failure(f"crash: remedies {codes}, expected only start-server")
    if p["symptoms"]:
        raise Failure(f"crash: the log named {[s['class'] for s in p['symptoms']]}")
    return count(c)


def live_backend(a, base):
    """The postmaster killed while a backend runs a long query: the backend lives on, attached to the shared
    memory. The next start refuses ("pre-existing shared memory block ... is still in use"). Fed that log, the
    plan confirms directory-in-use and its only remedy is to wait, naming that backend; once it is gone, the
    only remedy is to start the server, which has every row."""
    c = fresh(a, base, "live-backend")
    query = subprocess.Popen(["runuser", "-u", a.user, "--", a.psql, "-h", base, "-p", str(a.port), "-U", "postgres",
                              "-d", "postgres", "-c", "SELECT count(*) FROM t a, t b, t c"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "t a, t b" not in c.sql("SELECT string_agg(query, ';') FROM pg_stat_activity").stdout:
        if time.monotonic() > deadline:
            raise Failure("live-backend: the query never started")
        time.sleep(0.2)
    with open(os.path.join(c.data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    os.kill(postmaster, signal.SIGKILL)
    wait_gone(postmaster)
    start_fails(c)
    p = plan(a, c.data, "--log", c.data + ".log")
    if symptom(p, "directory-in-use")["verdict"] != "confirmed":
        raise Failure(f"live-backend: {symptom(p, 'directory-in-use')}")
    codes = [r["code"] for r in p["remedies"]]
    found = re.search(r"PID (\d+)", " ".join(p["remedies"][0]["reasons"]))
    if codes != ["wait", "start-server"] or not found:
        raise Failure(f"live-backend: remedies {codes}: {p['remedies'][0]}")
    backend = int(found.group(1))
    os.kill(backend, signal.SIGKILL)
    wait_gone(backend)
    query.wait(timeout=120)
    p = plan(a, c.data, "--log", c.data + ".log")
    codes = [r["code"] for r in p["remedies"]]
    if codes != ["start-server"]:
        raise Failure(f"live-backend: once the backend is gone, remedies {codes}")
    return count(c)


def control_missing(a, base):
    c = fresh(a, base, "control-missing")
    c.stop()
    os.remove(os.path.join(c.data, "global", "pg_control"))
    start_fails(c)
    p = plan(a, c.data, "--log", c.data + ".log")
    s = symptom(p, "control-damaged")
    if s["verdict"] != "confirmed" or "from-wal" not in s["remedies"]:
        raise Failure(f"control-missing: {s}")
    top = follow_top_remedy(a, p, "from-wal")
    if not top["loses"].startswith("nothing"):
        raise Failure(f"control-missing: from-wal loses {top['loses']}")
    return count(c)


def control_crc(a, base):
    c = fresh(a, base, "control-crc")
    c.stop()
    path = os.path.join(c.data, "global", "pg_control")
    with open(path, "r+b") as f:
        f.seek(0)
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0x01]))  # system identifier's low byte: only the CRC notices
    start_fails(c)
    p = plan(a, c.data, "--log", c.data + ".log")
    s = symptom(p, "control-damaged")
    if s["verdict"] != "confirmed":
        raise Failure(f"control-crc: {s}")
    follow_top_remedy(a, p, p["remedies"][0]["code"])
    return count(c)


def no_checkpoint(a, base):
    c = fresh(a, base, "no-checkpoint")
    c.sql("CHECKPOINT")
    c.stop("immediate")
    wal = os.path.join(c.data, "pg_wal")
    for name in os.listdir(wal):
        if len(name) == 24:
            os.remove(os.path.join(wal, name))
    start_fails(c)
    p = plan(a, c.data, "--log", c.data + ".log")
    s = symptom(p, "no-checkpoint")
    if s["verdict"] != "confirmed":
        raise Failure(f"no-checkpoint: {s}")
    follow_top_remedy(a, p, "reset")
    return count(c)


def page_damaged(a, base):
    c = fresh(a, base, "page-damaged", checksums=True)
    path = os.path.join(c.data, c.sql("SELECT pg_relation_filepath('t')").stdout.strip())
    c.stop()
    with open(path, "r+b") as f:
        f.seek(8192 + 100)
        f.write(b"\xde\xad" * 50)
    c.start()
    r = c.sql("SELECT count(*) FROM t", check=False)
    c.stop()
    if "invalid page in block 1" not in r.stderr:
        raise Failure(f"page-damaged: the server said {r.stderr!r}")
    p = plan(a, c.data, "--log", c.data + ".log")
    s = symptom(p, "page-damaged")
    rel = os.path.relpath(path, c.data)
    if s["verdict"] != "confirmed" or not any(f"{rel} block 1" in e for e in s["evidence"]):
        raise Failure(f"page-damaged: {s}")
    return None


def wal_damaged(a, base):
    c = fresh(a, base, "wal-damaged")
    c.sql("CHECKPOINT")
    start = lsn(c.sql("SELECT pg_current_wal_lsn()").stdout.strip())
    c.as_user(a.psql, "-h", base, "-p", str(a.port), "-U", "postgres", "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1",
              stdin="".join(f"INSERT INTO t VALUES ({ROWS + i}, 'late');\n" for i in range(1, 3001)))
    end = lsn(c.sql("SELECT pg_current_wal_lsn()").stdout.strip())
    middle = (start + end) // 2 // 8192 * 8192
    name = c.sql(f"SELECT pg_walfile_name('{middle >> 32:X}/{middle & 0xFFFFFFFF:X}')").stdout.strip()
    c.stop("immediate")
    with open(os.path.join(c.data, "pg_wal", name), "r+b") as f:
        f.seek(middle % (16 << 20))
        f.write(bytes(24))
    r = subprocess.run([a.plan, "--json", "--no-log", c.data], capture_output=True, text=True)
    p = json.loads(r.stdout)
    top = p["remedies"][0]
    m = re.match(r"at least (\d+) commit", top["loses"])
    if r.returncode != 1 or top["code"] != "start-server" or not m:
        raise Failure(f"wal-damaged: exit {r.returncode}, top remedy {top}")
    promised = int(m.group(1))
    lost = ROWS + 3000 - count(c)
    if not promised <= lost <= promised + 100 or promised == 0:
        raise Failure(f"wal-damaged: the plan said at least {promised} commits are lost; {lost} rows were")
    return f"{lost} rows lost, {promised} commits named"


def system_id(a, base):
    other = Cluster(a, base, "other")
    other.initdb(False)
    c = fresh(a, base, "system-id")
    c.sql("CHECKPOINT")
    c.stop("immediate")
    target = os.path.join(c.data, "pg_wal", "000000010000000000000001")
    shutil.copyfile(os.path.join(other.data, "pg_wal", "000000010000000000000001"), target)
    shutil.chown(target, a.user)
    start_fails(c)
    p = plan(a, c.data, "--log", c.data + ".log")
    s = symptom(p, "no-checkpoint" if a.label in ("pg10", "pg11") else "system-id-differs")
    if s["verdict"] != "confirmed":
        raise Failure(f"system-id: {s}")
    follow_top_remedy(a, p, "reset")
    return count(c)


def xact_zeroed(a, base):
    c = fresh(a, base, "xact-zeroed")
    c.sql("CHECKPOINT")
    c.sql("INSERT INTO t SELECT g, 'after checkpoint' FROM generate_series(1, 100) g")
    c.stop("immediate")
    os.remove(os.path.join(c.data, "pg_xact", "0000"))
    c.start()
    r = c.sql("SELECT count(*) FROM t", check=False)
    c.stop()
    # CREATE TABLE committed in the lost segment too: the table itself may be gone.
    n = int(r.stdout.strip()) if r.returncode == 0 else 0
    if n == ROWS + 100 or (r.returncode != 0 and "does not exist" not in r.stderr):
        raise Failure(f"xact-zeroed: the scenario did not happen: {r.stdout}{r.stderr}")
    p = plan(a, c.data, "--log", c.data + ".log")
    s = symptom(p, "xact-missing")
    if s["verdict"] != "confirmed" or not any("as zeroes" in e for e in s["evidence"]):
        raise Failure(f"xact-zeroed: {s}")
    return f"{ROWS + 100 - n} rows vanished; the plan confirms the loss"


def wraparound(a, base):
    """XIDs run up to 500,000 short of wraparound (pgrescue-reset -x and -u, as pg_resetwal would, with the
    pg_xact segment the new next XID needs): the server starts, but refuses to assign an XID. Fed its log, the
    plan confirms wraparound, offers a single-user VACUUM of every database first and never a reset; its
    commands, run as printed, let the server assign XIDs again with every row there."""
    c = fresh(a, base, "wraparound")
    c.stop()
    tool = os.path.join(os.path.dirname(a.plan), "pgrescue-inspect")
    control = json.loads(subprocess.run([tool, "--json", c.data], capture_output=True, text=True, check=True).stdout)
    oldest = int(control["checkpoint"]["oldest_xid"])
    near = (oldest + 0x7FFFFFFF - 500000) & 0xFFFFFFFF
    segment = os.path.join(c.data, "pg_xact", f"{near // 1048576:04X}")
    with open(segment, "wb") as f:
        f.write(bytes(256 * 1024))
    shutil.chown(segment, a.user)
    r = subprocess.run([a.reset, "-x", str(near), "-u", str(oldest), "-D", c.data], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"wraparound: pgrescue-reset -x: {r.stderr}")
    c.start()
    r = c.sql("SELECT txid_current()", check=False)
    c.stop()
    if r.returncode == 0 or "to avoid wraparound data loss" not in r.stderr:
        raise Failure(f"wraparound: the server assigned an XID: {r.stdout}{r.stderr}")
    p = plan(a, c.data, "--log", c.data + ".log")
    if symptom(p, "wraparound")["verdict"] != "confirmed":
        raise Failure(f"wraparound: {symptom(p, 'wraparound')}")
    codes = [r["code"] for r in p["remedies"]]
    if codes[0] != "vacuum" or "reset" in codes or "from-wal" in codes:
        raise Failure(f"wraparound: remedies {codes}")
    databases = []
    for command in p["remedies"][0]["commands"]:
        if command.startswith("pg_ctl "):
            continue
        if not command.startswith("echo VACUUM | postgres --single -D "):
            raise Failure(f"wraparound: unexpected command {command}")
        databases.append(shlex.split(command)[-1])
        c.as_user("sh", "-c", command.replace("| postgres ", f"| {a.bin_dir}/postgres ", 1), timeout=600)
    if databases != ["template1", "template0", "postgres"]:
        raise Failure(f"wraparound: vacuums {databases}")
    c.start()
    r = c.sql("SELECT txid_current()", check=False)
    n = int(c.sql("SELECT count(*) FROM t").stdout.strip())
    c.stop()
    if r.returncode != 0:
        raise Failure(f"wraparound: still no XIDs after the vacuum: {r.stderr}")
    return n


def standby_behind(a, base):
    """A standby stopped while its primary (archiving, max_wal_size 32MB) switches WAL and checkpoints six
    times: started again, it cannot stream ("requested WAL segment ... has already been removed"). Fed its log,
    the plan confirms wal-gone and its only remedy keeps it a standby (removing standby.signal would promote
    it); with restore_command pointed at the primary's archive, as that remedy says, and started as printed,
    it catches up to every row while still a standby."""
    archive = os.path.join(base, "sb-archive")
    os.makedirs(archive)
    shutil.chown(archive, a.user)
    primary = Cluster(a, base, "sb-primary", settings=("wal_level=replica", "archive_mode=on", "max_wal_size=32MB",
                                                       "min_wal_size=32MB", f"archive_command='cp %p {archive}/%f'"))
    primary.initdb(False)
    primary.start()
    primary.sql(f"CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, {ROWS})")
    primary.stop()
    # A copy of a cleanly stopped primary is a standby's base on every version.
    b = argparse.Namespace(**{**vars(a), "port": a.port + 50})
    standby = Cluster(b, base, "sb-standby")
    subprocess.run(["cp", "-a", primary.data, standby.data], check=True)
    major = int(open(os.path.join(standby.data, "PG_VERSION")).read().split(".")[0])
    conninfo = f"primary_conninfo = 'host={base} port={a.port} user=postgres'\n"
    if major <= 11:
        settings_file = os.path.join(standby.data, "recovery.conf")
        with open(settings_file, "w") as f:
            f.write("standby_mode = on\n" + conninfo)
    else:
        settings_file = os.path.join(standby.data, "postgresql.auto.conf")
        with open(settings_file, "a") as f:
            f.write(conninfo)
        open(os.path.join(standby.data, "standby.signal"), "w").close()
    subprocess.run(["chown", "-R", a.user, standby.data], check=True)
    primary.start()
    standby.start()
    standby.stop()
    for _ in range(6):
        primary.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        primary.sql("SELECT pg_switch_wal()")
        primary.sql("CHECKPOINT")
    standby.start()
    deadline = time.monotonic() + 120
    while "has already been removed" not in open(standby.data + ".log").read():
        if time.monotonic() > deadline:
            raise Failure("standby-behind: the standby never said its WAL was removed")
        time.sleep(0.5)
    standby.stop()
    p = plan(b, standby.data, "--log", standby.data + ".log")
    if symptom(p, "wal-gone")["verdict"] != "confirmed":
        raise Failure(f"standby-behind: {symptom(p, 'wal-gone')}")
    codes = [r["code"] for r in p["remedies"]]
    commands = [c for r in p["remedies"] for c in r["commands"]]
    if codes != ["resume-standby"] or [shlex.split(c) for c in commands] != [["pg_ctl", "-D", standby.data, "start"]]:
        raise Failure(f"standby-behind: remedies {codes}: {commands}")
    with open(settings_file, "a") as f:
        f.write(f"restore_command = 'cp {archive}/%f %p'\n")
    standby.start()
    deadline = time.monotonic() + 120
    while True:
        r = standby.sql("SELECT pg_is_in_recovery(), count(*) FROM t", check=False)
        if r.returncode == 0 and r.stdout.strip() == f"t|{ROWS + 6000}":
            break
        if time.monotonic() > deadline:
            raise Failure(f"standby-behind: the standby did not catch up: {r.stdout}{r.stderr}")
        time.sleep(0.5)
    standby.stop()
    primary.stop()
    return ROWS + 6000


def pasted(a, base):
    c = fresh(a, base, "symptom")
    c.stop()
    p = plan(a, c.data, "--no-log", "--symptom", "PANIC:  could not locate a valid checkpoint record")
    s = symptom(p, "no-checkpoint")
    if s["verdict"] != "refuted" or p["logs"] != ["--symptom"]:
        raise Failure(f"symptom: a clean cluster's checkpoint is there: {s}")
    return None


def main():
    a, base = server_test_setup("symptoms")
    try:
        for name, scenario, expected in (("crash", crash, ROWS), ("live-backend", live_backend, ROWS),
                                         ("control-missing", control_missing, ROWS),
                                         ("control-crc", control_crc, ROWS), ("no-checkpoint", no_checkpoint, ROWS),
                                         ("page-damaged", page_damaged, None), ("wal-damaged", wal_damaged, "any"),
                                         ("system-id", system_id, ROWS), ("xact-zeroed", xact_zeroed, "any"),
                                         ("wraparound", wraparound, ROWS),
                                         ("standby-behind", standby_behind, ROWS + 6000), ("symptom", pasted, None)):
            got = scenario(a, base)
            if expected != "any" and got != expected:
                raise Failure(f"{name}: {got} rows, expected {expected}")
            print(f"{a.label} {name}: " + (got if expected == "any" else f"rows {got}/{expected}" if expected
                                           else "class named and confirmed"))
    finally:
        subprocess.run(["pkill", "-u", a.user, "-f", base], check=False)
        if os.environ.get("KEEP") is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run(main)
