"""The picked sample's nearest samples in latent space (explorer.compare.neighbours), shown as their original images
with their ids, classes and distances."""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn

from explorer.compare.neighbours import nearest_samples
from explorer.images import tile, to_png
from explorer.latent.state import LatentState
from explorer.latent.traversal import GRID_TILE
from vaemodels import DatasetUnavailable, load_samples, to_uint8, upscale_factor

PICK_FIRST = "Pick a sample in the focus plot to see its nearest samples in latent space."


class NeighboursView(pn.viewable.Viewer):
    """k nearest samples of the picked one (Euclidean on the means), as originals with id, class and distance."""

    def __init__(self, state: LatentState, data_dir: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.state, self.data_dir = state, data_dir
        self.k = pn.widgets.IntInput(label="k", value=8, start=1, end=32, width=90)
        self.pane = pn.pane.PNG(None, css_classes=["ls-neighbours"])
        self.message = pn.pane.Markdown(PICK_FIRST)
        self.rows: np.ndarray = np.empty(0, np.int64)
        self.distances: np.ndarray = np.empty(0)
        self.k.param.watch(lambda *_: self.refresh(), "value")
        state.param.watch(self.refresh, ["current_row", "trial_version", "mode", "n_components"])

    def refresh(self, *_: Any) -> None:
        """Find and show the neighbours of the picked sample; clear when none is picked."""
        s = self.state
        if s.trial is None or s.current_row is None:
            self.rows, self.pane.object, self.message.object = np.empty(0, np.int64), None, PICK_FIRST
            return
        k = min(int(self.k.value), len(s.mu) - 1)
        if k < 1:
            self.message.object = "The trial has one sample: it has no neighbours."
            return
        self.rows, self.distances = nearest_samples(s.mu, s.current_row, k)
        ids, labels = s.latents["sample"].to_numpy()[self.rows], s.labels[self.rows]
        captions = ", ".join(
            f"{i + 1}. sample {sample} (class {s.class_name(label)}, distance {distance:.3g})"
            for i, (sample, label, distance) in enumerate(zip(ids, labels, self.distances, strict=True))
        )
        picked = s.latents["sample"].iloc[s.current_row]
        try:
            images = to_uint8(self._originals(self.rows))
        except (DatasetUnavailable, OSError, ValueError) as error:
            self.pane.object = None
            self.message.object = f"Nearest to sample {picked}: {captions}. The originals cannot be shown: {error}"
            return
        self.pane.object = to_png(tile(images, 1, len(images)), upscale_factor(images.shape[1], GRID_TILE))
        self.message.object = f"Nearest to sample {picked} in z, left to right: {captions}."

    def _originals(self, rows: np.ndarray) -> np.ndarray:
        s = self.state
        config = s.trial.config if self.data_dir is None else s.trial.config.replace(data_dir=str(self.data_dir))
        factors = s.latents[s.factor_names].to_numpy()[rows] if s.factor_names else None
        return load_samples(config, s.latents["sample"].to_numpy()[rows], factors)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.k, self.message, self.pane)
