"""Datasets as numpy arrays: canonical local files first, TFDS second, a clear error third.

``load(name, data_dir=None, seed=0, source=None)`` returns a :class:`Dataset` for
``fashion_mnist``, ``mnist``, ``cifar10``, ``cifar100`` or ``ionosphere``.
Images are float32 ``[N, H, W, C]`` scaled to ``[0, 1]``; labels int32.

Where the files are looked for, in order:

1. ``data_dir`` (argument), else ``$JAXLR_DATA_DIR``: the published files,
   directly in it or in a subfolder named after the dataset (``fashion_mnist``,
   ``fashion-mnist``, ``mnist``, ``cifar10``, ``cifar100``, ``ionosphere``):

   - (Fashion-)MNIST: the four IDX ``.gz`` files, checked against their md5;
   - CIFAR-10/100: the python or binary ``.tar.gz`` archive (md5-checked, read
     without extracting anything to disk), or its extracted folder
     (``cifar-10-batches-py``, ``cifar-10-batches-bin``, ``cifar-100-python``,
     ``cifar-100-binary``), checked for the exact published record counts;
     python pickles go through a restricted unpickler that can build nothing
     but numpy arrays, lists and dicts;
   - Ionosphere: ``ionosphere.data`` (sha256-checked); a copy ships inside the
     package, so it needs no directory at all.
2. A TFDS data dir in ArrayRecord format (``data_dir``, else
   ``$JAXLR_DATA_DIR``, else TFDS's default), if tensorflow-datasets is
   installed (``pip install "jaxlr[tfds]"``: no TensorFlow). It is read with
   ``tfds.data_source``, random access without TensorFlow;
   ``source="tfds"`` reads only it, ``source="files"`` only the files.
   :func:`prepare_tfds` writes one for (Fashion-)MNIST from the published
   files, also without TensorFlow.
3. Otherwise ``ValueError`` saying which files to put where, or how to prepare
   the TFDS data dir.

A truncated, corrupt or wrong file raises ``ValueError`` naming the file and
what was expected; a file whose md5 is that of another published file (say
Fashion-MNIST's files where MNIST was asked for) is named as that file, not as
corrupt. A partial dataset is never returned.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import io
import os
import pathlib
import pickle
import tarfile
import tempfile
import zlib
from importlib import resources

import numpy as np

__all__ = ["DATASETS", "Dataset", "describe", "from_arrays", "load", "prepare_tfds", "subset"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset split into train / test (and, where the reference used one, validation).

    ``x_*`` are float32 arrays, images ``[N, H, W, C]`` in ``[0, 1]``; ``y_*``
    int32 class indices (or float regression targets, ``num_classes`` then
    ``None``). ``x_val``/``y_val`` are ``None`` when there is no validation
    split. ``source`` says where the data came from; ``test_name`` what the
    test split is called in results.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    test_name: str = "test"

    @property
    def eval_split(self):
        """``(x, y, name)`` of the split a comparison reports: validation if any, else test."""
        if self.x_val is not None:
            return self.x_val, self.y_val, "validation"
        return self.x_test, self.y_test, self.test_name


def _as_array(fn, name, value):
    try:
        a = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - any conversion failure is the caller's input
        raise ValueError(f"jaxlr.data.{fn}: {name} is not an array ({e})") from None
    if a.ndim == 0 or len(a) == 0:
        raise ValueError(f"jaxlr.data.{fn}: {name} needs at least one example, got shape "
                         f"{a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        return a.astype(np.int32)
    raise ValueError(f"jaxlr.data.{fn}: {name} must hold numbers, got dtype {a.dtype}")


def from_arrays(x_train, y_train, x_eval=None, y_eval=None, *, name="arrays", num_classes=None):
    """A :class:`Dataset` from your own arrays (features/images and targets).

    Floats become float32 and integers int32 (integer targets are class
    indices: classification, with accuracy; float targets are regression).
    Without ``x_eval``/``y_eval`` the training set is also the evaluation set
    (reported as the ``train`` split).

    Args:
      x_train, y_train: ``[N, ...]`` inputs and ``[N, ...]`` targets.
      x_eval, y_eval: an evaluation split, or both ``None``.
      name: a label for results.
      num_classes: for class-index targets (default: ``max(y) + 1`` over both splits).

    >>> ds = from_arrays(np.zeros((4, 3)), np.array([0, 1, 1, 0]))
    >>> ds.num_classes, ds.eval_split[2], ds.x_train.dtype
    (2, 'train', dtype('float32'))
    """
    x_train, y_train = _as_array("from_arrays", "x_train", x_train), \
        _as_array("from_arrays", "y_train", y_train)
    if (x_eval is None) != (y_eval is None):
        raise ValueError("jaxlr.data.from_arrays: give both x_eval and y_eval, or neither")
    test_name = "test"
    if x_eval is None:
        x_eval, y_eval, test_name = x_train, y_train, "train"
    else:
        x_eval, y_eval = _as_array("from_arrays", "x_eval", x_eval), \
            _as_array("from_arrays", "y_eval", y_eval)
    for split, x, y in (("train", x_train, y_train), ("eval", x_eval, y_eval)):
        if len(x) != len(y):
            raise ValueError(f"jaxlr.data.from_arrays: x_{split} has {len(x)} examples, "
                             f"y_{split} {len(y)}")
    if x_train.shape[1:] != x_eval.shape[1:] or y_train.shape[1:] != y_eval.shape[1:] \
            or y_train.dtype != y_eval.dtype:
        raise ValueError(f"jaxlr.data.from_arrays: the eval split's shapes/dtypes "
                         f"{x_eval.shape[1:]}, {y_eval.dtype}{list(y_eval.shape[1:])} differ "
                         f"from the training split's {x_train.shape[1:]}, "
                         f"{y_train.dtype}{list(y_train.shape[1:])}")
    if np.issubdtype(y_train.dtype, np.integer):
        labels_max = int(max(y_train.max(), y_eval.max()))
        for what, y in (("y_train", y_train), ("y_eval", y_eval)):
            if y.min() < 0:
                raise ValueError(f"jaxlr.data.from_arrays: {what} holds {int(y.min())}; "
                                 "integer targets are class indices and must be >= 0")
        if num_classes is None:
            num_classes = labels_max + 1
        elif labels_max >= num_classes:
            raise ValueError(f"jaxlr.data.from_arrays: a target is {labels_max}, "
                             f"num_classes={num_classes}")
    elif num_classes is not None:
        raise ValueError(f"jaxlr.data.from_arrays: num_classes={num_classes!r} given for float "
                         "(regression) targets; integer targets are class indices")
    return Dataset(name, x_train, y_train, x_eval, y_eval, num_classes, "arrays",
                   test_name=test_name)


def subset(ds, max_train=None, max_eval=None):
    """``ds`` cut to its first ``max_train`` training and ``max_eval`` evaluation examples."""
    for what, value in (("max_train", max_train), ("max_eval", max_eval)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ValueError(f"jaxlr: {what} must be an int >= 1, got {value!r}")
    if max_train is not None:
        ds = dataclasses.replace(ds, x_train=ds.x_train[:max_train],
                                 y_train=ds.y_train[:max_train])
    if max_eval is not None:
        ds = dataclasses.replace(ds, x_test=ds.x_test[:max_eval], y_test=ds.y_test[:max_eval])
        if ds.x_val is not None:
            ds = dataclasses.replace(ds, x_val=ds.x_val[:max_eval], y_val=ds.y_val[:max_eval])
    return ds


# ---------------------------------------------------------------------------
# published files and checksums
# ---------------------------------------------------------------------------

_IDX = {  # name -> {file: md5}; md5s as published by the datasets' authors
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
}

_CIFAR = {
    "cifar10": dict(
        classes=10,
        archives={"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
                  "cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"},
        python=("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                b"labels"),
        binary=("cifar-10-batches-bin", [f"data_batch_{i}.bin" for i in range(1, 6)],
                ["test_batch.bin"], 1),
    ),
    "cifar100": dict(
        classes=100,
        archives={"cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85",
                  "cifar-100-binary.tar.gz": "03b5dce01913d631647c71ecec9e9cb8"},
        python=("cifar-100-python", ["train"], ["test"], b"fine_labels"),
        binary=("cifar-100-binary", ["train.bin"], ["test.bin"], 2),
    ),
}
_CIFAR_TRAIN, _CIFAR_TEST = 50_000, 10_000

_IONOSPHERE_SHA256 = "46d52186b84e20be52918adb93e8fb9926b34795ff7504c24350ae0616a04bbd"
# Keras's fit(validation_split=0.33) holds out the *last* 33% of the rows,
# before any shuffling: rows [int(351 * 0.67):] = the last 116.
_IONOSPHERE_VALIDATION_SPLIT = 0.33

_SUBDIRS = {
    "fashion_mnist": ("fashion_mnist", "fashion-mnist", "FashionMNIST"),
    "mnist": ("mnist", "MNIST"),
    "cifar10": ("cifar10", "cifar-10"),
    "cifar100": ("cifar100", "cifar-100"),
    "ionosphere": ("ionosphere",),
}

_TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10",
           "cifar100": "CIFAR-100", "ionosphere": "Ionosphere"}

_TFDS_NAMES = {"fashion_mnist": "fashion_mnist", "mnist": "mnist", "cifar10": "cifar10",
               "cifar100": "cifar100"}

DATASETS = tuple(_SUBDIRS)


def _digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _published_files():
    """md5 -> ``(dataset, file name)`` of every published file whose md5 is known."""
    known = {md5: (name, f) for name, files in _IDX.items() for f, md5 in files.items()}
    known.update({md5: (name, f) for name, spec in _CIFAR.items()
                  for f, md5 in spec["archives"].items()})
    return known


_PUBLISHED = _published_files()


def _mismatch(path, actual, expected, name, what):
    """Why ``path`` (md5 ``actual``) is not ``name``'s published ``what``."""
    known = _PUBLISHED.get(actual)
    if known is not None:
        other, other_file = known
        return (f"{path}: this is {_TITLES[other]}'s {other_file} (its published md5 "
                f"{actual}), not {_TITLES[name]}'s {what}")
    return (f"{path}: md5 {actual} does not match the published {_TITLES[name]} {what} file "
            f"(expected md5 {expected}) nor any other known file; the file is corrupt, "
            "truncated or a different file")


