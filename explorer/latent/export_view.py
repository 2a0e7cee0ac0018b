"""Downloads of what the workbench shows: the selected samples as CSV or Parquet (sample id, label, the dataset's
factors and the latent means; every sample when nothing is selected), and the decoded point z as JSON."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import panel as pn

from explorer.latent.state import LatentState
from vaemodels import mu_columns


def selection_frame(state: LatentState) -> pd.DataFrame:
    """The selected rows of the latents table (all rows without a selection): sample, label, factors, mu."""
    columns = ["sample", "label", *state.factor_names, *mu_columns(state.latent_dim)]
    rows = state.latents if state.selection is None else state.latents[np.asarray(state.selection, bool)]
    return rows[list(dict.fromkeys(columns))].reset_index(drop=True)


def selection_bytes(state: LatentState, kind: str) -> bytes:
    """The selection as a CSV or Parquet file."""
    frame = selection_frame(state)
    if kind == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def point_json(state: LatentState) -> str:
    """The decoded point: the trial, z, the class a conditional decoder is given, and the sample it came from."""
    z = [] if state.current_z is None else [float(v) for v in np.asarray(state.current_z)]
    return json.dumps(
        {
            "trial": state.trial.path.name,
            "z": z,
            "label": int(state.label) if state.conditional else None,
            "sample_row": state.current_row,
            "sample": None if state.current_row is None else int(state.latents["sample"].iloc[state.current_row]),
        },
        indent=2,
    )


class ExportView(pn.viewable.Viewer):
    """Three download buttons; each file is made when clicked, from the state of that moment."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.csv = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(selection_bytes(state, "csv")),
            filename="selection.csv",
            label="Selection (CSV)",
            width=150,
        )
        self.parquet = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(selection_bytes(state, "parquet")),
            filename="selection.parquet",
            label="Selection (Parquet)",
            width=170,
        )
        self.point = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(point_json(state)),
            filename="z.json",
            label="z (JSON)",
            width=110,
        )
        state.param.watch(self._name_files, "trial_version")

    def _name_files(self, *_: object) -> None:
        name = self.state.trial.path.name if self.state.trial is not None else "trial"
        self.csv.filename, self.parquet.filename = f"{name}_selection.csv", f"{name}_selection.parquet"
        self.point.filename = f"{name}_z.json"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.csv, self.parquet, self.point, css_classes=["ls-export"])
