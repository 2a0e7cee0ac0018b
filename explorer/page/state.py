"""ExplorerState: what the person picked (sweep, trial, the table's filters); the views watch it, the table and
overview set it."""

from __future__ import annotations

import param


class ExplorerState(param.Parameterized):
    """The shared selection of one browser session."""

    sweep = param.String(default=None, allow_None=True, doc="name of the sweep shown in the table")
    trial_id = param.String(default=None, allow_None=True, doc="the selected trial, None when none is")
    table_version = param.Integer(default=0, doc="bumped when the trials table is re-read with changes")
    shown_trials = param.List(
        default=None, allow_None=True, item_type=str, doc="trials the table's filters leave; None when none filters"
    )