def _check_md5(path, expected, name, what):
    actual = _digest(path, "md5")
    if actual != expected:
        raise ValueError(_mismatch(path, actual, expected, name, what))


def _candidate_dirs(name, data_dir):
    root = data_dir if data_dir is not None else os.environ.get("JAXLR_DATA_DIR")
    if not root:
        return []
    root = pathlib.Path(root).expanduser()
    return [root / sub for sub in _SUBDIRS[name]] + [root]


# ---------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)
# ---------------------------------------------------------------------------

def _read_idx(path, magic, dims):
    """Read a gzip IDX file, checking its header against the payload length."""
    try:
        raw = gzip.open(path).read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: not a complete gzip file ({e})") from None
    header = 4 + 4 * dims
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise ValueError(f"{path}: not an IDX file with magic 0x{magic:08x}")
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    if len(raw) - header != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} ({int(np.prod(shape))} bytes) but "
                         f"the file holds {len(raw) - header} bytes")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


class _OtherDataset(ValueError):
    """The files found are another known dataset's published files."""


def _check_idx_md5s(name, directory):
    """Raise unless the four files are ``name``'s published ones.

    When the four are another dataset's published files (Fashion-MNIST's where
    MNIST was asked for, or the reverse) the error says so (``_OtherDataset``);
    otherwise each mismatching file is named as the published file it is, or
    called corrupt if its md5 is no known file's.
    """
    md5s = {f: _digest(directory / f, "md5") for f in _IDX[name]}
    if md5s == _IDX[name]:
        return
    for other, published in _IDX.items():
        if md5s == published:
            raise _OtherDataset(
                f"{directory}: these are {_TITLES[other]} files, not {_TITLES[name]} (each "
                f"file's md5 is that of {_TITLES[other]}'s published file of the same name); "
                f"use --dataset {other} (load({other!r}, ...)) or point --data-dir (data_dir) "
                f"at {_TITLES[name]} files")
    raise ValueError("; ".join(_mismatch(directory / f, actual, _IDX[name][f], name, f)
                               for f, actual in md5s.items() if actual != _IDX[name][f]))


