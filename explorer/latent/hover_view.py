"""The hovered sample's original image beside the focus plot, drawn in the browser with no round trip.

When a trial is shown, every validation sample's original is shrunk to a thumbnail and tiled into one atlas PNG,
sent once. The focus plot's hover tool then runs a few lines of JavaScript: the pixel under the pointer names a
sample (the raster's `sample` array), a binary search finds its row, and the thumbnail is that tile of the atlas
as a CSS background. The server is not asked, so the image follows the pointer at the browser's pace.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool

from explorer.images import tile, to_png
from explorer.latent.state import LatentState
from explorer.page.figures import edit_bokeh
from vaemodels import DatasetUnavailable, load_samples, to_uint8

THUMBNAIL = 32  # pixels a side of an atlas tile (a 10,000-sample atlas is 3,200 px a side)
SHOWN = 96  # pixels a side of the thumbnail on the page
LOAD_CHUNK = 2_048  # originals loaded at a time
REACH = 2  # pixels around the pointer searched for a sample (a drawn dot is up to 2 pixels wider a side)

HOVER_CODE = """
const hit = cb_data.index.image_indices[0];
const data = source.data;
if (hit == null || data.sample.length == 0 || lookup.data.ids.length == 0) { return; }
const pixels = data.sample[0], width = pixels.shape ? pixels.shape[1] : Math.round(Math.sqrt(pixels.length));
let sample = pixels[hit.flat_index];
// A dot is drawn a few pixels wide but its sample sits on one pixel: look at the nearest pixels around it too.
for (let reach = 1; (sample == null || sample < 0) && reach <= reach_pixels; reach++) {
  for (let dy = -reach; dy <= reach && !(sample >= 0); dy++) {
    for (let dx = -reach; dx <= reach && !(sample >= 0); dx++) {
      const i = hit.i + dx, j = hit.j + dy;
      if (i >= 0 && j >= 0 && i < width && j < pixels.length / width) { sample = pixels[j * width + i]; }
    }
  }
}
if (sample == null || sample < 0) { return; }
const ids = lookup.data.ids;
let low = 0, high = ids.length - 1;
while (low < high) { const mid = (low + high) >> 1; if (ids[mid] < sample) { low = mid + 1; } else { high = mid; } }
if (ids[low] != sample) { return; }
const tile = lookup.data.tiles[low], cols = atlas.data.cols[0], side = shown;
const x = (tile % cols) * side, y = Math.floor(tile / cols) * side;
div.text = `<div class="ls-hover-thumb" data-sample="${sample}" style="width:${side}px;height:${side}px;` +
  `background-image:url(${atlas.data.url[0]});background-size:${cols * side}px auto;` +
  `background-position:-${x}px -${y}px;image-rendering:pixelated;border:1px solid #ccc"></div>` +
  `<div style="font-size:12px">sample ${sample}</div>`;
"""


def thumbnails(images: np.ndarray, side: int = THUMBNAIL) -> np.ndarray:
    """uint8 (N, H, W[, C]) -> (N, side, side[, C]) by striding (nearest), or by repeating pixels when smaller."""
    h = images.shape[1]
    if h >= side:
        step = h // side
        small = images[:, ::step, ::step][:, :side, :side]
    else:
        factor = math.ceil(side / h)
        small = images.repeat(factor, axis=1).repeat(factor, axis=2)[:, :side, :side]
    return np.ascontiguousarray(small)


def atlas_png(images: np.ndarray) -> tuple[bytes, int]:
    """Thumbnails tiled row-major with no gap into one PNG; (png, columns). Tile k is image k."""
    cols = max(1, math.ceil(math.sqrt(len(images))))
    rows = math.ceil(len(images) / cols)
    padded = np.concatenate([images, np.full((rows * cols - len(images), *images.shape[1:]), 255, np.uint8)])
    return to_png(tile(padded, rows, cols, gap=0)), cols


class HoverThumbnail(pn.viewable.Viewer):
    """The original of the sample under the pointer on the focus plot (`attach` it to the plot's hover tool)."""

    def __init__(self, state: LatentState, data_dir: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.state, self.data_dir = state, data_dir
        self.div = Div(text="", width=SHOWN + 4, height=SHOWN + 24)
        self.lookup = ColumnDataSource({"ids": [], "tiles": []})
        self.atlas = ColumnDataSource({"url": [""], "cols": [1]})
        self.message = pn.pane.Markdown("", visible=False)
        self.pane = pn.Column(pn.pane.Bokeh(self.div), self.message, css_classes=["ls-hover"])
        self.n_tiles = 0
        state.param.watch(self.refresh, "trial_version")

    def attach(self, hover: HoverTool, source: ColumnDataSource) -> None:
        """Run the lookup on the browser side whenever `hover` (over the raster in `source`) moves."""
        hover.callback = CustomJS(
            args={
                "source": source,
                "lookup": self.lookup,
                "atlas": self.atlas,
                "div": self.div,
                "shown": SHOWN,
                "reach_pixels": REACH,
            },
            code=HOVER_CODE,
        )

    def refresh(self, *_: Any) -> None:
        """Build the shown trial's atlas (its originals loaded in chunks); without originals, say why."""
        s = self.state
        if s.trial is None:
            return
        ids = s.latents["sample"].to_numpy()
        chunks = np.array_split(np.arange(len(ids)), max(1, math.ceil(len(ids) / LOAD_CHUNK)))
        try:
            images = np.concatenate([self._originals(rows) for rows in chunks])
        except (DatasetUnavailable, OSError, ValueError) as error:
            self._show({"ids": [], "tiles": []}, "", 1, f"Hover shows no originals: {error}")
            return
        png, cols = atlas_png(thumbnails(images))
        order = np.argsort(ids, kind="stable")
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        self.n_tiles = len(ids)
        self._show({"ids": ids[order], "tiles": order}, url, cols, "")

    def _originals(self, rows: np.ndarray) -> np.ndarray:
        s = self.state
        config = s.trial.config if self.data_dir is None else s.trial.config.replace(data_dir=str(self.data_dir))
        factors = s.latents[s.factor_names].to_numpy()[rows] if s.factor_names else None
        return to_uint8(load_samples(config, s.latents["sample"].to_numpy()[rows], factors))

    def _show(self, lookup: dict, url: str, cols: int, message: str) -> None:
        def change() -> None:
            self.lookup.data = lookup
            self.atlas.data = {"url": [url], "cols": [cols]}
            self.div.text = "" if not url else "<div style='font-size:12px;color:#666'>hover a point</div>"

        edit_bokeh(change)
        self.message.object, self.message.visible = message, bool(message)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.pane
