"""The run store: one place that saves and resumes every kind of run.

A :class:`RunStore` is a directory of records. A record's file name carries
the digest of its *identity* (everything that determines its numbers, see
:mod:`jaxlr.engine.identity`), so a run with other settings, seeds, data,
schedule, strategy or version finds no file and computes into its own slot:
a store never returns another run's numbers.

Each record is one file, written atomically (a temporary file in the same
directory, then a rename; a kill at any moment leaves the old file or the new
one, and the next write of the slot clears a kill's leftover temporary):

    b"JAXLR-RUN\\n" | header length (8 bytes, big-endian) | header (JSON) | payload (npz)

The header holds the format, the full identity, its digest, the record's
metadata, the payload's length, the name, shape and dtype of every array, and
a SHA-256 of everything else in the header and the payload. On loading,
the magic, length, checksum, identity and the shapes the caller expects are
all checked; a file that fails any check is never half-loaded: it is moved
aside to ``NAME.rejected`` and the caller is told why (and recomputes).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import os
import pathlib
import shutil
from typing import Any, Callable

import jax
import numpy as np

from jaxlr._io import atomic_write_bytes
from jaxlr.engine.identity import digest
from jaxlr.engine.keys import is_typed_key

__all__ = ["Record", "RunStore", "Slot", "to_host"]

MAGIC = b"JAXLR-RUN\n"
FORMAT = 1


class RejectedRecord(Exception):
    """A file in the store that cannot be used (corrupt, truncated, foreign, other shapes)."""


@dataclasses.dataclass
class Record:
    """What a slot holds: JSON ``meta``, named numpy ``arrays`` and an optional ``state`` pytree."""

    meta: dict
    arrays: dict = dataclasses.field(default_factory=dict)
    state: Any = None


def to_host(tree):
    """Numpy copies of a tree of arrays, also of arrays sharded over several processes."""
    leaves = jax.tree_util.tree_leaves(tree)
    if all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def _leaves(tree):
    """Numpy leaves of a pytree; typed PRNG keys as their raw key data."""
    tree = jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if is_typed_key(x) else x, tree)
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(to_host(tree))]


def _unflatten_like(template, leaves):
    template_leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(template_leaves) != len(leaves):
        raise RejectedRecord(f"it holds {len(leaves)} state arrays, this run has "
                             f"{len(template_leaves)}")
    restored = []
    for i, (t, a) in enumerate(zip(template_leaves, leaves)):
        t_data = jax.random.key_data(t) if is_typed_key(t) else t
        shape, dtype = tuple(np.shape(t_data)), np.dtype(getattr(t_data, "dtype", type(t_data)))
        if a.shape != shape or a.dtype != dtype:
            raise RejectedRecord(f"state array {i} is {a.dtype}{list(a.shape)}, this run "
                                 f"expects {dtype}{list(shape)}")
        restored.append(jax.random.wrap_key_data(a, impl=jax.random.key_impl(t))
                        if is_typed_key(t) else a)
    return jax.tree_util.tree_unflatten(treedef, restored)


class Slot:
    """The file of one identity in a :class:`RunStore`."""

    def __init__(self, store, kind, identity):
        self.store, self.kind, self.identity = store, kind, identity
        self.digest = digest(identity)
        self.path = store.directory / f"{kind}-{self.digest[:20]}.run"

    def exists(self):
        return self.path.is_file()

    def peek(self):
        """The saved record's ``meta`` (checksum verified), or ``None``; loads no state."""
        record = self.load()
        return None if record is None else record.meta

    def save(self, record: Record):
        """Write the record atomically (only process 0 writes when there are several)."""
        arrays = {f"a/{k}": np.asarray(v) for k, v in record.arrays.items()}
        if record.state is not None:
            arrays.update({f"s/{i:05d}": a for i, a in enumerate(_leaves(record.state))})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        payload = buf.getvalue()
        header = {"format": FORMAT, "kind": self.kind, "digest": self.digest,
                  "identity": self.identity, "meta": record.meta,
                  "payload_bytes": len(payload),
                  "arrays": {k: [str(v.dtype), list(v.shape)] for k, v in arrays.items()}}
        header["sha256"] = _checksum(header, payload)
        head = json.dumps(header, sort_keys=True, default=repr).encode()
        if jax.process_index() == 0:
            self.store.clean_temporaries(self.path)
            data = MAGIC + len(head).to_bytes(8, "big") + head + payload
            try:
                atomic_write_bytes(self.path, data)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                where = self.store.directory
                while not where.exists():
                    where = where.parent
                free = shutil.disk_usage(where).free
                raise OSError(errno.ENOSPC, f"no space left on the device of {self.path.parent}: "
                              f"this checkpoint needs {_megabytes(len(data))} and "
                              f"{_megabytes(free)} are free; free some space (or give "
                              "another output folder) and run again: the epochs saved so far "
                              "are kept") from None
        self.store.written[self.path.name] = record.meta

    def load(self, template=None):
        """The saved :class:`Record`, or ``None`` when there is none or it was rejected.

        ``template``: a pytree shaped like the saved state (its shapes and
        dtypes are checked), or a function of the record's ``meta`` giving it;
        ``None`` loads no state, and neither does a record whose meta says
        ``complete`` (a finished part keeps its results, not its state).
        """
        if not self.path.is_file():
            return None
        try:
            return self._read(template)
        except RejectedRecord as e:
            self.reject(str(e))
        except (ValueError, KeyError, TypeError, OSError, EOFError) as e:
            self.reject(f"unreadable ({type(e).__name__}: {e})")
        return None

    def reject(self, why):
        aside = self.path.with_name(self.path.name + ".rejected")
        if jax.process_index() == 0:
            os.replace(self.path, aside)
        self.store.log(f"jaxlr run store: {self.path} not used: {why}; moved aside to "
                       f"{aside.name}, recomputing")

    def _read(self, template):
        data = self.path.read_bytes()
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
            raise RejectedRecord("not a jaxlr run record (wrong magic bytes)")
        n = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "big")
        start = len(MAGIC) + 8
        try:
            header = json.loads(data[start:start + n])
        except (ValueError, UnicodeDecodeError):
            raise RejectedRecord("truncated or corrupt header") from None
        payload = data[start + n:]
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise RejectedRecord(f"record format {header.get('format')!r}, this jaxlr reads "
                                 f"{FORMAT}")
        if len(payload) != header.get("payload_bytes"):
            raise RejectedRecord(f"truncated: {len(payload)} payload bytes, the header says "
                                 f"{header.get('payload_bytes')}")
        if _checksum(header, payload) != header.get("sha256"):
            raise RejectedRecord("checksum mismatch (the file was changed or damaged)")
        saved = header.get("identity")
        if header.get("digest") != self.digest or saved != _canonical(self.identity):
            raise RejectedRecord("it belongs to another run: "
                                 + _differences(saved, _canonical(self.identity)))
        with np.load(io.BytesIO(payload), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        for k, (dtype, shape) in header["arrays"].items():
            if k not in arrays or str(arrays[k].dtype) != dtype or list(arrays[k].shape) != shape:
                raise RejectedRecord(f"array {k} does not have the shape the header gives")
        state = None
        if callable(template) and not header["meta"].get("complete"):
            template = template(header["meta"])
        if template is not None and not header["meta"].get("complete"):
            leaves = [arrays[k] for k in sorted(k for k in arrays if k.startswith("s/"))]
            state = _unflatten_like(template, leaves)
        return Record(meta=header["meta"],
                      arrays={k[2:]: v for k, v in arrays.items() if k.startswith("a/")},
                      state=state)

    def remove(self):
        if jax.process_index() == 0:
            self.path.unlink(missing_ok=True)


def _megabytes(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _checksum(header, payload):
    """SHA-256 of the header (all but this checksum) and the payload: nothing unchecked."""
    head = {k: v for k, v in header.items() if k != "sha256"}
    text = json.dumps(head, sort_keys=True, default=repr).encode()
    return hashlib.sha256(len(text).to_bytes(8, "big") + text + payload).hexdigest()


def _canonical(identity):
    return json.loads(json.dumps(identity, sort_keys=True, default=repr))


def _differences(a, b, prefix=""):
    """The paths at which two identities differ (a few, for the message)."""
    out = []

    def walk(x, y, path):
        if len(out) >= 4:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else k)
        elif x != y:
            out.append(f"{path or 'identity'} (saved {_short(x)}, now {_short(y)})")

    walk(a, b, prefix)
    return "; ".join(out) or "identity differs"


def _short(v):
    text = json.dumps(v, sort_keys=True, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


class RunStore:
    """A directory of run records; see the module docstring.

    Args:
      directory: where the records live (created on first write).
      log: where to say that a file was not used (default: print to stderr).
    """

    def __init__(self, directory, log: Callable[[str], None] | None = None):
        self.directory = pathlib.Path(directory)
        self._log = log
        # file name -> meta of every record this object wrote, e.g. for an interruption report
        self.written = {}

    def log(self, message):
        if self._log is not None:
            self._log(message)
        else:
            import sys

            print(message, file=sys.stderr)

    def slot(self, kind, identity) -> Slot:
        """The slot of ``identity`` (a JSON-able dict) for records of ``kind``."""
        return Slot(self, kind, identity)

    def clean_temporaries(self, path):
        """Remove what a killed atomic write of ``path`` left behind."""
        for leftover in self.directory.glob(f".{path.name}.*"):
            leftover.unlink(missing_ok=True)

    def __repr__(self):
        return f"RunStore({str(self.directory)!r})"


def as_store(store):
    """``None``, a :class:`RunStore` or a directory path -> ``None`` or a :class:`RunStore`."""
    if store is None or isinstance(store, RunStore):
        return store
    return RunStore(store)
