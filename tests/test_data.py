"""Tests of qrepro.data: data sets by name, the ImageFolder cache, and DeviceLoader batches."""

import hashlib
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from qrepro.data import DeviceLoader, ImageData, available, imagefolder, load
from qrepro.data.cifar10 import CLASSES as CIFAR10_CLASSES
from qrepro.data.loader import crop, flip


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load("digits")


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_tree(root: Path, classes=("cat", "ant"), per_class=3, size=(6, 6), ext="png") -> Path:
    """A tiny ImageFolder tree; pixel (0, 0) of each image encodes its class index (label * 100)."""
    for split in ("train", "test"):
        for label, cls in enumerate(sorted(classes)):
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                img = Image.new("RGB", size, (label * 100, 10 * i, 50))
                img.save(root / split / cls / f"{i:04d}.{ext}")
    return root


# --- digits and the registry ---

def test_digits_shapes_and_split(digits):
    assert digits.name == "digits" and digits.train_x.dtype == torch.uint8
    assert tuple(digits.train_x.shape) == (1437, 1, 8, 8) and tuple(digits.test_x.shape) == (360, 1, 8, 8)
    assert digits.train_y.dtype == torch.int64 and digits.num_classes == 10
    assert (digits.in_channels, digits.image_size) == (1, 8)
    assert set(digits.train_y.tolist()) == set(digits.test_y.tolist()) == set(range(10))
    assert int(digits.train_x.max()) == 255
    assert set(torch.unique(digits.train_x).tolist()) <= {round(v * 255 / 16) for v in range(17)}
    assert (digits.crop_pad, digits.flip) == (1, False)


def test_digits_split_is_fixed(digits):
    again = load("digits", root="/ignored")
    assert torch.equal(again.test_x, digits.test_x) and torch.equal(again.train_y, digits.train_y)
    # pinned: a change here (e.g. a new scikit-learn split algorithm) makes old records incomparable
    assert hashlib.sha256(digits.test_x.numpy().tobytes()).hexdigest()[:12] == "de85aee14a95"


def test_digits_stats_are_of_the_train_split(digits):
    x = digits.train_x.double() / 255
    assert digits.mean[0] == pytest.approx(x.mean().item())
    assert digits.std[0] == pytest.approx(x.std(unbiased=False).item())


def test_split_validation(digits):
    val = digits.split_validation(0.1, seed=3)
    assert val.name == "digits-val10" and (len(val.train_x), len(val.test_x)) == (1293, 144)
    assert torch.equal(val.test_x, digits.split_validation(0.1, seed=3).test_x)
    assert not torch.equal(val.test_x, digits.split_validation(0.1, seed=4).test_x)
    rows = {tuple(r) for r in digits.train_x.flatten(1).tolist()}
    assert all(tuple(r) in rows for r in val.test_x.flatten(1).tolist())  # held out from training, not test


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as e:
        load("nope")
    assert all(name in str(e.value) for name in available())
    assert available() == ["digits", "cifar10", "cifar10-jpeg", "imagefolder"]


