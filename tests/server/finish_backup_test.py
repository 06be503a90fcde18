#!/usr/bin/env python3
"""A canceled exclusive online backup on a real server (10 to 14), finished by pgrescue.

  canceled  archiving on (wal_level=replica, archive_command cp to an archive
            directory); 8000 rows in t1; SELECT pg_start_backup('x', true, true)
            (exclusive); the data directory copied twice with cp -a, without
            postmaster.pid and with pg_wal emptied (the archive is the WAL
            source); 2000 rows committed in t2; the primary stopped with
            pg_ctl stop -m fast and no pg_stop_backup (the server renames its
            backup_label to backup_label.old). The primary's pg_wal segments
            up to the one holding its shutdown checkpoint that are not in the
            archive are copied there, as a DBA would. Both copies ask for
            archive recovery (recovery.conf on 10 and 11, recovery.signal and
            restore_command on 12+).
            The first copy is started: it PANICs with "online backup was
            canceled, recovery cannot continue" at the shutdown checkpoint.
            Fed that log and the archive, pgrescue-plan confirms
            canceled-backup and its top remedy is finish-backup; its
            pgrescue-reset command runs as printed. The second copy was never
            started (backup_label in place) and gets the same remedy without a
            log, after a --finish-backup that --undo takes back to the byte.
            Restarted with the same recovery settings, each copy must
            reach consistency, promote at the end of the archive, and hold
            exactly 8000 + 2000 rows.
  unfinished  pg_basebackup (Debian's 15) at 1 MB/s killed once global/
            appears: backup_label but no pg_control. The copy's start fails
            ("could not find the database system"); the plan confirms
            unfinished-copy, its only remedy is a new base backup, and
            pgrescue-reset --rebuild --from-wal refuses, writing nothing. A
            new pg_basebackup, started, holds all 50,000 rows.
  crashed   a primary (max_wal_size 32MB) killed with SIGKILL inside an
            exclusive backup, after six WAL switches and checkpoints recycled
            the backup's WAL: its start fails with "could not locate required
            checkpoint record". Fed that log, pgrescue-plan confirms
            crashed-in-backup and refutes canceled-backup; its top remedy,
            restart-primary (move backup_label aside, start), run as printed,
            starts it with exactly 8000 + 6000 rows. A cp -a of the same
            files (without postmaster.pid) is never offered restart-primary:
            its files' change times are newer than the backup's start.
  variant   the copy was still running when the primary came back: everything
            except base/ is copied during the backup, the primary is stopped
            -m fast without pg_stop_backup, started again, writes 1000 more rows
            in t3 and checkpoints, and only then is base/ copied. The copy
            PANICs the same way. Here finishing the backup at the shutdown
            checkpoint gives a cluster that promotes with a ghost pg_class row
            and hands out XIDs the primary already used (seen on 10 and 14), so
            pgrescue-plan must not offer finish-backup, and pgrescue-reset
            --finish-backup must refuse (exit 1), naming the page past the
            shutdown checkpoint, and leave pg_control as it was.
"""
import json
import os
import shlex
import shutil
import signal
import subprocess
import time

from pgtest import (Cluster, Failure, follow_top_remedy, plan, run, server_test_setup, symptom, tree_hashes,
                    wait_gone)

ROWS_BEFORE, ROWS_AFTER, ROWS_RESTARTED, ROWS_CRASHED, ROWS_SOURCE = 8000, 2000, 1000, 6000, 50000
PANIC = "online backup was canceled, recovery cannot continue"



