"""What the real-server test scripts share: their failure type and entry, a
cluster run as the test user, LSN text as a number, and a data directory's
files by SHA-256, and pgrescue-plan's JSON with its top remedy followed."""
import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time


class Failure(Exception):
    pass


def lsn(text):
    """An LSN's text ("0/0B986330", "0/B986330") as its number."""
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def tree_hashes(root):
    """Every file below root (relative path) with its SHA-256."""
    out = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            out[os.path.relpath(path, root)] = h.hexdigest()
    return out


def patch(path, offset, data):
    """Overwrites bytes of a file in place, as damage does."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def read(path, offset, size):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def plan(a, data, *extra):
    """pgrescue-plan --json on data (exit 0 or 1), as a dict."""
    r = subprocess.run([a.plan, "--json", *extra, data], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise Failure(f"pgrescue-plan exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def symptom(p, code):
    """The symptom of class `code` in a plan."""
    for s in p["symptoms"]:
        if s["class"] == code:
            return s
    raise Failure(f"the plan names {[s['class'] for s in p['symptoms']]}, not {code}; logs {p['logs']}")


def follow_top_remedy(a, p, code):
    """Runs the first remedy's pgrescue commands exactly as printed (pg_ctl is the caller's)."""
    top = p["remedies"][0]
    if top["code"] != code:
        raise Failure(f"top remedy is {top['code']}, expected {code}: {[r['code'] for r in p['remedies']]}")
    for command in top["commands"]:
        argv = shlex.split(command)
        if argv[0] != "pgrescue-reset":
            continue
        r = subprocess.run([a.reset, *argv[1:]], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"{command}: exit {r.returncode}: {r.stderr}{r.stdout[-2000:]}")
    return top


def wait_gone(pid, limit=120):
    """Until process pid is gone and reaped: the server counts a zombie postmaster as running ("lock file
    already exists"). Failure after limit s, instead of hanging where nothing reaps it."""
    deadline = time.monotonic() + limit
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            raise Failure(f"process {pid} is still there after {limit} s (not reaped?)")
        time.sleep(0.2)


def server_test_setup(kind, tools=()):
    """The options a plan-and-remedy server test takes (--label --bin-dir --psql --plan --reset --user --port,
    and one per name in `tools`), and a fresh directory for it that the test user can use."""
    ap = argparse.ArgumentParser()
    for name in ("label", "bin-dir", "psql", "plan", "reset", "user", *tools):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix=f"pgrescue-{kind}-{a.label}-")
    shutil.chown(base, a.user)
    os.chmod(base, 0o755)
    return a, base


def run(main):
    """The scripts' entry: main's exit status; a Failure printed as FAIL and exit 1."""
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)


class Cluster:
    """A data directory under `base` run by args.bin_dir's server as args.user (servers refuse root),
    on args.port with its socket in `base`; `settings` are extra -c options for the server."""

    def __init__(self, a, base, name, settings=()):
        self.a, self.base = a, base
        self.data = os.path.join(base, name)
        self.settings = "".join(f" -c {s}" for s in settings)

    def as_user(self, *argv, check=True, stdin=None, timeout=300):
        r = subprocess.run(["runuser", "-u", self.a.user, "--", "env", "LANG=C", "LC_ALL=C", *argv],
                           capture_output=True, text=True, timeout=timeout, input=stdin)
        if check and r.returncode != 0:
            raise Failure(f"{' '.join(argv[:3])} failed: {r.stderr.strip()[-1500:]}")
        return r

    def initdb(self, checksums):
        # From 18 initdb turns checksums on unless told not to.
        off = "--no-data-checksums" in self.as_user(f"{self.a.bin_dir}/initdb", "--help").stdout
        flags = ["-k"] if checksums else ["--no-data-checksums"] if off else []
        self.as_user(f"{self.a.bin_dir}/initdb", "-U", "postgres", *flags, "-D", self.data)

    def start(self):
        # -t: recovery on a slow machine can take longer than pg_ctl's default minute.
        self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-t", "300", "-l", f"{self.data}.log", "-o",
                     f"-p {self.a.port} -k {self.base} -c listen_addresses=''{self.settings}", "start")

    def stop(self, mode="fast"):
        self.as_user(f"{self.a.bin_dir}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop", check=False)

    def sql(self, text, check=True):
        return self.as_user(self.a.psql, "-h", self.base, "-p", str(self.a.port), "-U", "postgres", "-d",
                            "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", text, check=check)

    def check(self, *extra):
        """pgrescue-check --json on the directory: (exit status 0 or 1, the report)."""
        r = subprocess.run([self.a.check, "--json", "--jobs", "2", *extra, self.data], capture_output=True, text=True)
        if r.returncode not in (0, 1):
            raise Failure(f"pgrescue-check exit {r.returncode}: {r.stderr}")
        return r.returncode, json.loads(r.stdout)
