#!/usr/bin/env python3
"""Crash injection for pgrescue-reset and its --undo.

A run of one mode on a copy of the sample cluster is traced once to list its
write-side system calls in order. Then, for every one of them, a fresh copy
is reset again under strace, which kills the process with SIGKILL on entering
that call (the call never happens), and `--undo` must put the data directory
back: the same names, types, modes, owners and SHA-256 as before the reset.
Where the reset died before its rescue folder had a manifest, undo must say
there is nothing to undo and the data directory must be untouched. Mode
`undo` kills --undo itself at each of its calls and runs it again.

The cluster belongs to an unprivileged user with 0700/0600 modes, so a file
written with root's owner or another mode shows. Runs as root.
"""

import argparse
import dataclasses
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

# Every call that can change a file or directory, or say so.
WRITE_SIDE = ["write", "pwrite64", "writev", "pwritev", "pwritev2", "fsync", "fdatasync", "sync_file_range",
              "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "link",
              "linkat", "symlink", "symlinkat", "fchown", "fchownat", "chown", "lchown", "fchmod", "fchmodat",
              "chmod", "open", "openat", "creat", "copy_file_range", "sendfile", "ftruncate", "truncate",
              "fallocate", "ioctl"]

PATH_CALLS = {"open", "openat", "creat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "unlink",
              "unlinkat", "link", "linkat", "symlink", "symlinkat", "chown", "lchown", "fchownat", "chmod",
              "fchmodat", "truncate"}
LINE = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)$")


class Failure(Exception):
    pass


@dataclasses.dataclass
class Scenario:
    """What one crash trial does: `target` is the traced command (argv after
    the tool); `before_target` runs untraced first (for undo); `server`
    imitates a server run between them."""
    name: str
    target: list
    before_target: list = dataclasses.field(default_factory=list)
    drop_control: bool = False
    archive_status: bool = False
    server: bool = False
    rescue_elsewhere: bool = False
    wal_elsewhere: bool = False  # pg_wal a link to a directory on --other-fs, as initdb -X makes it


def scenarios(mode):
    reset = ["--auto", "-f"]
    return {
        "lost-wal": [Scenario("--auto -f", reset)],
        "rebuild": [Scenario("--rebuild -f, pg_control deleted", ["--rebuild", "-f"], drop_control=True)],
        "from-wal": [Scenario("--from-wal", ["--from-wal"])],
        "across-fs": [Scenario("--auto -f, rescue folder on another filesystem", reset, rescue_elsewhere=True),
                      Scenario("--auto -f, pg_wal linked to another filesystem", reset, wal_elsewhere=True)],
        "undo": [
            Scenario("--undo after --auto -f", ["--undo"], before_target=reset),
            Scenario("--undo after --from-wal and a server run", ["--undo"], before_target=["--from-wal"],
                     archive_status=True, server=True),
            Scenario("--undo across filesystems", ["--undo"], before_target=reset, rescue_elsewhere=True),
        ],
    }[mode]