def test_cifar10_missing_names_download_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as e:
        load("cifar10", root=tmp_path)
    assert f"python -m qrepro data download cifar10 --root {tmp_path.resolve()}" in str(e.value)
    monkeypatch.setenv("QREPRO_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=re.escape(f"--root {tmp_path.resolve() / 'env'}")):
        load("cifar10")


def test_imagedata_rejects_bad_tensors(digits):
    with pytest.raises(ValueError, match="uint8"):
        replace(digits, train_x=digits.train_x.float())
    with pytest.raises(ValueError, match="labels outside"):
        replace(digits, test_y=digits.test_y + 1)


# --- DeviceLoader ---

def test_loader_normalizes(digits):
    x = torch.cat([x for x, _ in DeviceLoader(digits, "train", 100, train=False)])
    assert x.dtype == torch.float32 and x.shape == digits.train_x.shape
    assert abs(x.mean().item()) < 1e-5 and x.std(unbiased=False).item() == pytest.approx(1, abs=1e-5)


def test_loader_test_split_is_plain(digits):
    loader = DeviceLoader(digits, "test", 64)
    assert not loader.train and not loader.drop_last and len(loader) == 6  # ceil(360 / 64)
    batches = list(loader)
    x, y = batches[0]
    assert torch.equal(x, (digits.test_x[:64].float() / 255 - digits.mean[0]) / digits.std[0])
    assert torch.equal(y, digits.test_y[:64])
    assert torch.equal(torch.cat([y for _, y in batches]), digits.test_y)
    with pytest.raises(ValueError):
        DeviceLoader(digits, "test", 64, train=True)


def test_crop_matches_hand_computed():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    offsets = torch.tensor([[0, 3], [2, 2]])
    out = crop(x, offsets, pad=2)
    padded = F.pad(x, (2, 2, 2, 2))
    assert torch.equal(out[0], padded[0, :, 0:5, 3:8])
    assert torch.equal(out[1], x[1])  # offset (pad, pad) is the identity
    assert torch.equal(out[0, :, :2], torch.zeros(3, 2, 5))  # shifted down: zero rows on top


def test_flip_flips_where_masked():
    x = torch.randn(3, 2, 4, 4)
    out = flip(x, torch.tensor([True, False, True]))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    assert torch.equal(out[2, :, :, 0], x[2, :, :, -1])


def test_train_loader_augments_and_shuffles(digits):
    loader = DeviceLoader(digits, "train", 100, seed=1)
    assert loader.train and loader.drop_last and len(loader) == 14
    x, y = next(iter(loader))
    assert x.shape == (100, 1, 8, 8) and not torch.equal(y, digits.train_y[:100])
    assert (x == 0).any()  # zero padding of the crops shows up in some images


def test_labels_stay_with_their_images():
    """Shuffled, cropped and flipped batches: each image still shows its own label in the middle."""
    y = torch.arange(100) % 10
    x = (y * 20).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 8, 8).contiguous()
    data = ImageData("toy", x, y, x, y, tuple("abcdefghij"), (0.5,), (0.25,), crop_pad=2, flip=True)
    for xb, yb in DeviceLoader(data, "train", 32, drop_last=False):
        expected = ((yb * 20).float() / 255 - 0.5) / 0.25
        assert torch.allclose(xb[:, 0, 2:6, 2:6], expected.view(-1, 1, 1).expand(-1, 4, 4))


def test_same_seed_same_batches_and_epochs_differ(digits):
    a, b = DeviceLoader(digits, "train", 128, seed=7), DeviceLoader(digits, "train", 128, seed=7)
    first_a, first_b = list(a), list(b)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(first_a, first_b))
    second_a = list(a)
    assert not torch.equal(first_a[0][1], second_a[0][1])
    assert not torch.equal(first_a[0][0], list(DeviceLoader(digits, "train", 128, seed=8))[0][0])


def test_state_dict_resumes_exact_batches(digits):
    loader = DeviceLoader(digits, "train", 256, seed=3)
    list(loader)
    state = loader.state_dict()
    expected = list(loader)
    resumed = DeviceLoader(digits, "train", 256, seed=3)
    resumed.load_state_dict(state)
    assert all(torch.equal(x, rx) and torch.equal(y, ry) for (x, y), (rx, ry) in zip(expected, resumed))


def test_channels_last(digits):
    x, _ = next(iter(DeviceLoader(digits, "train", 32, channels_last=True)))
    assert x.is_contiguous(memory_format=torch.channels_last)


# --- ImageFolder and cifar10-jpeg ---

def test_imagefolder_labels_and_cache(tmp_path, cache_home, monkeypatch):
    root = make_tree(tmp_path / "tree")
    data = load("imagefolder", root=root)
    assert data.classes == ("ant", "cat") and data.name == "imagefolder"
    assert tuple(data.train_x.shape) == (6, 3, 6, 6) and data.train_x.dtype == torch.uint8
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.equal(data.train_x[:, 0, 0, 0], data.train_y * 100)  # label follows the sorted folder
    assert data.train_x[1, 1, 0, 0] == 10  # files in sorted order within a class
    cached = list((cache_home / "qrepro").glob("imagefolder-*.pt"))
    assert len(cached) == 1 and not list((cache_home / "qrepro").glob("*.tmp"))

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(imagefolder, "decode", no_decode)
    again = load("imagefolder", root=root)
    assert torch.equal(again.train_x, data.train_x) and again.mean == data.mean
    Image.new("RGB", (6, 6)).save(root / "train" / "ant" / "0009.png")  # a changed tree is decoded again
    with pytest.raises(AssertionError, match="decoded although cached"):
        load("imagefolder", root=root)


