"""Hover thumbnails: every validation sample's original lies in one atlas, and the browser's lookup (ids sorted,
each with its tile) finds a sample's own tile."""

import base64
import io

import numpy as np
import pytest
from bokeh.models import HoverTool
from PIL import Image

from explorer.latent.hover_view import SHOWN, THUMBNAIL, HoverThumbnail, atlas_png, thumbnails
from explorer.latent.workbench import LatentExplorer
from vaemodels import load_samples, to_uint8
from vaemodels.checkpoint import LoadedTrial

pytestmark = pytest.mark.slow  # a model trained in a fixture


@pytest.fixture
def trial(tiny_vae) -> LoadedTrial:
    """The session's tiny beta-VAE (4 dimensions, 160 validation samples)."""
    return tiny_vae


def test_thumbnails_shrink_large_images_and_grow_small_ones():
    large = np.arange(3 * 64 * 64, dtype=np.uint32).reshape(3, 64, 64).astype(np.uint8)
    assert thumbnails(large).shape == (3, THUMBNAIL, THUMBNAIL)
    assert (thumbnails(large)[:, 1, 1] == large[:, 2, 2]).all()  # every second pixel
    small = np.zeros((2, 28, 28, 3), np.uint8)
    assert thumbnails(small).shape == (2, THUMBNAIL, THUMBNAIL, 3)


def test_tile_k_of_the_atlas_is_image_k():
    images = np.stack([np.full((THUMBNAIL, THUMBNAIL), 10 * k, np.uint8) for k in range(7)])
    png, cols = atlas_png(images)
    atlas = np.asarray(Image.open(io.BytesIO(png)))
    assert cols == 3 and atlas.shape == (3 * THUMBNAIL, 3 * THUMBNAIL)  # 7 tiles, 3 a row, padded to 9
    for k in range(7):
        r, c = divmod(k, cols)
        assert (atlas[r * THUMBNAIL : (r + 1) * THUMBNAIL, c * THUMBNAIL : (c + 1) * THUMBNAIL] == 10 * k).all()


def test_a_shown_trial_gets_an_atlas_of_its_originals_and_a_sorted_lookup(trial):
    explorer = LatentExplorer(trial)
    hover = explorer.hover
    assert isinstance(hover, HoverThumbnail) and hover.n_tiles == len(explorer.state.mu) == 160
    ids, tiles = np.asarray(hover.lookup.data["ids"]), np.asarray(hover.lookup.data["tiles"])
    assert (np.diff(ids) > 0).all()  # sorted for the browser's binary search
    latents = explorer.state.latents
    assert (latents["sample"].to_numpy()[tiles] == ids).all()  # each id's tile is its latents row
    url = hover.atlas.data["url"][0]
    atlas = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    row = 17
    original = to_uint8(
        load_samples(
            trial.config, latents["sample"].to_numpy()[[row]], latents[explorer.state.factor_names].to_numpy()[[row]]
        )
    )
    r, c = divmod(row, hover.atlas.data["cols"][0])
    tile = atlas[r * THUMBNAIL : (r + 1) * THUMBNAIL, c * THUMBNAIL : (c + 1) * THUMBNAIL]
    assert (tile == thumbnails(original)[0]).all()
    hover_tool = explorer.focus.figure.select_one(HoverTool)
    assert hover_tool.callback is not None and hover_tool.callback.args["lookup"] is hover.lookup
    assert hover_tool.callback.args["shown"] == SHOWN


def test_without_originals_it_says_why_and_sends_nothing(trial, monkeypatch):
    from explorer.latent import hover_view
    from vaemodels import DatasetUnavailable

    def unavailable(*_args, **_kwargs):
        raise DatasetUnavailable("no such folder: /nowhere")

    monkeypatch.setattr(hover_view, "load_samples", unavailable)
    explorer = LatentExplorer(trial)
    assert explorer.hover.message.visible and "/nowhere" in explorer.hover.message.object
    assert list(explorer.hover.lookup.data["ids"]) == []
