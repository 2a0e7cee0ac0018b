"""KL divergence of each latent dimension of the selected trial at its best epoch, active dimensions marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.plotting import figure

from explorer.page.figures import PALETTE, edit_bokeh
from explorer.store import TrialUnavailable
from explorer.trial.view import Notice, TrialView
from vaemodels import ACTIVE_VARIANCE, mu_columns

ACTIVE_COLOR, INACTIVE_COLOR = PALETTE[0], "#c5ccd6"


class KLBars(TrialView):
    """KL divergence of each latent dimension at the best epoch, sorted, active dimensions marked (Bokeh, updated
    in place like the training curves)."""

    what = "KL per dimension"

    def setup(self) -> None:
        self._source = ColumnDataSource({"dimension": [], "kl": [], "color": [], "status": []})
        self.figure = figure(
            x_range=FactorRange(), height=250, sizing_mode="stretch_width", toolbar_location=None, tools=""
        )
        self.figure.vbar(
            x="dimension", top="kl", width=0.8, source=self._source, fill_color="color", line_color="color"
        )
        self.figure.yaxis.axis_label = "KL (nats)"
        self.figure.y_range.start = 0
        self.figure.add_tools(HoverTool(tooltips=[("dimension", "@dimension"), ("KL", "@kl{0.000}"), ("", "@status")]))
        legend = (
            f"<small style='color:#555'><span style='color:{ACTIVE_COLOR}'>■</span> active (posterior-mean variance "
            f"> {ACTIVE_VARIANCE} over the validation samples) &nbsp; <span style='color:{INACTIVE_COLOR}'>■</span> "
            "inactive</small>"
        )
        # Wrapped: toggling `visible` on a Bokeh pane itself fails in Panel 1.9 (it syncs the figure's stylesheets).
        figure_box = pn.Column(pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        self.content = [figure_box, pn.pane.HTML(legend)]

    def clear(self) -> None:
        self.kl_frame = pd.DataFrame({"dimension": [], "kl": [], "active": []})
        self.note: str | None = None

    def render(self, sweep: str, trial_id: str) -> Notice | None:
        row = self.store.row(sweep, trial_id)
        kl, epoch = self._best_epoch_kl(sweep, trial_id, row)
        active, self.note = self._active(sweep, trial_id, len(kl))
        frame = pd.DataFrame({"dimension": [f"z{i}" for i in range(len(kl))], "kl": kl, "active": active})
        self.kl_frame = frame.sort_values("kl", ascending=False, kind="stable").reset_index(drop=True)
        dimensions = list(self.kl_frame["dimension"])
        data = {
            "dimension": dimensions,
            "kl": self.kl_frame["kl"].to_numpy(float),
            "color": [ACTIVE_COLOR if a else INACTIVE_COLOR for a in self.kl_frame["active"]],
            "status": ["active" if a else "inactive" for a in self.kl_frame["active"]],
        }
        n_active = int(self.kl_frame["active"].sum())
        title = f"KL per dimension at epoch {epoch}: {n_active} of {len(kl)} active"
        self.figure_title = title

        def draw() -> None:
            self.figure.x_range.factors = dimensions
            self._source.data = data
            self.figure.title.text = title

        edit_bokeh(draw)
        return (self.note, "warning") if self.note else None

    def _best_epoch_kl(self, sweep: str, trial_id: str, row: pd.Series) -> tuple[list[float], object]:
        """val_kl_per_dim of the best epoch (the checkpoint the latents come from), else of the last."""
        history = self.store.history(sweep, trial_id)
        best = row.get("best_epoch")
        entries = [h for h in history if h.get("epoch") == best] or history[-1:]
        if entries and entries[0].get("val_kl_per_dim") is not None:
            return list(entries[0]["val_kl_per_dim"]), entries[0].get("epoch")
        raise ValueError(f"trial {trial_id}: history.json has no val_kl_per_dim")

    def _active(self, sweep: str, trial_id: str, latent_dim: int) -> tuple[np.ndarray, str | None]:
        """Which dimensions are active, from the variance of their posterior means; all False with a note on failure."""
        try:
            mu = self.store.latents(sweep, trial_id, mu_columns(latent_dim)).to_numpy()  # (N, z)
        except TrialUnavailable as failure:
            return np.zeros(latent_dim, bool), f"active dimensions unknown: {failure}"
        return mu.var(axis=0) > ACTIVE_VARIANCE, None
