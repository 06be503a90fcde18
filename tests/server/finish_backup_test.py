#!/usr/bin/env python3
"""A canceled exclusive online backup on a real server (10 to 14), and its remedy.

  canceled  archiving on (wal_level=replica, archive_command cp to an archive
            directory); 8000 rows in t1; SELECT pg_start_backup('x', true, true)
            (exclusive); the data directory copied with cp -a, without
            postmaster.pid and with pg_wal emptied (the archive is the WAL
            source); 2000 rows committed in t2; the primary stopped with
            pg_ctl stop -m fast and no pg_stop_backup (the server renames its
            backup_label to backup_label.old). The primary's pg_wal segments
            up to the one holding its shutdown checkpoint that are not in the
            archive are copied there, as a DBA would. The copy, started in
            archive recovery (recovery.conf on 10 and 11, recovery.signal and
            restore_command on 12+), PANICs with "online backup was canceled,
            recovery cannot continue" when it replays the shutdown checkpoint.
            finish_backup() then repairs it; the copy restarted with the same
            recovery settings must reach consistency, promote at the end of the
            archive, and hold exactly 8000 + 2000 rows.
  variant   the same, but the copy was still running when the primary came
            back: everything except base/ is copied during the backup, the
            primary is stopped -m fast without pg_stop_backup, started again,
            writes 1000 more rows in t3 and checkpoints, and only then is base/
            copied. The copy PANICs the same way, but its pages are not those of
            the shutdown checkpoint: some page LSN lies past the checkpoint
            record and some file's mtime (cp -a keeps it) is newer than the
            checkpoint's time. expect_refused() asserts exactly those facts,
            read from the copy, its log and the archive only.

finish_backup(a, copy, archive) sets pg_control's backupEndPoint to the LSN of
the shutdown checkpoint record that the copy's log names (its CONTEXT line:
"WAL redo at X/Y for XLOG/CHECKPOINT_SHUTDOWN") and recomputes the CRC-32C:
the PANIC test is "backupStartPoint set and backupEndPoint unset", and once
backupEndPoint <= the last replayed record's end the server clears both and
declares consistency.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

from pgtest import Cluster, Failure, lsn, run

ROWS_BEFORE, ROWS_AFTER, ROWS_RESTARTED = 8000, 2000, 1000
SEGMENT = 16 << 20
PAGE = 8192
PANIC = "online backup was canceled, recovery cannot continue"

# pg_control (x86-64) offsets per major: checkPoint, checkPointCopy, backupStartPoint, backupEndPoint, crc.
LAYOUT = {10: (32, 48, 152, 160, 288), 11: (32, 40, 144, 152, 280), 12: (32, 40, 152, 160, 288),
          13: (32, 40, 152, 160, 288), 14: (32, 40, 152, 160, 288)}


def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def major(data):
    with open(os.path.join(data, "PG_VERSION")) as f:
        return int(f.read().strip().split(".")[0])


def control(data):
    """The fields of pg_control this test needs, after checking its CRC."""
    ckpt, copy, start, end, crc = LAYOUT[major(data)]
    with open(os.path.join(data, "global", "pg_control"), "rb") as f:
        raw = f.read(PAGE)
    if crc32c(raw[:crc]) != struct.unpack_from("<I", raw, crc)[0]:
        raise Failure(f"{data}: pg_control CRC mismatch")
    return {"state": struct.unpack_from("<I", raw, 16)[0], "time": struct.unpack_from("<q", raw, 24)[0],
            "checkpoint": struct.unpack_from("<Q", raw, ckpt)[0], "redo": struct.unpack_from("<Q", raw, copy)[0],
            "tli": struct.unpack_from("<I", raw, copy + 8)[0], "backup_start": struct.unpack_from("<Q", raw, start)[0],
            "backup_end": struct.unpack_from("<Q", raw, end)[0]}


def set_backup_end(data, point):
    """pg_control's backupEndPoint := point, CRC-32C recomputed over the bytes before the crc field."""
    _, _, _, end, crc = LAYOUT[major(data)]
    path = os.path.join(data, "global", "pg_control")
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    struct.pack_into("<Q", raw, end, point)
    struct.pack_into("<I", raw, crc, crc32c(bytes(raw[:crc])))
    with open(path, "r+b") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def text(point):
    return f"{point >> 32:X}/{point & 0xFFFFFFFF:X}"


