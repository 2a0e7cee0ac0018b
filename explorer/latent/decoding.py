"""Decoding latent points into uint8 images on the CPU.

Everything runs with few torch threads: the explorer may serve several sessions at once, and a single small decoder
forward is no faster with more threads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from explorer.images import to_uint8
from vaemodels import VAE

DECODE_THREADS = 1


@contextmanager
def torch_threads(n: int = DECODE_THREADS) -> Iterator[None]:
    """Run the block with at most n torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    if previous > n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if previous > n:
            torch.set_num_threads(previous)


def cpu_model(model: VAE) -> VAE:
    """The model itself when it is on the CPU, else an eval-mode CPU copy (the trial's own model is left alone)."""
    if next(model.parameters()).device.type == "cpu":
        return model.eval()
    return copy.deepcopy(model).cpu().eval()


def decode(model: VAE, z: np.ndarray, labels: np.ndarray | int | None = None) -> np.ndarray:
    """Images for latent points: (B, d) or (d,) -> uint8 (B, H, W) for grey, (B, H, W, C) for colour."""
    z = np.array(z, dtype=np.float32, ndmin=2)  # a writable copy: torch refuses read-only arrays
    label_tensor = None
    if model.conditions_decoder:  # only a conditional decoder reads the label
        label_values = np.empty(len(z), np.int64)  # (B,): one label for all, or one a point
        label_values[:] = 0 if labels is None else labels
        label_tensor = torch.from_numpy(label_values)
    with torch_threads(), torch.inference_mode():
        images = model.decode_image(torch.from_numpy(z), label_tensor)  # (B, C, H, W) in [0, 1]
    return to_uint8(images.float().numpy())
