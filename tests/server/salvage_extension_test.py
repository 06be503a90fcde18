#!/usr/bin/env python3
"""pgrescue-salvage and an extension's configuration table, on Debian's 15.

An extension may register a table with pg_extension_config_dump(table,
filter): pg_dump then dumps only the rows the filter keeps. A test extension
(installed into the server's extension directory for the run, removed after)
makes `cfg` with 10 rows and the filter `WHERE i > 5`; a plain table holds 7.
Salvage in place with --reload must report 5 rows saved for cfg (what the dump
holds, not the table's 10) and 7 for the plain table, and the reload must agree.
Runs as root; the server runs as --user.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

CONTROL = "default_version = '1.0'\nrelocatable = false\n"
SCRIPT = "CREATE TABLE cfg(i int);\nSELECT pg_catalog.pg_extension_config_dump('cfg', 'WHERE i > 5');\n"


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--salvage", required=True)
    ap.add_argument("--bin-dir", default="/usr/lib/postgresql/15/bin")
    ap.add_argument("--extension-dir", default="/usr/share/postgresql/15/extension")
    ap.add_argument("--user", default="pgrescue-test")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    name = f"pgrescue_cfgtest_{os.getpid()}"
    files = [os.path.join(a.extension_dir, f"{name}.control"), os.path.join(a.extension_dir, f"{name}--1.0.sql")]
    base = tempfile.mkdtemp(prefix="pgrescue-salvage-ext-")
    shutil.chown(base, a.user)
    data, pg = os.path.join(base, "data"), a.bin_dir
    as_user = ["runuser", "-u", a.user, "--"]
    opts = f"-c listen_addresses='' -c unix_socket_directories={base} -c port={a.port}"
    running = False
    try:
        for path, text in zip(files, (CONTROL, SCRIPT)):
            with open(path, "w") as f:
                f.write(text)
        run(as_user + [f"{pg}/initdb", "-D", data, "-A", "trust", "--no-sync"])
        run(as_user + [f"{pg}/pg_ctl", "-D", data, "-l", data + ".log", "-o", opts, "-w", "start"])
        running = True
        run(as_user + [f"{pg}/psql", "-h", base, "-p", str(a.port), "-d", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                       "-c", f"CREATE EXTENSION {name}", "-c", "INSERT INTO cfg SELECT g FROM generate_series(1, 10) g",
                       "-c", "CREATE TABLE plain AS SELECT g FROM generate_series(1, 7) g"])
        run(as_user + [f"{pg}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
        running = False
        out, new = os.path.join(base, "out"), os.path.join(base, "new")
        p = subprocess.run([a.salvage, "--in-place", "--bindir", pg, "--out", out, "--reload", new, data],
                           capture_output=True, text=True, timeout=300)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        saved = {t["name"]: t["rows_saved"] for d in report["databases"] if d["name"] == "postgres"
                 for t in d["tables"]}
        mismatches = (report.get("reload") or {}).get("mismatches")
        if p.returncode != 0 or saved.get("public.cfg") != 5 or saved.get("public.plain") != 7 or mismatches:
            print(f"FAIL: salvage exit {p.returncode}, rows saved {saved}, reload mismatches {mismatches}\n"
                  f"{p.stdout[-1500:]}{p.stderr[-1500:]}")
            return 1
        print(f"an extension's configuration table: rows saved {saved} (cfg's filter keeps 5 of its 10 rows), "
              "reload agrees")
        return 0
    finally:
        if running:
            subprocess.run(as_user + [f"{pg}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        for path in files:
            if os.path.exists(path):
                os.remove(path)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
