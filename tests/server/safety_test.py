#!/usr/bin/env python3
"""Safety of pgrescue's advice, on real servers of one PostgreSQL major version.

Each scenario damages a cluster the way it happens in the field, records what
the server itself says, then does what a DBA at 3 a.m. would do: run
`pgrescue-plan --json`, take its first remedy, run its commands exactly as
printed, start the server, run CHECKPOINT and new writes from a new
connection, and count rows against what must be kept.

 1 lsn        Large insert (shared_buffers=16MB, so pages are written out with
              LSNs far past the last checkpoint), `pg_ctl stop -m immediate`,
              pg_wal emptied. The plan's -l must start past every page LSN
              (checked against our own scan of the relation files), and a
              user's -l at or below it is refused without -f. Following the
              plan's reset: CHECKPOINT works ("xlog flush request ... is not
              satisfied" otherwise), the rows from before the checkpoint stay.
 2 backup     A copy taken during a backup, started once in archive recovery
              with too little WAL (so pg_control records the backup start and
              backup_label becomes backup_label.old), then the primary's later
              WAL put into its pg_wal. `pgrescue-reset --from-wal` must refuse
              (it would start after the backup's start and silently lose what
              the copy missed); the first remedy must be finish-backup up to 14
              (the primary's shutdown checkpoint is in pg_wal) and recover-backup
              from 15, and following it keeps every row and the table made
              after the copy.
              Up to 14 the backup is exclusive (pg_start_backup(label, true),
              backup_label written into the data directory by the server, the
              primary stopped without pg_stop_backup, as reported on 13). From
              15 exclusive backups are gone; the nearest real equivalent is the
              documented low-level non-exclusive procedure: pg_backup_start in
              a session kept open, copy, (the rows and table after the copy),
              pg_backup_stop, its labelfile written as the copy's backup_label.
              The difference that matters: the label says "BACKUP METHOD:
              streamed", so pg_control gets backupEndRequired = true, and
              recovery must reach the end-of-backup record (which is only in
              the primary's later WAL) before the files are consistent.
 3 live       The postmaster killed with -9 while a backend is still running
              a transaction (attached to shared memory, cwd in the directory).
              The server refuses to start ("pre-existing shared memory block").
              Before the kill the plan must say live-postmaster; after it the
              first remedy must be wait (directory-in-use names the backend's
              PID) and pgrescue-reset must refuse naming it. Once the backend
              has committed and exited the first remedy is start-server, and
              crash recovery keeps the backend's row.
 4 xact       pg_xact emptied along with pg_wal after a crash. The plan must
              say xact-missing (with how many transactions' status is gone),
              and its reset must put -x at a pg_xact segment boundary past
              NextXID so the server starts; CHECKPOINT and new writes work.
              What reads of the old rows do is reported, not asserted.
 5 checksum   A data page whose checksum is wrong in a cleanly stopped
              cluster: the server only needs starting (the page is readable
              with ignore_checksum_failure). First remedy start-server, exit 0,
              no reset command.
 6 stale-pid  Every server process killed with -9: postmaster.pid names a dead
              PID, PostgreSQL starts anyway. As 5, and stale-postmaster-pid
              needs no decision.
 7 crash      `pg_ctl stop -m immediate` with WAL intact: as 5; the rows
              committed after the last checkpoint are there too.
 8 no-control pg_control deleted after a crash: every pgrescue-reset command
              the plan prints runs with -n (exit 0); its first remedy brings
              the server back with the rows of the last checkpoint.

Every pgrescue-reset command a plan prints (remedies' commands, `command`,
`pgrescue_command`) must exit 0 with -n added (pg_resetwal commands are run as
pgrescue-reset, which takes the same options); the first remedy's other
commands (pg_ctl, rm, ...) are run for real, as the test user, with only
`-l LOG` added to pg_ctl so its output does not hold our pipe.

--reproduce instead does what the DBA did with pgrescue before remedies
existed (`pgrescue-reset --auto -f`, the hazard's `--from-wal`, removing a
"stale" postmaster.pid, the printed command) and reports what the server then
says; it asserts nothing.

Each scenario prints one line; the last line is "N passed, M failed".
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from pgtest import Failure, lsn, tree_hashes


XACT_SEGMENT_XIDS = 1048576  # 8K pages: 32 pages of 32768 XIDs
REMEDY_CODES = {"start-server", "wait", "recover-backup", "from-wal", "reset", "restore-xact", "rebuild-xact",
                "finish-backup", "restart-primary", "new-backup", "vacuum", "resume-standby"}
SERVER_LOG_LEVELS = ("FATAL", "PANIC", "ERROR", "HINT", "DETAIL", "WARNING")


def run(argv, check=True, env=None, timeout=300):
    p = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **(env or {})),
                       timeout=timeout)
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(argv)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def lsn_text(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def segment_start(name, segment_size):
    """Start LSN of a WAL segment file name TTTTTTTTXXXXXXXXYYYYYYYY."""
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    return (log * (0x100000000 // segment_size) + seg) * segment_size


RELATION_FILE = re.compile(r"^\d+(_(fsm|vm|init))?(\.\d+)?$")


def max_page_lsn(data, block_size=8192):
    """Our own scan: the largest pd_lsn of any page of any relation file (all
    forks) under base/, global/ and pg_tblspc/. pd_lsn is the first 8 bytes of
    a page: xlogid then xrecoff, each a little-endian uint32."""
    best = (0, None, None)
    roots = [os.path.join(data, d) for d in ("base", "global", "pg_tblspc")]
    for root in roots:
        for directory, _, files in os.walk(root, followlinks=True):
            for name in files:
                if not RELATION_FILE.match(name):
                    continue
                path = os.path.join(directory, name)
                seg = int(name.split(".")[1]) if "." in name else 0
                with open(path, "rb") as f:
                    block = 0
                    while True:
                        page = f.read(block_size)
                        if len(page) < 24:
                            break
                        hi, lo = struct.unpack_from("<II", page, 0)
                        value = (hi << 32) | lo
                        if value > best[0]:
                            best = (value, os.path.relpath(path, data), seg * 131072 + block)
                        block += 1
    return best


def server_messages(text):
    """The server's own FATAL/ERROR/HINT/... lines, without log prefixes."""
    out = []
    for line in text.splitlines():
        for level in SERVER_LOG_LEVELS:
            i = line.find(level + ":")
            if i >= 0:
                out.append(line[i:].strip())
                break
    return out


