"""The picked sample: original image, reconstruction, its coordinates beside its class's mean and std."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import panel as pn

from explorer.images import to_png
from explorer.latent.state import LatentState
from vaemodels import DatasetUnavailable, decode, load_samples, to_uint8, upscale_factor

PICK_A_SAMPLE = "Click a point in the focus plot to see that sample."


class SampleInfoView(pn.viewable.Viewer):
    """The picked sample: original image, reconstruction, its coordinates beside its class's mean and std."""

    def __init__(self, state: LatentState, data_dir: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.data_dir = data_dir
        self.original = pn.pane.PNG(None, css_classes=["ls-original"], width=112, height=112)
        self.reconstruction = pn.pane.PNG(None, css_classes=["ls-reconstruction"], width=112, height=112)
        self.message = pn.pane.Markdown(PICK_A_SAMPLE)
        self.table = pn.pane.DataFrame(None, css_classes=["ls-info"], index=True, float_format="{:.3f}".format)
        self.latent_table = pn.pane.DataFrame(None, index=True, float_format="{:.3f}".format, visible=False)
        self.original_image: np.ndarray | None = None
        state.param.watch(self.refresh, ["current_row", "trial_version", "mode", "n_components", "label"])

    def refresh(self, *_: Any) -> None:
        """Show the picked sample (or the decoder's class statistics when none is picked)."""
        s = self.state
        if s.trial is None:
            return
        row = s.current_row
        label = int(s.labels[row]) if row is not None else s.label
        has_class = bool((s.labels == label).any())
        mean, std = s.class_statistics(label if has_class else None)
        whose = f"class {s.class_name(label)}" if has_class else "all samples"  # which class the statistics describe
        columns = {f"{whose} mean": mean, f"{whose} std": std}
        if row is not None:
            columns = {"sample": s.columns[: s.n_coordinates, row], **columns}
            self._show_images(row)
        else:  # nothing picked in this trial (a new trial clears the pick): no images of another trial's sample
            self.original_image, self.original.object, self.reconstruction.object = None, None, None
            self.message.object = PICK_A_SAMPLE
        self.table.object = pd.DataFrame(columns, index=s.coordinate_names[: s.n_coordinates])
        self.latent_table.visible = s.mode == "pca" and row is not None
        if self.latent_table.visible:
            self.latent_table.object = pd.DataFrame({"z": s.mu[row]}, index=[f"z{i}" for i in range(s.latent_dim)])

    def _show_images(self, row: int) -> None:
        s = self.state
        sample_id, label = int(s.latents["sample"].iloc[row]), int(s.labels[row])
        recon = decode(s.model, s.mu[row], label)[0]
        scale = upscale_factor(recon.shape[0], 112)
        self.reconstruction.object = to_png(recon, scale)
        header = f"**Sample {sample_id}**, class {s.class_name(label)}"
        try:
            self.original_image = to_uint8(self._load_original(row))[0]
            self.original.object = to_png(self.original_image, scale)
            self.message.object = f"{header}: original (left) and reconstruction (right)."
        except (DatasetUnavailable, OSError, ValueError) as error:
            self.original_image, self.original.object = None, None
            self.message.object = f"{header}. The original image cannot be shown: {error}"

    def _load_original(self, row: int) -> np.ndarray:
        """(1, C, H, W) float image of a latents row; shapes are rendered from the row's factor columns."""
        s = self.state
        config = s.trial.config if self.data_dir is None else s.trial.config.replace(data_dir=str(self.data_dir))
        factors = s.latents[s.factor_names].to_numpy()[[row]] if s.factor_names else None
        return load_samples(config, s.latents["sample"].to_numpy()[[row]], factors)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.original, self.reconstruction), self.message, self.table, self.latent_table)
