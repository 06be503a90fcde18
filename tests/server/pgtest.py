"""What the real-server test scripts share: their failure type, LSN text as a
number, and a data directory's files by SHA-256."""
import hashlib
import os


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
