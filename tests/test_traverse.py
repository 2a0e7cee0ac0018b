"""`latentsweep traverse`: a trial's labelled traversal grid as a PNG and one dimension's sweep as a GIF, without a
browser; a trial, dimension or file type that does not exist is one line and exit 2."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from vaemodels import load_or_rebuild, load_trial, resolve
from vaemodels.decoding import decode
from vaemodels.traversal import CAPTION_HEIGHT, NAME_WIDTH, SPACING, TITLE_HEIGHT, export_scale, tile_origin

pytestmark = pytest.mark.slow  # trials trained in a session fixture


@pytest.fixture(scope="module")
def sweep(finished_trials, tmp_path_factory):
    """A copy of the finished trials (2 latent dimensions, 32x32 shapes) with its trials.parquet written."""
    folder = shutil.copytree(finished_trials, tmp_path_factory.mktemp("traverse") / "sweepT")
    load_or_rebuild(resolve(folder), write=True)
    return folder


def test_the_png_is_a_labelled_grid_of_the_chosen_dimensions_a_tile_a_step(cli, sweep, tmp_path):
    out = tmp_path / "grid.png"
    done = cli("traverse", str(sweep), "trial1", "--out", str(out), "--dims", "1,0", "--steps", "5")
    assert done.returncode == 0, done.stderr
    assert "trial trial1" in done.stdout and "2 x 5 grid of z1, z0" in done.stdout
    picture = np.asarray(Image.open(out).convert("RGB"))
    trial = load_trial(sweep / "trial1")
    size = trial.config.data.image_size
    scale = export_scale(size)
    tile_px = size * scale  # 32 px upscaled 4x
    width = NAME_WIDTH + 5 * tile_px + 4 * SPACING  # row names, then 5 tiles
    height = TITLE_HEIGHT + 2 * (tile_px + CAPTION_HEIGHT) + SPACING  # the title, then 2 rows each captioned
    assert picture.shape == (height, width, 3)
    # The first tile of row 0 is z1 at the 1st percentile of its means (from the origin), as the decoder draws it.
    mu = trial.latents()["mu_1"].to_numpy(np.float64)
    z = np.array([0.0, min(np.percentile(mu, 1.0), 0.0)])
    top, left = tile_origin(0, 0, tile_px)
    expected = np.kron(decode(trial.model, z)[0], np.ones((scale, scale), np.uint8))
    np.testing.assert_array_equal(picture[top : top + tile_px, left : left + tile_px, 0], expected)
    assert (picture[:TITLE_HEIGHT] < 128).any()  # the title names the sweep and the trial
    assert (picture[TITLE_HEIGHT:, :NAME_WIDTH] < 128).any()  # the rows name their dimension


def test_the_gif_animates_one_dimension_a_frame_a_step(cli, sweep, tmp_path):
    out = tmp_path / "z0.gif"
    done = cli("traverse", str(sweep), "best", "--out", str(out), "--dims", "0", "--steps", "6", "--row", "3")
    assert done.returncode == 0, done.stderr
    gif = Image.open(out)
    tile_px = 32 * export_scale(32)
    assert gif.format == "GIF" and gif.n_frames == 6 and gif.info.get("loop") == 0
    assert gif.size[1] == TITLE_HEIGHT + tile_px + CAPTION_HEIGHT and gif.size[0] >= tile_px
    frames = []
    for step in (0, 5):
        gif.seek(step)
        frames.append(np.asarray(gif.convert("RGB")))
    assert not np.array_equal(frames[0], frames[1])  # the value under the image changes at least


@pytest.mark.parametrize(
    "args, named",
    [
        (["nope", "--out", "x.png"], "TRIAL 'nope'"),
        (["trial0", "--out", "x.png", "--dims", "0,7"], "--dims 7"),
        (["trial0", "--out", "x.gif", "--dims", "0,1"], "a GIF animates one dimension"),
        (["trial0", "--out", "x.jpg"], "--out"),
        (["trial0", "--out", "x.png", "--row", "100000"], "--row 100000"),
    ],
)
def test_a_missing_trial_or_dimension_is_one_line_and_exit_2(cli, sweep, tmp_path, args, named):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    done = cli("traverse", str(sweep), *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and named in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
