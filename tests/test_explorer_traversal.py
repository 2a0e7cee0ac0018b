"""Latent traversal: live decoding from sliders, click-to-decode, PCA sliders, class selector, grids, interpolation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from bokeh.events import Tap
from PIL import Image

from explorer.images import GAP
from explorer.latent.splom_decor import marker_positions
from explorer.latent.traversal import traversal_grid
from explorer.latent.workbench import LatentExplorer
from tests.helpers.trials import train_tiny_trial
from vaemodels.checkpoint import LoadedTrial
from vaemodels.datasets import DatasetUnavailable, load_samples
from vaemodels.decoding import decode, to_uint8
from vaemodels.latent_ranges import prior_range
from vaemodels.traversal import (
    CAPTION_HEIGHT,
    NAME_WIDTH,
    SPACING,
    TITLE_HEIGHT,
    gif_size,
    grid_size,
    tile_origin,
    value_label,
)

pytestmark = pytest.mark.slow  # every test here decodes with a model trained in a fixture


@pytest.fixture
def vae_trial(tiny_vae) -> LoadedTrial:
    """The session's beta-VAE with 4 latent dimensions on 32x32 shapes, trained for 2 epochs."""
    return tiny_vae


@pytest.fixture(scope="module")
def conditional_trial(tmp_path_factory: pytest.TempPathFactory) -> LoadedTrial:
    """A conditional VAE whose decoder is given the class (decoder_conditioning)."""
    folder = tmp_path_factory.mktemp("traversal") / "conditional"
    return train_tiny_trial(folder, arch="conditional", decoder_conditioning=True, latent_dim=3, epochs=1)


def slider_values(explorer: LatentExplorer) -> np.ndarray:
    """The sliders' values in coordinate order."""
    sliders = explorer.sliders.sliders
    return np.array([sliders[k].value for k in sorted(sliders)])


