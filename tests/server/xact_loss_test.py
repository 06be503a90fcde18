#!/usr/bin/env python3
"""Lost pg_xact on a real server, and the plan's advice followed as printed.

--scenario loss: a workload of a few thousand one-statement transactions
(inserts, updates, deletes in three tables, and enough XIDs burnt that the
next XID is past pg_xact's first page), the tables read once (count(*)), so
their rows' hint bits are set, CHECKPOINT, clean stop. Then pg_xact and
pg_wal are emptied, as by a DBA who deleted "logs". The server's own refusal
is recorded; the plan's -x must lie past every XID in a tuple and past the
server's last one; the plan's reset remedy is run exactly as printed and the
server must start. Twice:
  hinted   every relation, catalogs and TOAST included, was read too, so no
           tuple needs pg_xact: the plan must say so (xact-missing-unneeded,
           not xact-missing), and every table must hold the rows (count and
           hash sum) it held before, with no "could not access status".
  as-is    only the user tables were read: the catalog rows CREATE TABLE
           wrote are not hint-marked (the backend served them from its
           caches), so connections fail with "could not access status of
           transaction N", as the plan's xact-missing and its reset's
           "loses" say. N must be an XID the server had assigned.
fsync=off speeds the workload; it does not stop hint bits being set (the
clean stop writes everything).

--scenario jump (pg_resetwal of the same version needed): `pg_resetwal -x`
far ahead on a segment boundary leaves pg_xact with never-created segments
between the old one and the new; after some work and a clean stop the plan
must not call them a loss (no slru-holes, no xact-missing) but say that no
tuple carries an XID in them.
"""
import argparse
import json
import re
import os
import shlex
import shutil
import subprocess
import tempfile

from pgtest import Failure, run

SEGMENT_XIDS = 32 * 32768  # pg_xact segment: 32 pages of 32768 XIDs (8 kB blocks)
TABLES = ("accounts", "events", "notes")


def workload():
    """One statement per line: psql in autocommit makes each a transaction."""
    lines = ["CREATE TABLE accounts (id int PRIMARY KEY, balance int);",
             "CREATE TABLE events (id serial PRIMARY KEY, account int, note text);",
             "CREATE TABLE notes (id int, body text);"]
    lines += [f"INSERT INTO accounts VALUES ({i}, {i});" for i in range(1, 1001)]
    lines += [f"INSERT INTO events (account, note) VALUES ({i}, 'e{i}');" for i in range(1, 801)]
    lines += ["SELECT txid_current();"] * 33000  # past pg_xact's first page (32768 XIDs)
    lines += [f"INSERT INTO notes VALUES ({i}, repeat('n', {i % 200}));" for i in range(1, 1201)]
    lines += [f"UPDATE accounts SET balance = balance + 7 WHERE id = {i};" for i in range(1, 1001, 3)]
    lines += [f"DELETE FROM events WHERE id = {i};" for i in range(5, 801, 4)]
    lines += [f"DELETE FROM notes WHERE id = {i};" for i in range(1, 1201, 10)]
    return "\n".join(lines) + "\n"


class Server:
    def __init__(self, a, base):
        self.a, self.base = a, base
        self.data, self.log = os.path.join(base, "data"), os.path.join(base, "log")

    def as_user(self, *argv, check=True, stdin=None):
        r = subprocess.run(["runuser", "-u", self.a.user, "--", "env", "LANG=C", "LC_ALL=C", *argv],
                           capture_output=True, text=True, timeout=600, input=stdin)
        if check and r.returncode != 0:
            raise Failure(f"{' '.join(argv[:3])} failed: {r.stderr.strip()[-1500:]}")
        return r

    def start(self):
        """(started, the server's own FATAL/PANIC/ERROR lines from this start)."""
        seen = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        r = self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-t", "120", "-l", self.log, "-o",
                         f"-p {self.a.port} -k {self.base} -c listen_addresses='' -c fsync=off",
                         "start", check=False)
        with open(self.log, errors="replace") as f:
            f.seek(seen)
            said = [line.strip() for line in f if any(k in line for k in ("FATAL", "PANIC", "ERROR"))]
        return r.returncode == 0, said

    def stop(self):
        self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop", check=False)

    def sql(self, text, check=True):
        return self.as_user(self.a.psql, "-h", self.base, "-p", str(self.a.port), "-U", "postgres", "-d",
                            "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", text, check=check)

    def counts(self):
        return {t: self.sql(f"SELECT count(*), coalesce(sum(hashtext({t}::text)), 0) FROM {t}").stdout.strip()
                for t in TABLES}


def tool_json(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise Failure(f"{argv[0]} exit {r.returncode}: {r.stderr.strip()} {r.stdout[-1000:]}")
    return json.loads(r.stdout), r.returncode


def value(plan, option):
    return next(v for v in plan["values"] if v["option"] == option)


READ_EVERY_RELATION = """DO $$ DECLARE r regclass; BEGIN
  FOR r IN SELECT oid FROM pg_class WHERE relkind IN ('r', 't', 'm') LOOP
    EXECUTE 'SELECT count(*) FROM ' || r;
  END LOOP; END $$"""


def loss(a, srv, hinted):
    srv.as_user(f"{a.bin_dir}/initdb", "-U", "postgres", "-D", srv.data)
    ok, said = srv.start()
    if not ok:
        raise Failure(f"the fresh cluster did not start: {said}")
    try:
        srv.as_user(a.psql, "-h", srv.base, "-p", str(a.port), "-U", "postgres", "-d", "postgres", "-q", "-o",
                    "/dev/null", "-v", "ON_ERROR_STOP=1", "-f", "-", stdin=workload())
        before = srv.counts()  # reads every row: hint bits set
        if hinted:
            srv.sql(READ_EVERY_RELATION)
        rows = {t: int(c.split("|")[0]) for t, c in before.items()}
        last = int(srv.sql("SELECT txid_current() % 4294967296").stdout)
        srv.sql("CHECKPOINT")
    finally:
        srv.stop()
    gone = sorted(os.listdir(os.path.join(srv.data, "pg_xact")))
    # What `rm -rf pg_xact/* pg_wal/*` does.
    for sub in ("pg_xact", "pg_wal"):
        for name in os.listdir(os.path.join(srv.data, sub)):
            p = os.path.join(srv.data, sub, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    ok, refusal = srv.start()
    if ok:
        srv.stop()
        raise Failure("the server started without pg_xact and pg_wal")
    check, _ = tool_json([a.check, "--json", srv.data])
    newest = check["tuples"]["newest_xid"]
    plan, code = tool_json([a.plan, "--json", srv.data])
    x = int(value(plan, "-x")["value"])
    if newest is None or not (newest < x and last < x):
        raise Failure(f"planned -x {x} is not past the newest XID in a tuple ({newest}) and the server's last "
                      f"({last})")
    reset = next((r for r in plan["remedies"] if r["code"] == "reset"), None)
    if reset is None or not reset["commands"]:
        raise Failure(f"no reset remedy with commands: {[r['code'] for r in plan['remedies']]}")
    for c in reset["commands"]:  # exactly as printed; pgrescue-reset keeps the files' owner
        argv = shlex.split(c)
        if argv[0] == "pgrescue-reset":
            r = subprocess.run([a.reset, *argv[1:]], capture_output=True, text=True)
        else:
            r = srv.as_user("sh", "-c", c, check=False)
        if r.returncode != 0:
            raise Failure(f"`{c}` exited {r.returncode}: {(r.stdout + r.stderr)[-1500:]}")
    ok, said = srv.start()
    if not ok:
        raise Failure(f"after the plan's `{reset['commands']}` the server does not start: {said}")
    hazards = sorted(h["code"] for h in plan["hazards"])
    head = (f"{a.label} {'hinted' if hinted else 'as-is'}: rows {rows}, server's last XID {last}, newest XID in a "
            f"tuple {newest}, unhinted xmin {check['tuples'].get('xmin_unhinted')}; pg_xact {gone} and pg_wal "
            f"emptied; the server said {refusal[:2]}; plan exit {code}, hazards {hazards}, remedies "
            f"{[r['code'] for r in plan['remedies']]}; ran {reset['commands']} (-x {x}); started")
    if not hinted:
        r = srv.sql("SELECT count(*) FROM accounts", check=False)
        srv.stop()
        m = re.search(r"could not access status of transaction (\d+)", r.stderr)
        if r.returncode == 0 or not m or not 3 <= int(m.group(1)) <= last:
            raise Failure(f"{head}; expected a lost status of one of the server's XIDs, got: {r.stderr.strip()}")
        if "xact-missing" not in hazards or "could not access status" not in reset["loses"]:
            raise Failure(f"{head}; the plan did not warn: {reset['loses']}")
        print(f"{head}; a connection fails as the plan warned: {r.stderr.strip().splitlines()[0]}")
        return
    if "xact-missing" in hazards or "xact-missing-unneeded" not in hazards:
        srv.stop()
        raise Failure(f"{head}; every row is hint-marked, yet the plan does not say no tuple needs pg_xact")
    try:
        after = srv.counts()
        srv.sql("CHECKPOINT")
        srv.sql("INSERT INTO notes VALUES (0, 'after')")
    finally:
        srv.stop()
    with open(srv.log, errors="replace") as f:
        status_errors = [line.strip() for line in f if "could not access status" in line]
    if after != before or status_errors:
        raise Failure(f"rows before {before}, after {after}; status errors {status_errors[:3]}")
    print(f"{head}; rows (count|hash sum) equal after, no status errors, CHECKPOINT and a new row work")


def jump(a, srv):
    srv.as_user(f"{a.bin_dir}/initdb", "-U", "postgres", "-D", srv.data)
    srv.start()
    try:
        srv.sql("CREATE TABLE old (id int)")
        for i in range(5):
            srv.sql(f"INSERT INTO old SELECT generate_series({i * 200 + 1}, {i * 200 + 200})")
        srv.sql("SELECT count(*) FROM old")
    finally:
        srv.stop()
    target = 128 * SEGMENT_XIDS  # pg_xact/0080; below autovacuum_freeze_max_age, so nothing truncates pg_xact
    srv.as_user(a.resetwal, "-x", str(target), "-D", srv.data)
    # pg_resetwal only sets NextXID; the server reads no pg_xact page at a page boundary (TrimCLOG).
    ok, said = srv.start()
    if not ok:
        raise Failure(f"the server did not start after pg_resetwal -x {target}: {said}")
    try:
        srv.sql("CREATE TABLE new (id int)")
        for i in range(3):
            srv.sql(f"INSERT INTO new SELECT generate_series({i * 100 + 1}, {i * 100 + 100})")
        srv.sql("UPDATE old SET id = -id WHERE id <= 10")
        counts = srv.sql("SELECT (SELECT count(*) FROM old) || '/' || (SELECT count(*) FROM new)").stdout.strip()
        last = int(srv.sql("SELECT txid_current() % 4294967296").stdout)
    finally:
        srv.stop()
    xact = sorted(os.listdir(os.path.join(srv.data, "pg_xact")))
    plan, code = tool_json([a.plan, "--json", srv.data])
    hazards = {h["code"]: h["message"] for h in plan["hazards"]}
    reasoning = value(plan, "-x")["reasoning"]
    line = next((r for r in reasoning if "no tuple carries an XID in them" in r), None)
    if "slru-holes" in hazards or "xact-missing" in hazards or line is None:
        raise Failure(f"pg_xact {xact}: hazards {hazards}, -x reasoning {reasoning}")
    if not line.startswith("pg_xact segments 0001–007F are missing"):
        raise Failure(f"the reasoning names other segments: {line}")
    ok, said = srv.start()
    srv.stop()
    if not ok:
        raise Failure(f"the server does not start again: {said}")
    print(f"{a.label}: pg_resetwal -x {target}, rows old/new {counts}, last XID {last}; pg_xact {xact}; plan exit "
          f"{code}, hazards {sorted(hazards)}; -x says: {line}")


def main():
    ap = argparse.ArgumentParser()
    for name in ("--bin-dir", "--psql", "--plan", "--check", "--reset", "--user", "--label"):
        ap.add_argument(name, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--scenario", choices=("loss", "jump"), default="loss")
    ap.add_argument("--resetwal", help="pg_resetwal of the server's version (jump)")
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix=f"pgrescue-xact-{a.label}-")
    shutil.chown(base, a.user)
    servers = []
    try:
        for variant in ((None,) if a.scenario == "jump" else (True, False)):
            servers.append(Server(a, os.path.join(base, f"v{len(servers)}")))
            srv = servers[-1]
            srv.as_user("mkdir", srv.base)
            jump(a, srv) if variant is None else loss(a, srv, variant)
        return 0
    finally:
        for srv in servers:
            if os.path.exists(os.path.join(srv.data, "postmaster.pid")):
                srv.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run(main)