def _load_idx(name, directory, verify=True):
    files = _IDX[name]
    paths = {f: directory / f for f in files}
    if verify:
        _check_idx_md5s(name, directory)
    x_train = _read_idx(paths["train-images-idx3-ubyte.gz"], 0x803, 3)
    y_train = _read_idx(paths["train-labels-idx1-ubyte.gz"], 0x801, 1)
    x_test = _read_idx(paths["t10k-images-idx3-ubyte.gz"], 0x803, 3)
    y_test = _read_idx(paths["t10k-labels-idx1-ubyte.gz"], 0x801, 1)
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(x) != len(y):
            raise ValueError(f"{directory}: {split} has {len(x)} images but {len(y)} labels")
    return Dataset(name, _images(x_train[..., None]), y_train.astype(np.int32),
                   _images(x_test[..., None]), y_test.astype(np.int32), 10, str(directory))


def _images(x):
    return (x.astype(np.float32) / np.float32(255.0))


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------

class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: only numpy arrays/dtypes and builtin containers."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("builtins", "list"), ("builtins", "dict"), ("__builtin__", "list"),
        ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        # bytes in protocol-2 pickles written by Python 3: str -> bytes, nothing more
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR pickle")


def _unpickle(data, label):
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # any malformed pickle is a bad file, whatever the exception
        raise ValueError(f"{label}: not a CIFAR python batch ({type(e).__name__}: {e})") from None


