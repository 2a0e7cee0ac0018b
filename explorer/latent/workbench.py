"""LatentExplorer: the SPLOM, focus plot, selection, sliders, decoded image, sample panel, grid and interpolation of
one trial, as one Viewer that the explorer page places under the trial table."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import HoverTool

from explorer.latent.attribute_view import AttributeView
from explorer.latent.decoded_view import DecodedView
from explorer.latent.export_view import ExportView
from explorer.latent.focus_view import FocusView
from explorer.latent.grid_view import TraversalGridView
from explorer.latent.hover_view import HoverThumbnail
from explorer.latent.interpolation_view import InterpolationView
from explorer.latent.neighbours_view import NeighboursView
from explorer.latent.sample_view import SampleInfoView
from explorer.latent.selection_view import SelectionView
from explorer.latent.sliders import TraversalSliders
from explorer.latent.splom_view import SplomView
from explorer.latent.state import LatentState

PLACEHOLDER = "Select a trial in the table above to explore its latent space."


class LatentExplorer(pn.viewable.Viewer):
    """Every latent-space view of one trial; a placeholder until `set_trial` gives it one."""

    def __init__(self, trial: Any = None, latents: pd.DataFrame | None = None, data_dir: str | None = None, **params):
        super().__init__(**params)
        self.state = LatentState()
        self.splom = SplomView(self.state)
        self.focus = FocusView(self.state)
        self.selection = SelectionView(self.state)
        self.sliders = TraversalSliders(self.state)
        self.decoded = DecodedView(self.state)
        self.info = SampleInfoView(self.state, data_dir)
        self.grid = TraversalGridView(self.state)
        self.interpolation = InterpolationView(self.state)
        self.export = ExportView(self.state)
        self.hover = HoverThumbnail(self.state, data_dir)
        self.neighbours = NeighboursView(self.state, data_dir)
        self.attribute = AttributeView(self.state)
        self.hover.attach(self.focus.figure.select_one(HoverTool), self.focus.source)
        self.sliders.on_release.append(self.grid.refresh)  # the grid follows a slider once it is let go
        self.placeholder = pn.pane.Markdown(PLACEHOLDER, css_classes=["ls-placeholder"])
        self.heading = pn.pane.Markdown("", css_classes=["ls-trial"], margin=(0, 10))
        # A FlexBox wraps: on a narrow page the focus and decoded columns move under the SPLOM instead of overflowing.
        self.body = pn.Column(
            self.heading,
            pn.FlexBox(
                pn.Column(self.splom, self.selection),
                pn.Column(self.focus, self.hover, self.info),
                pn.Column(self.decoded, self.sliders),
                flex_wrap="wrap",
                sizing_mode="stretch_width",
            ),
            pn.Tabs(
                ("Traversal grid", self.grid),
                ("Interpolation", self.interpolation),
                ("Nearest samples", self.neighbours),
                ("Attribute vector", self.attribute),
                ("Export", self.export),
            ),
            sizing_mode="stretch_width",
        )
        self.layout = pn.Column(self.placeholder, css_classes=["ls-explorer"], sizing_mode="stretch_width")
        if trial is not None:
            self.set_trial(trial, latents)

    def set_trial(self, trial: Any, latents: pd.DataFrame | None = None) -> None:
        """Show a LoadedTrial (latents read from its checkpoint when not given); None shows the placeholder."""
        message = _why_not_shown(trial, latents)
        if message:
            self.placeholder.object = message
            self.layout[:] = [self.placeholder]
            return
        self.state.set_trial(trial, trial.latents() if latents is None else latents)
        self.heading.object = _heading(trial, len(self.state.mu))
        if self.layout.objects != [self.body]:
            self.layout[:] = [self.body]

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


def _heading(trial: Any, n_samples: int) -> str:
    """Which trial the views show: its folder, architecture, beta and latent size, and how many samples."""
    model = trial.config.model
    return (
        f"**{trial.path.name}** · {model.arch}, beta {model.beta:g}, {model.latent_dim} latent dimensions · "
        f"{n_samples:,} validation samples"
    )


def _why_not_shown(trial: Any, latents: pd.DataFrame | None) -> str:
    """The placeholder's text when the trial cannot be shown, else ''."""
    if trial is None:
        return PLACEHOLDER
    if latents is None and trial.latents_path is None:
        return f"Trial {trial.path.name} has no latents.parquet in {trial.checkpoint}: nothing to explore yet."
    if latents is not None and len(latents) == 0:
        return f"Trial {trial.path.name} has an empty latents table."
    return ""
