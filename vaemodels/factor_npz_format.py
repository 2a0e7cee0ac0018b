"""What a factor_npz file must hold, and the one line that says what is wrong with one that does not.

The format (docs/own-data.md): `images` (N, H, H) or (N, H, H, C) channels last, uint8 0..255 or float in [0, 1];
`factors` (N, k) integer value indices >= 0; optional `labels` (N,) integers >= 0 (default: the first factor),
`factor_names` (k,) str, `label_names` (one str a label value) and `factor_value_names` (k, m) str, a row a factor,
padded with "". The registry checks what it reads without the pixels (vaemodels.dataset_registry.factor_npz_spec);
the loader checks the pixels too (vaemodels.npz_files). Light: numpy only, imported by the registry's callers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from vaemodels.errors import DatasetFileError

if TYPE_CHECKING:
    import numpy as np


def refuse(path: Path, problem: str | None) -> None:
    """Raise the one line naming the file and what is wrong with it, if anything is."""
    if problem is not None:
        raise DatasetFileError(f"{path}: {problem}")


_INDICES = "np.unique(column, return_inverse=True)[1] turns a column's values into 0, 1, 2, ..."


def layout_problem(images_shape: tuple[int, ...], factors: np.ndarray, labels: np.ndarray | None) -> str | None:
    """What is wrong with the arrays' shapes and dtypes, and what to save instead; None when nothing is.

    `images_shape` is the shape as saved; labels None when the file has none (the first factor serves).
    """
    import numpy as np

    n = images_shape[0] if images_shape else 0
    checks = (  # in order, each looked at only when those before it passed
        lambda: _images_problem(images_shape),
        lambda: factors.ndim != 2 and f"factors {factors.shape} must be (N, k): for one factor save factors[:, None]",
        lambda: len(factors) != n and f"factors has {len(factors)} rows but images has {n}: save one row an image",
        lambda: (
            labels is not None
            and labels.shape != (n,)
            and f"labels {labels.shape} does not hold one value for each of the {n} images: save labels of shape ({n},)"
        ),
        lambda: (
            not np.issubdtype(factors.dtype, np.integer)
            and f"factors are {factors.dtype}, not integers: save each factor as its value's index 0, 1, 2, ... "
            f"(as an integer array; {_INDICES}), and its values' names in factor_value_names"
        ),
        lambda: (
            labels is not None
            and not np.issubdtype(labels.dtype, np.integer)
            and f"labels are {labels.dtype}, not integers: save each label as its class index 0, 1, 2, ... "
            f"({_INDICES}), and the classes' names in label_names"
        ),
        lambda: _negative(factors, "factors") or (labels is not None and _negative(labels, "labels")),
    )
    return next((problem for check in checks if (problem := check())), None)


def _images_problem(shape: tuple[int, ...]) -> str | None:
    """Grey (N, H, H) or channels-last (N, H, H, C) images, or what is wrong with their shape."""
    if len(shape) == 4 and shape[1] in (1, 3, 4) and shape[2] == shape[3] and shape[3] not in (1, 3, 4):
        grey = " (or images[:, 0] for grey ones)" if shape[1] == 1 else ""
        return (
            f"images {shape} are channels first; the file holds them channels last, (N, H, W, C): "
            f"save images.transpose(0, 2, 3, 1){grey}"
        )
    if len(shape) not in (3, 4):
        return f"images {shape} must be (N, H, W) grey or (N, H, W, C) channels last"
    if shape[1] != shape[2]:
        return f"images {shape} are {shape[1]}x{shape[2]}, not square: crop or pad them to H = W"
    if not network_takes(shape[1]):
        return (
            f"images are {shape[1]}x{shape[1]}, a size no network takes: resize them to one that halves to 8 or "
            "less through even numbers (16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, ...)"
        )
    return None


def network_takes(size: int) -> bool:
    """Whether the conv network can take images of this size: halving it reaches 8 or less through even numbers
    (vaemodels.networks.conv_body's rule; the other nets take 28 and 64 only, which it takes too)."""
    while size > 8 and size % 2 == 0:
        size //= 2
    return size <= 8


def _negative(values: np.ndarray, name: str) -> str | None:
    if values.size and values.ndim and values.min() < 0:
        return f"{name} hold {values.min()}: value indices start at 0 (no -1 for 'unknown')"
    return None


def pixel_problem(images: np.ndarray) -> str | None:
    """What is wrong with float images (values outside [0, 1], NaN), read as float32; None when nothing is.

    Costs one pass of min and one of max: some 2.5 s for 700,000 64x64 grey images as float32 (11.5 GB) on one
    core here (0.2 s/GB), beside the tens of seconds their reading takes; uint8 images need neither.
    """
    if not images.size:
        return None
    low, high = float(images.min()), float(images.max())  # NaN anywhere makes both NaN
    if low >= 0.0 and high <= 1.0:
        return None
    if math.isnan(low):
        return "images hold NaN values: replace them (np.nan_to_num) or leave those images out"
    return (
        f"images hold values from {low:g} to {high:g}, outside [0, 1] (as float, the model reads them as "
        "intensities in [0, 1]): save uint8 0..255 images as np.uint8, or divide float ones by their maximum"
    )


def value_names(
    file: dict[str, np.ndarray], factor_sizes: tuple[int, ...], num_labels: int
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], str | None]:
    """(label_names, factor_value_names, problem) from a file's optional `label_names` and `factor_value_names`;
    `file` holds whichever of the two it has. A row of factor_value_names all "" names no values of its factor."""
    labels = _strings(file, "label_names", 1)
    rows = _strings(file, "factor_value_names", 2)
    if isinstance(labels, str) or isinstance(rows, str):
        return (), (), labels if isinstance(labels, str) else rows
    if labels and len(labels) < num_labels:
        return (), (), f"label_names holds {len(labels)} names but labels go up to {num_labels - 1}: name each value"
    if rows and len(rows) != len(factor_sizes):
        return (), (), f"factor_value_names has {len(rows)} rows, not one for each of the {len(factor_sizes)} factors"
    trimmed = tuple(_trim(row) for row in rows)
    short = [i for i, (row, size) in enumerate(zip(trimmed, factor_sizes, strict=False)) if row and len(row) < size]
    if short:
        i = short[0]
        problem = f"factor_value_names row {i} names {len(trimmed[i])} values but factor {i} has {factor_sizes[i]}"
        return (), (), problem
    return labels, trimmed if any(trimmed) else (), None


def _strings(file: dict[str, np.ndarray], key: str, ndim: int) -> tuple | str:
    """The key's strings as nested tuples (() when absent), or the line saying why they are not strings."""
    if key not in file:
        return ()
    array = file[key]
    if array.dtype.kind not in "US" or array.ndim != ndim:
        shape = "1-D, one name a label value" if ndim == 1 else '2-D, a row of names a factor, padded with ""'
        return f"{key} must be an array of str, {shape}; got {array.dtype} {array.shape}"
    text = array.astype(str)
    return tuple(text.tolist()) if ndim == 1 else tuple(tuple(row) for row in text.tolist())


def _trim(row: tuple[str, ...]) -> tuple[str, ...]:
    """A row of value names without its trailing "" padding."""
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row[:end]