def _cifar_python_batches(read, names, label_key, label):
    xs, ys = [], []
    for name in names:
        batch = _unpickle(read(name), f"{label}/{name}")
        if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
            raise ValueError(f"{label}/{name}: expected a dict with b'data' and {label_key!r}")
        x = np.asarray(batch[b"data"])
        y = np.asarray(batch[label_key])
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or len(y) != len(x):
            raise ValueError(f"{label}/{name}: expected uint8 data [N, 3072] and N labels, "
                             f"got data {x.dtype}{list(x.shape)} and {len(y)} labels")
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _cifar_binary_batches(read, names, label_bytes, label):
    record = label_bytes + 3072
    xs, ys = [], []
    for name in names:
        raw = read(name)
        if len(raw) % record:
            raise ValueError(f"{label}/{name}: {len(raw)} bytes is not a whole number of "
                             f"{record}-byte CIFAR records (truncated?)")
        rows = np.frombuffer(raw, np.uint8).reshape(-1, record)
        ys.append(rows[:, label_bytes - 1])  # CIFAR-100: (coarse, fine); the fine label is last
        xs.append(rows[:, label_bytes:])
    return np.concatenate(xs), np.concatenate(ys)


def _cifar_arrays(name, read, layout, label, verify=True):
    spec = _CIFAR[name]
    folder, train_names, test_names, key = spec[layout]
    batches = _cifar_python_batches if layout == "python" else _cifar_binary_batches

    def load(names):
        return batches(lambda n: read(f"{folder}/{n}"), names, key, label)

    (x_train, y_train), (x_test, y_test) = load(train_names), load(test_names)
    for x, expected, split in ((x_train, _CIFAR_TRAIN, "train"), (x_test, _CIFAR_TEST, "test")):
        if verify and len(x) != expected:
            raise ValueError(f"{label}: {split} has {len(x)} images, the published {name} has "
                             f"{expected}")
    for y in (y_train, y_test):
        if y.max() >= spec["classes"]:
            raise ValueError(f"{label}: label {int(y.max())} out of range for {name}")

    def images(x):  # records are channel-major: 1024 R, 1024 G, 1024 B
        return _images(x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))

    return Dataset(name, images(x_train), y_train.astype(np.int32), images(x_test),
                   y_test.astype(np.int32), spec["classes"], label)


def _read_tar_member(archive, label):
    """A reader of regular members by name, never extracting to disk."""
    members = {m.name: m for m in archive.getmembers()}

    def read(name):
        member = members.get(name)
        if member is None or not member.isfile():
            raise ValueError(f"{label}: archive has no regular file {name!r}")
        return archive.extractfile(member).read()

    return read


