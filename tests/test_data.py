"""Datasets: real files from ../shared/data where present; small published-format files otherwise."""

import gzip
import io
import json
import os
import pathlib
import pickle
import re
import sys
import tarfile

import numpy as np
import pytest

from jaxlr import data

SHARED = pathlib.Path(os.environ.get(
    "JAXLR_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_fashion = pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(),
                                   reason=f"Fashion-MNIST not at {SHARED}/fashion_mnist")


# -- real data -----------------------------------------------------------------

@needs_fashion
def test_fashion_mnist_from_the_published_files():
    ds = data.load("fashion_mnist", SHARED)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert abs(float(ds.x_train.mean()) - 72.94 / 255) < 1e-4  # the README's pixel mean
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.x_val is None and ds.eval_split[2] == "test"


@needs_fashion
def test_env_var_is_the_default_directory(monkeypatch):
    monkeypatch.setenv("JAXLR_DATA_DIR", str(SHARED))
    assert data.load("fashion_mnist").source == str(SHARED / "fashion_mnist")


def _link_fashion(directory, damage=None):
    """Fashion-MNIST's published files in ``directory`` (symlinks); ``damage`` replaces
    t10k-labels with a damaged copy: ``"truncated"`` or ``"flipped"`` (one byte)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in data._IDX["fashion_mnist"]:
        (directory / name).symlink_to(SHARED / "fashion_mnist" / name)
    if damage is not None:
        path = directory / "t10k-labels-idx1-ubyte.gz"
        raw = bytearray(path.read_bytes())
        path.unlink()
        if damage == "truncated":
            raw = raw[:-100]
        else:
            raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    return directory


FASHION_NOT_MNIST = ("these are Fashion-MNIST files, not MNIST (each file's md5 is that of "
                     "Fashion-MNIST's published file of the same name); use --dataset "
                     "fashion_mnist (load('fashion_mnist', ...)) or point --data-dir (data_dir) "
                     "at MNIST files")


def _describe_line(name, data_dir=None):
    (line,) = [line for line in data.describe(data_dir) if line.split()[0] == name]
    return line


@needs_fashion
@pytest.mark.parametrize("layout", ["data_dir", "mnist_subfolder", "MNIST_subfolder", "env_var"])
def test_fashion_mnist_files_given_as_mnist_are_named_not_corrupt(tmp_path, monkeypatch, layout):
    folder = {"mnist_subfolder": tmp_path / "mnist",
              "MNIST_subfolder": tmp_path / "MNIST"}.get(layout, tmp_path)
    _link_fashion(folder)
    data_dir = tmp_path
    if layout == "env_var":
        monkeypatch.setenv("JAXLR_DATA_DIR", str(tmp_path))
        data_dir = None
    with pytest.raises(ValueError) as e:
        data.load("mnist", data_dir)
    assert str(e.value) == f"{folder}: {FASHION_NOT_MNIST}"
    assert _describe_line("mnist", data_dir) == f"mnist          not available: {folder}: " \
                                                f"{FASHION_NOT_MNIST}"
    if layout in ("data_dir", "env_var"):
        assert _describe_line("fashion_mnist", data_dir).startswith(
            f"fashion_mnist   60000 train /  10000 test [28, 28, 1]  from {tmp_path}")


@needs_fashion
def test_search_goes_on_past_another_datasets_folder(tmp_path):
    _link_fashion(tmp_path / "mnist")
    _write_mnist(tmp_path / "MNIST")  # found next: not the published MNIST files
    with pytest.raises(ValueError) as e:
        data.load("mnist", tmp_path)
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'MNIST' / 'train-images-idx3-ubyte.gz'}: md5 ")
    assert "Fashion-MNIST" not in message and "corrupt, truncated" in message


def test_mnist_files_given_as_fashion_mnist_are_named(tmp_path, monkeypatch):
    # MNIST's real files are not here: files of our own stand in for them via their md5s
    _write_mnist(tmp_path)
    md5s = {f: data._digest(tmp_path / f, "md5") for f in data._IDX["mnist"]}
    monkeypatch.setitem(data._IDX, "mnist", md5s)
    with pytest.raises(ValueError) as e:
        data.load("fashion_mnist", tmp_path)
    assert str(e.value) == (
        f"{tmp_path}: these are MNIST files, not Fashion-MNIST (each file's md5 is that of "
        "MNIST's published file of the same name); use --dataset mnist (load('mnist', ...)) "
        "or point --data-dir (data_dir) at Fashion-MNIST files")


@needs_fashion
@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_damaged_file_among_fashion_mnist_files_is_called_corrupt(tmp_path, damage):
    _link_fashion(tmp_path, damage)
    damaged = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(ValueError) as e:
        data.load("fashion_mnist", tmp_path)
    assert str(e.value).startswith(f"{damaged}: md5 ")
    assert str(e.value).endswith("does not match the published Fashion-MNIST "
                                 "t10k-labels-idx1-ubyte.gz file (expected md5 "
                                 "bb300cfdad3c16e7a12a480ee83cd310) nor any other known file; "
                                 "the file is corrupt, truncated or a different file")
    # asked for as MNIST: the intact files are named as Fashion-MNIST's, the damaged one corrupt
    with pytest.raises(ValueError) as e:
        data.load("mnist", tmp_path)
    parts = str(e.value).split("; ")
    for part, name in zip(parts, ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz"]):
        assert part.startswith(f"{tmp_path / name}: this is Fashion-MNIST's {name} (its "
                               "published md5 ")
        assert part.endswith(f"), not MNIST's {name}")
    assert parts[3].startswith(f"{damaged}: md5 ") and "corrupt, truncated" in str(e.value)
    assert "these are Fashion-MNIST files" not in str(e.value)
    assert _describe_line("mnist", tmp_path) == f"mnist          not available: {e.value}"


def test_ionosphere_ships_with_the_package_and_matches_the_published_file():
    packaged = data.load("ionosphere")
    assert packaged.x_train.shape == (235, 34) and packaged.x_val.shape == (116, 34)
    assert packaged.num_classes == 2 and set(np.unique(packaged.y_train)) == {0, 1}
    assert packaged.eval_split[2] == "validation"
    # 225 good (1) and 126 bad (0) in the whole file
    assert int(packaged.y_train.sum() + packaged.y_val.sum()) == 225
    if (SHARED / "ionosphere").is_dir():
        shared = data.load("ionosphere", SHARED)
        np.testing.assert_array_equal(shared.x_train, packaged.x_train)
        np.testing.assert_array_equal(shared.y_val, packaged.y_val)


# -- small files in the published formats ----------------------------------------

def _idx(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _write_mnist(directory, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": (rng.integers(0, 256, (n_train, 28, 28)), 0x803),
        "train-labels-idx1-ubyte.gz": (rng.integers(0, 10, n_train), 0x801),
        "t10k-images-idx3-ubyte.gz": (rng.integers(0, 256, (n_test, 28, 28)), 0x803),
        "t10k-labels-idx1-ubyte.gz": (rng.integers(0, 10, n_test), 0x801),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, (array, magic) in arrays.items():
        (directory / name).write_bytes(_idx(array, magic))
    return {k: v[0] for k, v in arrays.items()}


def test_mnist_idx_files(tmp_path):
    arrays = _write_mnist(tmp_path / "mnist")
    ds = data.load("mnist", tmp_path, verify=False)
    np.testing.assert_array_equal(ds.x_train[..., 0] * 255,
                                  arrays["train-images-idx3-ubyte.gz"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_mnist_checksums_are_verified(tmp_path):
    _write_mnist(tmp_path)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: md5 .* published"):
        data.load("mnist", tmp_path)


def test_truncated_idx_file_is_named(tmp_path):
    _write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        data.load("mnist", tmp_path, verify=False)


def test_idx_header_and_payload_must_agree(tmp_path):
    _write_mnist(tmp_path)
    raw = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-784]))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: header says shape"):
        data.load("mnist", tmp_path, verify=False)


def _cifar_batches(rng, n, classes):
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, classes, n)


def _python_batch(x, y, label_key):
    return pickle.dumps({b"batch_label": b"x", label_key: y.tolist(), b"data": x}, protocol=2)


def _write_cifar(root, name, layout, n=4):
    rng = np.random.default_rng(1)
    classes = 10 if name == "cifar10" else 100
    spec = data._CIFAR[name]
    folder, train, test, key = spec[layout]
    files, xs, ys = {}, {}, {}
    for split, names in (("train", train), ("test", test)):
        xs[split], ys[split] = [], []
        for fname in names:
            x, y = _cifar_batches(rng, n, classes)
            xs[split].append(x)
            ys[split].append(y)
            if layout == "python":
                files[f"{folder}/{fname}"] = _python_batch(x, y, key)
            else:
                labels = np.stack([y // 5, y] if key == 2 else [y], 1).astype(np.uint8)
                files[f"{folder}/{fname}"] = np.concatenate([labels, x], 1).tobytes()
    for rel, payload in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(payload)
    return {k: np.concatenate(v) for k, v in xs.items()}, {k: np.concatenate(v)
                                                          for k, v in ys.items()}


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("layout", ["python", "binary"])
def test_cifar_extracted_folders(tmp_path, name, layout):
    xs, ys = _write_cifar(tmp_path, name, layout)
    ds = data.load(name, tmp_path, verify=False)
    assert ds.x_train.shape == (len(xs["train"]), 32, 32, 3)
    assert ds.num_classes == (10 if name == "cifar10" else 100)
    np.testing.assert_array_equal(ds.y_train, ys["train"])
    np.testing.assert_array_equal(ds.y_test, ys["test"])
    # channel-major records: the first 1024 bytes are the red plane
    red = xs["train"][0, :1024].reshape(32, 32).astype(np.float32) / 255
    np.testing.assert_array_equal(ds.x_train[0, :, :, 0], red)


@pytest.mark.parametrize("name,archive", [("cifar10", "cifar-10-python.tar.gz"),
                                          ("cifar100", "cifar-100-binary.tar.gz")])
def test_cifar_archives_are_read_without_extracting(tmp_path, name, archive):
    layout = "python" if "python" in archive else "binary"
    src = tmp_path / "src"
    xs, ys = _write_cifar(src, name, layout)
    with tarfile.open(tmp_path / archive, "w:gz") as tar:
        tar.add(src / data._CIFAR[name][layout][0], arcname=data._CIFAR[name][layout][0])
        evil = tarfile.TarInfo("../../escaped.txt")
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"bad"))
    ds = data.load(name, tmp_path, verify=False)
    np.testing.assert_array_equal(ds.y_train, ys["train"])
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not (tmp_path / data._CIFAR[name][layout][0]).exists() or src == tmp_path
    with pytest.raises(ValueError, match=rf"{archive}: md5"):
        data.load(name, tmp_path)


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for fname in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / fname).write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(ValueError, match="refusing to load posix.system|refusing to load"):
        data.load("cifar10", tmp_path, verify=False)
    assert not pathlib.Path("pwned").exists()


def test_cifar_counts_are_verified(tmp_path):
    _write_cifar(tmp_path, "cifar10", "binary")
    with pytest.raises(ValueError, match="published cifar10 has 50000"):
        data.load("cifar10", tmp_path)


def test_cifar_truncated_binary_is_named(tmp_path):
    _write_cifar(tmp_path, "cifar10", "binary")
    path = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="data_batch_3.bin: .* not a whole number"):
        data.load("cifar10", tmp_path, verify=False)


def test_wrong_ionosphere_file_is_named(tmp_path):
    (tmp_path / "ionosphere.data").write_text("1,2,g\n")
    with pytest.raises(ValueError, match=r"ionosphere.data: sha256"):
        data.load("ionosphere", tmp_path)


def test_missing_dataset_says_what_to_put_where(tmp_path, monkeypatch):
    # with or without tensorflow-datasets: an empty TFDS data dir is no data either
    monkeypatch.delenv("JAXLR_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match=r"cifar-10-python.tar.gz.*cifar-10-batches-bin.*"
                                         r"ArrayRecord.*tfds build cifar10"):
        data.load("cifar10", tmp_path)
    with pytest.raises(ValueError, match="pass data_dir") as e:
        data.load("mnist")
    assert "jaxlr.data.prepare_tfds('mnist', RAW_DIR)" in str(e.value)


def test_unknown_name():
    with pytest.raises(ValueError, match="name must be one of"):
        data.load("imagenet")


# -- TFDS: ArrayRecord data dirs, written and read without TensorFlow ---------------

@pytest.fixture
def tfds():
    """tensorflow_datasets: the dev extra installs it, so in CI its absence fails the test."""
    missing = data._tfds_missing_module()
    if missing is not None:
        message = f"{missing} is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    import tensorflow_datasets

    return tensorflow_datasets


def _same_examples(a, b):
    """Assert that two datasets' splits hold the same (image, label) examples, in any order."""
    for x_a, y_a, x_b, y_b in ((a.x_train, a.y_train, b.x_train, b.y_train),
                               (a.x_test, a.y_test, b.x_test, b.y_test)):
        assert x_a.shape == x_b.shape and x_a.dtype == x_b.dtype == np.float32
        assert y_a.shape == y_b.shape and y_a.dtype == y_b.dtype == np.int32
        sorted_rows = []
        for x, y in ((x_a, y_a), (x_b, y_b)):  # each example's bytes, sorted
            rows = np.concatenate([x.reshape(len(x), -1).view(np.uint8),
                                   y.reshape(-1, 1).view(np.uint8)], axis=1)
            sorted_rows.append(rows[np.argsort(rows.view(np.dtype((np.void, rows.shape[1])))
                                               .ravel())])
        assert np.array_equal(*sorted_rows)


@needs_fashion
def test_fashion_mnist_through_tfds_without_tensorflow(tmp_path, tfds):
    tensorflow_before = "tensorflow" in sys.modules
    folder = data.prepare_tfds("fashion_mnist", SHARED, tmp_path)
    assert folder == str(tmp_path / "fashion_mnist" / "3.0.1")
    info = json.loads((tmp_path / "fashion_mnist" / "3.0.1" / "dataset_info.json").read_text())
    assert info["fileFormat"] == "array_record" and info["version"] == "3.0.1"
    assert [int(n) for split in info["splits"] for n in split["shardLengths"]] == [60000, 10000]
    via_tfds = data.load("fashion_mnist", tmp_path, source="tfds")
    assert via_tfds.source == f"tensorflow-datasets {folder} (array_record)"
    _same_examples(via_tfds, data.load("fashion_mnist", SHARED, source="files"))
    # TFDS's own reader (its own image decoding) sees the same examples, in the same order
    train = tfds.data_source("fashion_mnist", data_dir=tmp_path, split="train", download=False)
    for i in (0, 59999):
        np.testing.assert_array_equal(train[i]["image"] / np.float32(255), via_tfds.x_train[i])
        assert train[i]["label"] == via_tfds.y_train[i]
    if not tensorflow_before:
        assert "tensorflow" not in sys.modules


def test_small_mnist_through_tfds(tmp_path, tfds):
    _write_mnist(tmp_path / "raw")
    folder = pathlib.Path(data.prepare_tfds("mnist", tmp_path / "raw", tmp_path / "tfds",
                                            verify=False))
    written = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    via_tfds = data.load("mnist", tmp_path / "tfds", source="tfds", verify=False)
    _same_examples(via_tfds, data.load("mnist", tmp_path / "raw", verify=False))
    assert via_tfds.num_classes == 10 and via_tfds.x_train.shape == (30, 28, 28, 1)
    # prepared already: left as it is
    assert data.prepare_tfds("mnist", tmp_path / "raw", tmp_path / "tfds", verify=False) == \
        str(folder)
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == written
    # without published files there, load's default goes on to the TFDS data dir
    assert data.load("mnist", tmp_path / "tfds", verify=False).source == via_tfds.source
    with pytest.raises(ValueError, match=re.escape(f"{folder}: train has 30 examples, the "
                                                   "published mnist has 60000")):
        data.load("mnist", tmp_path / "tfds", source="tfds")
    with pytest.raises(ValueError, match="mnist: no data found"):
        data.load("mnist", tmp_path / "tfds", source="files")


def test_cifar_tfds_data_dir_in_rgb(tmp_path, tfds):
    # CIFAR's TFDS builder needs TensorFlow; a tiny data dir written the way it writes one
    from PIL import Image

    rng = np.random.default_rng(2)
    x = {"train": rng.integers(0, 256, (5, 32, 32, 3), np.uint8),
         "test": rng.integers(0, 256, (3, 32, 32, 3), np.uint8)}
    y = {"train": rng.integers(0, 10, 5), "test": rng.integers(0, 10, 3)}
    registered = tfds.builder_cls("cifar10")

    def png(image):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue()

    class Tiny(registered, skip_registration=True):
        name = registered.name

        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(split) for split in x}

        def _generate_examples(self, split):
            for i in range(len(x[split])):
                yield i, {"id": f"{split}_{i:05d}", "image": png(x[split][i]),
                          "label": int(y[split][i])}

    Tiny(data_dir=tmp_path, file_format="array_record").download_and_prepare(
        download_dir=tmp_path / "downloads",
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    ds = data.load("cifar10", tmp_path, source="tfds", verify=False)
    expected = data.Dataset("cifar10", x["train"] / np.float32(255), y["train"].astype(np.int32),
                            x["test"] / np.float32(255), y["test"].astype(np.int32), 10, "")
    _same_examples(ds, expected)
    with pytest.raises(ValueError, match="train has 5 examples, the published cifar10 has 50000"):
        data.load("cifar10", tmp_path, source="tfds")


def test_tfds_errors_say_what_to_do(tmp_path, monkeypatch, tfds):
    monkeypatch.delenv("JAXLR_DATA_DIR", raising=False)
    with pytest.raises(ValueError) as e:
        data.load("mnist", tmp_path, source="tfds")
    assert str(e.value) == (f"mnist: no TFDS dataset mnist prepared in {tmp_path}; build it from "
                            "the published files, without TensorFlow, with "
                            f"jaxlr.data.prepare_tfds('mnist', RAW_DIR, '{tmp_path}')")
    with pytest.raises(ValueError) as e:
        data.load("cifar100", tmp_path, source="tfds")
    assert str(e.value) == (f"cifar100: no TFDS dataset cifar100 prepared in {tmp_path}; build it "
                            "with TFDS's own builder, which needs TensorFlow: tfds build cifar100 "
                            f"--file_format array_record --data_dir {tmp_path}")
    with pytest.raises(ValueError, match=r"prepare_tfds: builds fashion_mnist and mnist from their "
                                         r"published files; for cifar10: .*tfds build cifar10"):
        data.prepare_tfds("cifar10", tmp_path, tmp_path)
    with pytest.raises(ValueError, match=r"prepare_tfds: no MNIST files found \(looked in "):
        data.prepare_tfds("mnist", tmp_path, tmp_path)
    with pytest.raises(ValueError, match="ionosphere is not a TFDS dataset; it ships with jaxlr"):
        data.load("ionosphere", source="tfds")
    with pytest.raises(ValueError, match="source must be 'files', 'tfds' or None"):
        data.load("mnist", tmp_path, source="tensorflow")
    assert not list(tmp_path.iterdir())  # none of it wrote anything


def test_tfds_not_installed_names_the_extra(tmp_path, monkeypatch):
    find_spec = data.importlib.util.find_spec
    for missing in ("tensorflow_datasets", "array_record", "importlib_resources"):
        monkeypatch.setattr(data.importlib.util, "find_spec",
                            lambda module, missing=missing: None if module == missing
                            else find_spec(module))
        needs = ("TFDS data needs tensorflow-datasets, array_record and importlib_resources "
                 f"({missing} is not installed): pip install 'jaxlr[tfds]' (no TensorFlow "
                 "needed)")
        with pytest.raises(ValueError) as e:
            data.prepare_tfds("fashion_mnist", tmp_path, tmp_path)
        assert str(e.value) == f"jaxlr.data.prepare_tfds: {needs}"
        if missing == "importlib_resources":  # needed to write only
            continue
        with pytest.raises(ValueError) as e:
            data.load("fashion_mnist", tmp_path, source="tfds")
        assert str(e.value) == f"jaxlr.data.load: {needs}"
        with pytest.raises(ValueError, match="mnist: no data found .*pip install 'jaxlr.tfds.'"):
            data.load("mnist", tmp_path)  # the default source: the files, and no TFDS to try
