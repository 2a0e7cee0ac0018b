"""explorer: the Panel + HoloViews app that browses sweeps and trials. Reads results with pyarrow; never imports ray.

`ResultsStore` (explorer.store) loads and caches; one Viewer a view; explorer.app assembles the page. Imports are
lazy so that `latentsweep train` (whose parser registers `explore`) never loads Panel.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExplorerApp", "ResultsStore", "build_app"]
_HOMES = {"ResultsStore": "explorer.store", "ExplorerApp": "explorer.app", "build_app": "explorer.app"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