class Ctx:
    def __init__(self, args):
        self.args = args
        self.label = args.label
        self.major = args.major
        self.bin_dir = args.bin_dir
        self.user = args.user
        self.bases = []

    def bin(self, name):
        return os.path.join(self.bin_dir, name)

    def as_user(self, argv, check=True, timeout=300):
        return run(["runuser", "-u", self.user, "--", "env", "LANG=C", "LC_ALL=C", "TZ=UTC", *argv],
                   check=check, timeout=timeout)

    def new_base(self, name):
        base = tempfile.mkdtemp(prefix=f"pgrescue-safety-{self.label}-{name}-", dir=self.args.work_dir)
        os.chmod(base, 0o755)
        shutil.chown(base, self.user)
        self.bases.append(base)
        return base

    def cleanup(self, base):
        """Stop every server in base, kill any process of ours still working
        there (cwd inside base), remove it."""
        for directory, dirs, files in os.walk(base):
            if "postmaster.pid" in files and "PG_VERSION" in files:
                try:
                    pid = int(open(os.path.join(directory, "postmaster.pid")).readline())
                    if process_cwd(pid, base):
                        os.kill(pid, signal.SIGKILL)
                except (ValueError, OSError):
                    pass
            dirs[:] = [d for d in dirs if d not in ("base", "pg_wal", "global")]
        for pid in processes_in(base):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.time() + 10
        while processes_in(base) and time.time() < deadline:
            time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)
        if base in self.bases:
            self.bases.remove(base)


def process_cwd(pid, prefix):
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(prefix)
    except OSError:
        return False


