#!/usr/bin/env python3
"""One writer at a time, on a real server of one PostgreSQL version.

A cleanly stopped cluster of 1,000 rows is reset with `pgrescue-reset --auto`
(run as root, as a DBA with sudo would). strace holds the reset for 20 s at
its first rename, after it took the lock. Meanwhile, as a DBA might:
  - postmaster.pid is pgrescue's lock: line 9 names the reset, line 1 its
    keeper, a process of the cluster's owner;
  - `pg_ctl start` fails, and the server's log says `lock file
    "postmaster.pid" already exists` and names the keeper's PID;
  - `pg_ctl stop` does not end the keeper (it ignores SIGTERM) and gives up;
  - a second `pgrescue-reset` refuses (exit 1), naming the first's PID;
  - `pgrescue-plan` says pgrescue is writing.
The reset then ends with exit 0 and removes its lock; the keeper is gone.

A second reset is killed (-9) while it holds the lock. The keeper dies with
it; the lock stays, stale. A new reset refuses (exit 1) and points at --undo;
`--undo` puts everything back and removes the lock; the server starts and
has its 1,000 rows.

A third reset fails part-way (EIO injected at its third rename, keeping
pg_control): exit 4, the lock's first line becomes 0, and `pg_ctl start`
stops with "bogus data in lock file", quoting the --undo command; `--undo`
puts every byte back and the server starts with its 1,000 rows.
"""
import os
import signal
import subprocess
import time

from pgtest import Cluster, Failure, run, server_test_setup, tree_hashes, wait_gone

HOLD_S = 20


def lock_lines(data):
    try:
        with open(os.path.join(data, "postmaster.pid")) as f:
            return f.read().split("\n")
    except FileNotFoundError:
        return None


def held_reset(a, data):
    """pgrescue-reset --auto held at its first rename; (the strace process, the reset's PID, the keeper's PID)."""
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
                          "-e", f"inject=rename,renameat,renameat2:delay_enter={HOLD_S * 1000000}:when=1", "--",
                          a.reset, "--auto", "-f", "-D", data],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = lock_lines(data)
        if lines and len(lines) > 8 and lines[8].startswith("pgrescue-lock "):
            return p, int(lines[8].split()[1]), int(lines[0])
        if p.poll() is not None:
            raise Failure(f"the reset ended before it took the lock: {p.communicate()}")
        time.sleep(0.05)
    raise Failure("no lock within 60 s")


def main():
    a, base = server_test_setup("lock")
    c = Cluster(a, base, "data")
    c.initdb(checksums=False)
    c.start()
    c.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
    c.stop()

    # A reset that holds the lock.
    started = time.monotonic()
    p, writer, keeper = held_reset(a, c.data)
    lines = lock_lines(c.data)
    if f"pgrescue-reset --auto -f -D {c.data}" not in lines[8] or lines[1] != os.path.realpath(c.data):
        raise Failure(f"the lock's lines 2 and 9: {lines}")
    if str(os.stat(f"/proc/{keeper}").st_uid) != c.as_user("id", "-u").stdout.strip():
        raise Failure(f"the keeper {keeper} is not the cluster owner's process")
    start = c.as_user(f"{a.bin_dir}/pg_ctl", "-D", c.data, "-w", "-t", "30", "-l", f"{c.data}.log", "-o",
                      f"-p {a.port} -k {base} -c listen_addresses=''", "start", check=False)
    with open(f"{c.data}.log") as f:
        log = f.read()
    if start.returncode == 0 or 'lock file "postmaster.pid" already exists' not in log or \
            f"(PID {keeper})" not in log:
        raise Failure(f"pg_ctl start during the reset: exit {start.returncode}, log:\n{log}")
    print(f"pg_ctl start refused: {[l for l in log.splitlines() if 'FATAL' in l or 'HINT' in l]}")
    stop = c.as_user(f"{a.bin_dir}/pg_ctl", "-D", c.data, "-w", "-t", "3", "stop", check=False)
    with open(f"/proc/{keeper}/stat") as f:
        state = f.read().rsplit(") ", 1)[1][0]
    if stop.returncode == 0 or state == "Z" or lock_lines(c.data) is None:
        raise Failure(f"pg_ctl stop ended the lock (keeper state {state}): exit {stop.returncode} "
                      f"{stop.stdout}{stop.stderr}")
    second = subprocess.run([a.reset, "--auto", "-f", "-D", c.data], capture_output=True, text=True)
    if second.returncode != 1 or f"PID {writer}" not in second.stderr or "wait for" not in second.stderr:
        raise Failure(f"a second reset: exit {second.returncode}\n{second.stderr}")
    print(f"second reset: {second.stderr.strip()}")
    plan = subprocess.run([a.plan, c.data], capture_output=True, text=True)
    if "pgrescue is writing" not in plan.stdout:
        raise Failure(f"the plan does not say pgrescue is writing:\n{plan.stdout}")
    if p.poll() is not None or time.monotonic() - started > HOLD_S:
        raise Failure(f"the checks took longer than the reset was held ({HOLD_S} s): inconclusive")
    out, err = p.communicate(timeout=120)
    if p.returncode != 0 or lock_lines(c.data) is not None:
        raise Failure(f"the held reset: exit {p.returncode}, lock {lock_lines(c.data)}\n{out}{err}")
    wait_gone(keeper, 10)

    # A reset killed while it holds the lock.
    before = tree_hashes(c.data)
    p, writer, keeper = held_reset(a, c.data)
    os.kill(writer, signal.SIGKILL)
    p.communicate(timeout=60)
    wait_gone(keeper, 10)
    if lock_lines(c.data) is None:
        raise Failure("the killed reset's lock is gone")
    again = subprocess.run([a.reset, "--auto", "-f", "-D", c.data], capture_output=True, text=True)
    if again.returncode != 1 or "stopped before it finished" not in again.stderr or "--undo" not in again.stderr:
        raise Failure(f"a reset after the killed one: exit {again.returncode}\n{again.stderr}")
    print(f"after the kill: {again.stderr.strip()}")
    undo = subprocess.run([a.reset, "--undo", "-D", c.data], capture_output=True, text=True)
    if undo.returncode != 0 or lock_lines(c.data) is not None or tree_hashes(c.data) != before:
        raise Failure(f"--undo: exit {undo.returncode}, lock {lock_lines(c.data)}\n{undo.stdout}{undo.stderr}")
    print(f"--undo: {undo.stdout.strip()} {undo.stderr.strip()}")
    c.start()
    rows = c.sql("SELECT count(*) FROM t").stdout.strip()
    c.stop()
    if rows != "1000":
        raise Failure(f"{rows} rows after the undo, not 1000")

    # A reset that stops part-way (its third rename, keeping pg_control, fails): exit 4, and the lock
    # stays with line 1 made 0, which the server refuses as bogus until --undo.
    before = tree_hashes(c.data)
    p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename", "-e",
                        "inject=rename:error=EIO:when=3", "--", a.reset, "--auto", "-f", "-D", c.data],
                       capture_output=True, text=True)
    lines = lock_lines(c.data)
    if p.returncode != 4 or not lines or not lines[0].startswith("0 (pgrescue-reset stopped part-way"):
        raise Failure(f"a reset failing part-way: exit {p.returncode}, lock {lines}\n{p.stderr}")
    start = c.as_user(f"{a.bin_dir}/pg_ctl", "-D", c.data, "-w", "-t", "30", "-l", f"{c.data}.log2", "-o",
                      f"-p {a.port} -k {base} -c listen_addresses=''", "start", check=False)
    with open(f"{c.data}.log2") as f:
        log = f.read()
    if start.returncode == 0 or 'bogus data in lock file "postmaster.pid"' not in log or "--undo" not in log:
        raise Failure(f"pg_ctl start after a reset stopped part-way: exit {start.returncode}, log:\n{log}")
    print(f"part-way: {[l for l in log.splitlines() if 'FATAL' in l][:1]}")
    undo = subprocess.run([a.reset, "--undo", "-D", c.data], capture_output=True, text=True)
    if undo.returncode != 0 or lock_lines(c.data) is not None or tree_hashes(c.data) != before:
        raise Failure(f"--undo after part-way: exit {undo.returncode}\n{undo.stdout}{undo.stderr}")
    c.start()
    rows = c.sql("SELECT count(*) FROM t").stdout.strip()
    c.stop()
    if rows != "1000":
        raise Failure(f"{rows} rows after the part-way undo, not 1000")
    print(f"{a.label}: lock honoured by the server and by pgrescue; stale lock undone; a part-way reset refused "
          f"by the server until --undo; 1000 rows")
    return 0


if __name__ == "__main__":
    run(main)