def _load_cifar(name, directory, verify=True):
    spec = _CIFAR[name]
    for archive_name, md5 in spec["archives"].items():
        path = directory / archive_name
        if path.is_file():
            if verify:
                _check_md5(path, md5, name, archive_name)
            layout = "python" if "python" in archive_name else "binary"
            try:
                with tarfile.open(path, "r:gz") as archive:
                    return _cifar_arrays(name, _read_tar_member(archive, str(path)), layout,
                                         str(path), verify)
            except (tarfile.TarError, EOFError, OSError) as e:
                raise ValueError(f"{path}: unreadable archive ({e})") from None
    for layout in ("python", "binary"):
        folder = directory / spec[layout][0]
        if folder.is_dir():
            def read(rel, base=directory):
                path = base / rel
                if not path.is_file():
                    raise ValueError(f"{path}: missing (expected the published {name} file)")
                return path.read_bytes()

            return _cifar_arrays(name, read, layout, str(folder), verify)
    return None


# ---------------------------------------------------------------------------
# Ionosphere
# ---------------------------------------------------------------------------

def _parse_ionosphere(text, label):
    rows = [line.split(",") for line in text.strip().splitlines()]
    if len(rows) != 351 or any(len(r) != 35 for r in rows):
        raise ValueError(f"{label}: expected 351 rows of 35 comma-separated fields "
                         f"(UCI ionosphere.data)")
    try:
        x = np.array([[float(v) for v in r[:34]] for r in rows], np.float32)
    except ValueError as e:
        raise ValueError(f"{label}: non-numeric feature ({e})") from None
    classes = [r[34].strip() for r in rows]
    if set(classes) - {"g", "b"}:
        raise ValueError(f"{label}: classes must be 'g' or 'b', got {sorted(set(classes))}")
    # Keras's experiment used LabelEncoder: alphabetical, so b -> 0 and g -> 1.
    y = np.array([c == "g" for c in classes], np.int32)
    split = int(len(x) * (1.0 - _IONOSPHERE_VALIDATION_SPLIT))
    return Dataset("ionosphere", x[:split], y[:split], x[split:], y[split:], 2, label,
                   x_val=x[split:], y_val=y[split:])


def _load_ionosphere(directory, verify=True):
    path = directory / "ionosphere.data"
    if not path.is_file():
        return None
    actual = _digest(path, "sha256")
    if verify and actual != _IONOSPHERE_SHA256:
        raise ValueError(f"{path}: sha256 {actual} is not the published UCI ionosphere.data "
                         f"({_IONOSPHERE_SHA256})")
    return _parse_ionosphere(path.read_text(), str(path))


def _packaged_ionosphere():
    ref = resources.files("jaxlr") / "data_files" / "ionosphere.data"
    raw = ref.read_bytes()
    if hashlib.sha256(raw).hexdigest() != _IONOSPHERE_SHA256:
        raise ValueError(f"{ref}: the packaged ionosphere.data is damaged (sha256 mismatch)")
    return _parse_ionosphere(raw.decode(), "jaxlr package (UCI ionosphere.data)")


# ---------------------------------------------------------------------------
# TFDS: ArrayRecord data dirs, read and written without TensorFlow
# ---------------------------------------------------------------------------

_TFDS_INSTALL = "pip install 'jaxlr[tfds]'"
_COUNTS = {"fashion_mnist": (60_000, 10_000), "mnist": (60_000, 10_000),
           "cifar10": (_CIFAR_TRAIN, _CIFAR_TEST), "cifar100": (_CIFAR_TRAIN, _CIFAR_TEST)}
_CLASSES = {"fashion_mnist": 10, "mnist": 10, "cifar10": 10, "cifar100": 100}


def _tfds_missing_module(writing=False):
    """The module TFDS's TensorFlow-free path needs and lacks here, else ``None``."""
    # TFDS imports importlib_resources to build a dataset, without declaring it
    needed = ["tensorflow_datasets", "array_record"] + ["importlib_resources"] * writing
    for module in needed:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def _import_tfds(fn, writing=False):
    missing = _tfds_missing_module(writing)
    if missing is not None:
        raise ValueError(f"jaxlr.data.{fn}: TFDS data needs tensorflow-datasets, array_record "
                         f"and importlib_resources ({missing} is not installed): "
                         f"{_TFDS_INSTALL} (no TensorFlow needed)")
    import tensorflow_datasets as tfds

    return tfds


def _tfds_root(data_dir):
    """The TFDS data dir: ``data_dir``, else ``$JAXLR_DATA_DIR``, else ``None`` (TFDS's default:
    ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``)."""
    root = data_dir if data_dir is not None else os.environ.get("JAXLR_DATA_DIR")
    return os.fspath(pathlib.Path(root).expanduser()) if root else None


