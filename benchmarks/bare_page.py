"""The floor under the explorer's served-session times: a bare Panel page with the same template and the same trial
table (and nothing else), served in its own process. benchmarks/explorer_speed.py times new sessions of it beside the
explorer's, in the same run: on a machine whose browsers share the server's cores, what Chromium and Panel alone cost.

Run: .venv/bin/python benchmarks/bare_page.py RESULTS PORT   (prints "serving" once it answers)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import panel as pn

from explorer.store import ResultsStore
from explorer.sweep.table import table_columns


def first_sweeps_trials(results: str) -> pd.DataFrame:
    """The first sweep's trials, the columns the explorer's table shows; read once, as the explorer's shared store
    reads it once for all sessions."""
    store = ResultsStore(results)
    frame = store.trials(store.sweeps()[0])
    return frame[table_columns(frame)]


def bare_page(trials: pd.DataFrame) -> pn.template.BootstrapTemplate:
    """The explorer's template around one Tabulator of those trials: no views, no tabs' contents."""
    table = pn.widgets.Tabulator(trials, disabled=True, show_index=False, height=210, sizing_mode="stretch_width")
    tabs = pn.Tabs(("Sweep", pn.Column()), ("Trial", pn.Column()), ("Latent space", pn.Column()))
    return pn.template.BootstrapTemplate(title="bare page", main=[pn.Card(table, title="Trials"), tabs], sidebar=[])


if __name__ == "__main__":
    pn.extension("tabulator", notifications=False)
    results, port = sys.argv[1], int(sys.argv[2])
    trials = first_sweeps_trials(results)
    server = pn.serve(lambda: bare_page(trials), port=port, address="127.0.0.1", show=False, start=False)
    server.io_loop.add_callback(lambda: print(f"serving {Path(results)} on {port}", flush=True))
    server.start()
    server.io_loop.start()
