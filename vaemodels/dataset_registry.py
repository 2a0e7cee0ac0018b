"""The dataset registry: one DatasetSpec a dataset, light enough for `latentsweep --help` (no torch, no pyarrow).

Everything the code asks about a dataset by name is a field here; the loaders are "module:function" references,
imported only when data is loaded, so that reading the registry never pulls in torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DATASETS", "DatasetSpec", "register_dataset", "resolve_loader"]


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

    def __post_init__(self) -> None:
        """Reject specs that would fail later and far away (a plugin's typo, a factor without a size)."""
        if not self.image_sizes:
            raise ValueError(f"dataset {self.name!r} needs at least one image size")
        if len(self.factor_sizes) != len(self.factor_names):
            raise ValueError(
                f"dataset {self.name!r} has {len(self.factor_names)} factor names but {len(self.factor_sizes)} sizes"
            )
        for reference in (self.loader, self.sample_loader):
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
    )
)


_plugins_loaded = False


def load_plugins() -> None:
    """Register the datasets of installed plugins (the `latentsweep.datasets` entry points), once.

    vaemodels.config calls it when first imported, as for architectures; a clash is skipped with a warning.
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