def _prepare_hint(name, data_dir):
    root = _tfds_root(data_dir)
    if name in _IDX:
        where = "" if root is None else f", {root!r}"
        return (f"build it from the published files, without TensorFlow, with "
                f"jaxlr.data.prepare_tfds({name!r}, RAW_DIR{where})")
    where = "" if root is None else f" --data_dir {root}"
    return (f"build it with TFDS's own builder, which needs TensorFlow: tfds build "
            f"{_TFDS_NAMES[name]} --file_format array_record{where}")


def _is_prepared(builder):
    # is_prepared() alone logs a warning for every folder without a dataset_info.json
    return (builder.data_path / "dataset_info.json").exists() and builder.is_prepared()


def _check_array_record(builder, name, data_dir):
    formats = sorted(f.value for f in builder.info.available_file_formats())
    if "array_record" not in formats:
        raise ValueError(
            f"{builder.data_dir}: this TFDS dataset is stored as {', '.join(formats) or '?'}; "
            "jaxlr reads TFDS data with tfds.data_source, without TensorFlow, which needs the "
            f"array_record format: use another data dir and {_prepare_hint(name, data_dir)}")


def _decode_images(records, shape, label):
    """``[N, *shape]`` uint8 from the examples' encoded (PNG/JPEG) ``image`` bytes."""
    from PIL import Image

    mode = {1: "L", 3: "RGB"}[shape[-1]]
    x = np.empty((len(records), *shape), np.uint8)
    for i, record in enumerate(records):
        with Image.open(io.BytesIO(record["image"])) as image:
            if image.mode != mode or image.size != (shape[1], shape[0]):
                raise ValueError(f"{label}: example {i} is a {image.mode} image of "
                                 f"{image.size[0]}x{image.size[1]}, expected {mode} "
                                 f"{shape[1]}x{shape[0]}")
            x[i] = np.asarray(image).reshape(shape)
    return x


def _load_tfds(name, data_dir, verify=True):
    """``name`` from a TFDS data dir in ArrayRecord format, through ``tfds.data_source``
    (random access, no TensorFlow); ``None`` when it is not prepared there.

    The examples come in the order TFDS stored them (its builders shuffle them
    deterministically), not in the published files' order.
    """
    tfds = _import_tfds("load")
    builder = tfds.builder(_TFDS_NAMES[name], data_dir=_tfds_root(data_dir))
    if not _is_prepared(builder):
        return None
    label = str(builder.data_dir)
    _check_array_record(builder, name, data_dir)
    features = builder.info.features
    if not {"image", "label"} <= set(features.keys()):
        raise ValueError(f"{label}: expected the features image and label, got "
                         f"{sorted(features.keys())}")
    shape = tuple(features["image"].shape)
    if features["image"].np_dtype != np.uint8 or None in shape or shape[-1] not in (1, 3) \
            or features["label"].num_classes != _CLASSES[name]:
        raise ValueError(f"{label}: expected uint8 images of a fixed shape and "
                         f"{_CLASSES[name]} classes, got {features['image'].np_dtype} "
                         f"{list(shape)} and {features['label'].num_classes} classes")
    sources = builder.as_data_source(decoders={"image": tfds.decode.SkipDecoding()},
                                     file_format="array_record")
    arrays = {}
    for split, expected in zip(("train", "test"), _COUNTS[name]):
        if split not in sources:
            raise ValueError(f"{label}: no {split} split (has {sorted(sources)})")
        source = sources[split]
        if verify and len(source) != expected:
            raise ValueError(f"{label}: {split} has {len(source)} examples, the published "
                             f"{name} has {expected}")
        records = source.__getitems__(range(len(source)))
        arrays[split] = (_images(_decode_images(records, shape, f"{label} ({split})")),
                         np.array([r["label"] for r in records], np.int32))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return Dataset(name, x_train, y_train, x_test, y_test, _CLASSES[name],
                   f"tensorflow-datasets {label} (array_record)")