def processes_in(prefix):
    """PIDs whose working directory is inside prefix (servers run in their data directory)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and process_cwd(int(entry), prefix):
            out.append(int(entry))
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


class Server:
    """One data directory with its port, socket and log, run as the test user."""

    def __init__(self, ctx, base, name, port, initdb_flags=(), conf=None, data=None):
        self.ctx = ctx
        self.base = base
        self.name = name
        self.port = port
        self.data = data or os.path.join(base, name)
        self.log = os.path.join(base, name + ".log")
        self.log_offset = 0
        if data is None:
            ctx.as_user([ctx.bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync",
                         *initdb_flags])
            settings = {
                "listen_addresses": "''", "unix_socket_directories": f"'{base}'", "port": str(port),
                "fsync": "off", "max_connections": "20", "shared_buffers": "16MB",
                "checkpoint_timeout": "1h", "max_wal_size": "1GB", "autovacuum": "off",
                "log_min_messages": "warning", "log_checkpoints": "off",
            }
            settings.update(conf or {})
            self.configure(settings)

    def configure(self, settings):
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")

    def start_argv(self):
        return [self.ctx.bin("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "120", "start"]

    def start(self):
        ok, messages = self.try_start()
        if not ok:
            raise Failure(f"{self.name}: server did not start: {' / '.join(messages)}")

    def try_start(self, argv=None):
        """Start; returns (started, the server's messages logged meanwhile)."""
        self.log_offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        p = self.ctx.as_user(argv or self.start_argv(), check=False, timeout=200)
        messages = self.new_messages()
        if p.returncode != 0 and not messages:
            # Before logging starts (no pg_control, say) the server prints plain lines.
            with open(self.log, errors="replace") as f:
                f.seek(self.log_offset)
                messages = [l.strip() for l in f.read().splitlines() if l.strip()][-3:]
            messages = messages or [l.strip() for l in (p.stdout + p.stderr).splitlines() if l.strip()][-3:]
        return p.returncode == 0, messages

    def new_messages(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, errors="replace") as f:
            f.seek(self.log_offset)
            return server_messages(f.read())

    def log_text(self):
        return open(self.log, errors="replace").read() if os.path.exists(self.log) else ""

    def stop(self, mode="fast"):
        self.ctx.as_user([self.ctx.bin("pg_ctl"), "-D", self.data, "-w", "-t", "120", "-m", mode, "stop"])

    def stop_if_running(self):
        if running(self):
            self.stop()

    def psql_argv(self, text, db="postgres"):
        return [self.ctx.args.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.base,
                "-p", str(self.port), "-U", "postgres", "-d", db, "-c", text]

    def sql(self, text, db="postgres"):
        return run(self.psql_argv(text, db)).stdout.strip()

    def try_sql(self, text, db="postgres"):
        p = run(self.psql_argv(text, db), check=False)
        return p.returncode == 0, (p.stdout.strip() if p.returncode == 0 else p.stderr.strip())

    def postmaster_pid(self):
        return int(open(os.path.join(self.data, "postmaster.pid")).readline())

    def control(self):
        return json.loads(run([self.ctx.args.inspect, "--json", self.data], check=False).stdout)

    def control_facts(self):
        """pg_control's fields that say where recovery stands, and the marker files."""
        try:
            c = self.control()
        except (json.JSONDecodeError, Failure):
            return "pg_control unreadable"
        r = c.get("recovery", {})
        files = [f for f in ("backup_label", "backup_label.old", "recovery.signal", "recovery.conf",
                             "postmaster.pid") if os.path.exists(os.path.join(self.data, f))]
        return (f"state={c['control']['state']!r} checkpoint={c['checkpoint']['checkpoint_lsn']} "
                f"redo={c['checkpoint']['redo_lsn']} backupStartPoint={r.get('backup_start_lsn')} "
                f"backupEndPoint={r.get('backup_end_lsn')} "
                f"backupEndRequired={r.get('end_of_backup_record_required')} "
                f"minRecoveryPoint={r.get('min_recovery_end_lsn')} files={files}")

    def kill_all(self):
        """kill -9 the postmaster and every child: a stale postmaster.pid remains."""
        pm = self.postmaster_pid()
        os.kill(pm, signal.SIGSTOP)
        for child in children_of(pm):
            os.kill(child, signal.SIGKILL)
        os.kill(pm, signal.SIGKILL)
        wait_gone([pm] + children_of(pm))

    def wipe_wal(self):
        wal = os.path.join(self.data, "pg_wal")
        for name in os.listdir(wal):
            path = os.path.join(wal, name)
            if os.path.isfile(path):
                os.remove(path)
        status = os.path.join(wal, "archive_status")
        if os.path.isdir(status):
            for name in os.listdir(status):
                os.remove(os.path.join(status, name))


def wait_gone(pids, timeout=30):
    """Until the processes are gone and reaped: a zombie still answers
    kill(pid, 0), which is how PostgreSQL tests postmaster.pid."""
    deadline = time.time() + timeout
    while any(os.path.exists(f"/proc/{p}") for p in pids):
        if time.time() > deadline:
            raise Failure(f"processes {pids} did not exit")
        time.sleep(0.05)


# ---------------------------------------------------------------- the plan

# ---------------------------------------------------------------- the plan

class Checks:
    """A scenario's findings: it goes on after a broken expectation where it
    safely can, so one run shows everything that is wrong."""

    def __init__(self):
        self.problems = []

    def expect(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return cond

    def attempt(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except Failure as e:
            self.problems.append(str(e))
            return None

    def done(self, line):
        if self.problems:
            raise Failure(" | ".join(self.problems) + " || " + line)
        return line


def plan(ctx, data, *flags):
    p = run([ctx.args.plan, "--json", *flags, data], check=False)
    if p.returncode == 2:
        raise Failure(f"pgrescue-plan exited 2 (unusable input): {p.stderr.strip()}")
    if p.returncode not in (0, 1):
        raise Failure(f"pgrescue-plan exited {p.returncode}: {p.stderr}")
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        raise Failure(f"pgrescue-plan --json printed no JSON: {p.stdout[:500]} {p.stderr[:500]}")
    doc["_exit"] = p.returncode
    return doc


def hazards(doc):
    return {h["code"]: h for h in doc.get("hazards", [])}


def values(doc):
    return {v["option"]: v["value"] for v in doc.get("values", [])}


def describe(doc):
    codes = [r.get("code") for r in doc["remedies"]] if isinstance(doc.get("remedies"), list) else "none"
    return f"plan exit {doc['_exit']}, hazards {sorted(hazards(doc))}, remedies {codes}"


def remedies(doc):
    """The remedies, validated against the contract's shape (raises)."""
    if "remedies" not in doc:
        raise Failure(f"the plan has no \"remedies\" ({describe(doc)}); pgrescue_command "
                      f"{doc.get('pgrescue_command')!r}")
    rs = doc["remedies"]
    if not isinstance(rs, list) or not rs:
        raise Failure(f"\"remedies\" is empty or not a list: {rs!r}")
    for r in rs:
        missing = {"code", "summary", "loses", "commands", "reasons"} - set(r)
        if missing:
            raise Failure(f"remedy {r.get('code')!r} lacks {sorted(missing)}")
        if r["code"] not in REMEDY_CODES:
            raise Failure(f"unknown remedy code {r['code']!r}")
        if not isinstance(r["commands"], list) or not all(isinstance(c, str) for c in r["commands"]):
            raise Failure(f"remedy {r['code']}: commands must be a list of strings: {r['commands']!r}")
    first = rs[0]["code"]
    if first != "reset":
        for key in ("command", "pgrescue_command"):
            if doc.get(key):
                raise Failure(f"first remedy is {first}, yet \"{key}\" is {doc[key]!r} (must be empty)")
    return rs


def find_remedy(doc, code):
    for r in doc.get("remedies") or []:
        if isinstance(r, dict) and r.get("code") == code:
            return r
    return None


def expect_first(chk, doc, code, exit_code):
    """Soft: the plan's shape, its first remedy and exit status. Returns the
    first remedy when it is `code`, else None."""
    rs = chk.attempt(remedies, doc)
    if not rs:
        return None
    chk.expect(doc["_exit"] == exit_code, f"pgrescue-plan exited {doc['_exit']}, expected {exit_code} "
                                          f"({describe(doc)})")
    if chk.expect(rs[0]["code"] == code, f"first remedy is {rs[0]['code']!r}, expected {code!r} ({describe(doc)}: "
                                         f"{rs[0].get('summary')})"):
        return rs[0]
    return None


def printed_commands(doc):
    out = []
    for r in doc.get("remedies") or []:
        if isinstance(r, dict):
            out += r.get("commands") or []
    for key in ("command", "pgrescue_command"):
        if doc.get(key):
            out.append(doc[key])
    return out


def dry_run_printed(ctx, doc, data, expect=0):
    """Every pgrescue-reset command the plan prints (pg_resetwal ones through
    pgrescue-reset, which takes the same options), with -n: exits `expect`
    and changes no byte. Returns how many ran."""
    cmds = [c for c in printed_commands(doc) if shlex.split(c)[0] in ("pgrescue-reset", "pg_resetwal")]
    if not cmds:
        return 0
    before = tree_hashes(data)
    for c in cmds:
        argv = shlex.split(c)
        p = run([ctx.args.reset, "-n", *argv[1:]], check=False, env={"TZ": "UTC"})
        if p.returncode != expect:
            raise Failure(f"printed command `{c}` with -n exited {p.returncode}, expected {expect}: "
                          f"{(p.stdout + p.stderr).strip()[-800:]}")
    if tree_hashes(data) != before:
        raise Failure("a printed command run with -n changed the data directory")
    return len(cmds)


def follow(ctx, server, r):
    """Run a remedy's commands as printed: pgrescue-reset as root (it keeps
    the files' owner), everything else as the test user; pg_ctl gets -l so the
    server's output goes to our log instead of holding our pipe."""
    for c in r["commands"]:
        argv = shlex.split(c)
        tool = argv[0]
        if tool == "pgrescue-reset":
            p = run([ctx.args.reset, *argv[1:]], check=False, env={"TZ": "UTC"})
            if p.returncode != 0:
                raise Failure(f"remedy {r['code']}: `{c}` exited {p.returncode}: {(p.stdout + p.stderr)[-1500:]}")
        elif tool == "pg_ctl":
            argv[0] = ctx.bin("pg_ctl")
            if "-l" not in argv and "--log" not in argv:
                argv += ["-l", server.log]
            if "start" in argv or "restart" in argv:
                ok, messages = server.try_start(argv + ["-w", "-t", "120"])
                if not ok:
                    raise Failure(f"remedy {r['code']}: `{c}` failed; the server says: {' / '.join(messages)}")
            else:
                ctx.as_user(argv)
        elif tool == "pg_resetwal":
            raise Failure(f"remedy {r['code']} prints pg_resetwal, which this version's build lacks: `{c}`")
        else:
            p = ctx.as_user(["sh", "-c", c], check=False)
            if p.returncode != 0:
                raise Failure(f"remedy {r['code']}: `{c}` exited {p.returncode}: {p.stderr.strip()}")


def running(server):
    pid_file = os.path.join(server.data, "postmaster.pid")
    try:
        return os.path.exists(pid_file) and pid_alive(server.postmaster_pid())
    except (ValueError, OSError):
        return False


def ensure_started(server):
    """After a remedy: the server runs (started by the remedy, or now), and
    has finished recovery (hot standby accepts connections before that)."""
    if not running(server):
        ok, messages = server.try_start()
        if not ok:
            raise Failure(f"the server does not start: {' / '.join(messages)}")
    deadline = time.time() + 120
    while True:
        ok, out = server.try_sql("select pg_is_in_recovery()")
        if ok and out == "f":
            return
        if not ok and "starting up" not in out and "not yet accepting" not in out:
            raise Failure(f"the server runs, but a new connection fails: {' '.join(out.split())[-300:]}")
        if time.time() > deadline:
            raise Failure(f"the server is still in recovery (read-only) after 120 s: {out}")
        time.sleep(0.2)


def keeps_working(server, tag):
    """CHECKPOINT, a new connection and new writes, CHECKPOINT again; a
    restart; and no 'xlog flush request' error in the log."""
    for step in ("checkpoint",
                 f"create table after_{tag} as select g from generate_series(1, 1000) g",
                 f"insert into after_{tag} select g from generate_series(1001, 2000) g",
                 f"update after_{tag} set g = g + 0 where g <= 100",
                 "checkpoint",
                 f"select count(*) from after_{tag}"):
        ok, out = server.try_sql(step)
        if not ok:
            raise Failure(f"after the remedy `{step}` fails: {out.splitlines()[0] if out else ''}")
    server.stop()
    server.start()
    ok, out = server.try_sql(f"select count(*) from after_{tag}")
    if not ok or out != "2000":
        raise Failure(f"after a restart: {out}")
    flush = [m for m in server_messages(server.log_text()) if "is not satisfied" in m]
    if flush:
        raise Failure(f"the log says: {flush[0]}")


def count(server, table, extra=""):
    ok, out = server.try_sql(f"{extra}select count(*) from {table}")
    return int(out) if ok else (out.splitlines() or ["error"])[0]


def expect_rows(chk, server, table, expected, extra=""):
    got = count(server, table, extra)
    chk.expect(got == expected, f"{table}: {got} rows, expected {expected}")
    return got


# ---------------------------------------------------------------- scenarios

def s1_lsn(ctx, port):
    base = ctx.new_base("lsn")
    srv = Server(ctx, base, "data", port)
    srv.start()
    srv.sql("create table kept as select g as id, repeat('k', 100) as pad from generate_series(1, 1000) g")
    srv.sql("checkpoint")
    srv.sql("create table big (id int, pad text)")
    srv.sql("insert into big select g, repeat('x', 200) from generate_series(1, 150000) g")
    end_lsn = srv.sql("select pg_current_wal_lsn()")
    srv.stop("immediate")
    ctl = srv.control()
    seg_size = int(ctl["init"]["bytes_per_wal_segment"])
    srv.wipe_wal()
    started, msgs = srv.try_start()
    if started:
        raise Failure("the server started without its WAL")
    ours, ours_file, ours_block = max_page_lsn(srv.data)
    steps = (f"shared_buffers=16MB; 1000 rows, CHECKPOINT at {ctl['checkpoint']['checkpoint_lsn']}; 150000-row "
             f"insert (WAL to {end_lsn}); stop -m immediate; pg_wal emptied; start: {msgs[:2]}; largest page LSN "
             f"{lsn_text(ours)} ({ours_file} block {ours_block})")
    doc = plan(ctx, srv.data)
    v = values(doc)
    if ctx.args.reproduce:
        p = run([ctx.args.reset, "--auto", "-f", "-D", srv.data], check=False)
        started, msgs = srv.try_start()
        outcome = [f"plan -l {v.get('-l')} ({describe(doc)}); reset --auto -f exit {p.returncode}; "
                   f"start {'ok' if started else 'failed'} {msgs[:3]}"]
        if started:
            outcome.append(f"kept={count(srv, 'kept')} big={count(srv, 'big')}")
            outcome.append(f"checkpoint: {srv.try_sql('checkpoint')}")
            outcome.append(f"new connection: {srv.try_sql('select 1')}")
            outcome.append(f"log: {srv.new_messages()[:4]}")
            p = ctx.as_user([ctx.bin("pg_ctl"), "-D", srv.data, "-w", "-t", "60", "-m", "fast", "stop"], check=False)
            outcome.append(f"stop -m fast: exit {p.returncode}, log {srv.new_messages()[-3:]}")
            started, msgs = srv.try_start()
            outcome.append(f"start again: {'ok' if started else 'failed'} {msgs[:2]}")
            if started:
                outcome.append(f"new connection: {srv.try_sql('select count(*) from kept')}")
        return steps + " || " + "; ".join(str(o) for o in outcome)

    chk = Checks()
    page = doc.get("page_lsn")
    max_lsn = None
    if chk.expect(isinstance(page, dict), f"no page_lsn in the plan ({describe(doc)})"):
        missing = {"max_lsn", "file", "block", "pages", "invalid_pages"} - set(page)
        if chk.expect(not missing, f"page_lsn lacks {sorted(missing)}: {page}"):
            max_lsn = page["max_lsn"]
            chk.expect(lsn(max_lsn) >= ours, f"page_lsn.max_lsn {max_lsn} is below the largest page LSN we "
                                             f"read, {lsn_text(ours)} ({ours_file} block {ours_block})")
    start_l = segment_start(v["-l"], seg_size)
    chk.expect(start_l > max(ours, lsn(max_lsn) if max_lsn else 0),
               f"planned -l {v['-l']} starts at {lsn_text(start_l)}, not past the page LSNs "
               f"(max_lsn {max_lsn}, ours {lsn_text(ours)})")
    expect_first(chk, doc, "reset", 1)
    chk.attempt(dry_run_printed, ctx, doc, srv.data)
    r = find_remedy(doc, "reset")
    if r is None:
        raise Failure(chk.problems and " | ".join(chk.problems) or f"no reset remedy ({describe(doc)})")
    # A user's -l at or below the page LSNs, tried later on a copy of this state.
    low = ctl["checkpoint"]["redo_wal_file"][:16] + f"{int(ctl['checkpoint']['redo_wal_file'][16:24], 16) + 1:08X}"
    copy = os.path.join(base, "copy")
    run(["cp", "-a", srv.data, copy])

    chk.attempt(follow, ctx, srv, r)
    ensure_started(srv)
    kept = expect_rows(chk, srv, "kept", 1000)
    big = count(srv, "big")  # its transaction's commit went with the WAL: not asserted
    chk.attempt(keeps_working, srv, "s1")
    srv.stop_if_running()

    argv = [ctx.args.reset]
    for value in doc["values"]:
        if value["in_command"] and value["option"] != "-l":
            argv += [value["option"], value["value"]]
    argv += ["-l", low, "-D", copy]
    p = run(argv, check=False)
    said = p.stdout + p.stderr
    chk.expect(p.returncode == 1 and max_lsn is not None and max_lsn in said,
               f"user -l {low} (at or below the page LSNs) without -f: exit {p.returncode}, expected 1 with "
               f"max_lsn {max_lsn} named: {said.strip()[-600:]}")
    p = run(argv[:1] + ["-f"] + argv[1:], check=False)
    chk.expect(p.returncode == 0 and max_lsn is not None and max_lsn in p.stderr,
               f"user -l {low} with -f: exit {p.returncode}, expected 0 with a warning naming max_lsn {max_lsn} "
               f"on stderr: {p.stderr.strip()[-600:]}")
    return chk.done(f"kept {kept}/1000 rows (big shows {big}: its commit went with the WAL); page LSNs: plan "
                    f"{max_lsn}, ours {lsn_text(ours)}; planned -l {v['-l']}; CHECKPOINT, new connections and "
                    f"writes after the reset")


def s2_backup(ctx, port):
    """See the module docstring. port: the copy; port + 7: the primary;
    port - 2: throw-away copies (--reproduce)."""
    base = ctx.new_base("backup")
    exclusive = ctx.major <= 14
    keep = {"wal_keep_segments": "64"} if ctx.major <= 12 else {"wal_keep_size": "'1GB'"}
    primary = Server(ctx, base, "primary", port + 7, conf=keep)
    primary.start()
    primary.sql("create table t (id int primary key, v text)")
    primary.sql("insert into t select g, 'before' from generate_series(1, 5000) g")
    facts = []
    session = None
    if exclusive:
        primary.sql("select pg_start_backup('safety', true)")
    else:
        session = subprocess.Popen(
            [ctx.args.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", base, "-p", str(primary.port),
             "-U", "postgres", "-d", "postgres"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        session.stdin.write("select pg_backup_start('safety', true);\n\\echo started\n")
        session.stdin.flush()
        while True:
            line = session.stdout.readline()
            if not line:
                raise Failure(f"pg_backup_start failed: {session.stderr.read()}")
            if line.strip() == "started":
                break
    copy_dir = os.path.join(base, "copy")
    run(["cp", "-a", primary.data, copy_dir])
    for f in ("postmaster.pid", "postmaster.opts"):
        if os.path.exists(os.path.join(copy_dir, f)):
            os.remove(os.path.join(copy_dir, f))
    primary.sql("insert into t select g, 'after copy' from generate_series(5001, 8000) g")
    primary.sql("create table after_copy as select g from generate_series(1, 100) g")
    if not exclusive:
        session.stdin.write("select labelfile from pg_backup_stop(false);\n\\q\n")
        session.stdin.flush()
        out, err = session.communicate(timeout=60)
        label = out.strip("\n") + "\n"
        if "START WAL LOCATION" not in label:
            raise Failure(f"no backup label from pg_backup_stop: {out!r} {err!r}")
        with open(os.path.join(copy_dir, "backup_label"), "w") as f:
            f.write(label)
        shutil.chown(os.path.join(copy_dir, "backup_label"), ctx.user)
    primary.stop("fast")
    primary_log = [m for m in primary.new_messages() if "backup" in m.lower()]
    copy = Server(ctx, base, "copy", port, data=copy_dir)
    archive = os.path.join(base, "archive")
    os.mkdir(archive)
    shutil.chown(archive, ctx.user)
    copy.configure({"port": str(port), "restore_command": f"'cp {archive}/%f %p'"})
    signal_file = "recovery.conf" if ctx.major <= 11 else "recovery.signal"
    with open(os.path.join(copy_dir, signal_file), "w") as f:
        if ctx.major <= 11:
            f.write(f"restore_command = 'cp {archive}/%f %p'\n")
    shutil.chown(os.path.join(copy_dir, signal_file), ctx.user)
    label_text = open(os.path.join(copy_dir, "backup_label")).read()
    method = [l for l in label_text.splitlines() if l.startswith("BACKUP METHOD")]
    facts.append(f"copy as taken: {copy.control_facts()}; label {method}")
    started, msgs = copy.try_start()
    if started:
        raise Failure(f"the copy started in recovery with only its own WAL: {msgs}")
    facts.append(f"after the failed recovery ({msgs[:2]}): {copy.control_facts()}")
    # The primary's later WAL, supplied.
    pw = os.path.join(primary.data, "pg_wal")
    for name in sorted(os.listdir(pw)):
        if len(name) == 24 and os.path.isfile(os.path.join(pw, name)):
            shutil.copy2(os.path.join(pw, name), os.path.join(copy_dir, "pg_wal", name))
            shutil.chown(os.path.join(copy_dir, "pg_wal", name), ctx.user)
    primary_ckpt = primary.control()["checkpoint"]["checkpoint_lsn"]
    facts.append(f"primary's WAL supplied (primary's shutdown checkpoint {primary_ckpt}): {copy.control_facts()}")
    steps = (f"{'exclusive pg_start_backup' if exclusive else 'pg_backup_start, copy, pg_backup_stop, label written'}"
             f"; 3000 rows + a table after the copy; primary stopped {primary_log[:1]}; copy started with "
             f"{signal_file} + restore_command from an empty archive: {msgs[:2]}; primary's pg_wal copied in")
    doc = plan(ctx, copy_dir)

    # What a reset --from-wal does, on a throw-away copy.
    trial = os.path.join(base, "trial")
    run(["cp", "-a", copy_dir, trial])
    p = run([ctx.args.reset, "--from-wal", "-D", trial], check=False)
    from_wal_exit, from_wal_said = p.returncode, p.stdout + p.stderr
    if ctx.args.reproduce:
        offered = [h["code"] for h in doc["hazards"] if "--from-wal" in h["message"]]
        outcome = f"{describe(doc)}, --from-wal offered by {offered}; --from-wal exit {from_wal_exit}"
        if from_wal_exit == 0:
            tcopy = Server(ctx, base, "trial", port - 2, data=trial)
            tcopy.configure({"port": str(port - 2)})
            outcome += f" -> {tcopy.control_facts()}"
            started, msgs = tcopy.try_start()
            outcome += f"; start {'ok' if started else 'failed'} {msgs[:3]}"
            if started:
                outcome += f"; t={count(tcopy, 't')} after_copy={count(tcopy, 'after_copy')}"
                tcopy.stop()
        ctx.as_user(["rm", "-rf", trial])
        for variant, remove in (("rm " + signal_file + " + start", True), ("start as is", False)):
            alt = os.path.join(base, "alt")
            run(["cp", "-a", copy_dir, alt])
            if remove:
                os.remove(os.path.join(alt, signal_file))
            a = Server(ctx, base, "alt", port - 2, data=alt)
            a.configure({"port": str(port - 2)})
            started, msgs = a.try_start()
            outcome += f"; {variant}: {'ok' if started else 'failed'} {msgs[:3]}"
            if started:
                try:
                    ensure_started(a)
                except Failure as e:
                    outcome += f" ({e})"
                outcome += f" t={count(a, 't')} after_copy={count(a, 'after_copy')} -> {a.control_facts()}"
                a.stop()
                outcome += f"; stopped: {a.control_facts()}"
            ctx.as_user(["rm", "-rf", alt])
        return steps + " || " + outcome + " || facts: " + " | ".join(facts)

    chk = Checks()
    chk.expect({"backup-in-progress", "backup-label"} & set(hazards(doc)),
               f"no backup-in-progress / backup-label hazard: {describe(doc)}")
    # The primary's shutdown checkpoint is in pg_wal: an exclusive backup's
    # copy is proved consistent there and finished; a non-exclusive one
    # replays to its end-of-backup record.
    wanted = "finish-backup" if exclusive else "recover-backup"
    expect_first(chk, doc, wanted, 1)
    chk.attempt(dry_run_printed, ctx, doc, copy_dir)
    r = find_remedy(doc, wanted)
    if r is None:
        chk.expect(False, f"no {wanted} remedy: {describe(doc)}")
    else:
        chk.attempt(follow, ctx, copy, r)
    t = a = None
    if ensure_started_or(chk, copy):
        t = expect_rows(chk, copy, "t", 8000)
        a = expect_rows(chk, copy, "after_copy", 100)
        chk.attempt(keeps_working, copy, "s2")
        copy.stop_if_running()
        # Recovered and cleanly stopped: nothing needs doing (12-14 keep
        # backupStartPoint in pg_control for good after crash recovery).
        later = plan(ctx, copy_dir)
        first = expect_first(chk, later, "start-server", 0)
        chk.expect(first is not None, f"after the remedy and a clean stop: {describe(later)} {copy.control_facts()}")
        # ... and after a later crash.
        copy.start()
        copy.stop("immediate")
        later = plan(ctx, copy_dir)
        expect_first(chk, later, "start-server", 0)
    chk.expect(from_wal_exit == 1 and "recover-backup" in from_wal_said,
               f"pgrescue-reset --from-wal on the backup copy exited {from_wal_exit}, expected 1 naming "
               f"recover-backup: {from_wal_said.strip()[-400:]}")
    return chk.done(f"t {t}/8000 rows, after_copy {a}/100; --from-wal exit {from_wal_exit}; "
                    f"{wanted}: {r['commands'] if r else None}")


def ensure_started_or(chk, server):
    try:
        ensure_started(server)
        return True
    except Failure as e:
        chk.expect(False, str(e))
        return False


# The backend runs until the test creates safety_go (pg_sleep would end it:
# it exits when the postmaster dies). Its own limit only keeps it from
# outliving a test that was itself killed, so it is the whole test's ctest
# TIMEOUT: on a slow machine the steps between the kill and safety_go (a
# failed start, plans, refused resets) can take minutes, and a backend that
# gave up early would commit and leave nothing in use to detect.
BUSY_LIMIT_SECONDS = 600
BUSY = ("insert into live values (42); "
        "do $$ declare s timestamptz := clock_timestamp(); begin "
        "while (pg_stat_file('safety_go', true)).size is null "
        f"and clock_timestamp() < s + interval '{BUSY_LIMIT_SECONDS} s' loop perform 1; end loop; end $$")


def s3_live(ctx, port):
    base = ctx.new_base("live")
    srv = Server(ctx, base, "data", port)
    srv.start()
    srv.sql("create table live (id int)")
    srv.sql("create table kept as select g from generate_series(1, 1000) g")
    srv.sql("checkpoint")
    pm = srv.postmaster_pid()
    running_doc = plan(ctx, srv.data)
    p_running = run([ctx.args.reset, "--auto", "-f", "-D", srv.data], check=False)
    backend = subprocess.Popen(srv.psql_argv(BUSY), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bpid = None
    deadline = time.time() + 120
    while bpid is None and time.time() < deadline and backend.poll() is None:
        out = srv.sql("select pid from pg_stat_activity where query like '%safety_go%' and pid <> pg_backend_pid()")
        if out:
            bpid = int(out)
        else:
            time.sleep(0.05)
    if bpid is None:
        raise Failure(f"the busy backend did not show up (psql exit {backend.poll()})")
    os.kill(pm, signal.SIGKILL)
    wait_gone([pm])
    # The other children notice the postmaster's death and exit; the busy
    # backend keeps running, attached to shared memory, its cwd the directory.
    deadline = time.time() + 20
    while [p for p in processes_in(srv.data) if p != bpid] and time.time() < deadline:
        time.sleep(0.1)
    others = [p for p in processes_in(srv.data) if p != bpid]
    started, msgs = srv.try_start()
    if started:
        raise Failure(f"the server started while backend {bpid} still runs")
    pid_file = os.path.exists(os.path.join(srv.data, "postmaster.pid"))
    steps = (f"postmaster {pm} killed -9 while backend {bpid} runs a transaction (other processes left: {others}); "
             f"start: {msgs[:2]}; postmaster.pid {'still there' if pid_file else 'gone'}")
    doc = plan(ctx, srv.data)
    go = os.path.join(srv.data, "safety_go")

    def let_backend_commit():
        with open(go, "w") as f:
            f.write("go")
        out, err = backend.communicate(timeout=120)
        wait_gone([bpid])
        os.remove(go)
        return backend.returncode, err.strip()

    if ctx.args.reproduce:
        stale = hazards(doc).get("stale-postmaster-pid", {}).get("message", "")
        if os.path.exists(os.path.join(srv.data, "postmaster.pid")):
            os.remove(os.path.join(srv.data, "postmaster.pid"))
        p = run([ctx.args.reset, "--auto", "-f", "-D", srv.data], check=False)
        rc, err = let_backend_commit()
        started, msgs2 = srv.try_start()
        outcome = (f"while running: {describe(running_doc)}, reset exit {p_running.returncode}; after the kill: "
                   f"{describe(doc)}, stale-postmaster-pid says {stale[:90]!r}; rm postmaster.pid; reset --auto -f "
                   f"exit {p.returncode}; backend committed (psql exit {rc} {err[:80]}); start "
                   f"{'ok' if started else 'failed'} {msgs2[:3]}")
        if started:
            outcome += f"; live={count(srv, 'live')} (the backend's committed row) kept={count(srv, 'kept')}"
            srv.stop()
        return steps + " || " + outcome

    chk = Checks()
    # A running server: live-postmaster, wait, the reset refuses naming it.
    chk.expect("live-postmaster" in hazards(running_doc),
               f"plan of a running server: no live-postmaster hazard ({describe(running_doc)})")
    expect_first(chk, running_doc, "wait", 1)
    chk.expect(p_running.returncode == 1 and str(pm) in p_running.stdout + p_running.stderr,
               f"reset --auto -f on a running server exited {p_running.returncode}, expected 1 naming PID {pm}")
    # The postmaster dead, its backend alive.
    hz = hazards(doc)
    chk.expect("directory-in-use" in hz and str(bpid) in hz["directory-in-use"]["message"],
               f"no directory-in-use hazard naming backend {bpid}: {describe(doc)} {hz.get('directory-in-use')}")
    first = expect_first(chk, doc, "wait", 1)
    if first is not None:
        chk.expect(not first["commands"], f"the wait remedy prints commands: {first['commands']}")
    before = tree_hashes(srv.data)
    pn = run([ctx.args.reset, "-n", "--auto", "-f", "-D", srv.data], check=False)
    chk.expect(pn.returncode == 1, f"reset -n --auto -f while backend {bpid} runs exited {pn.returncode}, expected 1")
    p = run([ctx.args.reset, "--auto", "-f", "-D", srv.data], check=False)
    chk.expect(p.returncode == 1 and str(bpid) in p.stdout + p.stderr,
               f"reset --auto -f while backend {bpid} runs exited {p.returncode}, expected 1 naming it: "
               f"{(p.stdout + p.stderr).strip()[-400:]}")
    refused = tree_hashes(srv.data) == before
    chk.expect(refused, "the reset changed the data directory while a backend was running")
    rc, err = let_backend_commit()
    if rc != 0:
        raise Failure(f"the backend's transaction did not commit: psql exit {rc}: {err}")
    doc2 = plan(ctx, srv.data)
    first2 = expect_first(chk, doc2, "start-server", 0)
    chk.attempt(dry_run_printed, ctx, doc2, srv.data)
    if first2 is not None:
        chk.attempt(follow, ctx, srv, first2)
    live = None
    if ensure_started_or(chk, srv):
        live = expect_rows(chk, srv, "live", 1)
        expect_rows(chk, srv, "kept", 1000)
        chk.attempt(keeps_working, srv, "s3")
        srv.stop_if_running()
    return chk.done(f"{live}/1 row committed by backend {bpid} after its postmaster died; reset "
                    f"{'refused' if refused else 'went ahead'} while it ran")


def s4_xact(ctx, port):
    base = ctx.new_base("xact")
    srv = Server(ctx, base, "data", port)
    srv.start()
    srv.sql("create table x (id int, v text)")
    script = os.path.join(base, "inserts.sql")
    with open(script, "w") as f:
        for i in range(1, 5001):
            f.write(f"insert into x values ({i}, 'row');\n")
    run([ctx.args.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", base, "-p", str(port), "-U", "postgres",
         "-d", "postgres", "-f", script])
    srv.sql("checkpoint")
    srv.sql("create table late as select g from generate_series(1, 10) g")
    srv.stop("immediate")
    ctl = srv.control()
    next_xid = int(ctl["checkpoint"]["next_xid"].split(":")[-1])
    oldest_xid = int(ctl["checkpoint"]["oldest_xid"])
    srv.wipe_wal()
    xact = os.path.join(srv.data, "pg_xact")
    gone = sorted(os.listdir(xact))
    for name in gone:
        os.remove(os.path.join(xact, name))
    started, msgs = srv.try_start()
    if started:
        raise Failure("the server started without pg_wal and pg_xact")
    steps = (f"5000 one-row transactions, CHECKPOINT (NextXID {next_xid}, oldestXID {oldest_xid}), one more, "
             f"stop -m immediate; pg_wal and pg_xact ({gone}) emptied; start: {msgs[:2]}")
    doc = plan(ctx, srv.data)
    v = values(doc)
    if ctx.args.reproduce:
        p = run([ctx.args.reset, "--auto", "-f", "-D", srv.data], check=False)
        started, msgs = srv.try_start()
        outcome = (f"{describe(doc)}, -x {v.get('-x')} -u {v.get('-u')}; reset --auto -f exit {p.returncode}; "
                   f"start {'ok' if started else 'failed'} {msgs[:3]}")
        if started:
            outcome += f"; read x: {srv.try_sql('select count(*) from x')}; checkpoint: {srv.try_sql('checkpoint')}"
            srv.stop()
        return steps + " || " + outcome
    chk = Checks()
    hz = hazards(doc)
    if chk.expect("xact-missing" in hz, f"no xact-missing hazard: {describe(doc)}"):
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", hz["xact-missing"]["message"])]
        lo, hi = next_xid - oldest_xid, next_xid
        chk.expect(any(lo <= n <= hi for n in numbers),
                   f"xact-missing does not say how many transactions' status is gone (between {lo} and {hi}): "
                   f"{hz['xact-missing']['message']}")
    chk.expect(doc["_exit"] == 1, f"pgrescue-plan exited {doc['_exit']}, expected 1")
    chk.attempt(remedies, doc)
    x = int(v["-x"])
    chk.expect(x % XACT_SEGMENT_XIDS == 0 and x > next_xid,
               f"planned -x {x} is not a pg_xact segment boundary past NextXID {next_xid}")
    chk.attempt(dry_run_printed, ctx, doc, srv.data)
    r = find_remedy(doc, "reset")
    if r is None:
        chk.expect(False, f"no reset remedy: {describe(doc)}")
        return chk.done(steps)
    codes = [c["code"] for c in doc["remedies"]]
    chk.attempt(follow, ctx, srv, r)
    # A reset alone (without --rebuild-xact, tested in xact_rebuild_test.py)
    # makes no old row readable: the system catalogs hold rows of the lost
    # transactions too, so connections fail. The plan must say so before the
    # DBA follows it, and the server must at least start (no "could not access
    # status" at start).
    chk.expect("could not access status of transaction" in r["loses"] and "connections" in r["loses"],
               f"the reset remedy does not warn that rows of the lost transactions, catalogs included, fail: "
               f"{r['loses']}")
    reads = "-"
    started = running(srv) or srv.try_start()[0]
    chk.expect(started, "the postmaster did not start after the planned reset")
    if started:
        ok, reads = srv.try_sql("select count(*) from x")
        reads = f"{reads} of 5000" if ok else "error: " + reads.splitlines()[0]
        chk.expect(ok or "could not access status of transaction" in reads,
                   f"reading old rows failed otherwise than the plan warned: {reads}")
        srv.stop_if_running()
    return chk.done(f"remedies {codes}, reset -x {x}; reading the 5000 old rows: {reads}")


def simple_cluster(ctx, name, port, flags=()):
    base = ctx.new_base(name)
    srv = Server(ctx, base, "data", port, initdb_flags=flags)
    srv.start()
    srv.sql("create table kept as select g as id from generate_series(1, 1000) g")
    srv.sql("checkpoint")
    srv.sql("create table after_ckpt as select g as id from generate_series(1, 500) g")
    srv.sql("insert into kept select g from generate_series(1001, 1500) g")
    return base, srv


def start_server_scenario(ctx, chk, srv, steps, tag, expected, extra=""):
    doc = plan(ctx, srv.data)
    if ctx.args.reproduce:
        cmd = doc.get("pgrescue_command", "")
        outcome = f"{describe(doc)}; printed: {cmd!r}"
        if cmd:
            argv = shlex.split(cmd)
            p = run([ctx.args.reset, *argv[1:]], check=False)
            if p.returncode == 1 and "postmaster.pid" in p.stderr:
                os.remove(os.path.join(srv.data, "postmaster.pid"))
                outcome += f" -> exit 1 {p.stderr.strip().splitlines()[-1:]}; postmaster.pid removed as told"
                p = run([ctx.args.reset, *argv[1:]], check=False)
            outcome += f" -> exit {p.returncode}"
            started, msgs = srv.try_start()
            outcome += f"; start {'ok' if started else 'failed'} {msgs[:2]}"
            if started:
                outcome += "; rows " + ", ".join(f"{t}={count(srv, t, extra)}" for t in expected)
                srv.stop()
        return steps + " || " + outcome
    first = expect_first(chk, doc, "start-server", 0)
    for key in ("command", "pgrescue_command"):
        chk.expect(not doc.get(key), f"\"{key}\" is {doc.get(key)!r}; it must be empty when the server only "
                                     f"needs starting")
    ran = chk.attempt(dry_run_printed, ctx, doc, srv.data)
    if first is not None:
        chk.attempt(follow, ctx, srv, first)
    got = {}
    if ensure_started_or(chk, srv):
        for table, n in expected.items():
            got[table] = expect_rows(chk, srv, table, n, extra)
        chk.attempt(keeps_working, srv, tag)
        srv.stop_if_running()
    return chk.done(f"rows {', '.join(f'{t} {got.get(t)}/{n}' for t, n in expected.items())}; first remedy "
                    f"{first['commands'] if first else None}; {ran} other printed reset commands ran with -n")


def s5_checksum(ctx, port):
    base = ctx.new_base("checksum")
    srv = Server(ctx, base, "data", port, initdb_flags=["-k"])
    srv.start()
    srv.sql("create table kept as select g as id from generate_series(1, 1000) g")
    srv.sql("create table damaged as select g as id from generate_series(1, 1000) g")
    rel = srv.sql("select pg_relation_filepath('damaged')")
    srv.stop()
    with open(os.path.join(srv.data, rel), "r+b") as f:
        f.seek(8)
        (old,) = struct.unpack("<H", f.read(2))
        f.seek(8)
        f.write(struct.pack("<H", old ^ 0x5A5A))
    srv.start()
    ok, err = srv.try_sql("select count(*) from damaged")
    srv.stop()
    if ok:
        raise Failure("a page with a wrong checksum was read without complaint")
    steps = f"initdb -k; clean stop; pd_checksum of {rel} block 0 flipped; reading it: {err.splitlines()[:2]}"
    return start_server_scenario(ctx, Checks(), srv, steps, "s5", {"kept": 1000, "damaged": 1000},
                                 extra="set ignore_checksum_failure = on; ")


def s6_stale_pid(ctx, port):
    base, srv = simple_cluster(ctx, "stale-pid", port)
    pm = srv.postmaster_pid()
    srv.kill_all()
    steps = f"postmaster {pm} and every child killed -9; postmaster.pid left naming {pm}"
    chk = Checks()
    if not ctx.args.reproduce:
        hz = hazards(plan(ctx, srv.data)).get("stale-postmaster-pid")
        chk.expect(hz is not None and hz["needs_decision"] is False,
                   f"stale-postmaster-pid missing or needing a decision: {hz}")
    return start_server_scenario(ctx, chk, srv, steps, "s6", {"kept": 1500, "after_ckpt": 500})


def s7_crash(ctx, port):
    base, srv = simple_cluster(ctx, "crash", port)
    srv.stop("immediate")
    steps = "rows after the last checkpoint; stop -m immediate; WAL intact"
    return start_server_scenario(ctx, Checks(), srv, steps, "s7", {"kept": 1500, "after_ckpt": 500})


def s8_no_control(ctx, port):
    base, srv = simple_cluster(ctx, "no-control", port)
    srv.stop("immediate")
    os.remove(os.path.join(srv.data, "global", "pg_control"))
    started, msgs = srv.try_start()
    steps = f"stop -m immediate, global/pg_control deleted; start: {msgs[:1]}"
    doc = plan(ctx, srv.data)
    if ctx.args.reproduce:
        cmd = doc.get("pgrescue_command", "")
        p = run([ctx.args.reset, "-n", *shlex.split(cmd)[1:]], check=False) if cmd else None
        outcome = (f"{describe(doc)}; printed {cmd!r} with -n: exit {p.returncode if p else '-'} "
                   f"{(p.stderr.strip().splitlines() or [''])[-1] if p else ''}")
        return steps + " || " + outcome
    chk = Checks()
    n = chk.attempt(dry_run_printed, ctx, doc, srv.data)
    chk.expect(n != 0, f"the plan prints no pgrescue-reset command: {describe(doc)}")
    rs = chk.attempt(remedies, doc)
    kept = after = None
    if rs:
        chk.attempt(follow, ctx, srv, rs[0])
        if ensure_started_or(chk, srv):
            kept, after = count(srv, "kept"), count(srv, "after_ckpt")
            chk.expect(isinstance(kept, int) and kept >= 1000,
                       f"after the first remedy ({rs[0]['code']}) kept has {kept} rows, expected at least the 1000 "
                       f"from before the checkpoint")
            chk.attempt(keeps_working, srv, "s8")
            srv.stop_if_running()
    return chk.done(f"{n} printed reset commands ran with -n; first remedy {rs[0]['code'] if rs else None}: kept "
                    f"{kept}/1500, after_ckpt {after}/500")


SCENARIOS = [("lsn", s1_lsn), ("backup", s2_backup), ("live", s3_live), ("xact", s4_xact),
             ("checksum", s5_checksum), ("stale-pid", s6_stale_pid), ("crash", s7_crash),
             ("no-control", s8_no_control)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True, help="name in messages, e.g. pg12")
    ap.add_argument("--major", type=int, required=True)
    ap.add_argument("--bin-dir", required=True, help="directory with initdb, pg_ctl, postgres")
    ap.add_argument("--inspect", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--reset", required=True)
    ap.add_argument("--psql", required=True)
    ap.add_argument("--user", required=True, help="unprivileged user to run the servers as")
    ap.add_argument("--port", type=int, required=True,
                    help="base port: scenario k uses port + k; the backup scenario also + 9 and + 0")
    ap.add_argument("--work-dir", default="/tmp")
    ap.add_argument("--only", action="append", help="run only this scenario (repeatable): "
                    + ", ".join(n for n, _ in SCENARIOS))
    ap.add_argument("--reproduce", action="store_true",
                    help="do what pgrescue's advice said before remedies existed, report what happens; "
                         "asserts nothing")
    args = ap.parse_args()
    ctx = Ctx(args)
    passed = failed = 0
    for k, (name, fn) in enumerate(SCENARIOS, start=1):
        if args.only and name not in args.only:
            continue
        t0 = time.time()
        try:
            line = fn(ctx, args.port + k)
            print(f"{'REPRO' if args.reproduce else 'ok'} {args.label} {k}-{name} ({time.time() - t0:.0f}s): {line}",
                  flush=True)
            passed += 1
        except Failure as e:
            print(f"FAIL {args.label} {k}-{name} ({time.time() - t0:.0f}s): {e}", flush=True)
            failed += 1
        except Exception as e:  # a broken step must not leave servers behind
            print(f"FAIL {args.label} {k}-{name}: {type(e).__name__}: {e}", flush=True)
            failed += 1
        finally:
            for base in list(ctx.bases):
                ctx.cleanup(base)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
