"""The selection's size and class mix, and the buttons that say how new selections combine, invert and clear."""

from __future__ import annotations

from typing import Any

import panel as pn

from explorer.latent.state import LatentState


class SelectionView(pn.viewable.Viewer):
    """The selection's size and class mix, how new selections combine, invert and clear."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.mode = pn.widgets.RadioButtonGroup.from_param(state.param.selection_mode, label="New selections")
        self.invert = pn.widgets.Button(label="Invert")
        self.clear = pn.widgets.Button(label="Clear")
        self.invert.on_click(lambda _: state.invert_selection())
        self.clear.on_click(lambda _: state.clear_selection())
        self.summary = pn.pane.Markdown(self.describe(), css_classes=["ls-selection"])
        state.param.watch(lambda *_: setattr(self.summary, "object", self.describe()), ["selection", "trial_version"])

    def describe(self) -> str:
        """'N of M selected' with the count a class."""
        s = self.state
        if s.trial is None or s.selection is None:
            return "Nothing selected: draw a box or a lasso on the focus plot."
        count, mix = s.selection_summary()
        classes = ", ".join(f"class {s.class_name(label)}: {n}" for label, n in mix.items()) or "none"
        return f"**{count:,} of {len(s.mu):,} selected** ({100 * count / max(len(s.mu), 1):.1f}%). {classes}"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.mode, self.invert, self.clear), self.summary)