def _png(image):
    """An 8-bit grayscale ``[H, W]`` image as a PNG file (IHDR, one IDAT, IEND; no filtering)."""
    height, width = image.shape
    rows = np.zeros((height, 1 + width), np.uint8)  # each scanline: filter type 0, the pixels
    rows[:, 1:] = image

    def chunk(kind, payload):
        return (len(payload).to_bytes(4, "big") + kind + payload
                + zlib.crc32(kind + payload).to_bytes(4, "big"))

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))


def _raw_files_builder(tfds, name, splits, data_dir):
    """TFDS's own builder for ``name``, fed the given uint8 arrays instead of its download.

    Everything else is the registered builder's: features, version, example keys
    (the index in the published file) and so TFDS's shuffled order on disk.
    """
    registered = tfds.builder_cls(_TFDS_NAMES[name])

    class FromPublishedFiles(registered, skip_registration=True):
        name = registered.name

        def _split_generators(self, dl_manager):
            del dl_manager  # nothing to download
            return {split: self._generate_examples(x, y) for split, (x, y) in splits.items()}

        def _generate_examples(self, images, labels):
            for index, (image, label) in enumerate(zip(images, labels)):
                yield index, {"image": _png(image), "label": int(label)}

    return FromPublishedFiles(data_dir=data_dir, file_format="array_record")