def test_highest_kl_slider_sweeps_the_image_and_leaves_other_dimensions_alone(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, top = explorer.state, explorer.state.kl_order[0]
    slider = explorer.sliders.sliders[top]
    assert {f"ls-slider-{top}", "ls-slider-top"} <= set(slider.css_classes)
    assert "ls-decoded" in explorer.decoded.pane.css_classes
    others = [k for k in range(4) if k != top]
    before = state.current_z.copy()
    pictures = []
    for value in np.linspace(slider.start, slider.end, 5):
        slider.value = float(value)  # `value` changes while dragging; no release needed
        pictures.append(explorer.decoded.pane.object)
        assert state.current_z[top] == pytest.approx(value)
        np.testing.assert_array_equal(state.current_z[others], before[others])
        assert [explorer.sliders.sliders[k].value for k in others] == [before[k] for k in others]
        np.testing.assert_array_equal(explorer.decoded.image, decode(state.model, state.current_z)[0])
    assert len(set(pictures)) > 1  # the decoded PNG's bytes change along the sweep
    assert pictures[0] != pictures[-1]


def test_clicking_a_sample_moves_the_sliders_there_and_shows_its_original(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state = explorer.state
    fx, fy = state.focus
    row = 17
    at = {"x": float(state.columns[fx][row]), "y": float(state.columns[fy][row])}
    explorer.focus.figure._trigger_event(Tap(explorer.focus.figure, **at))  # the browser reports a click there
    assert state.current_row == row
    np.testing.assert_allclose(slider_values(explorer), state.mu[row], atol=1e-6)
    sample = int(state.latents["sample"].iloc[row])
    factors = state.latents[list(state.factor_names)].to_numpy()[[row]]
    original = to_uint8(load_samples(vae_trial.config, [sample], factors))[0]
    np.testing.assert_array_equal(explorer.info.original_image, original)
    assert f"Sample {sample}" in explorer.info.message.object
    table = explorer.info.table.object
    np.testing.assert_allclose(table["sample"].to_numpy(), state.mu[row], atol=1e-6)
    label = int(state.labels[row])
    class_rows = state.mu[state.labels == label]
    np.testing.assert_allclose(table[f"class {label} mean"].to_numpy(), class_rows.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(table[f"class {label} std"].to_numpy(), class_rows.std(axis=0), rtol=1e-5)
    xs, ys, _ = marker_positions(explorer.splom.image.layout, state.mu[row])
    crosses = explorer.splom.marker_source.data
    np.testing.assert_allclose(np.column_stack([crosses["x"], crosses["y"]]), np.column_stack([xs, ys]))  # marked
    marker = explorer.focus.marker_source.data
    np.testing.assert_allclose([marker["x"][0], marker["y"][0]], [state.mu[row][fx], state.mu[row][fy]], rtol=1e-6)


def test_an_original_that_cannot_be_loaded_says_why(vae_trial, monkeypatch):
    def missing(*_args, **_kwargs):
        raise DatasetUnavailable("dataset 'mnist' needs its IDX files in /nowhere")

    monkeypatch.setattr("explorer.latent.sample_view.load_samples", missing)
    explorer = LatentExplorer(vae_trial)
    explorer.state.go_to_row(3)
    assert "cannot be shown: dataset 'mnist' needs its IDX files in /nowhere" in explorer.info.message.object
    assert explorer.info.original.object is None and explorer.info.reconstruction.object is not None


def test_pca_sliders_map_back_through_the_inverse_transform(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state = explorer.state
    state.go_to_row(5)
    explorer.splom.mode.value = "pca"
    state.n_components = 4
    assert sorted(explorer.sliders.sliders) == [0, 1, 2, 3]
    assert "ls-slider-pc1" in explorer.sliders.sliders[0].css_classes
    explorer.sliders.sliders[0].value = explorer.sliders.sliders[0].end
    explorer.sliders.sliders[2].value = explorer.sliders.sliders[2].start
    z = state.pca.inverse_transform(slider_values(explorer))  # all components kept: the exact inverse
    np.testing.assert_allclose(state.current_z, z, atol=1e-9)
    np.testing.assert_array_equal(explorer.decoded.image, decode(state.model, z)[0])

    state.n_components = 2  # fewer components: the sliders move z along the kept axes only
    residual = state.current_z - state.pca.inverse_transform(slider_values(explorer))
    np.testing.assert_allclose(residual @ state.pca.components[:2].T, 0.0, atol=1e-9)
    before = state.current_z.copy()
    explorer.sliders.sliders[1].value = explorer.sliders.sliders[1].value + 0.3
    np.testing.assert_allclose(state.current_z - before, 0.3 * state.pca.components[1], atol=1e-9)


def test_slider_ranges_follow_the_chosen_kind(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, top = explorer.state, explorer.state.kl_order[0]
    state.go_to_row(9)
    explorer.sliders.range_kind.value = "class"
    explorer.sliders.range_k.value = 2.0
    rows = state.mu[state.labels == state.labels[9], top]
    slider = explorer.sliders.sliders[top]
    assert slider.start == pytest.approx(min(rows.mean() - 2 * rows.std(), state.mu[9, top]), rel=1e-5)
    assert slider.end == pytest.approx(max(rows.mean() + 2 * rows.std(), state.mu[9, top]), rel=1e-5)
    state.go_to_origin()
    explorer.sliders.range_kind.value = "prior"
    assert (slider.start, slider.end) == pytest.approx(prior_range(0.0))
    assert slider.value == 0.0


def test_class_selector_changes_a_conditional_decoder_image(conditional_trial):
    explorer = LatentExplorer(conditional_trial)
    decoded = explorer.decoded
    assert decoded.label.visible and decoded.label.options == [0, 1, 2]
    pictures = {}
    for label in (0, 1, 2):
        decoded.label.value = label
        assert explorer.state.label == label
        pictures[label] = decoded.image.copy()
        np.testing.assert_array_equal(pictures[label], decode(explorer.state.model, explorer.state.current_z, label)[0])
    assert not np.array_equal(pictures[0], pictures[1]) or not np.array_equal(pictures[1], pictures[2])
    strip = np.asarray(Image.open(io.BytesIO(decoded.strip.object)))
    size = conditional_trial.config.data.image_size
    scale = strip.shape[0] // size
    assert strip.shape[1] == scale * (3 * size + 2 * GAP)  # one image a class


def test_traversal_grid_has_a_row_per_dimension_and_downloads_as_png(vae_trial):
    explorer = LatentExplorer(vae_trial)
    grid, size = explorer.grid, vae_trial.config.data.image_size
    assert grid.grid.shape == (4 * size + 3 * GAP, 10 * size + 9 * GAP)
    assert not np.array_equal(grid.grid[:size, :size], grid.grid[:size, -size:])  # the top row sweeps its dimension
    grid.rows.value = 2
    grid.steps.value = 6
    grid.refresh()
    assert grid.grid.shape == (2 * size + GAP, 6 * size + 5 * GAP)
    png = grid._file().getvalue()
    assert png.startswith(b"\x89PNG")

    before = grid.png
    slider = explorer.sliders.sliders[explorer.state.kl_order[1]]
    target = slider.end if slider.value == slider.start else slider.start
    slider._process_events({"value": target, "value_throttled": target})  # a drag let go
    assert grid.png != before  # the grid follows a released slider


def test_the_grid_names_each_rows_coordinate_and_each_images_value(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, grid = explorer.state, explorer.grid
    grid.steps.value = 5
    grid.refresh()
    rows = grid.row_order()
    assert rows == state.kl_order  # the SPLOM's order: highest KL first
    names, notes = state.coordinate_names, state.coordinate_notes
    assert grid.labels.rows == tuple(f"{names[k]}\n{notes[k]}" for k in rows)
    ranges = state.slider_ranges()[rows]
    assert grid.labels.values.shape == (4, 5)
    np.testing.assert_allclose(grid.labels.values[:, 0], ranges[:, 0])  # each row spans its own slider range
    np.testing.assert_allclose(grid.labels.values[:, -1], ranges[:, 1])
    np.testing.assert_allclose(np.diff(grid.labels.values, axis=1), np.diff(ranges, axis=1) / 4 * np.ones((1, 4)))
    # Each image is what the decoder makes of the current point with that one value changed.
    row, step = 1, 3
    z = state.current_z.copy()
    z[rows[row]] = grid.labels.values[row, step]
    np.testing.assert_array_equal(grid.images[row * 5 + step], decode(state.model, z)[0])
    assert value_label("z2", 0.5234) == "z2 = 0.523"


def test_the_grid_png_is_full_size_with_every_decoded_pixel_and_room_for_the_labels(vae_trial):
    explorer = LatentExplorer(vae_trial)
    grid, size = explorer.grid, vae_trial.config.data.image_size  # 32 px: upscaled 4x towards 128
    grid.steps.value = 7
    grid.refresh()
    picture = np.asarray(Image.open(io.BytesIO(grid._file().getvalue())))
    scale = grid.scale
    assert scale == 4 and picture.shape[:2] == grid.picture.shape[:2]
    tile_px = size * scale
    width = NAME_WIDTH + 7 * tile_px + 6 * SPACING
    height = TITLE_HEIGHT + 4 * (tile_px + CAPTION_HEIGHT) + 3 * SPACING  # a title band above the rows
    assert picture.shape[:2] == (height, width) == grid_size(4, 7, tile_px)[::-1]
    for row, step in ((0, 0), (3, 6), (2, 4)):  # every tile holds its decoded image, each pixel a scale x scale block
        top, left = tile_origin(row, step, tile_px)
        expected = np.kron(grid.images[row * 7 + step], np.ones((scale, scale), np.uint8))
        np.testing.assert_array_equal(picture[top : top + tile_px, left : left + tile_px, 0], expected)
    assert (picture[TITLE_HEIGHT:, :NAME_WIDTH] < 128).any()  # the row names are drawn left of the tiles
    assert (picture[:TITLE_HEIGHT] < 128).any()  # and the title above them
    trial_id = vae_trial.path.name
    assert grid.download.filename == f"traversal-{trial_id}.png"
    sweep = vae_trial.path.parent.name
    assert grid.labels.title == (f"sweep {sweep} · trial {trial_id}", "from the origin (z = 0) · embedding range")
    explorer.state.go_to_row(5)
    sample = int(explorer.state.latents["sample"].iloc[5])
    assert grid.labels.title[1] == f"from sample {sample} (latents row 5) · embedding range"
    under = TITLE_HEIGHT + tile_px
    below = picture[under : under + CAPTION_HEIGHT, NAME_WIDTH : NAME_WIDTH + tile_px]
    assert (below < 128).any()  # and a value under each image


def test_the_gif_download_animates_one_rows_sweep_a_frame_a_step(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, grid = explorer.state, explorer.grid
    grid.steps.value = 8
    grid.refresh()
    coordinate = state.kl_order[1]
    grid.gif_row.value = coordinate
    assert grid.gif_download.filename == f"traversal-{vae_trial.path.name}-{state.coordinate_names[coordinate]}.gif"
    gif = Image.open(io.BytesIO(grid._gif_file().getvalue()))
    assert gif.format == "GIF" and gif.n_frames == 8 and gif.info.get("loop") == 0
    scale, size = grid.scale, vae_trial.config.data.image_size
    assert gif.size == gif_size(size * scale, grid.labels.title)
    assert gif.size[1] == TITLE_HEIGHT + size * scale + CAPTION_HEIGHT
    left, tile_px = (gif.size[0] - size * scale) // 2, size * scale  # the image centred under the title
    for step in (0, 7):  # the frames are the row's images in order (grey shapes: exact in a GIF's palette)
        gif.seek(step)
        frame = np.asarray(gif.convert("RGB"))[TITLE_HEIGHT : TITLE_HEIGHT + tile_px, left : left + tile_px, 0]
        expected = np.kron(grid.images[1 * 8 + step], np.ones((scale, scale), np.uint8))
        assert np.abs(frame.astype(int) - expected).max() <= 8
    with pytest.raises(ValueError, match="not a row of the traversal grid"):
        grid.rows.value = 1
        grid.refresh()
        grid.gif(state.kl_order[3])


def test_interpolation_strip_runs_from_one_sample_to_another(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, view = explorer.state, explorer.interpolation
    state.go_to_row(2)
    view.set_end("A", "picked sample")
    state.selection = state.labels == 1
    view.set_end("B", "selection centroid")
    size = vae_trial.config.data.image_size
    assert view.strip.shape == (size, 10 * size + 9 * GAP)
    np.testing.assert_array_equal(view.strip[:, :size], decode(state.model, state.mu[2])[0])
    centroid = state.mu[state.labels == 1].mean(axis=0)
    np.testing.assert_array_equal(view.strip[:, -size:], decode(state.model, centroid)[0])
    assert "From A (sample" in view.message.object


def test_switching_trials_clears_or_redraws_every_per_trial_panel(vae_trial, conditional_trial):
    explorer = LatentExplorer(vae_trial)
    state = explorer.state
    state.go_to_row(2)
    explorer.interpolation.set_end("A", "picked sample")
    state.apply_selection(state.labels == 1)
    explorer.interpolation.set_end("B", "selection centroid")
    assert explorer.info.reconstruction.object is not None and explorer.interpolation.pane.object is not None
    old_grid, old_decoded = explorer.grid.png, explorer.decoded.pane.object

    explorer.set_trial(conditional_trial)
    assert state.current_row is None and state.selection is None
    info = explorer.info  # the picked sample was the other trial's: no images, and a hint instead
    assert (info.original.object, info.reconstruction.object, info.original_image) == (None, None, None)
    assert info.message.object.startswith("Click a point")
    assert not any(name.startswith("sample") for name in info.table.object.columns)
    interpolation = explorer.interpolation
    assert interpolation.ends == {} and interpolation.strip is None and interpolation.pane.object is None
    assert interpolation.message.object.startswith("Set both ends")
    assert explorer.selection.describe().startswith("Nothing selected")
    z = np.zeros(conditional_trial.config.model.latent_dim)
    np.testing.assert_array_equal(explorer.decoded.image, decode(state.model, z, state.label)[0])  # the new decoder
    assert explorer.decoded.pane.object != old_decoded and explorer.grid.png != old_grid
    rows = explorer.grid.row_order()
    expected = traversal_grid(state.model, z, state.axes[rows], state.point[rows], state.slider_ranges()[rows],
                              explorer.grid.steps.value, state.label)  # fmt: skip
    np.testing.assert_array_equal(explorer.grid.grid, expected)


@pytest.mark.parametrize(("classes", "rows", "cols"), [(3, 1, 3), (10, 2, 5), (7, 2, 5)])
def test_the_class_strip_wraps_at_five_classes_a_row_so_the_decoded_column_stays_narrow(classes, rows, cols):
    """A conditional model's strip of its classes: ten in one row made the decoded column wrap below the SPLOM."""
    import torch

    from explorer.latent.traversal import class_strip
    from vaemodels import TrialConfig, create_model

    torch.manual_seed(0)
    model = create_model(TrialConfig.from_dict({"arch": "conditional", "latent_dim": 2})).eval()  # mnist_5k, 28 px
    strip = class_strip(model, np.zeros(2), classes)
    assert strip.shape[:2] == (rows * 28 + (rows - 1) * GAP, cols * 28 + (cols - 1) * GAP)
    if rows * cols > classes:  # the last row's empty places are left white, not drawn
        assert (strip[-28:, -28:] == 255).all()
