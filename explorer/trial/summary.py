"""The selected trial's flat configuration and its final metrics, side by side."""

from __future__ import annotations

import html

import numpy as np
import panel as pn

from explorer.page.boxes import KEY_VALUE_CSS, key_value_table
from explorer.trial.view import Notice, TrialView
from vaemodels import CONFIG_KEYS, LATENT_METRICS, loss_name, loss_terms

SUMMARY_METRICS = (
    "best_loss",
    "best_epoch",
    "epochs_trained",
    "loss",
    "val_recon",
    "val_kl",
    *(f"val_{term}" for term in loss_terms() if term not in ("recon", "kl")),  # total, then each entry's own
    *LATENT_METRICS,
    "samples_per_second",
    "epoch_seconds",
    "learning_rate",
    "diverged",
    "stopped_early",
    "node",
    "device",
)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _plain(value: object) -> object:
    """numpy scalars from the table as Python values (what a person reads and a test compares)."""
    return value.item() if isinstance(value, np.generic) else value


class TrialSummary(TrialView):
    """The selected trial's flat configuration and its final metrics, side by side."""

    what = "configuration and metrics"

    def setup(self) -> None:
        self.pane = pn.pane.HTML(stylesheets=[KEY_VALUE_CSS], sizing_mode="stretch_width")
        self.content = [self.pane]

    def clear(self) -> None:
        self.config: dict = {}
        self.metrics: dict = {}

    def render(self, sweep: str, trial_id: str) -> Notice | None:
        row = self.store.row(sweep, trial_id)
        self.config = {key: _plain(row[key]) for key in CONFIG_KEYS if key in row and _present(row[key])}
        self.metrics = {key: _plain(row[key]) for key in SUMMARY_METRICS if key in row and _present(row[key])}
        status = html.escape(str(row.get("status", "")))
        heading = f"<h3 style='margin:4px 0'>{html.escape(trial_id)} <small style='color:#666'>· {status}</small></h3>"
        tables = key_value_table(self.config.items(), "configuration")
        tables += key_value_table(self.metrics.items(), "final metrics")
        meaning = f"<small style='color:#555'>loss, best_loss: the {html.escape(loss_name(row.get('recon')))}</small>"
        self.pane.object = heading + f"<div style='display:flex;flex-wrap:wrap'>{tables}</div>{meaning}"
        if _present(row.get("error")):
            return f"the trial failed: {row['error']}", "error"
        return None
