"""A second trial beside the first in the latent workbench: its SPLOM and decoded image, following the first.

Sample ids denote the same image only when both trials have the same data settings and data_seed
(explorer.compare.matching.sample_sharing). Then the second trial shows the pair of dimensions matched to the
first's (Hungarian assignment on the absolute correlation of their means), the same selection of samples, and
decodes the sample picked in the first; and the page gives the neighbourhood-preservation score for k chosen by the
person. Otherwise it says what differs and shows the second trial on its own, with no shared selection.

With equal latent sizes, an overlay shows both trials' shared samples in the first's current coordinates, the
second rotated onto the first by orthogonal Procrustes, so that what the rotation cannot undo stays visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.plotting import figure

from explorer.compare.matching import (
    DimMatch,
    match_dimensions,
    neighbourhood_preservation,
    procrustes_align,
    sample_sharing,
    shared_rows,
)
from explorer.latent.decoded_view import DecodedView
from explorer.latent.splom_view import SplomView
from explorer.latent.state import LatentState

NO_COMPARISON = "(none)"
OVERLAY_POINTS = 3_000  # shared samples drawn in the Procrustes overlay (a seeded subsample beyond that)
Loader = Callable[[str], tuple[Any, pd.DataFrame]]  # trial id -> (LoadedTrial, latents)


class CompareView(pn.viewable.Viewer):
    """Pick a second trial; it follows the first trial's coordinates, selection and picked sample."""

    def __init__(self, primary: LatentState, load: Loader, **params: Any) -> None:
        super().__init__(**params)
        self.primary, self.load = primary, load
        self.state = LatentState()
        self.splom = SplomView(self.state)
        self.decoded = DecodedView(self.state)
        self.trial = pn.widgets.Select(label="Compare with", options=[NO_COMPARISON], width=220)
        self.k = pn.widgets.IntInput(label="k (neighbours)", value=10, start=1, end=200, width=120)
        self.message = pn.pane.Markdown("", css_classes=["ls-compare-note"])
        self.align = pn.widgets.Checkbox(label="Overlay aligned by Procrustes", value=False)
        self.overlay = pn.pane.Bokeh(None)
        # Shown and hidden as a column: a Bokeh pane takes its own visibility over from the figures it is given.
        self.overlay_box = pn.Column(self.overlay, visible=False, css_classes=["ls-procrustes"])
        self.residual: float | None = None
        self.match: DimMatch | None = None
        self.rows: tuple[np.ndarray, np.ndarray] | None = None  # rows of the shared samples in (first, second)
        self.score: float | None = None
        self.body = pn.Row(self.splom, self.decoded, self.overlay_box, css_classes=["ls-compare"])
        self.controls = pn.Row(self.trial, self.k, self.align, css_classes=["ls-compare-controls"])
        self.layout = pn.Column(self.controls, self.message, sizing_mode="stretch_width")
        self.trial.param.watch(lambda event: self.compare_with(event.new), "value")
        self.k.param.watch(lambda *_: self._score(), "value")
        self.align.param.watch(lambda *_: self.draw_overlay(), "value")
        primary.param.watch(self._follow, ["dims", "selection", "current_row", "trial_version", "mode"])
        primary.param.watch(lambda *_: self.draw_overlay(), ["dims", "mode"])

    def set_options(self, trial_ids: list[str], shown: str | None) -> None:
        """The trials that can be compared with the shown one (itself left out)."""
        options = [NO_COMPARISON, *(t for t in trial_ids if t != shown)]
        self.trial.options = options
        if self.trial.value not in options:
            self.trial.value = NO_COMPARISON

    def compare_with(self, trial_id: str | None) -> None:
        """Load the second trial and line it up with the first; (none) removes it."""
        if trial_id in (None, NO_COMPARISON) or self.primary.trial is None:
            self.match, self.rows, self.score = None, None, None
            self.message.object = ""
            self.draw_overlay()
            self.layout[:] = [self.controls, self.message]
            return
        trial, latents = self.load(trial_id)
        self.state.set_trial(trial, latents)
        sharing = sample_sharing(self.primary.trial.config.to_dict(), trial.config.to_dict())
        self.rows = None
        if sharing.shared:
            rows = shared_rows(self.primary.latents["sample"].to_numpy(), latents["sample"].to_numpy())
            self.rows = rows if len(rows[0]) > 1 else None
        if self.rows is not None:
            self.match = match_dimensions(self.primary.mu[self.rows[0]], self.state.mu[self.rows[1]])
        else:
            self.match = None
        self._score()
        self._follow()
        self.draw_overlay()
        self.layout[:] = [self.controls, self.message, self.body]

    def matched_dims(self, dims: list[int]) -> list[int]:
        """The second trial's partners of the first trial's latent dimensions (unpaired ones left out)."""
        if self.match is None:
            return dims
        partner = dict(zip(self.match.a_dims.tolist(), self.match.b_of_a.tolist(), strict=True))
        return [partner[d] for d in dims if d in partner]

    def _score(self) -> None:
        if self.primary.trial is None or self.state.trial is None:
            return
        what = f"**{self.state.trial.path.name}** beside **{self.primary.trial.path.name}**. "
        if self.rows is None:
            config_a, config_b = self.primary.trial.config.to_dict(), self.state.trial.config.to_dict()
            self.score = None
            self.message.object = (
                what
                + sample_sharing(config_a, config_b).describe()
                + (" Each trial's own statistics are shown; no selection or sample is carried over.")
            )
            return
        n = len(self.rows[0])
        k = min(int(self.k.value), n - 1)
        self.score = neighbourhood_preservation(self.primary.mu[self.rows[0]], self.state.mu[self.rows[1]], k)
        pairs = ", ".join(
            f"z{a}→z{b} ({c:+.2f})"
            for a, b, c in zip(self.match.a_dims, self.match.b_of_a, self.match.correlation, strict=True)
        )
        self.message.object = what + (
            f"Both encode the same {n:,} samples: the second follows the first's coordinates, selection and picked "
            f"sample. Neighbourhood preservation at k = {k}: **{self.score:.3f}** (1: the same neighbours; random "
            f"codes score about {k / max(n - 1, 1):.3f}). Matched dimensions (correlation of means): {pairs}."
        )

    def draw_overlay(self) -> None:
        """Both trials' shared samples in the first's two current coordinates, the second rotated onto the first
        (orthogonal Procrustes); shown while the box is ticked and the latent sizes are equal."""
        s, other = self.primary, self.state
        self.residual = None
        usable = self.rows is not None and other.trial is not None and s.trial is not None
        if not self.align.value or not usable or s.latent_dim != other.latent_dim:
            self.overlay_box.visible = False
            why = " The overlay needs equal latent sizes."
            if self.align.value and usable and why not in self.message.object:
                self.message.object += why
            return
        rows_a, rows_b = self.rows
        rotated, self.residual = procrustes_align(s.mu[rows_a], other.mu[rows_b])
        if len(rows_a) > OVERLAY_POINTS:
            keep = np.sort(np.random.default_rng(0).choice(len(rows_a), OVERLAY_POINTS, replace=False))
        else:
            keep = np.arange(len(rows_a))
        axes = s.axes[list(s.dims[:2])]  # (2, d): the first's shown coordinates, latent or principal
        names = [s.coordinate_names[d] for d in s.dims[:2]]
        first = s.mu[rows_a][keep].astype(np.float64) @ axes.T
        second = rotated[keep] @ axes.T
        plot = figure(
            width=360, height=360, toolbar_location=None, x_axis_label=names[0], y_axis_label=names[-1],
            title=f"Procrustes: residual {self.residual:.2f} of the spread",
        )  # fmt: skip
        plot.scatter(first[:, 0], first[:, -1], size=3, color="#9e9e9e", alpha=0.5, legend_label="first")
        plot.scatter(second[:, 0], second[:, -1], size=3, color="#e6550d", alpha=0.5, legend_label="second, rotated")
        plot.legend.location, plot.legend.background_fill_alpha = "top_left", 0.6
        self.overlay.object = plot
        self.overlay_box.visible = True

    def _follow(self, *_: Any) -> None:
        """Carry the first trial's view over to the second, where the samples are shared."""
        s, other = self.primary, self.state
        if s.trial is None or other.trial is None or self.rows is None:
            return
        rows_a, rows_b = self.rows
        if s.mode == "latent" and other.mode == "latent":
            dims = self.matched_dims(list(s.dims))
            if len(dims) >= 1 and dims != list(other.dims):
                other.dims = dims
        if s.selection is None:
            other.selection = None
        else:
            mask = np.zeros(len(other.mu), bool)
            mask[rows_b[np.asarray(s.selection, bool)[rows_a]]] = True
            other.selection = mask
        if s.current_row is not None:
            where = np.flatnonzero(rows_a == s.current_row)
            if len(where):
                other.go_to_row(int(rows_b[where[0]]))

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout
