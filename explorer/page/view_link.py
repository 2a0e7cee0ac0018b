"""The view in the page's URL, for example
`?sweep=S&trial=T&tab=latent&mode=pca&dims=0,2&color=label&range=class:2&sample=12&z=0.5,-1&compare=U`.

A link restores what it names: the sweep, the trial, the tab, and in the latent space the mode, the SPLOM's
coordinates, the colouring, the sliders' range, the picked sample, the decoded point z and the trial compared with the
shown one. A value that does not fit (a trial the sweep lacks, a dimension past the latent size, a z of the wrong
length) is left at its default and named in a notice above the page; nothing in a URL can break the page. As the
person explores, the URL follows.

The latent values wait until the trial's latent views are built (they need its latent size and colourings).
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Protocol

import numpy as np
import pandas as pd
import panel as pn

from explorer.page.boxes import message_html

QUERY_KEYS = ("sweep", "trial", "tab", "mode", "dims", "color", "range", "sample", "z", "compare")
TAB_KEYS = {"sweep": "Sweep", "trial": "Trial", "latent": "Latent space"}  # short names in the URL
LATENT_KEYS = ("mode", "dims", "color", "range", "sample", "z", "compare")  # compare last: it follows the others


class LinkedApp(Protocol):
    """What the link reads and sets on the page (ExplorerApp)."""

    state: Any  # ExplorerState
    tabs: pn.Tabs
    tab_names: list[str]
    latent_explorer: Any  # LatentExplorer or None
    compare: Any  # CompareView or None, built with the latent views

    def open_tab(self, name: str) -> None: ...


def raw_query(search: str) -> dict[str, str]:
    """The URL's query as strings, the last value of a repeated key winning ('?trial=007' stays '007')."""
    return dict(urllib.parse.parse_qsl(search.lstrip("?"), keep_blank_values=True))


def parse_numbers(text: str, kind: type) -> list:
    """'0,2,5' -> [0, 2, 5]; ValueError naming the part that is not a number."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    values = []
    for part in parts:
        try:
            values.append(kind(part))
        except ValueError:
            raise ValueError(f"{part!r} is not {'an integer' if kind is int else 'a number'}") from None
    return values


class ViewLink:
    """Reads the URL once when the page is built, then keeps it in step with the page."""

    def __init__(self, app: LinkedApp, location: Any) -> None:
        self.app, self.location = app, location
        self.notices: list[str] = []
        self.pending: dict[str, str] = {}  # latent values waiting for their trial's views
        self.notice = pn.pane.HTML("", visible=False, sizing_mode="stretch_width")
        self._restoring = False
        self._latent: Any = None  # the latent views once built and showing a trial, and followed
        self._compare: Any = None  # the compare view, likewise

    # ---- reading -----------------------------------------------------------------------------------------------

    def restore(self, sweeps: list[str], trial_ids: Any) -> None:
        """Apply the URL's sweep, trial and tab; keep its latent values for `apply_latent`. `trial_ids(sweep)`
        gives the trials of a sweep."""
        query = {key: value for key, value in raw_query(self.location.search or "").items() if key in QUERY_KEYS}
        self.pending = {key: query[key] for key in LATENT_KEYS if key in query}  # before the tab opens and builds
        self._restoring = True
        try:
            state = self.app.state
            if "sweep" in query:
                if query["sweep"] in sweeps:
                    state.sweep = query["sweep"]
                else:
                    self._refuse("sweep", query["sweep"], f"there is no such sweep here ({', '.join(sweeps)})")
            if "trial" in query and state.sweep is not None:
                if query["trial"] in set(trial_ids(state.sweep)):
                    state.trial_id = query["trial"]
                else:
                    self._refuse("trial", query["trial"], f"sweep {state.sweep} has no such trial")
            if "tab" in query:
                name = TAB_KEYS.get(query["tab"])
                if name in self.app.tab_names:
                    self.app.open_tab(name)
                else:
                    self._refuse("tab", query["tab"], f"tabs are {', '.join(TAB_KEYS)}")
            if self.pending and state.trial_id is None:
                self._refuse(", ".join(self.pending), "", "they need a trial")
                self.pending = {}
        finally:
            self._restoring = False
        self._show_notices()

    def apply_latent(self) -> None:
        """Apply the URL's latent values to the latent views, which now show the URL's trial (once)."""
        pending, self.pending = self.pending, {}
        explorer = self.app.latent_explorer
        self._follow_latent()
        if not pending or explorer is None or getattr(explorer.state, "trial", None) is None:
            return
        latent = explorer.state
        self._restoring = True
        try:
            for key in LATENT_KEYS:
                if key in pending:
                    try:
                        self._set_latent(latent, key, pending[key])
                    except ValueError as failure:
                        self._refuse(key, pending[key], str(failure))
        finally:
            self._restoring = False
        self._show_notices()
        self.write()

    def _set_latent(self, latent: Any, key: str, text: str) -> None:
        if key == "compare":
            choices = [] if self._compare is None else list(self._compare.trial.options)[1:]  # (none) first
            if text not in choices:
                raise ValueError(f"sweep {self.app.state.sweep} has no other trial of that id")
            self._compare.trial.value = text
        elif key == "mode":
            if text not in ("latent", "pca"):
                raise ValueError("modes are latent and pca")
            latent.mode = text
        elif key == "dims":
            dims = parse_numbers(text, int)
            limit = latent.n_coordinates
            if not dims or any(d < 0 or d >= limit for d in dims) or len(set(dims)) != len(dims):
                raise ValueError(f"give distinct coordinates from 0 to {limit - 1}")
            latent.dims = dims
        elif key == "color":
            if text not in latent.colour_options:
                raise ValueError(f"colourings are {', '.join(latent.colour_options)}")
            latent.color_by = text
        elif key == "range":
            kind, _, k = text.partition(":")
            kinds = latent.param.range_kind.objects
            if kind not in kinds or (k and kind != "class"):
                raise ValueError(f"ranges are {', '.join(kinds)}, or class:K for K std around the class mean")
            if k:
                values = parse_numbers(k, float)
                bounds = latent.param.range_k.bounds
                if len(values) != 1 or not bounds[0] <= values[0] <= bounds[1]:
                    raise ValueError(f"give class:K with K from {bounds[0]:g} to {bounds[1]:g}")
                latent.range_k = values[0]
            latent.range_kind = kind
        elif key == "sample":
            rows = parse_numbers(text, int)
            if len(rows) != 1 or not 0 <= rows[0] < len(latent.mu):
                raise ValueError(f"give one latents row from 0 to {len(latent.mu) - 1}")
            latent.go_to_row(rows[0])
        elif key == "z":
            z = np.asarray(parse_numbers(text, float), dtype=float)
            if len(z) != latent.latent_dim or not np.isfinite(z).all():
                raise ValueError(f"give {latent.latent_dim} finite numbers")
            latent.current_z = z

    def _refuse(self, key: str, value: str, why: str) -> None:
        shown = f"{key}={value}" if value else key
        self.notices.append(f"The link's {shown} was not used ({why}); the default is shown instead.")

    def _show_notices(self) -> None:
        self.notice.object = "".join(message_html(text, "warning") for text in self.notices)
        self.notice.visible = bool(self.notices)

    # ---- writing -----------------------------------------------------------------------------------------------

    def current(self) -> dict[str, str]:
        """The page's view as URL values."""
        state, values = self.app.state, {}
        if state.sweep is not None:
            values["sweep"] = state.sweep
        if state.trial_id is not None:
            values["trial"] = state.trial_id
        names = {name: key for key, name in TAB_KEYS.items()}
        values["tab"] = names.get(self.app.tab_names[self.app.tabs.active], "sweep")
        latent = None if self._latent is None else self._latent.state  # views never built have nothing to say
        if values["tab"] == "latent" and latent is not None and getattr(latent, "trial", None) is not None:
            values["mode"], values["color"] = latent.mode, latent.color_by
            values["dims"] = ",".join(str(d) for d in latent.dims)
            values["range"] = f"class:{latent.range_k:g}" if latent.range_kind == "class" else latent.range_kind
            if latent.current_row is not None:
                values["sample"] = str(latent.current_row)
            if latent.current_z is not None:
                values["z"] = ",".join(f"{v:.4g}" for v in np.asarray(latent.current_z))
            if self._compare is not None and self._compare.trial.value in list(self._compare.trial.options)[1:]:
                values["compare"] = self._compare.trial.value
        return values

    def write(self, *_: object) -> None:
        """Put the page's view in the URL (not while a link is being applied)."""
        if self._restoring or self.location is None:
            return
        kept = {k: v for k, v in raw_query(self.location.search or "").items() if k not in QUERY_KEYS}
        self.location.search = "?" + urllib.parse.urlencode({**kept, **self.current()})

    def follow(self) -> None:
        """Rewrite the URL whenever the view changes (the latent views' values too, once those views show a trial)."""
        self.app.state.param.watch(self.write, ["sweep", "trial_id"])
        self.app.tabs.param.watch(self.write, "active")

    def _follow_latent(self) -> None:
        # The latent views and the compare view are built when their tab first opens, long after `follow` (a page
        # that never opens the tab never builds them); from their first trial on, their values are in the URL.
        explorer = self.app.latent_explorer
        if self._latent is None and explorer is not None:
            self._latent = explorer
            followed = ["mode", "dims", "color_by", "range_kind", "range_k", "current_row", "current_z"]
            explorer.state.param.watch(self.write, followed)
        if self._compare is None and getattr(self.app, "compare", None) is not None:
            self._compare = self.app.compare
            self._compare.trial.param.watch(self.write, "value")


def trial_ids_of(frame: pd.DataFrame) -> list[str]:
    """The trial ids of a trials table, as strings."""
    return frame["trial_id"].astype(str).tolist() if "trial_id" in frame else []