def segment_name(tli, point):
    return f"{tli:08X}{point >> 32:08X}{(point & 0xFFFFFFFF) // SEGMENT:08X}"


def read_record(archive, tli, point):
    """(record bytes, end LSN as the server's reader computes it) of the WAL record at point, from the archive."""
    def page_at(p):
        with open(os.path.join(archive, segment_name(tli, p)), "rb") as f:
            f.seek(p % SEGMENT // PAGE * PAGE)
            return f.read(PAGE)

    page = page_at(point)
    off = point % PAGE
    total = struct.unpack_from("<I", page, off)[0]
    out = bytearray(page[off:off + total])
    pos = point - off + PAGE
    end = point + ((total + 7) & ~7)
    while len(out) < total:
        page = page_at(pos)
        header = 40 if pos % SEGMENT == 0 else 24
        rem = struct.unpack_from("<I", page, 16)[0]
        out += page[header:header + min(rem, total - len(out))]
        end = pos + header + ((rem + 7) & ~7)
        pos += PAGE
    return bytes(out), end


def shutdown_checkpoint(archive, tli, point, version):
    """(end LSN, time) of the shutdown checkpoint record at point; fails if it is not one."""
    record, end = read_record(archive, tli, point)
    info, rmid = record[16], record[17]
    if rmid != 0 or info & 0xF0 != 0x00 or record[24] != 0xFF:  # RM_XLOG_ID, XLOG_CHECKPOINT_SHUTDOWN, main data
        raise Failure(f"the record at {text(point)} is not a shutdown checkpoint (rmid {rmid}, info {info:#x})")
    # CheckPoint.time: after nextXidEpoch + nextXid (10, 11) or the 8-aligned FullTransactionId (12+)
    return end, struct.unpack_from("<q", record, 26 + (56 if version < 12 else 64))[0]


def log_since(path, offset):
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read()


def log_size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def canceled_at(copy):
    """The shutdown checkpoint's LSN the copy's log names where it PANICked."""
    found = re.findall(r"WAL redo at ([0-9A-F]+/[0-9A-F]+) for XLOG/CHECKPOINT_SHUTDOWN",
                       log_since(copy.data + ".log", 0))
    if not found:
        raise Failure("the copy's log names no shutdown checkpoint")
    return lsn(found[-1])


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
    ctl = control(p.data)
    last = segment_name(ctl["tli"], ctl["checkpoint"])
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


def finish_backup(a, copy, archive):
    """The remedy: backupEndPoint := the LSN of the shutdown checkpoint record the PANIC names."""
    ctl = control(copy.data)
    if ctl["backup_start"] == 0 or ctl["backup_end"] != 0:
        raise Failure(f"the copy's pg_control: backup start {text(ctl['backup_start'])}, "
                      f"end {text(ctl['backup_end'])}")
    point = canceled_at(copy)
    shutdown_checkpoint(archive, ctl["tli"], point, major(copy.data))  # it is one, and the archive holds it
    set_backup_end(copy.data, point)


def page_lsns(data):
    """(largest page LSN, its file) over the relation files under base/."""
    best = (0, None)
    for directory, _, files in os.walk(os.path.join(data, "base")):
        for name in files:
            if not name.split("_")[0].split(".")[0].isdigit():
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                while True:
                    page = f.read(PAGE)
                    if len(page) < PAGE:
                        break
                    hi, lo = struct.unpack_from("<II", page, 0)
                    best = max(best, ((hi << 32) | lo, os.path.relpath(path, data)))
    return best


def newest_file(data):
    """(newest mtime, its file) over the files under base/."""
    best = (0.0, None)
    for directory, _, files in os.walk(os.path.join(data, "base")):
        for name in files:
            path = os.path.join(directory, name)
            best = max(best, (os.stat(path).st_mtime, os.path.relpath(path, data)))
    return best


def expect_refused(a, copy, archive):
    """The copy's files are not those of the canceled backup's shutdown checkpoint: the remedy must not
    apply. Facts from the copy, its log and the archive only."""
    point = canceled_at(copy)
    end, when = shutdown_checkpoint(archive, control(copy.data)["tli"], point, major(copy.data))
    top, where = page_lsns(copy.data)
    mtime, newest = newest_file(copy.data)
    mtime = int(mtime)  # the checkpoint's time is whole seconds
    if top <= end:
        raise Failure(f"variant: no page LSN past the shutdown checkpoint {text(point)} (largest {text(top)})")
    if mtime <= when:
        raise Failure(f"variant: no file newer than the shutdown checkpoint's time {when} (newest {mtime})")
    return (f"page LSN {text(top)} in {where} > checkpoint {text(point)}..{text(end)}; "
            f"{newest} mtime {mtime:.0f} > checkpoint time {when}")


def canceled(a, base):
    archive = os.path.join(base, "archive")
    p = primary(a, base, "primary", archive)
    p.sql("SELECT pg_start_backup('x', true, true)")
    copy_tree(a, p.data, os.path.join(base, "copy"))
    p.sql(f"CREATE TABLE t2 (id int); INSERT INTO t2 SELECT generate_series(1, {ROWS_AFTER})")
    p.stop("fast")
    if os.path.exists(os.path.join(p.data, "backup_label")):
        raise Failure("the primary kept backup_label through a fast shutdown")
    fill_archive(p, archive)
    copy = Cluster(a, base, "copy")
    recovery(copy, archive)
    start_panics(copy)
    # What tells this copy from the variant's: replay stopped before the checkpoint, and no page is newer.
    top, where = page_lsns(copy.data)
    if top >= canceled_at(copy):
        raise Failure(f"canceled: page LSN {text(top)} in {where} is not before the shutdown checkpoint")
    finish_backup(a, copy, archive)
    said = promoted(copy)
    if "consistent recovery state reached" not in said:
        raise Failure(f"no consistent state: {said[-2000:]}")
    got = counts(copy, "t1", "t2")
    copy.stop()
    if got != [ROWS_BEFORE, ROWS_AFTER]:
        raise Failure(f"canceled: rows {got}, expected {[ROWS_BEFORE, ROWS_AFTER]}")
    return got


def variant(a, base):
    archive = os.path.join(base, "archive-v")
    p = primary(a, base, "primary-v", archive)
    p.sql("SELECT pg_start_backup('x', true, true)")
    target = os.path.join(base, "copy-v")
    copy_tree(a, p.data, target, skip=("base",))
    p.sql(f"CREATE TABLE t2 (id int); INSERT INTO t2 SELECT generate_series(1, {ROWS_AFTER})")
    p.stop("fast")
    # The restarted primary's writes land at least one whole second after the checkpoint's time.
    stopped = control(p.data)["time"]
    while time.time() < stopped + 2:
        time.sleep(0.2)
    p.start()
    p.sql(f"CREATE TABLE t3 (id int); INSERT INTO t3 SELECT generate_series(1, {ROWS_RESTARTED}); CHECKPOINT")
    copy_tree(a, p.data, target, only=("base",))
    p.stop("fast")
    fill_archive(p, archive)
    copy = Cluster(a, base, "copy-v")
    recovery(copy, archive)
    start_panics(copy)
    return expect_refused(a, copy, archive)


def main():
    ap = argparse.ArgumentParser()
    for name in ("label", "bin-dir", "psql", "plan", "reset", "user"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix=f"pgrescue-finish-backup-{a.label}-")
    shutil.chown(base, a.user)
    os.chmod(base, 0o755)
    try:
        began = time.monotonic()
        got = canceled(a, base)
        print(f"{a.label} canceled: PANIC, finished, promoted; rows t1 {got[0]}/{ROWS_BEFORE} "
              f"t2 {got[1]}/{ROWS_AFTER} ({time.monotonic() - began:.0f} s)")
        began = time.monotonic()
        print(f"{a.label} variant: PANIC; {variant(a, base)} ({time.monotonic() - began:.0f} s)")
    finally:
        for name in ("primary", "copy", "primary-v", "copy-v"):
            if os.path.exists(os.path.join(base, name, "postmaster.pid")):
                Cluster(a, base, name).stop("immediate")
        if os.environ.get("KEEP") is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run(main)