def inspect(a, data):
    """pgrescue-inspect --json (beside pgrescue-plan) on data, as a dict."""
    tool = os.path.join(os.path.dirname(a.plan), "pgrescue-inspect")
    r = subprocess.run([tool, "--json", data], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"pgrescue-inspect exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def major(data):
    with open(os.path.join(data, "PG_VERSION")) as f:
        return int(f.read().strip().split(".")[0])


def log_since(path, offset):
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read()


def log_size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def primary(a, base, name, archive):
    os.makedirs(archive, exist_ok=True)
    shutil.chown(archive, a.user)
    c = Cluster(a, base, name, settings=("wal_level=replica", "archive_mode=on",
                                         f"archive_command='cp %p {archive}/%f'"))
    c.initdb(False)
    c.start()
    c.sql(f"CREATE TABLE t1 (id int, body text); "
          f"INSERT INTO t1 SELECT g, repeat('a', 60) FROM generate_series(1, {ROWS_BEFORE}) g")
    return c


def copy_tree(a, src, dst, only=None, skip=()):
    """cp -a of src (or of the entries `only`) into dst, without postmaster.pid and with pg_wal emptied."""
    os.makedirs(dst, exist_ok=True)
    shutil.chown(dst, a.user)
    os.chmod(dst, 0o700)
    for entry in sorted(os.listdir(src)):
        if entry in ("postmaster.pid", *skip) or (only is not None and entry not in only):
            continue
        subprocess.run(["cp", "-a", os.path.join(src, entry), dst], check=True)
    wal = os.path.join(dst, "pg_wal")
    if only is None or "pg_wal" in only:
        for name in os.listdir(wal):
            if len(name) >= 24:
                os.remove(os.path.join(wal, name))
        for name in os.listdir(os.path.join(wal, "archive_status")):
            os.remove(os.path.join(wal, "archive_status", name))


def fill_archive(p, archive):
    """The stopped primary's segments up to its last checkpoint's that the archive lacks, copied there;
    their names."""
    # A shutdown checkpoint's redo point is the record itself.
    last = inspect(p.a, p.data)["checkpoint"]["redo_wal_file"]
    added = []
    for name in sorted(os.listdir(os.path.join(p.data, "pg_wal"))):
        if len(name) == 24 and name <= last and not os.path.exists(os.path.join(archive, name)):
            shutil.copy2(os.path.join(p.data, "pg_wal", name), archive)
            shutil.chown(os.path.join(archive, name), p.a.user)
            added.append(name)
    return added


def recovery(c, archive):
    """Archive recovery from `archive` requested the version's way."""
    command = f"restore_command = 'cp {archive}/%f %p'\n"
    if major(c.data) < 12:
        path = os.path.join(c.data, "recovery.conf")
        with open(path, "w") as f:
            f.write(command)
    else:
        path = os.path.join(c.data, "recovery.signal")
        open(path, "w").close()
        with open(os.path.join(c.data, "postgresql.auto.conf"), "a") as f:
            f.write(command)
    shutil.chown(path, c.a.user)


def start_panics(c):
    seen = log_size(c.data + ".log")
    try:
        c.start()
    except Failure:
        said = log_since(c.data + ".log", seen)
        if PANIC not in said:
            raise Failure(f"the copy did not start, but without the PANIC: {said[-2000:]}")
        return said
    c.stop("immediate")
    raise Failure("the copy started; it should have PANICked with: " + PANIC)


def promoted(c, limit=60):
    """Starts c (archive recovery) and waits until it is out of recovery."""
    seen = log_size(c.data + ".log")
    try:
        c.start()
    except Failure as e:
        raise Failure(f"{e}\n{log_since(c.data + '.log', seen)[-3000:]}")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r = c.sql("SELECT pg_is_in_recovery()", check=False)
        if r.returncode == 0 and r.stdout.strip() == "f":
            return log_since(c.data + ".log", seen)
        time.sleep(1)
    raise Failure(f"no promotion in {limit} s: {log_since(c.data + '.log', seen)[-3000:]}")


def counts(c, *tables):
    return [int(c.sql(f"SELECT count(*) FROM {t}").stdout.strip()) for t in tables]


def finish_backup(a, copy, archive, log):
    """pgrescue-plan on the copy (with the log of its failed start, if any) names the remedy; its pgrescue-reset
    command runs as printed."""
    p = plan(a, copy.data, "--wal-archive", archive, *(["--log", log] if log else ["--no-log"]))
    if log and symptom(p, "canceled-backup")["verdict"] != "confirmed":
        raise Failure(f"canceled-backup not confirmed: {symptom(p, 'canceled-backup')}")
    if any(r["code"] == "restart-primary" for r in p["remedies"]):
        raise Failure(f"a copy taken for a primary that crashed: {[r['code'] for r in p['remedies']]}")
    top = follow_top_remedy(a, p, "finish-backup")
    expected = [["pgrescue-reset", "--finish-backup", "--wal-archive", archive, "-D", copy.data],
                ["pg_ctl", "-D", copy.data, "start"]]
    if [shlex.split(c) for c in top["commands"]] != expected:
        raise Failure(f"finish-backup commands {top['commands']}, expected {expected}")
    return top


def undone(a, copy, archive):
    """pgrescue-reset --finish-backup, then --undo: every byte of the copy as it was."""
    before = tree_hashes(copy.data)
    for args in (["--finish-backup", "--wal-archive", archive], ["--undo"]):
        r = subprocess.run([a.reset, *args, "-D", copy.data], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"pgrescue-reset {args[0]}: exit {r.returncode}: {r.stderr}")
    if tree_hashes(copy.data) != before:
        raise Failure("--undo after --finish-backup left the copy changed")
    shutil.rmtree(copy.data + ".pgrescue")


def finished(a, copy, archive, log):
    """The remedy followed, then the copy restarted as set up: consistent, promoted, every row."""
    if log is None:
        undone(a, copy, archive)
    finish_backup(a, copy, archive, log)
    said = promoted(copy)
    if "consistent recovery state reached" not in said:
        raise Failure(f"no consistent state: {said[-2000:]}")
    got = counts(copy, "t1", "t2")
    copy.stop()
    if got != [ROWS_BEFORE, ROWS_AFTER]:
        raise Failure(f"canceled: rows {got}, expected {[ROWS_BEFORE, ROWS_AFTER]}")
    return got


def expect_refused(a, copy, archive):
    """Neither the plan nor pgrescue-reset finishes this copy's backup; pg_control stays as it was."""
    p = plan(a, copy.data, "--wal-archive", archive, "--log", copy.data + ".log")
    codes = [r["code"] for r in p["remedies"]]
    if "finish-backup" in codes:
        raise Failure(f"variant: the plan offers finish-backup: {codes}")
    before = tree_hashes(os.path.join(copy.data, "global"))
    r = subprocess.run([a.reset, "--finish-backup", "--wal-archive", archive, "-D", copy.data],
                       capture_output=True, text=True)
    if r.returncode != 1 or "past the primary's shutdown checkpoint" not in r.stderr:
        raise Failure(f"variant: pgrescue-reset --finish-backup exit {r.returncode}: {r.stderr}{r.stdout}")
    if tree_hashes(os.path.join(copy.data, "global")) != before:
        raise Failure("variant: the refused --finish-backup changed global/")
    return r.stderr.strip().splitlines()[-2].removeprefix("pgrescue-reset: error: ")


def canceled(a, base):
    archive = os.path.join(base, "archive")
    p = primary(a, base, "primary", archive)
    p.sql("SELECT pg_start_backup('x', true, true)")
    copy_tree(a, p.data, os.path.join(base, "copy"))
    copy_tree(a, p.data, os.path.join(base, "unstarted"))
    p.sql(f"CREATE TABLE t2 (id int); INSERT INTO t2 SELECT generate_series(1, {ROWS_AFTER})")
    p.stop("fast")
    if os.path.exists(os.path.join(p.data, "backup_label")):
        raise Failure("the primary kept backup_label through a fast shutdown")
    fill_archive(p, archive)
    copy, unstarted = Cluster(a, base, "copy"), Cluster(a, base, "unstarted")
    recovery(copy, archive)
    recovery(unstarted, archive)
    start_panics(copy)
    return finished(a, copy, archive, copy.data + ".log"), finished(a, unstarted, archive, None)


def variant(a, base):
    archive = os.path.join(base, "archive-v")
    p = primary(a, base, "primary-v", archive)
    p.sql("SELECT pg_start_backup('x', true, true)")
    target = os.path.join(base, "copy-v")
    copy_tree(a, p.data, target, skip=("base",))
    p.sql(f"CREATE TABLE t2 (id int); INSERT INTO t2 SELECT generate_series(1, {ROWS_AFTER})")
    p.stop("fast")
    time.sleep(2)  # the restarted primary's files then carry later (whole-second) times than its shutdown
    p.start()
    p.sql(f"CREATE TABLE t3 (id int); INSERT INTO t3 SELECT generate_series(1, {ROWS_RESTARTED}); CHECKPOINT")
    copy_tree(a, p.data, target, only=("base",))
    p.stop("fast")
    fill_archive(p, archive)
    copy = Cluster(a, base, "copy-v")
    recovery(copy, archive)
    start_panics(copy)
    return expect_refused(a, copy, archive)


def users_of(data):
    """PIDs whose working directory is data."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.path.realpath(f"/proc/{pid}/cwd") == os.path.realpath(data):
                out.append(int(pid))
        except OSError:
            pass
    return out


def crashed(a, base):
    """A primary killed (SIGKILL to the postmaster) inside an exclusive backup, after checkpoints recycled the
    backup's WAL: its start fails; the plan names crashed-in-backup, not a canceled copy, and its top remedy,
    run as printed, starts it with every row."""
    c = Cluster(a, base, "crashed", settings=("max_wal_size=32MB", "min_wal_size=32MB"))
    c.initdb(False)
    c.start()
    c.sql(f"CREATE TABLE t1 (id int, body text); "
          f"INSERT INTO t1 SELECT g, repeat('a', 60) FROM generate_series(1, {ROWS_BEFORE}) g; CREATE TABLE t2 (id int)")
    # The backup starts in a later second than initdb wrote PG_VERSION: the plan tells the primary from a copy
    # by that file's change time (a slow machine only widens the gap).
    time.sleep(1.5)
    c.sql("SELECT pg_start_backup('x', true, true)")
    for _ in range(6):
        c.sql(f"INSERT INTO t2 SELECT generate_series(1, {ROWS_CRASHED // 6})")
        c.sql("SELECT pg_switch_wal()")
        c.sql("CHECKPOINT")
    with open(os.path.join(c.data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    os.kill(postmaster, signal.SIGKILL)
    wait_gone(postmaster)
    # Its children notice and exit.
    deadline = time.monotonic() + 120
    while users_of(c.data) and time.monotonic() < deadline:
        time.sleep(0.2)
    # The same files copied elsewhere (pg_wal included, postmaster.pid left out as the documentation says)
    # fit every other fact: only their change times, newer than the backup's start, tell the copy.
    twin = os.path.join(base, "crashed-copy")
    subprocess.run(["cp", "-a", c.data, twin], check=True)
    os.remove(os.path.join(twin, "postmaster.pid"))
    p = plan(a, twin, "--no-log")
    if any(r["code"] == "restart-primary" for r in p["remedies"]):
        raise Failure(f"crashed: a copy of the crashed primary is offered restart-primary: {p['remedies'][0]}")
    seen = log_size(c.data + ".log")
    try:
        c.start()
        raise Failure("crashed: the primary started with backup_label; its WAL was not recycled")
    except Failure as e:
        if "could not locate required checkpoint record" not in log_since(c.data + ".log", seen):
            raise Failure(f"crashed: the start failed otherwise: {e}")
    p = plan(a, c.data, "--log", c.data + ".log")
    if symptom(p, "crashed-in-backup")["verdict"] != "confirmed" or symptom(p, "canceled-backup")["verdict"] != "refuted":
        raise Failure(f"crashed: {p['symptoms']}")
    top = follow_top_remedy(a, p, "restart-primary")
    for command in top["commands"]:
        if command.startswith("mv "):
            c.as_user("sh", "-c", command)
    c.start()
    got = counts(c, "t1", "t2")
    c.stop()
    if got != [ROWS_BEFORE, ROWS_CRASHED]:
        raise Failure(f"crashed: rows {got}, expected {[ROWS_BEFORE, ROWS_CRASHED]}")
    return got


def unfinished(a, base):
    """pg_basebackup (Debian's 15, beside psql) killed part-way: backup_label but no global/pg_control. The
    copy's start fails; fed that log, the plan confirms unfinished-copy and its only remedy is a new base
    backup; pgrescue-reset --rebuild --from-wal refuses and writes nothing. The new backup, started, has every
    row."""
    c = Cluster(a, base, "source")
    c.initdb(False)
    c.start()
    c.sql(f"CREATE TABLE t1 (id int, body text); "
          f"INSERT INTO t1 SELECT g, repeat('a', 200) FROM generate_series(1, {ROWS_SOURCE}) g")
    basebackup = os.path.join(os.path.dirname(a.psql), "pg_basebackup")
    target = os.path.join(base, "partial")
    run = subprocess.Popen(["runuser", "-u", a.user, "--", basebackup, "-h", base, "-p", str(a.port), "-U", "postgres",
                            "-D", target, "-X", "stream", "-c", "fast", "--max-rate=1M"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(target, "global")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    if os.path.exists(os.path.join(target, "global", "pg_control")) or not os.path.exists(os.path.join(target, "backup_label")):
        raise Failure("unfinished: pg_basebackup was not stopped between backup_label and pg_control")
    c.stop()
    partial = Cluster(a, base, "partial")
    try:
        partial.start()
        raise Failure("unfinished: the partial copy started")
    except Failure as e:
        said = log_since(partial.data + ".log", 0)
        # Which file is missing first depends on the order the server sent them in.
        if "could not find the database system" not in said and "could not access the server configuration" not in said:
            raise Failure(f"unfinished: the start failed otherwise: {e}")
    p = plan(a, partial.data, "--log", partial.data + ".log")
    codes = [r["code"] for r in p["remedies"]]
    if symptom(p, "unfinished-copy")["verdict"] != "confirmed" or codes != ["new-backup"]:
        raise Failure(f"unfinished: {symptom(p, 'unfinished-copy')}, remedies {codes}")
    before = tree_hashes(partial.data)
    r = subprocess.run([a.reset, "--rebuild", "--from-wal", "-D", partial.data], capture_output=True, text=True)
    if r.returncode != 1 or "stopped before its end" not in r.stderr or tree_hashes(partial.data) != before:
        raise Failure(f"unfinished: pgrescue-reset --rebuild --from-wal: exit {r.returncode}: {r.stderr}")
    c.start()
    c.as_user(basebackup, "-h", base, "-p", str(a.port), "-U", "postgres", "-D", os.path.join(base, "new"),
              "-X", "stream", "-c", "fast")
    c.stop()
    new = Cluster(a, base, "new")
    new.start()
    got = counts(new, "t1")
    new.stop()
    if got != [ROWS_SOURCE]:
        raise Failure(f"unfinished: the new backup has {got} rows, expected {ROWS_SOURCE}")
    return got[0]


def main():
    a, base = server_test_setup("finish-backup")
    try:
        began = time.monotonic()
        panicked, unstarted = canceled(a, base)
        print(f"{a.label} canceled: PANIC, finish-backup, promoted; rows t1 {panicked[0]}/{ROWS_BEFORE} "
              f"t2 {panicked[1]}/{ROWS_AFTER}; never started: t1 {unstarted[0]}/{ROWS_BEFORE} "
              f"t2 {unstarted[1]}/{ROWS_AFTER} ({time.monotonic() - began:.0f} s)")
        began = time.monotonic()
        got = unfinished(a, base)
        print(f"{a.label} unfinished copy: start fails, new-backup, reset refused; new backup: rows t1 "
              f"{got}/{ROWS_SOURCE} ({time.monotonic() - began:.0f} s)")
        began = time.monotonic()
        got = crashed(a, base)
        print(f"{a.label} crashed primary: start fails, restart-primary; rows t1 {got[0]}/{ROWS_BEFORE} "
              f"t2 {got[1]}/{ROWS_CRASHED} ({time.monotonic() - began:.0f} s)")
        began = time.monotonic()
        print(f"{a.label} variant: PANIC; refused: {variant(a, base)} ({time.monotonic() - began:.0f} s)")
    finally:
        for name in ("primary", "copy", "unstarted", "source", "new", "crashed", "primary-v", "copy-v"):
            if os.path.exists(os.path.join(base, name, "postmaster.pid")):
                Cluster(a, base, name).stop("immediate")
        if os.environ.get("KEEP") is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run(main)