def test_imagefolder_jpeg(tmp_path):
    data = load("imagefolder", root=make_tree(tmp_path / "tree", ext="jpg", size=(8, 8)))
    assert tuple(data.test_x.shape) == (6, 3, 8, 8) and data.image_size == 8


def test_imagefolder_mixed_sizes_error(tmp_path):
    root = make_tree(tmp_path / "tree")
    Image.new("RGB", (7, 6)).save(root / "test" / "cat" / "0005.png")
    with pytest.raises(ValueError, match="share one size") as e:
        load("imagefolder", root=root)
    assert "0005.png" in str(e.value)


def test_imagefolder_missing_root_and_splits(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "absent"))):
        load("imagefolder", root=tmp_path / "absent")
    (tmp_path / "half" / "train" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no test/ folder"):
        load("imagefolder", root=tmp_path / "half")
    with pytest.raises(ValueError, match="root"):
        load("imagefolder")


def test_cifar10_jpeg_checks_class_order(tmp_path):
    data = load("cifar10-jpeg", root=make_tree(tmp_path / "good", classes=CIFAR10_CLASSES, per_class=1))
    assert data.name == "cifar10-jpeg" and data.classes == CIFAR10_CLASSES and data.train_y.tolist() == list(range(10))
    wrong = make_tree(tmp_path / "bad", classes=CIFAR10_CLASSES[:9] + ("lorry",), per_class=1)
    with pytest.raises(ValueError, match="lorry"):
        load("cifar10-jpeg", root=wrong)


def test_cifar10_jpeg_default_root_is_inside_the_repository():
    import qrepro.data

    assert qrepro.data.DEFAULT_CIFAR10_JPEG == Path(__file__).resolve().parents[1] / "data" / "cifar10-jpeg"


def test_cifar10_jpeg_root_order(tmp_path, monkeypatch):
    """An explicit root, then $QREPRO_CIFAR10_JPEG, then the default <repository>/data/cifar10-jpeg."""
    import qrepro.data
    from qrepro.data import _cifar10_jpeg_root

    default, env = tmp_path / "default", tmp_path / "env"
    default.mkdir()
    env.mkdir()
    monkeypatch.setattr(qrepro.data, "DEFAULT_CIFAR10_JPEG", default)
    monkeypatch.delenv("QREPRO_CIFAR10_JPEG", raising=False)
    assert _cifar10_jpeg_root(None) == default
    monkeypatch.setenv("QREPRO_CIFAR10_JPEG", str(env))
    assert _cifar10_jpeg_root(None) == env
    assert _cifar10_jpeg_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.setenv("QREPRO_CIFAR10_JPEG", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="QREPRO_CIFAR10_JPEG=.*nowhere is not a folder"):
        _cifar10_jpeg_root(None)


def test_cifar10_jpeg_without_data_says_what_to_do(tmp_path, monkeypatch):
    import qrepro.data

    monkeypatch.setattr(qrepro.data, "DEFAULT_CIFAR10_JPEG", tmp_path / "data" / "cifar10-jpeg")
    monkeypatch.delenv("QREPRO_CIFAR10_JPEG", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        load("cifar10-jpeg")
    message = str(err.value)
    assert "QREPRO_CIFAR10_JPEG=/path/to/cifar10-jpeg" in message
    assert f"symlink) the ImageFolder tree (train/<class>/*.jpg, test/<class>/*.jpg) at {tmp_path}" in message
    assert "--data cifar10, read through torchvision" in message


def test_cifar10_jpeg_found_by_the_package_is_complete():
    """Only lists the tree (a full decode takes a while): the data the package finds by itself, through
    $QREPRO_CIFAR10_JPEG or <repository>/data/cifar10-jpeg, is the whole CIFAR-10 in class order."""
    import qrepro.data
    from qrepro.data import _cifar10_jpeg_root

    if not os.environ.get("QREPRO_CIFAR10_JPEG") and not qrepro.data.DEFAULT_CIFAR10_JPEG.is_dir():
        pytest.skip(f"no cifar10-jpeg here: QREPRO_CIFAR10_JPEG is not set and {qrepro.data.DEFAULT_CIFAR10_JPEG} "
                    "does not exist")
    root = _cifar10_jpeg_root(None)  # a QREPRO_CIFAR10_JPEG that names no folder fails here, it does not skip
    classes, files = imagefolder._list_tree(root)
    assert classes == CIFAR10_CLASSES and (len(files["train"]), len(files["test"])) == (50000, 10000)
