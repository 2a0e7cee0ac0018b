"""The dataset registry: one DatasetSpec a dataset, light enough for `latentsweep --help` (no torch, no pyarrow).

Everything the code asks about a dataset by name is a field here; the loaders are "module:function" references,
imported only when data is loaded, so that reading the registry never pulls in torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaemodels.factor_npz_format import layout_problem, refuse, value_names

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "factor_npz_spec",
    "register_dataset",
    "register_factor_npz",
    "resolve_loader",
    "unknown_dataset",
]


@dataclass(frozen=True)
class DatasetSpec:
    """What the code needs to know about a dataset before any data is loaded, and how to load it."""

    name: str
    channels: int
    num_classes: int  # labels are 0 .. num_classes - 1
    label_description: str  # what the label is, for axis titles and docs
    image_sizes: tuple[int, ...]  # allowed sizes; the first is the default
    # "module:function" called as loader(spec, config, download) -> vaemodels.datasets.Dataset.
    loader: str
    # "module:function" called as sample_loader(spec, config, sample_ids, factors) -> (n, C, H, W) float32;
    # None when the originals cannot be reloaded from a `sample` id.
    sample_loader: str | None = None
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()  # grid size of each factor, in factor_names order
    default_n_samples: int | None = None  # None: the whole dataset
    torchvision_name: str | None = None  # its torchvision.datasets class, also its folder <data_dir>/<name>/raw
    data_file: str | None = None  # the one file holding the whole dataset (factor_npz), read instead of data_dir
    # "module:function" called as oracle(spec, config) -> vaemodels.scores.FactorOracle: fresh observations of any
    # factor values (what the BetaVAE and FactorVAE scores sample); None when the dataset cannot give them.
    oracle: str | None = None
    # Why a dataset with factors has no oracle, for the line that says so where its BetaVAE and FactorVAE stay empty
    # (a factor_npz file that is not a full factorial); None when it has one or says nothing.
    no_oracle_reason: str | None = None
    label_names: tuple[str, ...] = ()  # the name of each label value 0 .. num_classes - 1; () for none
    # Each factor's value names (value v is names[v]), in factor_names order, () for a factor without them; () for none.
    factor_value_names: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        """Reject specs that would fail later and far away (a plugin's typo, a factor without a size)."""
        if not self.image_sizes:
            raise ValueError(f"dataset {self.name!r} needs at least one image size")
        if len(self.factor_sizes) != len(self.factor_names):
            raise ValueError(
                f"dataset {self.name!r} has {len(self.factor_names)} factor names but {len(self.factor_sizes)} sizes"
            )
        if self.oracle is not None and not self.factor_names:
            raise ValueError(f"dataset {self.name!r} has an oracle but no factors for it to sample")
        if self.label_names and len(self.label_names) != self.num_classes:
            raise ValueError(f"dataset {self.name!r} has {self.num_classes} classes but {len(self.label_names)} names")
        if self.factor_value_names and len(self.factor_value_names) != len(self.factor_names):
            raise ValueError(f"dataset {self.name!r} has value names for {len(self.factor_value_names)} factors")
        for reference in (self.loader, self.sample_loader, self.oracle):
            if reference is not None and reference.count(":") != 1:
                raise ValueError(f"dataset {self.name!r}: loader {reference!r} is not of the form 'module:function'")

    @property
    def default_image_size(self) -> int:
        """The image size a config gets when it names none."""
        return self.image_sizes[0]

    @property
    def reloadable(self) -> bool:
        """Whether the original image of a `sample` id can be loaded again (by the explorer, say)."""
        return self.sample_loader is not None

    @property
    def has_oracle(self) -> bool:
        """Whether observations of any factor values can be made (the BetaVAE and FactorVAE scores need it)."""
        return self.oracle is not None

    def value_names(self, column: str) -> tuple[str, ...]:
        """The names of a latents column's integer values (value v is names[v]): `label` or a factor; () for none."""
        if column == "label":
            return self.label_names
        if column in self.factor_names and self.factor_value_names:
            return self.factor_value_names[self.factor_names.index(column)]
        return ()


def resolve_loader(reference: str) -> Callable[..., Any]:
    """The function a "module:function" reference names, importing its module now."""
    module_name, function_name = reference.split(":")
    return getattr(importlib.import_module(module_name), function_name)


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to DATASETS; a name already taken is an error, never a silent replacement."""
    if spec.name in DATASETS:
        raise ValueError(f"dataset {spec.name!r} is already registered; choose another name")
    DATASETS[spec.name] = spec
    return spec


_LOADERS = "vaemodels.datasets"  # where the built-in datasets' loaders live (imports torch)

register_dataset(
    DatasetSpec(
        "shapes",
        channels=1,
        num_classes=3,
        label_description="shape (square, ellipse, heart)",
        image_sizes=(64, 32),
        loader=f"{_LOADERS}:load_shapes",
        sample_loader=f"{_LOADERS}:shapes_samples",
        factor_names=("shape", "scale", "orientation", "pos_x", "pos_y"),
        factor_sizes=(3, 6, 40, 32, 32),  # the dSprites grids that vaemodels/shapes.py renders (a test checks)
        default_n_samples=20_000,
        oracle="vaemodels.oracles:shapes_oracle",
    )
)
register_dataset(
    DatasetSpec(
        "mnist_5k",
        channels=1,
        num_classes=10,
        label_description="digit",
        image_sizes=(28,),
        loader=f"{_LOADERS}:load_mnist_5k",
        sample_loader=f"{_LOADERS}:mnist_5k_samples",
    )
)


def _idx_spec(name: str, label_description: str, torchvision_name: str) -> DatasetSpec:
    """A 28x28 grey dataset read from the four IDX files of torchvision's layout (MNIST and its look-alikes)."""
    return DatasetSpec(
        name,
        channels=1,
        num_classes=10,
        label_description=label_description,
        image_sizes=(28,),
        loader="vaemodels.idx_files:load_idx",
        sample_loader="vaemodels.idx_files:idx_samples",
        torchvision_name=torchvision_name,
    )


register_dataset(_idx_spec("mnist", "digit", "MNIST"))
register_dataset(_idx_spec("fashion_mnist", "clothing class", "FashionMNIST"))
register_dataset(
    DatasetSpec(
        "dsprites",
        channels=1,
        num_classes=3,
        label_description="shape (square, ellipse, heart)",
        image_sizes=(64,),  # the file's own size only: its 737,280 images stay uint8, unresized
        loader="vaemodels.npz_files:load_dsprites",
        sample_loader="vaemodels.npz_files:dsprites_samples",
        factor_names=("shape", "scale", "orientation", "pos_x", "pos_y"),  # the names `shapes` gives the same grids
        factor_sizes=(3, 6, 40, 32, 32),
        oracle="vaemodels.oracles:dsprites_oracle",
    )
)


# ---- factor_npz: a user's .npz of images and factors, registered under its own name with the file's metadata

FACTOR_NPZ_ENV = "LATENTSWEEP_DATASETS"  # NAME=PATH.npz entries, separated by os.pathsep, registered by load_plugins
FACTOR_NPZ_LOADER = "vaemodels.npz_files:load_factor_npz"
_RESERVED_COLUMNS = ("sample", "label", "recon_error")  # latents.parquet's own columns, which a factor must not shadow


def factor_npz_spec(name: str, path: str | Path, label_description: str | None = None) -> DatasetSpec:
    """A DatasetSpec for an .npz of `images` and `factors` (docs/own-data.md; vaemodels.factor_npz_format), read
    without its pixels; a file that could not be trained on raises DatasetFileError naming it and what to change.
    A file of every combination of its factors' values gets an oracle (a lookup by factors), any other the reason."""
    path = Path(path).expanduser().absolute()
    shape, _ = npz_header(path, "images")
    small = _small_arrays(path)
    factors, labels = small["factors"], small.get("labels")
    refuse(path, layout_problem(shape, factors, labels))
    labels = factors[:, 0] if labels is None else labels
    names = tuple(str(n) for n in small["factor_names"]) if "factor_names" in small else None
    names = names or tuple(f"factor_{i}" for i in range(factors.shape[1]))
    sizes = tuple(int(size) + 1 for size in factors.max(axis=0)) if len(factors) else (0,) * factors.shape[1]
    clash = [n for n in names if n in _RESERVED_COLUMNS or n.startswith(("mu_", "logvar_"))]
    if len(set(names)) != len(names) or clash or len(names) != factors.shape[1]:
        refuse(path, f"factor_names {names} must be {factors.shape[1]} distinct names, none of {clash}")
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    label_names, factor_value_names, problem = value_names(small, sizes, num_classes)
    refuse(path, problem)
    reason = _missing_combinations(name, factors, sizes)
    return DatasetSpec(
        name,
        channels=1 if len(shape) == 3 else shape[3],
        num_classes=max(num_classes, len(label_names)),  # a name for a class the file lacks is still a class
        label_description=label_description or ("label" if "labels" in small else names[0]),
        image_sizes=(shape[1],),
        loader=FACTOR_NPZ_LOADER,
        sample_loader="vaemodels.npz_files:factor_npz_samples",
        factor_names=names,
        factor_sizes=sizes,
        data_file=str(path),
        oracle=None if reason else "vaemodels.oracles:factor_npz_oracle",
        no_oracle_reason=reason,
        label_names=label_names,
        factor_value_names=factor_value_names,
    )


_SMALL_KEYS = ("factors", "labels", "factor_names", "label_names", "factor_value_names")


def _small_arrays(path: Path) -> dict[str, Any]:
    """Every array of a factor_npz file but its images, by key; `factors` is required."""
    import numpy as np  # imported here: the registry stays light for `latentsweep --help`

    with np.load(path) as npz:
        if "factors" not in npz.files:
            refuse(path, "it holds no 'factors' array: save one row of integer factor values an image")
        small = {}
        for key in (key for key in _SMALL_KEYS if key in npz.files):
            try:
                small[key] = npz[key]
            except ValueError as error:  # an object array, which numpy will not unpickle
                refuse(path, f"{key} cannot be read ({error}): save it as a numpy array of numbers or str")
    return small


def _missing_combinations(name: str, factors: Any, sizes: tuple[int, ...]) -> str | None:
    """None when factors (N, k) hold every combination of 0 .. size - 1 at least once, else a line saying how many
    they hold (no fresh sample of the factors' grid could be looked up)."""
    import math

    import numpy as np

    total = math.prod(sizes)
    if 0 < total <= len(factors):  # fewer rows than combinations cannot hold them all (nor index them in int64)
        held = np.unique(np.ravel_multi_index(factors.astype(np.int64).T, sizes)).size
    else:
        held = len(np.unique(factors, axis=0))  # (held, k) distinct rows
    if held == total:
        return None
    return f"dataset {name!r} holds {held:,} of its {total:,} factor combinations, so no fresh samples can be drawn"


def register_factor_npz(name: str, path: str | Path, label_description: str | None = None) -> DatasetSpec:
    """Register an .npz of images and factors (see factor_npz_spec) as dataset `name` in this process."""
    return register_dataset(factor_npz_spec(name, path, label_description))


def npz_header(path: Path, key: str) -> tuple[tuple[int, ...], Any]:
    """The shape and dtype of one array in an .npz, from its header alone: the array itself is not decompressed."""
    import zipfile

    from numpy.lib import format as npy

    with zipfile.ZipFile(path) as archive:
        if f"{key}.npy" not in archive.namelist():
            refuse(path, f"it holds no {key!r} array")
        with archive.open(f"{key}.npy") as member:
            version = npy.read_magic(member)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read_header(member)
            return shape, dtype


def unknown_dataset(name: str) -> str:
    """The line for a dataset name nothing registered: what is registered, and how to register a file."""
    return (
        f"dataset={name!r} is unknown; registered: {', '.join(DATASETS)}; to use a factor_npz file, give a sweep "
        f"--dataset-file PATH.npz (a sweep file: dataset: {{file: PATH.npz}}), or set {FACTOR_NPZ_ENV}={name}=PATH.npz"
    )


def _env_factor_npz() -> list[tuple[str, str]]:
    """The NAME=PATH pairs of FACTOR_NPZ_ENV; an entry that is not NAME=PATH is left out with a warning line, and
    only that one (the others still register)."""
    pairs = []
    for entry in filter(None, os.environ.get(FACTOR_NPZ_ENV, "").split(os.pathsep)):
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            print(f"warning: {FACTOR_NPZ_ENV} entry {entry!r} is not NAME=PATH.npz: left out", file=sys.stderr)
            continue
        pairs.append((name, path))
    return pairs


# Datasets FACTOR_NPZ_ENV names whose file cannot be registered, with the line that says why. Kept out of DATASETS,
# so only a command that asks for one of them fails (vaemodels.config names it), never every command or Ray worker.
UNAVAILABLE: dict[str, str] = {}
_plugins_loaded = False


def load_plugins() -> None:
    """Register the datasets of installed plugins (the `latentsweep.datasets` entry points) and of
    LATENTSWEEP_DATASETS, once.

    vaemodels.config calls it when first imported, as for architectures, so in the driver and every Ray worker;
    a plugin's clash is skipped with a warning, an unreadable file recorded in UNAVAILABLE.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import warnings

    from vaemodels import plugins

    for spec in plugins.load_objects(plugins.DATASETS_GROUP):
        try:
            register_dataset(spec)
        except (ValueError, AttributeError) as error:
            warnings.warn(f"dataset plugin {spec!r} is not registered: {error}", stacklevel=2)
    for name, path in _env_factor_npz():
        try:
            register_factor_npz(name, path)
        except Exception as error:  # any unreadable file (BadZipFile, EOFError, ...) is this entry's problem
            UNAVAILABLE.setdefault(name, f"{FACTOR_NPZ_ENV} entry '{name}={path}': {_problem(error)}")


def _problem(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text if isinstance(error, ValueError) else f"{type(error).__name__}: {text}"
