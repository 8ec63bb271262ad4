"""Datasets: real files from ../shared/data where present; small published-format files otherwise."""

import gzip
import io
import os
import pathlib
import pickle
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
    monkeypatch.delenv("JAXLR_DATA_DIR", raising=False)
    import importlib.util

    if importlib.util.find_spec("tensorflow_datasets") is not None:
        pytest.skip("tensorflow-datasets is installed: it would be tried instead")
    with pytest.raises(ValueError, match=r"cifar-10-python.tar.gz.*cifar-10-batches-bin"):
        data.load("cifar10", tmp_path)
    with pytest.raises(ValueError, match="pass data_dir"):
        data.load("mnist")


def test_unknown_name():
    with pytest.raises(ValueError, match="name must be one of"):
        data.load("imagenet")


def test_tfds_path():
    tfds = pytest.importorskip("tensorflow_datasets",
                               reason="tensorflow-datasets (and tensorflow) not installed")
    pytest.importorskip("tensorflow", reason="TFDS needs tensorflow to load")
    if not (SHARED / "fashion_mnist").is_dir():
        pytest.skip("no raw Fashion-MNIST files to prepare a TFDS dir from")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        builder = tfds.builder("fashion_mnist", data_dir=d)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(SHARED / "fashion_mnist")))
        ds = data._load_tfds("fashion_mnist", d)
        assert ds.x_train.shape == (60000, 28, 28, 1)