def prepare_tfds(name, raw_dir=None, data_dir=None, verify=True):
    """Write ``name``'s TFDS dataset (ArrayRecord) from its published files, without TensorFlow.

    TFDS's builder for (Fashion-)MNIST downloads the files, then extracts and
    reads them with ``tf.io.gfile`` and encodes the images with
    ``tf.image.encode_png``: all TensorFlow. Here the four IDX files are read
    as :func:`load` reads them (md5-checked), the images written as PNG files
    (with zlib), and TFDS's own builder and writer do the rest: the same features,
    version, example keys and on-disk order, and a ``dataset_info.json``, so
    that ``load(name, data_dir, source="tfds")`` and
    ``tfds.data_source(name, data_dir=data_dir)`` read it. Nothing is written
    when the dataset is already prepared there.

    Args:
      name: ``fashion_mnist`` or ``mnist``.
      raw_dir: where the published files are, searched as :func:`load` does
        (default ``$JAXLR_DATA_DIR``).
      data_dir: the TFDS data dir to write into (default ``$JAXLR_DATA_DIR``,
        else TFDS's own default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
      verify: check the published md5s (``False`` for files you made yourself).

    Returns:
      The dataset's folder, ``data_dir/name/VERSION``.
    """
    if name not in _IDX:
        hint = _prepare_hint(name, data_dir) if name in _TFDS_NAMES else \
            f"name must be one of {list(_IDX)}"
        raise ValueError(f"jaxlr.data.prepare_tfds: builds {' and '.join(_IDX)} from their "
                         f"published files; for {name}: {hint}")
    tfds = _import_tfds("prepare_tfds", writing=True)
    ds = _find_local(name, raw_dir, verify)
    if ds is None:
        raise ValueError(f"jaxlr.data.prepare_tfds: no {_TITLES[name]} files found "
                         f"({_looked(name, raw_dir)}); put {_what_to_put(name)} there")
    # the float32 k/255 read back to the published bytes exactly
    splits = {split: (np.rint(x[..., 0] * np.float32(255)).astype(np.uint8), y)
              for split, x, y in (("train", ds.x_train, ds.y_train),
                                  ("test", ds.x_test, ds.y_test))}
    builder = _raw_files_builder(tfds, name, splits, _tfds_root(data_dir))
    if _is_prepared(builder):
        _check_array_record(builder, name, data_dir)
    else:
        with tempfile.TemporaryDirectory() as downloads:  # TFDS makes its folders there
            builder.download_and_prepare(
                download_dir=downloads,
                download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return str(builder.data_dir)


# ---------------------------------------------------------------------------

def _find_local(name, data_dir, verify):
    other_dataset = None
    for directory in _candidate_dirs(name, data_dir):
        if not directory.is_dir():
            continue
        if name in _IDX:
            if all((directory / f).is_file() for f in _IDX[name]):
                try:
                    return _load_idx(name, directory, verify)
                except _OtherDataset as e:
                    # another dataset's folder (e.g. Fashion-MNIST in root/mnist/ while
                    # MNIST is in root/): keep looking; say so if nothing else is found
                    other_dataset = other_dataset or e
        elif name in _CIFAR:
            found = _load_cifar(name, directory, verify)
            if found is not None:
                return found
        else:
            found = _load_ionosphere(directory, verify)
            if found is not None:
                return found
    if other_dataset is not None:
        raise other_dataset
    return None


def _looked(name, data_dir):
    where = data_dir or os.environ.get("JAXLR_DATA_DIR")
    return f"looked in {where!s} and its subfolders {list(_SUBDIRS[name])}" if where else \
        "no data directory given (pass data_dir / --data-dir or set JAXLR_DATA_DIR)"


def _what_to_put(name):
    if name in _IDX:
        return f"the four published files {', '.join(_IDX[name])}"
    spec = _CIFAR[name]
    return (f"one of {', '.join(spec['archives'])} or its extracted folder "
            f"({spec['python'][0]} or {spec['binary'][0]})")


def _missing(name, data_dir):
    return ValueError(f"{name}: no data found ({_looked(name, data_dir)}). Put "
                      f"{_what_to_put(name)} in that directory, or load a TFDS data dir in "
                      f"ArrayRecord format ({_TFDS_INSTALL}, no TensorFlow needed; "
                      f"{_prepare_hint(name, data_dir)}).")


def load(name, data_dir=None, seed=0, verify=True, source=None):
    """Load a dataset as numpy arrays.

    Args:
      name: one of ``fashion_mnist``, ``mnist``, ``cifar10``, ``cifar100``,
        ``ionosphere``.
      data_dir: directory holding the published files or a TFDS data dir
        (default ``$JAXLR_DATA_DIR``; ionosphere needs none; TFDS falls back
        on its own default, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
      seed: unused by these fixed splits; kept so that a dataset with a random
        split would be deterministic given it. Ionosphere's validation split is
        Keras's ``validation_split=0.33``: the last 116 rows, unshuffled.
      verify: check the published checksums and example counts. ``False`` is
        for files you made yourself (subsets, test fixtures); the format is
        still checked either way.
      source: ``"files"``: the published files only; ``"tfds"``: a TFDS data
        dir in ArrayRecord format only, read with ``tfds.data_source`` without
        TensorFlow (``pip install "jaxlr[tfds]"``; :func:`prepare_tfds` builds
        one for (Fashion-)MNIST), its examples in TFDS's stored order; ``None``
        (default): the files, else that TFDS data dir if tensorflow-datasets is
        installed.

    Returns:
      A :class:`Dataset`.

    Raises:
      ValueError: unknown name or source, missing data (with what to put
        where, or how to prepare it), or a corrupt/truncated/wrong file
        (naming it).
    """
    del seed
    if name not in _SUBDIRS:
        raise ValueError(f"jaxlr.data.load: name must be one of {list(DATASETS)}, got {name!r}")
    if source not in (None, "files", "tfds"):
        raise ValueError(f"jaxlr.data.load: source must be 'files', 'tfds' or None (files, "
                         f"else TFDS), got {source!r}")
    if source == "tfds":
        if name not in _TFDS_NAMES:
            raise ValueError(f"jaxlr.data.load: {name} is not a TFDS dataset; it ships with "
                             f"jaxlr: load({name!r})")
        found = _load_tfds(name, data_dir, verify)
        if found is None:
            tfds_name = _TFDS_NAMES[name]
            where = _tfds_root(data_dir) or "TFDS's default data dir"
            raise ValueError(f"{name}: no TFDS dataset {tfds_name} prepared in {where}; "
                             f"{_prepare_hint(name, data_dir)}")
        return found
    found = _find_local(name, data_dir, verify)
    if found is not None:
        return found
    if name == "ionosphere":
        return _packaged_ionosphere()
    if source is None and _tfds_missing_module() is None:
        found = _load_tfds(name, data_dir, verify)
        if found is not None:
            return found
    raise _missing(name, data_dir)


def describe(data_dir=None):
    """One line per dataset: where it would be loaded from, or why it cannot be."""
    lines = []
    for name in DATASETS:
        try:
            ds = load(name, data_dir)
            lines.append(f"{name:<14} {len(ds.x_train):>6} train / {len(ds.x_test):>6} test "
                         f"{list(ds.x_train.shape[1:])}  from {ds.source}")
        except ValueError as e:
            lines.append(f"{name:<14} not available: {e}")
    return lines