def tree(root):
    """Every entry under root (root too): type, mode, owner, size, SHA-256."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        paths = [dirpath] if dirpath == root else []
        paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
        for p in paths:
            st = os.lstat(p)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
            size = st.st_size if kind == "file" else None
            out[os.path.relpath(p, root)] = (kind, oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid, size, digest)
    return out


def differences(before, after):
    lines = []
    for path in sorted(set(before) | set(after)):
        b, a = before.get(path), after.get(path)
        if b != a:
            lines.append(f"  {path}: before {b}, after {a}")
    return lines


class Harness:
    def __init__(self, args, scenario, work):
        self.args = args
        self.s = scenario
        self.user = pwd.getpwnam(args.user)
        self.base = os.path.join(work, "base")
        self.data = os.path.join(work, "data")
        self.rescue_root = self.data + ".pgrescue"
        self.elsewhere = None
        if scenario.rescue_elsewhere or scenario.wal_elsewhere:
            self.elsewhere = tempfile.mkdtemp(prefix="pgrescue-crash-", dir=args.other_fs)
            if os.stat(self.elsewhere).st_dev == os.stat(work).st_dev:
                raise Failure(f"--other-fs {args.other_fs} is on the same filesystem as {work}")
        self.make_base()
        self.before = tree(self.base)
        if scenario.wal_elsewhere:
            self.fresh()
            self.before = tree(self.data)

    def make_base(self):
        shutil.rmtree(self.base, ignore_errors=True)
        subprocess.run(["cp", "-a", self.args.fixture, self.base], check=True)
        if self.s.drop_control:
            os.unlink(os.path.join(self.base, "global/pg_control"))
        if self.s.archive_status:
            os.makedirs(os.path.join(self.base, "pg_wal/archive_status"))
            open(os.path.join(self.base, "pg_wal/archive_status/000000010000000000000001.done"), "w").close()
        for dirpath, dirnames, filenames in os.walk(self.base):
            os.chown(dirpath, self.user.pw_uid, self.user.pw_gid)
            os.chmod(dirpath, 0o700)
            for n in filenames:
                p = os.path.join(dirpath, n)
                os.chown(p, self.user.pw_uid, self.user.pw_gid)
                os.chmod(p, 0o600)

    def rescue_args(self):
        # A fixed name (the default has the time in it), so that strace -P can
        # name the files created in it.
        if self.s.rescue_elsewhere:
            return ["--rescue-dir", os.path.join(self.elsewhere, "rescue")]
        return ["--rescue-dir", os.path.join(self.rescue_root, "crash")]

    def undo_args(self):
        return [os.path.join(self.elsewhere, "rescue")] if self.s.rescue_elsewhere else []

    def argv(self, options):
        extra = self.undo_args() if options == ["--undo"] else self.rescue_args()
        return [self.args.reset] + options + extra + ["-D", self.data]

    def fresh(self):
        for p in (self.data, self.rescue_root):
            shutil.rmtree(p, ignore_errors=True)
        if self.s.rescue_elsewhere:
            shutil.rmtree(os.path.join(self.elsewhere, "rescue"), ignore_errors=True)
        subprocess.run(["cp", "-a", self.base, self.data], check=True)
        if self.s.wal_elsewhere:
            wal = os.path.join(self.elsewhere, "pg_wal")
            shutil.rmtree(wal, ignore_errors=True)
            subprocess.run(["cp", "-a", os.path.join(self.data, "pg_wal"), wal], check=True)
            shutil.rmtree(os.path.join(self.data, "pg_wal"))
            os.symlink(wal, os.path.join(self.data, "pg_wal"))
            os.lchown(os.path.join(self.data, "pg_wal"), self.user.pw_uid, self.user.pw_gid)
        if self.s.before_target:
            run(self.argv(self.s.before_target), expect=0)
        if self.s.server:
            imitate_server(self.data)

    def manifests(self):
        roots = [os.path.join(self.elsewhere, "rescue")] if self.s.rescue_elsewhere else \
            [os.path.join(self.rescue_root, d) for d in (os.listdir(self.rescue_root) if
                                                           os.path.isdir(self.rescue_root) else [])]
        return [r for r in roots if os.path.exists(os.path.join(r, "manifest.json"))]

    def enumerate_points(self):
        self.fresh()
        trace = os.path.join(os.path.dirname(self.data), "trace.txt")
        run([self.args.strace, "-f", "-qq", "-s", "4096", "-o", trace, "-e", "trace=" + ",".join(WRITE_SIDE), "--"] +
            self.argv(self.s.target), expect=0)
        points, counts = [], {}
        with open(trace) as f:
            for line in f:
                m = LINE.match(line)
                if not m:
                    continue
                name, rest = m.group(1), m.group(2)
                # How many opens a run makes depends on the processes the
                # liveness check finds in /proc; those on one path do not.
                key = (name, signature(name, rest)) if name in ("open", "openat") else (name, None)
                counts[key] = counts.get(key, 0) + 1
                if name in ("open", "openat") and "O_CREAT" not in rest:
                    continue
                if name == "ioctl" and "FICLONE" not in rest:
                    continue
                points.append((name, counts[key], signature(name, rest)))
        return points

    def trial(self, name, k, expected_argument):
        self.fresh()
        trace = os.path.join(os.path.dirname(self.data), "inject.txt")
        only_path = ["-P", expected_argument] if name in ("open", "openat") else []
        p = run([self.args.strace, "-f", "-qq", "-s", "4096", "-o", trace, "-e", f"trace={name}"] + only_path +
                ["-e", f"inject={name}:signal=KILL:when={k}", "--"] + self.argv(self.s.target))
        if p.returncode not in (-9, 128 + 9):  # strace dies of the signal its tracee died of
            raise Failure(f"not killed (exit {p.returncode}): the run took another path than the enumerated one")
        with open(trace) as f:
            killed = [l for l in f if l.rstrip().endswith("= ?")]
        if not killed or signature(name, LINE.match(killed[-1]).group(2)) != expected_argument:
            raise Failure(f"killed at {killed[-1:] or 'nothing'}, expected {name} on {expected_argument}")
        check_no_foreign_bytes(self.data, self.user)
        if self.s.target == ["--undo"]:
            # The killed undo is run again and must finish the job.
            had = bool(self.manifests())
            again = run(self.argv(["--undo"]))
            if had and again.returncode != 0:
                raise Failure(f"--undo run again exited {again.returncode}:\n{again.stdout}{again.stderr}")
            if not had and "already undone" not in again.stderr and "no rescue folder" not in again.stderr:
                raise Failure(f"--undo after a finished undo said:\n{again.stdout}{again.stderr}")
        else:
            had = bool(self.manifests())
            undo = run(self.argv(["--undo"]))
            if had and (undo.returncode != 0 or "Undone from" not in undo.stdout):
                raise Failure(f"--undo exited {undo.returncode}:\n{undo.stdout}{undo.stderr}")
            # Nothing to undo; a lock left by the killed run is removed (exit 0).
            if not had and not (undo.returncode == 2 and "manifest.json" in undo.stderr) and \
                    not (undo.returncode == 0 and "the lock is removed" in undo.stderr):
                raise Failure(f"no manifest yet, but --undo exited {undo.returncode}:\n{undo.stdout}{undo.stderr}")
            if had and self.manifests():
                raise Failure("a complete undo left manifest.json in place")
        diff = differences(self.before, tree(self.data))
        if diff:
            raise Failure("the data directory differs from before the reset:\n" + "\n".join(diff))

    def cleanup(self):
        if self.elsewhere:
            shutil.rmtree(self.elsewhere, ignore_errors=True)


def signature(name, rest):
    """The call's path, or else its first argument (a descriptor)."""
    quoted = re.search(r'"((?:[^"\\]|\\.)*)"', rest) if name in PATH_CALLS else None
    return quoted.group(1) if quoted else rest.split(",")[0].split(")")[0]


