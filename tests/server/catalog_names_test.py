#!/usr/bin/env python3
"""pgrescue-check names relations from the catalogs as the server does.

On a real server: user tables with a TOAST table and indexes, a second
database, a table in a tablespace, then VACUUM FULL of pg_class (only the
relation map knows its file after that) and of a user table (a new file).
The server's own pg_relation_filepath() and names, per database, are the
truth; the cluster is stopped and `pgrescue-check --json` must give every
relation file the same name, and name no file differently. The newest XID
it finds in the tuples must lie between the last insert's xmin and an XID
the server assigned after every write.
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

from pgtest import Failure, run

# Every relation file's path, its name, and the table an index or TOAST
# table belongs to ('' for none).
QUALIFIED = "CASE WHEN {c}.relisshared THEN '' ELSE current_database() || '.' END || {n}.nspname || '.' || {c}.relname"
TRUTH_SQL = f"""
SELECT pg_relation_filepath(c.oid), {QUALIFIED.format(c='c', n='n')},
       coalesce((SELECT {QUALIFIED.format(c='t', n='tn')} FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                 JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE i.indexrelid = c.oid),
                (SELECT {QUALIFIED.format(c='t', n='tn')} FROM pg_class t
                 JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE t.reltoastrelid = c.oid), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE pg_relation_filepath(c.oid) IS NOT NULL
"""

SETUP_SQL = """
CREATE TABLE t (id int PRIMARY KEY, body text);
INSERT INTO t SELECT i, repeat('x', 3000) || i FROM generate_series(1, 200) i;
CREATE INDEX t_body ON t (body);
CREATE TABLE rewritten (id int);
INSERT INTO rewritten SELECT generate_series(1, 1000);
VACUUM FULL rewritten;
CREATE TABLE spaced (id int) TABLESPACE elsewhere;
VACUUM FULL pg_class;
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--psql", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--label", required=True)
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix=f"pgrescue-names-{a.label}-")
    shutil.chown(base, a.user)
    data = os.path.join(base, "data")
    space = os.path.join(base, "space")

    def as_user(*argv, check=True):
        r = subprocess.run(["runuser", "-u", a.user, "--", "env", "LANG=C", "LC_ALL=C", *argv],
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise Failure(f"{argv[0]} failed: {r.stderr.strip()}")
        return r

    def sql(db, text):
        return as_user(a.psql, "-h", base, "-p", str(a.port), "-U", "postgres", "-d", db, "-At", "-F", "|",
                       "-v", "ON_ERROR_STOP=1", "-c", text).stdout

    try:
        as_user(f"{a.bin_dir}/initdb", "-U", "postgres", "-D", data)
        as_user("mkdir", space)
        as_user(f"{a.bin_dir}/pg_ctl", "-D", data, "-w", "-l", f"{base}/log", "-o",
                f"-p {a.port} -k {base} -c listen_addresses=''", "start")
        try:
            sql("postgres", f"CREATE TABLESPACE elsewhere LOCATION '{space}'")
            sql("postgres", "CREATE DATABASE second")
            # A database whose default tablespace is another: no base/ directory.
            sql("postgres", "CREATE DATABASE third TABLESPACE elsewhere")
            truth, parents = {}, {}
            oids = {line for line in sql("postgres", "SELECT oid FROM pg_database WHERE datname IN "
                                                     "('postgres', 'second', 'third')").split()}
            for db in ("postgres", "second", "third"):
                for statement in SETUP_SQL.strip().split(";\n"):
                    if db == "third" and "TABLESPACE" in statement:
                        statement = statement.replace(" TABLESPACE elsewhere", "")
                    sql(db, statement)
                for line in sql(db, TRUTH_SQL).splitlines():
                    path, name, parent = line.split("|")
                    truth[path], parents[path] = name, parent
            last_insert = int(sql("postgres", "SELECT xmin FROM t ORDER BY id DESC LIMIT 1").strip())
            # An XID assigned after every tuple was written: the pages' newest lies below it.
            after = int(sql("postgres", "SELECT txid_current() % 4294967296").strip())
            sql("postgres", "CHECKPOINT")
        finally:
            as_user(f"{a.bin_dir}/pg_ctl", "-D", data, "-w", "-m", "fast", "stop", check=False)
        r = subprocess.run([a.check, "--json", data], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"pgrescue-check exit {r.returncode} on a clean cluster: {r.stdout[-2000:]} {r.stderr}")
        doc = json.loads(r.stdout)
        if doc["naming_problems"]:
            raise Failure(f"naming problems: {doc['naming_problems']}")
        # Files of the two databases and the shared ones (template databases
        # are not asked about).
        ours, our_parents = {}, {}
        for rel in doc["relations"]:
            path = rel["relation"]
            if path.startswith("global/") or path.split("/")[-2] in oids:
                ours[path], our_parents[path] = rel["name"], rel["parent"] or ""
        missing = sorted(p for p in truth if p not in ours)
        wrong = sorted((p, truth[p], ours[p]) for p in truth if p in ours and ours[p] != truth[p])
        unnamed = sorted(p for p, n in ours.items() if n is None)
        extra = sorted(p for p in ours if p not in truth)
        if missing or wrong or unnamed or extra:
            raise Failure(f"names differ: missing {missing[:10]}, wrong {wrong[:10]}, unnamed {unnamed[:10]}, "
                          f"files the server does not list {extra[:10]}")
        # Shared catalogs' indexes are named once, from whichever database
        # comes first; their tables are shared too, so the name is the same.
        wrong_parents = sorted((p, parents[p], our_parents[p]) for p in truth if our_parents[p] != parents[p])
        if wrong_parents:
            raise Failure(f"parents differ (file, server, ours): {wrong_parents[:10]}")
        newest = doc["tuples"]["newest_xid"]
        if newest is None or not last_insert <= newest < after:
            raise Failure(f"the pages' newest XID {newest} is not between the last insert's {last_insert} and the "
                          f"XID assigned after every write, {after}")
        for must in ("postgres.public.t", "second.public.t", "postgres.public.rewritten", "second.pg_catalog.pg_class",
                     "pg_catalog.pg_database", "postgres.public.spaced", "third.public.t"):
            if must not in truth.values():
                raise Failure(f"the truth lacks {must}")
        print(f"{a.label}: {len(truth)} relation files named as the server names them "
              f"(pg_class rewritten, a user table rewritten, a tablespace, three databases, one of them in that "
              f"tablespace), {sum(1 for p in parents.values() if p)} indexes and TOAST tables with their table; "
              f"newest XID in a tuple "
              f"{newest}: last insert {last_insert}, next assigned {after}")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    run(main)
