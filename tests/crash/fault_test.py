#!/usr/bin/env python3
"""Fault injection for pgrescue-reset's write paths and its --undo.

Where crash_test.py kills the process at each write-side system call, this
makes that call fail with an I/O error instead (strace's inject=...:error=),
one call per trial, in the same order crash_test.py lists them. The errors
are ENOSPC, EIO, EROFS and EACCES: by default they take turns from one call
to the next, so every call fails once and every error is tried all along
the run; --errno NAME tries one error at every call.

What a failed call must leave:
  - a reset exits 0 (the call's failure was survivable: a reflink that falls
    back to a copy, say), 2 (nothing written: the data directory as it was)
    or 4 (written part-way: the message names the error and the --undo
    command); never a crash or another code;
  - no file with bytes in it that lacks the cluster's owner and mode;
  - after `--undo` (when a manifest was written) the data directory is what
    it was before, byte for byte, modes and owners included.
A failed call inside --undo must end in exit 0, 2 (the lock could not be
taken: nothing done) or 3 (partial undo, naming the error), and --undo run
again without the fault must finish the job.

Two real filesystems too (--mode small-fs, read-only): the data directory on
a tmpfs too small for the new WAL segment, so the reset runs out of space
half-way through writing it; and on a tmpfs mounted read-only, where nothing
can be written at all. Runs as root.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from crash_test import (LINE, Failure, Harness, check_no_foreign_bytes, differences, run, scenarios, signature,
                        tree)

ERRORS = {"ENOSPC": "No space left on device", "EIO": "Input/output error", "EROFS": "Read-only file system",
          "EACCES": "Permission denied"}


class FaultHarness(Harness):
    def fault_trial(self, name, k, argument, error):
        self.fresh()
        pre = tree(self.data)  # for undo: the reset's result, which an undo that changed nothing leaves
        trace = os.path.join(os.path.dirname(self.data), "fault.txt")
        only_path = ["-P", argument] if name in ("open", "openat") else []
        p = run([self.args.strace, "-f", "-qq", "-s", "4096", "-o", trace, "-e", f"trace={name}"] + only_path +
                ["-e", f"inject={name}:error={error}:when={k}", "--"] + self.argv(self.s.target))
        with open(trace) as f:
            injected = [l for l in f if "(INJECTED)" in l]
        if len(injected) != 1 or signature(name, LINE.match(injected[0]).group(2)) != argument:
            raise Failure(f"{error} injected at {injected or 'nothing'}, expected {name} on {argument}")
        said = p.stdout + p.stderr
        check_no_foreign_bytes(self.data, self.user)
        undoing = self.s.target == ["--undo"]
        # An undo that cannot take the lock changes nothing (exit 2); run again, it finishes.
        allowed = (0, 2, 3) if undoing else (0, 2, 4)
        if p.returncode not in allowed:
            raise Failure(f"exited {p.returncode} (expected one of {allowed}):\n{said}")
        if p.returncode != 0 and ERRORS[error] not in said:
            raise Failure(f"exited {p.returncode} without naming the error ({ERRORS[error]}):\n{said}")
        if p.returncode == 4 and "--undo" not in said:
            raise Failure(f"exited 4 without the --undo command:\n{said}")
        if p.returncode == 2 and not undoing and (self.manifests() or differences(self.before, tree(self.data))):
            raise Failure(f"exited 2 (nothing written), but the data directory changed:\n{said}")
        if p.returncode == 2 and undoing and differences(pre, tree(self.data)):
            raise Failure(f"--undo exited 2 (nothing done), but the data directory changed:\n{said}")
        had = bool(self.manifests())
        if had:
            undo = run(self.argv(["--undo"]))
            if undo.returncode != 0 or "Undone from" not in undo.stdout:
                raise Failure(f"after exit {p.returncode}, --undo exited {undo.returncode}:\n"
                              f"{undo.stdout}{undo.stderr}\n(the faulty run said:\n{said})")
        diff = differences(self.before, tree(self.data))
        if diff:
            raise Failure(f"after exit {p.returncode} and --undo, the data directory differs:\n" + "\n".join(diff))
        return p.returncode


def on_tmpfs(args, size, read_only):
    """A reset on a real filesystem: a tmpfs of `size`, or read-only. Returns
    how the reset ended."""
    mount = tempfile.mkdtemp(prefix="pgrescue-fault-fs-", dir=args.work_dir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", mount], check=True)
    try:
        scenario = scenarios("lost-wal")[0]
        h = FaultHarness(args, scenario, mount)
        h.fresh()
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
        p = run(h.argv(scenario.target))
        said = p.stdout + p.stderr
        if read_only:
            if p.returncode != 2 or ERRORS["EROFS"] not in said:
                raise Failure(f"on a read-only filesystem the reset exited {p.returncode}:\n{said}")
            diff = differences(h.before, tree(h.data))
            if diff:
                raise Failure("on a read-only filesystem the data directory changed:\n" + "\n".join(diff))
            return f"exit 2, {ERRORS['EROFS']!r} named, nothing changed"
        if p.returncode != 4 or ERRORS["ENOSPC"] not in said or "--undo" not in said:
            raise Failure(f"on a full filesystem the reset exited {p.returncode}:\n{said}")
        undo = run(h.argv(["--undo"]))
        if undo.returncode != 0:
            raise Failure(f"--undo on the full filesystem exited {undo.returncode}:\n{undo.stdout}{undo.stderr}")
        diff = differences(h.before, tree(h.data))
        if diff:
            raise Failure("after --undo on the full filesystem the data directory differs:\n" + "\n".join(diff))
        return "exit 4, out of space named, --undo restored every byte"
    finally:
        subprocess.run(["umount", "-l", mount])
        shutil.rmtree(mount, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", required=True,
                    choices=["lost-wal", "rebuild", "from-wal", "across-fs", "undo", "small-fs", "read-only"])
    ap.add_argument("--reset", required=True, help="pgrescue-reset")
    ap.add_argument("--fixture", required=True, help="fixtures/sample-cluster")
    ap.add_argument("--user", default="pgrescue-test", help="unprivileged owner of the cluster copies")
    ap.add_argument("--strace", default="/usr/bin/strace")
    ap.add_argument("--errno", choices=sorted(ERRORS), help="this error at every call (default: they take turns)")
    ap.add_argument("--work-dir", default=None, help="where the copies go (default: the temp directory)")
    ap.add_argument("--other-fs", default="/dev/shm", help="another filesystem, for a rescue folder there")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("fault_test: must run as root (it mounts filesystems, and the copies belong to another user)",
              file=sys.stderr)
        return 2
    start = time.monotonic()
    if args.mode in ("small-fs", "read-only"):
        try:
            # 7 MB of cluster plus a rescue folder on the same filesystem: a
            # 16 MB segment cannot fit in 20 MB.
            print(f"{args.mode}: {on_tmpfs(args, '20m', args.mode == 'read-only')}")
            return 0
        except (Failure, subprocess.SubprocessError) as e:
            print(f"FAIL {args.mode}: {e}")
            return 1
    passed = failed = 0
    for s in scenarios(args.mode):
        work = tempfile.mkdtemp(prefix=f"pgrescue-fault-{args.mode}-", dir=args.work_dir)
        try:
            h = FaultHarness(args, s, work)
            points = [p for p in h.enumerate_points() if not (p[0].startswith("write") and p[2] in ("1", "2"))]
        except (Failure, subprocess.TimeoutExpired) as e:
            print(f"FAIL {args.mode} [{s.name}]: could not list the write-side calls: {e}")
            failed += 1
            continue
        exits = {}
        for i, (name, k, argument) in enumerate(points):
            error = args.errno or sorted(ERRORS)[i % len(ERRORS)]
            try:
                code = h.fault_trial(name, k, argument, error)
                exits[code] = exits.get(code, 0) + 1
                passed += 1
            except (Failure, subprocess.TimeoutExpired) as e:
                print(f"FAIL {args.mode} [{s.name}] {error} at {name} #{k} ({argument}): {e}")
                failed += 1
        print(f"{args.mode} [{s.name}]: {len(points)} calls failed in turn; exits "
              + ", ".join(f"{c}: {n}" for c, n in sorted(exits.items())))
        h.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.mode}: {time.monotonic() - start:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
