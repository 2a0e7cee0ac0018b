"""The floor under the explorer's served-session times: a bare Panel page with the same template and the same trial
table (and nothing else), served in its own process. benchmarks/explorer_speed.py times new sessions of it beside the
explorer's, in the same run: on a machine whose browsers share the server's cores, what Chromium and Panel alone cost.

Run: .venv/bin/python benchmarks/bare_page.py RESULTS PORT   (prints "serving" once it answers)
"""

from __future__ import annotations

import sys
from pathlib import Path

import panel as pn

from explorer.store import ResultsStore
from explorer.sweep.table import table_columns


def bare_page(results: str) -> pn.template.BootstrapTemplate:
    """The explorer's template around one Tabulator of the first sweep's trials: no views, no tabs' contents."""
    store = ResultsStore(results)
    frame = store.trials(store.sweeps()[0])
    table = pn.widgets.Tabulator(
        frame[table_columns(frame)], disabled=True, show_index=False, height=210, sizing_mode="stretch_width"
    )
    tabs = pn.Tabs(("Sweep", pn.Column()), ("Trial", pn.Column()), ("Latent space", pn.Column()))
    return pn.template.BootstrapTemplate(title="bare page", main=[pn.Card(table, title="Trials"), tabs], sidebar=[])


if __name__ == "__main__":
    pn.extension("tabulator", notifications=False)
    results, port = sys.argv[1], int(sys.argv[2])
    server = pn.serve(lambda: bare_page(results), port=port, address="127.0.0.1", show=False, start=False)
    server.io_loop.add_callback(lambda: print(f"serving {Path(results)} on {port}", flush=True))
    server.start()
    server.io_loop.start()
