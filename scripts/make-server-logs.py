#!/usr/bin/env python3
"""Reproduce PostgreSQL startup/runtime failures on real servers and record the
server's own log output as fixtures (fixtures/server-logs/<class>/pg<major>*.log).

Runs as root; every server command runs as --user through runuser. Each failure
class is one function below; each starts from its own fresh initdb. A recording is
written only when the expected message is really in the log (see record()).

    scripts/make-server-logs.py --out fixtures/server-logs --majors 10-18
"""
import argparse
import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

PG_ROOT = "/var/cache/pgrescue/pg"
PSQL = "/usr/lib/postgresql/15/bin/psql"
PORT_BASE = 25700          # ports 25700..25799 only; 4 per major
SEG = 16 * 1024 * 1024     # initdb's default WAL segment size


class NotReproduced(Exception):
    pass


# ---------------------------------------------------------------- helpers

class Ctx:
    """One major: its binaries, a work directory under the run's temp dir, its ports."""

    def __init__(self, a, tmp, major):
        self.a, self.major = a, major
        self.bin = f"{PG_ROOT}/{major}/native/bin"
        self.sock = os.path.join(tmp, "sock")
        self.work = os.path.join(tmp, str(major))
        self.port = PORT_BASE + (major - 10) * 4
        self.running = []               # data directories started and not yet stopped
        os.makedirs(self.work, exist_ok=True)
        shutil.chown(self.work, a.user, a.user)

    def as_user(self, *argv, check=True, timeout=300):
        r = subprocess.run(["runuser", "-u", self.a.user, "--", "env", "LANG=C", "LC_ALL=C", *argv],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise NotReproduced(f"{' '.join(argv[:3])} failed: {(r.stdout + r.stderr).strip()[-1500:]}")
        return r

    def path(self, name):
        return os.path.join(self.work, name)

    def initdb(self, name, checksums=False, conf=()):
        """A fresh cluster `name` (initdb -U postgres [-k | --no-data-checksums]) with
        listen_addresses='' and the socket in the run's temp dir, plus `conf` lines."""
        data = self.path(name)
        off = "--no-data-checksums" in self.as_user(f"{self.bin}/initdb", "--help").stdout
        flags = ["-k"] if checksums else ["--no-data-checksums"] if off else []
        self.as_user(f"{self.bin}/initdb", "-U", "postgres", *flags, "-D", data)
        self.conf(data, ["listen_addresses = ''", f"unix_socket_directories = '{self.sock}'", *conf])
        return data

    def conf(self, data, lines):
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("".join(line + "\n" for line in lines))

    def start(self, data, log, port_offset=0):
        """pg_ctl -w start into the log file `log` (fresh). True if the server came up."""
        if os.path.exists(log):
            os.unlink(log)
        r = self.as_user(f"{self.bin}/pg_ctl", "-D", data, "-w", "-t", "120", "-l", log,
                         "-o", f"-p {self.port + port_offset}", "start", check=False)
        if r.returncode == 0:
            self.running.append(data)
        return r.returncode == 0

    def stop(self, data, mode="fast"):
        self.as_user(f"{self.bin}/pg_ctl", "-D", data, "-w", "-m", mode, "stop", check=False)
        if data in self.running:
            self.running.remove(data)

    def sql(self, text, port_offset=0, check=True):
        return self.as_user(PSQL, "-h", self.sock, "-p", str(self.port + port_offset), "-U", "postgres",
                            "-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", text, check=check)

    def workload(self, rows=1000, txns=5):
        """A table t with `rows` rows inserted over `txns` transactions."""
        self.sql("CREATE TABLE t (a int, b text)")
        for i in range(txns):
            self.sql(f"INSERT INTO t SELECT g, md5(g::text) FROM generate_series({i * rows // txns + 1}, "
                     f"{(i + 1) * rows // txns}) g")

    def stop_all(self):
        for data in list(self.running):
            self.stop(data, "immediate")


def checkpoint_lsn(data):
    """ControlFileData.checkPoint: bytes 32..39 little-endian in 10..18 (after
    system_identifier 8, pg_control_version 4, catalog_version_no 4, state 4 + pad 4, time 8)."""
    with open(os.path.join(data, "global", "pg_control"), "rb") as f:
        return struct.unpack_from("<Q", f.read(40), 32)[0]


def segment_name(lsn, tli=1):
    seg = lsn // SEG
    per_id = 0x100000000 // SEG
    return f"{tli:08X}{seg // per_id:08X}{seg % per_id:08X}"


def lsn_text(lsn):
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def overwrite(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def record(ctx, cls, log, expect, suffix="log", note=""):
    """Copy the log to <out>/<cls>/pg<major>.<suffix> if it holds the regex `expect`."""
    with open(log, "rb") as f:
        text = f.read()
    if not re.search(expect.encode(), text):
        tail = text.decode(errors="replace").strip().splitlines()[-8:]
        raise NotReproduced(f"{cls} pg{ctx.major}.{suffix}: /{expect}/ not in log; last lines:\n  "
                            + "\n  ".join(tail))
    dest = os.path.join(ctx.a.out, cls, f"pg{ctx.major}.{suffix}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(text)
    ctx.a.results.append((cls, ctx.major, suffix, note))
    save_note(ctx.a.out, cls, ctx.major, suffix, note)
    print(f"  recorded {cls}/pg{ctx.major}.{suffix} {note}", flush=True)


# ---------------------------------------------------------------- failure classes

def control_missing(ctx):
    data = ctx.initdb("control-missing")
    ctx.start(data, ctx.path("cm-run.log"))
    ctx.stop(data)
    os.unlink(os.path.join(data, "global", "pg_control"))
    log = ctx.path("control-missing.log")
    if ctx.start(data, log):
        ctx.stop(data)
    record(ctx, "control-missing", log, r"pg_control")


def control_crc(ctx):
    data = ctx.initdb("control-crc")
    ctx.start(data, ctx.path("cc-run.log"))
    ctx.stop(data)
    ctl = os.path.join(data, "global", "pg_control")
    with open(ctl, "rb") as f:
        b = f.read(34)[33]
    overwrite(ctl, 33, bytes([b ^ 0xFF]))     # a byte of checkPoint (offset 32..39)
    log = ctx.path("control-crc.log")
    if ctx.start(data, log):
        ctx.stop(data)
    record(ctx, "control-crc", log, r"incorrect checksum in control file")


def no_checkpoint(ctx, variant=None):
    """Immediate stop after writes, then the WAL segment holding the checkpoint record removed.
    variant: None (stderr), 'csvlog', 'jsonlog', 'prefix'."""
    name = "no-checkpoint" + (f"-{variant}" if variant else "")
    conf, logdir = [], ctx.path(name + "-logs")
    if variant in ("csvlog", "jsonlog"):
        conf = ["logging_collector = on", f"log_destination = '{variant}'",
                f"log_directory = '{logdir}'", "log_filename = 'postgresql.log'"]
    elif variant == "prefix":
        conf = ["log_line_prefix = '%m [%p] %q%u@%d '"]
    data = ctx.initdb(name, conf=conf)
    ctx.start(data, ctx.path(name + "-run.log"))
    ctx.workload()
    ctx.sql("CHECKPOINT")
    ctx.sql("INSERT INTO t SELECT g, 'after checkpoint' FROM generate_series(1, 1000) g")
    ctx.stop(data, "immediate")
    seg = segment_name(checkpoint_lsn(data))
    os.unlink(os.path.join(data, "pg_wal", seg))
    if variant in ("csvlog", "jsonlog"):
        shutil.rmtree(logdir, ignore_errors=True)
    log = ctx.path(name + ".log")
    if ctx.start(data, log):
        ctx.stop(data)
    expect = r"could not locate a valid checkpoint record"
    note = f"removed pg_wal/{seg}"
    if variant == "csvlog":
        record(ctx, "no-checkpoint", os.path.join(logdir, "postgresql.csv"), expect, "csvlog.csv", note)
    elif variant == "jsonlog":
        record(ctx, "no-checkpoint", os.path.join(logdir, "postgresql.json"), expect, "jsonlog.json", note)
    elif variant == "prefix":
        record(ctx, "no-checkpoint", log, expect, "prefix.log", note)
    else:
        record(ctx, "no-checkpoint", log, expect, "log", note)


def lock_file(ctx):
    live = ctx.initdb("lock-live")
    data = ctx.initdb("lock-file")
    ctx.start(live, ctx.path("lock-live.log"))
    sleeper = subprocess.Popen(["runuser", "-u", ctx.a.user, "--", "sleep", "600"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        # runuser forks; the sleep is its child owned by the user
        out = subprocess.run(["pgrep", "-P", str(sleeper.pid), "-x", "sleep"], capture_output=True, text=True)
        pid = int(out.stdout.split()[0]) if out.stdout.strip() else sleeper.pid
        with open(os.path.join(live, "postmaster.pid")) as f:
            lines = f.read().split("\n")
        lines[0] = str(pid)
        dest = os.path.join(data, "postmaster.pid")
        with open(dest, "w") as f:
            f.write("\n".join(lines))
        shutil.chown(dest, ctx.a.user, ctx.a.user)
        os.chmod(dest, 0o600)
        log = ctx.path("lock-file.log")
        if ctx.start(data, log, port_offset=1):
            ctx.stop(data)
    finally:
        subprocess.run(["kill", str(pid)])
        sleeper.wait()
        ctx.stop(live)
    record(ctx, "lock-file", log, r'lock file "postmaster.pid" already exists', note=f"sleep PID {pid}")


def xact_missing(ctx):
    """pg_xact/0000 deleted after a clean (fast) stop, and after a crash (immediate) stop."""
    for mode, suffix in (("fast", "log"), ("immediate", "crash.log")):
        name = "xact-missing-" + mode
        data = ctx.initdb(name)
        ctx.start(data, ctx.path(name + "-run.log"))
        ctx.workload(rows=1000, txns=10)
        ctx.sql("CHECKPOINT")
        if mode == "immediate":
            ctx.sql("INSERT INTO t SELECT g, 'after checkpoint' FROM generate_series(1, 100) g")
        ctx.stop(data, mode)
        os.unlink(os.path.join(data, "pg_xact", "0000"))
        log = ctx.path(name + ".log")
        note = ""
        if ctx.start(data, log):
            r = ctx.sql("SELECT count(*) FROM t", check=False)
            note = f"server started; SELECT count(*) FROM t -> {(r.stdout + r.stderr).strip()!r} (1000 or 1100 inserted)"
            ctx.stop(data)
        else:
            note = "server did not start"
        record(ctx, "xact-missing", log,
               r"could not access status of transaction|doesn't exist, reading as zeroes", suffix, note)


def wal_damaged(ctx):
    """Crash after writes past a checkpoint, then damage the WAL in the middle of the
    replayed range: 200 zero bytes over a page header, or 200 0xFF bytes mid-page.
    Reproduced when crash recovery stops before the end of the written WAL ("redo done
    at" an LSN below it); 10-14 print no message for a bad page header (XLogPageRead
    validates the header itself and drops the reader's message)."""
    errors = []
    for variant, suffix in (("header", "log"), ("midpage", "midpage.log")):
        try:
            wal_damaged_one(ctx, variant, suffix)
        except NotReproduced as e:
            errors.append(str(e))
        finally:
            ctx.stop_all()
    if errors:
        raise NotReproduced("\n".join(errors))


def wal_damaged_one(ctx, variant, suffix):
    name = "wal-damaged-" + variant
    data = ctx.initdb(name)
    ctx.start(data, ctx.path(name + "-run.log"))
    ctx.workload()
    ctx.sql("CHECKPOINT")
    for i in range(5):
        ctx.sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g")
    end = parse_lsn(ctx.sql("SELECT pg_current_wal_flush_lsn()").stdout.strip())
    ctx.stop(data, "immediate")
    ckpt = checkpoint_lsn(data)
    page = ((ckpt + end) // 2) // 8192 * 8192
    if page % SEG == 0:
        page += 8192
    seg = segment_name(page)
    off = page % SEG if variant == "header" else page % SEG + 4000
    fill = b"\0" * 200 if variant == "header" else b"\xff" * 200
    overwrite(os.path.join(data, "pg_wal", seg), off, fill)
    log = ctx.path(name + ".log")
    note = (f"checkpoint {lsn_text(ckpt)}, end {lsn_text(end)}, damaged {seg} offset {off} "
            f"(LSN {lsn_text(page - page % SEG + off)})")
    if ctx.start(data, log):
        r = ctx.sql("SELECT count(*) FROM t", check=False)
        note += f"; server started, count(*) = {r.stdout.strip()} of 51000"
        ctx.stop(data)
    else:
        note += "; server did not start"
    with open(log) as f:
        m = re.search(r"redo done at (\S+)", f.read())
    if m and parse_lsn(m.group(1)) >= end:
        raise NotReproduced(f"{name}: redo reached the end ({m.group(1)}): {note}")
    record(ctx, "wal-damaged", log,
           r"invalid magic number|invalid record length|incorrect resource manager data checksum|"
           r"invalid xl_info|invalid resource manager ID|record with incorrect prev-link|"
           r"contrecord|invalid info bits|unexpected pageaddr|redo done at", suffix, note)


def system_id_differs(ctx):
    data = ctx.initdb("sysid-this")
    other = ctx.initdb("sysid-other")
    ctx.start(data, ctx.path("sysid-run.log"))
    ctx.workload(rows=100, txns=2)
    ctx.stop(data, "immediate")
    seg = segment_name(checkpoint_lsn(data))
    src = os.path.join(other, "pg_wal", seg)
    if not os.path.exists(src):
        raise NotReproduced(f"the other cluster has no {seg}")
    shutil.copy2(src, os.path.join(data, "pg_wal", seg))
    shutil.chown(os.path.join(data, "pg_wal", seg), ctx.a.user, ctx.a.user)
    log = ctx.path("sysid.log")
    if ctx.start(data, log):
        ctx.stop(data)
    # some majors drop the page-header message (see wal_damaged): then only the PANIC shows
    with open(log) as f:
        said = "WAL file is from different database system" in f.read()
    record(ctx, "system-id-differs", log, r"could not locate a valid checkpoint record",
           note=f"copied {seg} from another initdb; 'WAL file is from different database system' "
                + ("logged" if said else "NOT logged"))


def page_damaged(ctx, prefix=False):
    """prefix: only the checksum case, with log_line_prefix='%m [%p] %q%u@%d ' (.prefix.log)."""
    runs = ((True, "prefix.log"),) if prefix else ((True, "log"), (False, "nochecksum.log"))
    for checksums, suffix in runs:
        name = "page-damaged" + ("" if checksums else "-nock") + ("-prefix" if prefix else "")
        conf = ["log_line_prefix = '%m [%p] %q%u@%d '"] if prefix else []
        data = ctx.initdb(name, checksums=checksums, conf=conf)
        ctx.start(data, ctx.path(name + "-run.log"))
        ctx.workload(rows=100, txns=1)
        rel = ctx.sql("SELECT pg_relation_filepath('t')").stdout.strip()
        ctx.sql("CHECKPOINT")
        ctx.stop(data)
        if checksums:
            overwrite(os.path.join(data, rel), 100, b"\xff" * 100)
        else:
            overwrite(os.path.join(data, rel), 0, b"\xff" * 24)
        log = ctx.path(name + ".log")
        if not ctx.start(data, log):
            raise NotReproduced(f"{name}: server did not start")
        r = ctx.sql("SELECT count(*) FROM t", check=False)
        ctx.stop(data)
        record(ctx, "page-damaged", log, r"invalid page in block 0 of relation", suffix,
               f"{'-k' if checksums else 'no checksums'}; {rel}; psql: {r.stderr.strip()!r}")


def canceled_backup(ctx):
    """10–14: exclusive pg_start_backup, copy, more work, fast stop of the primary without
    pg_stop_backup; the copy recovers from the archive (and, .withwal, also with the
    primary's remaining pg_wal copied in)."""
    if ctx.major > 14:
        return
    arch = ctx.path("cb-archive")
    os.makedirs(arch)
    shutil.chown(arch, ctx.a.user, ctx.a.user)
    primary = ctx.initdb("cb-primary", conf=["wal_level = replica", "archive_mode = on",
                                             f"archive_command = 'cp %p {arch}/%f'"])
    plog = ctx.path("cb-primary.log")
    ctx.start(primary, plog)
    ctx.workload()
    ctx.sql("SELECT pg_start_backup('x', true, true)")
    copy, copy2 = ctx.path("cb-copy"), ctx.path("cb-copy-withwal")
    ctx.as_user("cp", "-a", primary, copy)
    os.unlink(os.path.join(copy, "postmaster.pid"))
    ctx.as_user("cp", "-a", copy, copy2)
    ctx.sql("INSERT INTO t SELECT g, 'after backup start' FROM generate_series(1, 10000) g")
    ctx.sql("SELECT pg_switch_wal()")
    ctx.sql("INSERT INTO t SELECT g, 'after switch' FROM generate_series(1, 1000) g")
    for _ in range(60):
        if ctx.sql("SELECT last_archived_wal IS NOT NULL AND failed_count = 0 FROM pg_stat_archiver").stdout.strip() == "t":
            break
        time.sleep(0.5)
    offset = os.path.getsize(plog)
    ctx.stop(primary)
    with open(plog, "rb") as f:
        f.seek(offset)
        shutdown = f.read()
    shutdown_log = ctx.path("cb-primary-shutdown.log")
    with open(shutdown_log, "wb") as f:
        f.write(shutdown)
    for f in sorted(os.listdir(os.path.join(primary, "pg_wal"))):
        if re.fullmatch(r"[0-9A-F]{24}", f):
            shutil.copy2(os.path.join(primary, "pg_wal", f), os.path.join(copy2, "pg_wal", f))
            shutil.chown(os.path.join(copy2, "pg_wal", f), ctx.a.user, ctx.a.user)
    restore = f"restore_command = 'cp {arch}/%f %p'"
    for d in (copy, copy2):
        if ctx.major >= 12:
            open(os.path.join(d, "recovery.signal"), "w").close()
            shutil.chown(os.path.join(d, "recovery.signal"), ctx.a.user, ctx.a.user)
            ctx.conf(d, [restore])
        else:
            with open(os.path.join(d, "recovery.conf"), "w") as f:
                f.write(restore + "\n")
            shutil.chown(os.path.join(d, "recovery.conf"), ctx.a.user, ctx.a.user)
    record(ctx, "canceled-backup", shutdown_log, r"backup", "primary.log",
           "primary's log from pg_ctl stop -m fast")
    expect = r"online backup was canceled|WAL ends before end of online backup"
    for d, suffix in ((copy, "log"), (copy2, "withwal.log")):
        log = d + ".log"
        started = ctx.start(d, log, port_offset=1)
        if started:
            ctx.stop(d)
        record(ctx, "canceled-backup", log, expect, suffix,
               "copy " + ("started" if started else "did not start")
               + ("; primary's pg_wal segments copied into the copy's pg_wal" if d == copy2 else ""))


def backup_label_crashed_primary(ctx):
    """10-14: exclusive pg_start_backup then a stop without pg_stop_backup; start again.
    .log: after pg_ctl stop -m immediate (.immediate-stop.log: what that stop logged);
    .sigkill.log: after kill -9 of the postmaster (a real crash, backup_label stays);
    .sigkill-recycled.log: the same after enough WAL and checkpoints that the backup's
    checkpoint segment was removed."""
    if ctx.major > 14:
        return
    errors = []
    for variant in ("immediate", "sigkill", "sigkill-recycled"):
        try:
            backup_label_one(ctx, variant)
        except NotReproduced as e:
            errors.append(str(e))
        finally:
            ctx.stop_all()
    if errors:
        raise NotReproduced("\n".join(errors))


def kill9_postmaster(ctx, data):
    with open(os.path.join(data, "postmaster.pid")) as f:
        pm = int(f.readline())
    kids = subprocess.run(["pgrep", "-P", str(pm)], capture_output=True, text=True).stdout.split()
    os.kill(pm, 9)
    for _ in range(100):
        if not any(os.path.exists(f"/proc/{p}") for p in kids + [str(pm)]):
            break
        time.sleep(0.2)
    if data in ctx.running:
        ctx.running.remove(data)


def backup_label_one(ctx, variant):
    name = "blc-" + variant
    recycled = variant.endswith("recycled")
    conf = ["min_wal_size = 32MB", "max_wal_size = 48MB"] if recycled else []
    data = ctx.initdb(name, conf=conf)
    runlog = ctx.path(name + "-run.log")
    ctx.start(data, runlog)
    ctx.workload()
    ctx.sql("SELECT pg_start_backup('x', true, true)")
    with open(os.path.join(data, "backup_label")) as f:
        seg = re.search(r"\(file ([0-9A-F]{24})\)", f.read()).group(1)
    ctx.sql("INSERT INTO t SELECT g, 'after backup start' FROM generate_series(1, 1000) g")
    if recycled:
        for _ in range(6):
            ctx.sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
            ctx.sql("SELECT pg_switch_wal()")
            ctx.sql("CHECKPOINT")
        if os.path.exists(os.path.join(data, "pg_wal", seg)):
            raise NotReproduced(f"{name}: {seg} still in pg_wal")
    rows = ctx.sql("SELECT count(*) FROM t").stdout.strip()
    offset = os.path.getsize(runlog)
    if variant == "immediate":
        ctx.stop(data, "immediate")
        with open(runlog, "rb") as f:
            f.seek(offset)
            stoplog = f.read()
        with open(ctx.path(name + "-stop.log"), "wb") as f:
            f.write(stoplog)
        record(ctx, "backup-label-crashed-primary", ctx.path(name + "-stop.log"), r"shut down",
               "immediate-stop.log", "the primary's log from pg_ctl stop -m immediate")
    else:
        kill9_postmaster(ctx, data)
    label = "backup_label present" if os.path.exists(os.path.join(data, "backup_label")) else \
        "backup_label absent (backup_label.old)" if os.path.exists(os.path.join(data, "backup_label.old")) else "no backup_label"
    log = ctx.path(name + ".log")
    started = ctx.start(data, log)
    note = f"backup_label START WAL file {seg}" + ("; removed by recycling" if recycled else "") + f"; {label} at restart"
    if started:
        r = ctx.sql("SELECT count(*) FROM t", check=False)
        note += f"; server started, count(*) = {r.stdout.strip()} of {rows}"
        ctx.stop(data)
    else:
        note += "; server did not start"
    suffix = {"immediate": "log", "sigkill": "sigkill.log", "sigkill-recycled": "sigkill-recycled.log"}[variant]
    expect = r"could not locate required checkpoint record" if recycled else r"redo starts at|redo done at|ready to accept"
    record(ctx, "backup-label-crashed-primary", log, expect, suffix, note)


CLASSES = [
    ("control-missing", control_missing),
    ("control-crc", control_crc),
    ("no-checkpoint", no_checkpoint),
    ("lock-file", lock_file),
    ("xact-missing", xact_missing),
    ("wal-damaged", wal_damaged),
    ("system-id-differs", system_id_differs),
    ("page-damaged", page_damaged),
    ("canceled-backup", canceled_backup),
    ("backup-label-crashed-primary", backup_label_crashed_primary),
]


def formats(ctx):
    """Class no-checkpoint in csvlog, jsonlog (15+) and with a custom log_line_prefix, on 15 and 18;
    page-damaged with that prefix too (no-checkpoint has no session lines, so %q hides %u@%d).
    (control-missing fails before the logging collector starts, so its csv would be empty.)"""
    if ctx.major not in (15, 18):
        return
    for variant in ("csvlog", "jsonlog", "prefix"):
        try:
            no_checkpoint(ctx, variant)
        except NotReproduced as e:
            print(f"  NOT REPRODUCED no-checkpoint {variant}: {e}", flush=True)
            ctx.a.failures.append(("no-checkpoint-" + variant, ctx.major, str(e)))
        finally:
            ctx.stop_all()
    try:
        page_damaged(ctx, prefix=True)   # the prefix's %u@%d part shows on a session's lines
    except NotReproduced as e:
        print(f"  NOT REPRODUCED page-damaged prefix: {e}", flush=True)
        ctx.a.failures.append(("page-damaged-prefix", ctx.major, str(e)))
    finally:
        ctx.stop_all()


# ---------------------------------------------------------------- README

STEPS = {
    "control-missing": "initdb; start; `pg_ctl stop -m fast`; `rm global/pg_control`; `pg_ctl -w -l <fresh log> start`.",
    "control-crc": "initdb; start; stop fast; flip byte 33 of global/pg_control (XOR 0xFF; a byte of "
                   "`checkPoint`, offsets 32..39 in 10–18 — offset 16 is `state`, not the LSN); start.",
    "no-checkpoint": "initdb; start; table t, 1000 rows in 5 transactions; `CHECKPOINT`; 1000 more rows; "
                     "`pg_ctl stop -m immediate`; remove the pg_wal segment holding the checkpoint record "
                     "(named from `checkPoint`, pg_control bytes 32..39 LE, timeline 1, 16 MB segments — "
                     "it was 000000010000000000000001 every time); start.",
    "lock-file": "two clusters; the first running; its postmaster.pid copied into the stopped second one with "
                 "the first line replaced by the PID of a live `sleep 600` owned by the same user; start the "
                 "second (port+1); then the sleep is killed.",
    "xact-missing": "initdb; start; table t, 1000 rows in 10 transactions (never read); `CHECKPOINT`; "
                    "`.log`: `pg_ctl stop -m fast`, `rm pg_xact/0000`, start. `.crash.log`: 100 more rows "
                    "after the checkpoint, `pg_ctl stop -m immediate`, `rm pg_xact/0000`, start, "
                    "`SELECT count(*) FROM t`, stop fast.",
    "wal-damaged": "initdb; start; table t, 1000 rows; `CHECKPOINT`; 5×10000 rows; note "
                   "`pg_current_wal_flush_lsn()`; `pg_ctl stop -m immediate`; take the 8 KiB WAL page halfway "
                   "between the checkpoint LSN and that end; `.log`: 200 zero bytes over the page header; "
                   "`.midpage.log`: 200 0xFF bytes at page offset 4000; start; `SELECT count(*) FROM t`; stop fast.",
    "system-id-differs": "cluster A: initdb, start, table t with 100 rows, `pg_ctl stop -m immediate`; cluster B: "
                         "a separate initdb; copy B's pg_wal segment of the same name as A's checkpoint segment "
                         "(000000010000000000000001) over A's; start A.",
    "page-damaged": "`.log`: `initdb -k`; start; table t, 100 rows; `CHECKPOINT`; stop fast; bytes 100..199 of "
                    "the file `pg_relation_filepath('t')` set to 0xFF; start; `SELECT count(*) FROM t`; stop fast. "
                    "`.nochecksum.log`: the same without checksums (`--no-data-checksums` on 18) and bytes 0..23 "
                    "(the page header) set to 0xFF.",
    "canceled-backup": "primary with `wal_level=replica`, `archive_mode=on`, `archive_command='cp %p <archive>/%f'`; "
                       "table t, 1000 rows; `SELECT pg_start_backup('x', true, true)`; `cp -a` the data directory "
                       "(postmaster.pid removed from the copy) twice; 10000 rows; `pg_switch_wal()`; 1000 rows; wait "
                       "for the archiver; `pg_ctl stop -m fast` (`.primary.log`: what the primary logged from that "
                       "stop). On the copy: `recovery.signal` + `restore_command='cp <archive>/%f %p'` in "
                       "postgresql.conf (12+) or `recovery.conf` with that restore_command (10–11); start "
                       "(`.log`). `.withwal.log`: the second copy also gets the primary's pg_wal segments after "
                       "its shutdown (so the shutdown checkpoint is replayable).",
    "backup-label-crashed-primary": "initdb; start; table t, 1000 rows; `SELECT pg_start_backup('x', true, true)`; "
                                    "1000 rows; then `.log`: `pg_ctl stop -m immediate` (`.immediate-stop.log`: "
                                    "what the primary logged from that stop) and start again; `.sigkill.log`: "
                                    "`kill -9` of the postmaster instead (children left to exit), start again; "
                                    "`.sigkill-recycled.log`: with min_wal_size=32MB, max_wal_size=48MB and 6×"
                                    "(20000 rows, `pg_switch_wal()`, `CHECKPOINT`) before the kill -9, so the "
                                    "backup_label's checkpoint segment is gone; start again.",
}

FINDINGS = [
    "control-missing is not a prefixed log line: the postmaster writes plain text to stderr before logging is "
    "set up (`postgres: could not find the database system` / `Expected to find it in the directory ...` / "
    "`but could not open file \".../global/pg_control\": No such file or directory`). For the same reason a "
    "csvlog/jsonlog of it would be empty, so the format variants use no-checkpoint.",
    "no-checkpoint: 10 logs `invalid primary checkpoint record` and `invalid secondary checkpoint record`; "
    "11–15 only `invalid primary checkpoint record`; 16–18 `invalid checkpoint record`; the PANIC is "
    "`could not locate a valid checkpoint record` in 10–16 and `could not locate a valid checkpoint record at X/X` "
    "in 17–18. The checkpoint was in the first segment 000000010000000000000001 every time.",
    "xact-missing after a clean stop does NOT get as far as a query: the startup process itself reads the "
    "current pg_xact page (TrimCLOG) and the server refuses to start with FATAL `could not access status of "
    "transaction N` / DETAIL `Could not open file \"pg_xact/0000\": No such file or directory.` (all of 10–18). "
    "After a crash stop, redo recreates the file (`file \"pg_xact/0000\" doesn't exist, reading as zeroes`), "
    "the server starts and `SELECT count(*)` silently returns 100 of 1100 rows — no error at all.",
    "wal-damaged, zeroed page header: 12–15 log `invalid magic number 0000 in log segment S, offset N`, "
    "16–18 `invalid magic number 0000 in WAL segment S, LSN X/X, offset N`; 10–11 log nothing — recovery just ends (`redo done at` an LSN short of the "
    "end). 0xFF mid-page: `incorrect resource manager data checksum in record at X/X` or "
    "`invalid resource manager ID 255 at X/X`. The server always started, with 21000 of 51000 rows.",
    "Format variants (15 and 18): `no-checkpoint/pg<major>.csvlog.csv` and `.jsonlog.json` are the files the "
    "logging collector wrote (logging_collector=on, log_destination=csvlog/jsonlog, log_filename="
    "'postgresql.log'; their first record is the postmaster's `ending log output to stderr`); `.prefix.log` uses "
    "log_line_prefix='%m [%p] %q%u@%d ', which looks like the default there because no line belongs to a session "
    "(%q), so `page-damaged/pg<major>.prefix.log` shows it on the failing query's lines "
    "(`... [PID] postgres@postgres ERROR:  invalid page ...`).",
    "system-id-differs: 12–18 log `WAL file is from different database system: WAL file database system "
    "identifier is N, pg_control database system identifier is N` before the PANIC; 10–11 print only the "
    "`invalid primary/secondary checkpoint record` lines and the PANIC (the page-header message is dropped).",
    "page-damaged on 18: the checksum failure and `invalid page` are logged by the I/O worker as LOG with "
    "CONTEXT `I/O worker executing I/O on behalf of process N`, then the backend's ERROR; the relation "
    "path is quoted (`relation \"base/5/16384\"`). 10–17: WARNING `page verification failed, calculated "
    "checksum N but expected N` + ERROR `invalid page in block 0 of relation base/N/N` (unquoted).",
    "canceled-backup (10–14): the primary's fast stop logs `online backup mode canceled` / DETAIL `File "
    "\"backup_label\" was renamed to \"backup_label.old\".`. The copy recovering from the archive alone stops "
    "with FATAL `WAL ends before end of online backup` + HINT; given the primary's later pg_wal too it replays "
    "the shutdown checkpoint and PANICs `online backup was canceled, recovery cannot continue`.",
    "backup-label-crashed-primary (10–14): `pg_ctl stop -m immediate` is not a crash for this purpose — the "
    "postmaster still cancels the exclusive backup and renames backup_label (`.immediate-stop.log`), so the "
    "restart is ordinary crash recovery. After `kill -9` of the postmaster the backup_label stays; the restart "
    "replays from its checkpoint and starts fine, unless that checkpoint's segment was already removed: FATAL "
    "`could not locate required checkpoint record` + HINT (one line in 10–11, three lines naming "
    "recovery.signal in 12–14).",
]

SEVERITY = re.compile(r"^(.*?)\b(LOG|FATAL|PANIC|ERROR|WARNING|DETAIL|HINT|CONTEXT|STATEMENT):  (.*)$")
KEY_LOG = re.compile(r"invalid|could not|checkpoint record|redo (starts|done)|backup|doesn't exist|"
                     r"different database|terminated by signal|startup process .* exited with exit code|aborting startup|"
                     r"shutting down due to|interrupted|not properly shut down|archive recovery|"
                     r"restored log file|lock file|incorrect|page verification|record length")


def save_note(out, cls, major, suffix, note):
    """Add or replace one row of <out>/notes.tsv, under a lock on the file itself (runs over
    disjoint majors may write it at once)."""
    with open(os.path.join(out, "notes.tsv"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        rows = {}
        for line in f:
            k1, k2, k3, n = line.rstrip("\n").split("\t", 3)
            rows[(k1, k2, k3)] = n
        rows[(cls, str(major), suffix)] = note.replace("\t", " ").replace("\n", " ")
        f.seek(0)
        f.truncate()
        for k in sorted(rows, key=lambda k: (k[0], int(k[1]), k[2])):
            f.write("\t".join(k) + "\t" + rows[k] + "\n")


def key_lines(path, cls):
    """The lines worth quoting: message text from the severity on (prefix cut), with tab
    continuation lines; every line for a log without prefixes (control-missing)."""
    out, last = [], None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("\t") and last is not None:
            out[-1] += "\n" + line
            continue
        m = SEVERITY.match(line)
        last = None
        if not m:
            if line and not line.startswith("cp: ") and cls == "control-missing":
                out.append(line)
                last = line
            continue
        sev, text = m.group(2), m.group(3)
        if sev == "LOG" and not KEY_LOG.search(text):
            continue
        if sev == "STATEMENT" or text.startswith("terminating connection because of crash"):
            continue
        if sev in ("DETAIL", "HINT") and "another server process exited abnormally" in text:
            continue
        if sev in ("DETAIL", "HINT") and "reconnect to the database" in text:
            continue
        out.append(f"{sev}:  {text}")
        last = out[-1]
    return out


def normalize(line):
    line = re.sub(r"/tmp/srvlogs-[^/\"]+", "/tmp/…", line)
    line = re.sub(r"\b[0-9A-F]+/[0-9A-F]+\b", "X/X", line)
    line = re.sub(r"\d+", "N", line)
    return line


def write_readme(out):
    notes = {}
    if os.path.exists(os.path.join(out, "notes.tsv")):
        for line in open(os.path.join(out, "notes.tsv")):
            c, m, suf, n = line.rstrip("\n").split("\t", 3)
            notes[(c, int(m), suf)] = n
    files = {}
    for cls in sorted(os.listdir(out)):
        if not os.path.isdir(os.path.join(out, cls)):
            continue
        for name in os.listdir(os.path.join(out, cls)):
            m = re.fullmatch(r"pg(\d+)\.(.+)", name)
            if m:
                files.setdefault(cls, []).append((int(m.group(1)), m.group(2), os.path.join(out, cls, name)))
    order = [c for c, _ in CLASSES if c in files]
    w = ["# Real PostgreSQL server logs of failures",
         "",
         "Each file is a real server's own log, exactly as written, for one failing start (or one start, "
         "failing query and stop). Produced by `scripts/make-server-logs.py` (run as root; servers run as "
         "`pgrescue-test` through runuser) with the npm builds of PostgreSQL 10.23, 11.22, 12.22, 13.23, "
         "14.23, 15.18, 16.14, 17.10, 18.4 (`/var/cache/pgrescue/pg/<major>/native/bin`) and Debian's psql 15 as "
         "client. Every cluster is a fresh `initdb -U postgres` (`--no-data-checksums` on 18 unless `-k` is "
         "said), with `listen_addresses=''` and `unix_socket_directories` set in postgresql.conf; nothing else "
         "changed unless the steps say so: default `log_line_prefix` (`%m [%p] `), default `log_min_messages`, "
         "stderr captured with `pg_ctl -w -l <fresh file> start`. A file is kept only if the expected message "
         "is in it. Paths in the logs are the generator's temp directory (`/tmp/srvlogs-*`), since removed.",
         "",
         "File names: `<class>/pg<major>.log` is the main recording; other suffixes are variants explained in "
         "the steps. `notes.tsv` lists, per file, what the generator observed (LSNs, damaged offsets, whether "
         "the server started, `count(*)` results).",
         "",
         "| class | steps | majors | key lines (default prefix cut) |",
         "|---|---|---|---|"]
    for cls in order:
        majors = sorted({m for m, s, _ in files[cls] if s == "log"})
        variants = sorted({s for _, s, _ in files[cls]})
        seen = []
        for m, s, p in sorted(files[cls]):
            if s == "log" or s.endswith(".log"):
                for k in key_lines(p, cls):
                    if k.split(":")[0] in ("FATAL", "PANIC", "ERROR", "WARNING") or cls == "control-missing" \
                            or re.match(r"LOG:  .*(invalid|incorrect|could not|different database|doesn't exist|"
                                        r"backup|redo done|page verification)", k):
                        if normalize(k) not in [normalize(x) for x in seen]:
                            seen.append(k)
        key = "<br>".join("`" + x.replace("|", "\\|").replace("\n", " ") + "`" for x in seen[:6])
        mj = f"{majors[0]}–{majors[-1]}" if majors and majors == list(range(majors[0], majors[-1] + 1)) else \
            ", ".join(map(str, majors))
        w.append(f"| `{cls}` | {STEPS.get(cls, '')} | {mj} (files: {', '.join(variants)}) | {key} |")
    w += ["", "## Findings", ""] + [f"- {x}" for x in FINDINGS]
    w += ["", "## Distinct message wordings per class", "",
          "Message lines (text from the severity on; the prefix cut) grouped by wording with numbers, LSNs and "
          "the temp path masked; each group shows one verbatim example and the files it occurs in. LOG lines are "
          "kept only when they bear on the failure (recovery progress, the error itself, the postmaster's "
          "reaction).", ""]
    for cls in order:
        w += [f"### {cls}", ""]
        groups = {}
        for m, s, p in sorted(files[cls]):
            if not (s == "log" or s.endswith(".log")):
                continue
            for k in key_lines(p, cls):
                g = groups.setdefault(normalize(k), [k, []])
                if f"pg{m}.{s}" not in g[1]:
                    g[1].append(f"pg{m}.{s}")
        for ex, where in groups.values():
            w.append("```")
            w.append(ex)
            w.append("```")
            w.append(f"in: {', '.join(where)}")
            w.append("")
        for m, s, p in sorted(files[cls]):
            if (cls, m, s) in notes and notes[(cls, m, s)]:
                w.append(f"- pg{m}.{s}: {notes[(cls, m, s)]}")
        w.append("")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(w) + "\n")


def majors(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="fixtures/server-logs")
    p.add_argument("--majors", default="10-18", help="e.g. 10-18 or 12,15,18")
    p.add_argument("--user", default="pgrescue-test")
    p.add_argument("--classes", default="", help="comma-separated class names (default all)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    p.add_argument("--readme-only", action="store_true", help="only rewrite README.md from the files in --out")
    a = p.parse_args()
    a.out = os.path.abspath(a.out)
    a.results, a.failures = [], []
    if a.readme_only:
        write_readme(a.out)
        return 0
    wanted = set(filter(None, a.classes.split(",")))
    tmp = tempfile.mkdtemp(prefix="srvlogs-", dir="/tmp")
    os.chmod(tmp, 0o755)
    shutil.chown(tmp, a.user, a.user)
    os.makedirs(os.path.join(tmp, "sock"))
    shutil.chown(os.path.join(tmp, "sock"), a.user, a.user)
    try:
        for major in majors(a.majors):
            ctx = Ctx(a, tmp, major)
            print(f"== PostgreSQL {major}", flush=True)
            for name, fn in CLASSES + [("formats", formats)]:
                if wanted and name not in wanted:
                    continue
                try:
                    fn(ctx)
                except (NotReproduced, subprocess.TimeoutExpired, OSError) as e:
                    print(f"  NOT REPRODUCED {name}: {e}", flush=True)
                    a.failures.append((name, major, str(e)))
                finally:
                    ctx.stop_all()
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    write_readme(a.out)
    print("recorded:", len(a.results), "not reproduced:", len(a.failures))
    for f in a.failures:
        print("  ", f[0], f[1], f[2].splitlines()[0])
    return 1 if a.failures else 0


if __name__ == "__main__":
    sys.exit(main())