def run(argv, expect=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if expect is not None and p.returncode != expect:
        raise Failure(f"{' '.join(argv)} exited {p.returncode}, expected {expect}:\n{p.stdout}{p.stderr}")
    return p


def imitate_server(data):
    """What a server started on the reset cluster does to the files the reset
    left: rewrites pg_control in place, writes WAL past the end of valid WAL,
    removes an archive_status entry when it recycles a segment."""
    with open(os.path.join(data, "global/pg_control"), "r+b") as f:
        f.seek(16)
        f.write(b"\x01" * 8)
    with open(os.path.join(data, "pg_wal/000000010000000000000001"), "r+b") as f:
        f.seek(0x703FE0)
        f.write(b"written by the server after recovery")
    os.unlink(os.path.join(data, "pg_wal/archive_status/000000010000000000000001.done"))


def check_no_foreign_bytes(data, user):
    """A file in the data directory holding bytes must already have the
    cluster's owner and mode: temp files are chowned before the first write."""
    for dirpath, _, filenames in os.walk(data):
        for n in filenames:
            st = os.lstat(os.path.join(dirpath, n))
            if st.st_size > 0 and (st.st_uid != user.pw_uid or stat.S_IMODE(st.st_mode) != 0o600):
                raise Failure(f"{os.path.relpath(os.path.join(dirpath, n), data)} holds {st.st_size} bytes with "
                              f"uid {st.st_uid} mode {oct(stat.S_IMODE(st.st_mode))} after the crash")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", required=True, choices=["lost-wal", "rebuild", "from-wal", "across-fs", "undo"])
    ap.add_argument("--reset", required=True, help="pgrescue-reset")
    ap.add_argument("--fixture", required=True, help="fixtures/sample-cluster")
    ap.add_argument("--user", default="pgrescue-test", help="unprivileged owner of the cluster copies")
    ap.add_argument("--strace", default="/usr/bin/strace")
    ap.add_argument("--work-dir", default=None, help="where the copies go (default: the temp directory)")
    ap.add_argument("--other-fs", default="/dev/shm", help="another filesystem, for a rescue folder there")
    ap.add_argument("--keep", action="store_true", help="keep the work directory of a failure")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("crash_test: must run as root (the cluster copies belong to another user)", file=sys.stderr)
        return 2
    if not os.access(args.strace, os.X_OK):
        print(f"crash_test: strace not found at {args.strace}; scripts/install-deps.sh --test installs it",
              file=sys.stderr)
        return 2
    start = time.monotonic()
    passed = failed = 0
    for s in scenarios(args.mode):
        work = tempfile.mkdtemp(prefix=f"pgrescue-crash-{args.mode}-", dir=args.work_dir)
        try:
            h = Harness(args, s, work)
            points = h.enumerate_points()
        except (Failure, subprocess.TimeoutExpired) as e:
            print(f"FAIL {args.mode} [{s.name}]: could not list the crash points: {e}")
            failed += 1
            continue
        ok = 0
        for name, k, argument in points:
            try:
                h.trial(name, k, argument)
                ok += 1
            except (Failure, subprocess.TimeoutExpired) as e:
                print(f"FAIL {args.mode} [{s.name}] killed at {name} #{k} ({argument}): {e}")
        print(f"{args.mode} [{s.name}]: {len(points)} crash points tried, {ok} passed")
        passed += ok
        failed += len(points) - ok
        h.cleanup()
        if failed == 0 or not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{args.mode}: {time.monotonic() - start:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
