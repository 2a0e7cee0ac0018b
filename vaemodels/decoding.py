"""Decoding latent points into uint8 images on the CPU, and the whole-factor upscaling that keeps their pixels sharp.

Everything runs with few torch threads: the explorer may serve several sessions at once, and a single small decoder
forward is no faster with more threads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from vaemodels.models import VAE

DECODE_THREADS = 1


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] of shape (B, C, H, W) -> uint8 (B, H, W) for grey, (B, H, W, C) for colour."""
    pixels = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return pixels[:, 0] if pixels.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)


def upscale_factor(size: int, target: int) -> int:
    """The whole factor that brings an image side closest to `target` pixels without exceeding it (at least 1)."""
    return max(1, target // size)


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
