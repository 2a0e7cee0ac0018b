"""Attribute vectors in the workbench: two selections (or a class against the rest) give a direction in z, the
difference of their centroids (explorer.compare.attributes). A strip along it is decoded from the picked sample
(or the current point), every sample can be coloured by its projection onto it, and it downloads as JSON."""

from __future__ import annotations

import io
import json
from functools import partial
from typing import Any

import numpy as np
import panel as pn

from explorer.compare.attributes import attribute_vector, projection, rest_of, strip_along
from explorer.images import tile, to_png
from explorer.latent.state import LatentState
from explorer.latent.traversal import GRID_TILE
from vaemodels import decode, upscale_factor

PROJECTION_COLUMN = "attribute"  # the latents column the projection colours by
SET_BOTH = "Set both ends of the direction: select samples and press a button, or pick a class."


class AttributeView(pn.viewable.Viewer):
    """Direction from `away` to `towards` (centroids of two sample sets); a decoded strip along it; colouring."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.ends: dict[str, tuple[np.ndarray, str]] = {}  # "towards"/"away" -> (row mask, what it is)
        self.vector: np.ndarray | None = None
        self.strip: np.ndarray | None = None
        buttons = []
        for end, label in (("towards", "Towards = selection"), ("away", "Away from = selection")):
            button = pn.widgets.Button(label=label)
            button.on_click(partial(lambda _, end: self.set_from_selection(end), end=end))
            buttons.append(button)
        self.label = pn.widgets.Select(label="or a class against the rest", options=[], width=160)
        self.use_class = pn.widgets.Button(label="Use the class")
        self.use_class.on_click(lambda _: self.set_class(self.label.value))
        self.steps = pn.widgets.IntSlider(label="Steps", start=3, end=15, step=2, value=7, width=180)
        self.reach = pn.widgets.FloatSlider(label="Reach (times the vector)", start=0.25, end=4, step=0.25, value=1.0)
        self.colour = pn.widgets.Button(label="Colour samples by projection")
        self.colour.on_click(lambda _: self.colour_by_projection())
        self.download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.vector_json()), filename="attribute_vector.json", label="Vector (JSON)"
        )
        self.message = pn.pane.Markdown(SET_BOTH)
        self.pane = pn.pane.PNG(None, css_classes=["ls-attribute"])
        self.controls = pn.Column(pn.Row(*buttons), pn.Row(self.label, self.use_class))
        for widget in (self.steps, self.reach):
            widget.param.watch(lambda *_: self.refresh(), "value_throttled")
        state.param.watch(self.clear, "trial_version")
        state.param.watch(lambda *_: self.refresh(), ["current_row"])

    def clear(self, *_: Any) -> None:
        """Forget the direction: it belongs to the previous trial's space. Offer this trial's classes."""
        self.ends.clear()
        self.vector, self.strip, self.pane.object, self.message.object = None, None, None, SET_BOTH
        s = self.state
        classes = sorted(int(c) for c in np.unique(s.labels) if c >= 0) if s.trial is not None else []
        self.label.options = classes
        self.label.value = classes[0] if classes else None

    def set_from_selection(self, end: str) -> None:
        """One end is the current selection's samples."""
        s = self.state
        if s.trial is None or s.selection is None or not s.selection.any():
            self.message.object = "Select some samples first (box or lasso on the focus plot)."
            return
        self.ends[end] = (np.asarray(s.selection, bool).copy(), f"{int(s.selection.sum())} selected samples")
        self.refresh()

    def set_class(self, label: int | None) -> None:
        """Towards one class, away from every other sample."""
        s = self.state
        if s.trial is None or label is None:
            return
        mask = s.labels == label
        self.ends = {"towards": (mask, f"class {s.class_name(label)}"), "away": (rest_of(mask), "the other classes")}
        self.refresh()

    def refresh(self) -> None:
        """The vector when both ends are set, and the strip decoded along it from the picked sample (or z)."""
        s = self.state
        if s.trial is None or len(self.ends) < 2:
            return
        (towards, what_towards), (away, what_away) = self.ends["towards"], self.ends["away"]
        try:
            self.vector = attribute_vector(s.mu, towards, away)
            projection(s.mu[:1], self.vector)  # refuses a zero vector
        except ValueError as failure:
            self.vector, self.pane.object, self.message.object = None, None, f"No direction: {failure}."
            return
        start, where = self._start()
        codes = strip_along(start, self.vector, self.steps.value, self.reach.value)
        images = decode(s.model, codes, s.label)
        self.strip = tile(images, 1, len(images))
        self.pane.object = to_png(self.strip, upscale_factor(s.model.config.data.image_size, GRID_TILE))
        self.message.object = (
            f"From {what_away} towards {what_towards} (length {np.linalg.norm(self.vector):.3g}), through {where}: "
            f"{self.reach.value:g} times the vector each way."
        )

    def _start(self) -> tuple[np.ndarray, str]:
        s = self.state
        if s.current_row is not None:
            return s.mu[s.current_row].astype(np.float64), f"sample {s.latents['sample'].iloc[s.current_row]}"
        return np.asarray(s.current_z, dtype=np.float64), "the current point"

    def colour_by_projection(self) -> None:
        """Add each sample's projection onto the vector as a colouring, and colour by it."""
        s = self.state
        if self.vector is None:
            self.message.object = SET_BOTH
            return
        s.latents[PROJECTION_COLUMN] = projection(s.mu, self.vector)
        s.forget_colouring(PROJECTION_COLUMN)
        if s.color_by == PROJECTION_COLUMN:
            s.param.trigger("color_by")
        else:
            s.color_by = PROJECTION_COLUMN

    def vector_json(self) -> str:
        """The vector and what it was made from, as JSON."""
        s = self.state
        return json.dumps(
            {
                "trial": None if s.trial is None else s.trial.path.name,
                "vector": None if self.vector is None else [float(v) for v in self.vector],
                "towards": self.ends.get("towards", (None, None))[1],
                "away_from": self.ends.get("away", (None, None))[1],
            },
            indent=2,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.controls, pn.Row(self.steps, self.reach), pn.Row(self.colour, self.download), self.message, self.pane
        )
