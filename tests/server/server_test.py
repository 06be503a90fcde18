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
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

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


class Failure(Exception):
    pass


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

    def start(self):
        opts = (f"-c listen_addresses='' -c unix_socket_directories={self.sock} -c port={self.port} "
                "-c max_connections=42 -c max_prepared_transactions=7 -c checkpoint_timeout=1h "
                "-c fsync=off -c track_commit_timestamp=on")
        self.as_user([self.bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.base, "log"),
                      "-w", "-t", "120", "-o", opts, "start"])

    def stop(self, mode="fast"):
        self.as_user([self.bin("pg_ctl"), "-D", self.data, "-w", "-t", "120", "-m", mode, "stop"])

    def sql(self, text):
        return run([self.args.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                    "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", text],
                   env={"PGTZ": "UTC", "PGOPTIONS": "-c TimeZone=UTC"})

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


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
    cluster = Cluster(args, name, initdb_flags, port)
    checks = 0
    try:
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
        print(f"{args.label} {name}: {n_running} fields equal the server's view after CHECKPOINT, "
              f"{n_restart} after restart")
        return checks + 2 + n_running + n_restart
    except Failure:
        log = os.path.join(cluster.base, "log")
        if os.path.exists(log):
            sys.stderr.write(open(log).read()[-3000:])
        raise
    finally:
        try:
            cluster.stop("immediate")
        except Failure:
            pass
        cluster.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--label", required=True, help="name in messages, e.g. pg15")
    ap.add_argument("--major", type=int, required=True)
    ap.add_argument("--bin-dir", required=True, help="directory with initdb, pg_ctl, postgres")
    ap.add_argument("--inspect", required=True)
    ap.add_argument("--psql", required=True)
    ap.add_argument("--user", required=True, help="unprivileged user to run the server as")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--debian-tools", help="Debian's bin dir of the same major, for text comparison")
    ap.add_argument("--work-dir", default="/tmp")
    args = ap.parse_args()

    variants = [("default", [])]
    if args.major >= 11:
        variants.append(("checksums-segsize64", ["-k", "--wal-segsize=64"]))
    else:
        variants.append(("checksums", ["-k"]))
    if args.major >= 18:
        variants.append(("no-checksums", ["--no-data-checksums"]))
    checks = 0
    try:
        for i, (name, flags) in enumerate(variants):
            checks += test_cluster(args, name, flags, args.port + i)
    except Failure as e:
        print(f"FAIL {args.label}: {e}")
        print(f"{checks} passed, 1 failed")
        return 1
    print(f"{checks} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
