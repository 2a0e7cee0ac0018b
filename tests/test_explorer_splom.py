"""The latent SPLOM, focus plot, linked selection and PCA mode, on a real tiny trained trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bokeh.events import RangesUpdate, SelectionGeometry, Tap
from sklearn import decomposition

from explorer.latent.colouring import make_colouring
from explorer.latent.focus_view import render_focus
from explorer.latent.raster import BACKGROUND, SPREAD_PX
from explorer.latent.selection import box_mask, combine_selection, lasso_mask
from explorer.latent.splom_axes import nice_ticks
from explorer.latent.splom_decor import hex_to_rgb
from explorer.latent.splom_layout import GAP, SplomImage
from explorer.latent.stats import fit_pca
from explorer.latent.workbench import PLACEHOLDER, LatentExplorer
from vaemodels.checkpoint import LoadedTrial


@pytest.fixture
def vae_trial(tiny_vae) -> LoadedTrial:
    """The session's beta-VAE with 4 latent dimensions on 32x32 shapes, trained for 2 epochs."""
    return tiny_vae


def cell_pixels(image: SplomImage, row: int, col: int) -> np.ndarray:
    """(cell, cell, 3) pixels inside one cell."""
    top, left = image.layout.origin(row, col)
    return image.rgba[top : top + image.layout.cell, left : left + image.layout.cell, :3]


def painted(pixels: np.ndarray) -> np.ndarray:
    """Pixels that are not background."""
    return np.any(pixels != np.array(BACKGROUND, np.uint8), axis=-1)


def browser(model, event_class, **fields) -> None:
    """What the Bokeh server does when the browser reports an event (a click, a zoom, a box drawn) on a figure."""
    model._trigger_event(event_class(model, **fields))


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """A boolean image dilated by px pixels in every direction (a square)."""
    padded = np.pad(mask, px)
    size = 2 * px + 1
    shifts = [padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]] for dy in range(size) for dx in range(size)]
    return np.logical_or.reduce(shifts)


# ---- pure parts: no model needed -----------------------------------------------------------------------------------


def test_lasso_of_a_rectangle_selects_what_the_box_selects():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2, 2, 5000), rng.uniform(-2, 2, 5000)
    rectangle = ([-0.5, 1.25, 1.25, -0.5], [-1.0, -1.0, 0.75, 0.75])
    assert np.array_equal(lasso_mask(x, y, *rectangle), box_mask(x, y, (-0.5, -1.0, 1.25, 0.75)))
    triangle = lasso_mask(x, y, [0, 2, 0], [0, 0, 2])  # below the line x + y = 2 in the first quadrant
    assert np.array_equal(triangle, (x > 0) & (y > 0) & (x + y < 2))


def test_tick_values_are_round_and_inside_the_range_and_fewer_when_cells_are_small():
    assert nice_ticks(-2.6, 2.6, 4) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert nice_ticks(-2.6, 2.6, 2) == [-2.0, 0.0, 2.0]
    assert nice_ticks(-5.0, 100.0, 3) == [0.0, 50.0, 100.0]
    assert nice_ticks(-2.6, 2.6, 0) == [] and nice_ticks(1.0, 1.0, 3) == []
    rng = np.random.default_rng(4)
    for lo, span in zip(rng.uniform(-50, 50, 200), 10.0 ** rng.uniform(-3, 3, 200)):
        for count in (2, 3, 4):
            ticks = nice_ticks(lo, lo + span, count)
            assert 1 <= len(ticks) <= count + 1 and all(lo <= t <= lo + span for t in ticks)
            step = np.diff(ticks)
            if len(step):  # even steps of 1, 2 or 5 times a power of ten
                mantissa = step[0] / 10.0 ** np.floor(np.log10(step[0]) + 1e-9)  # 0.000999... is 1e-3
                assert np.allclose(step, step[0]) and min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-6


def test_selections_combine_as_set_operations():
    a, b = np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool)
    assert combine_selection(a, b, "add").tolist() == [True, True, True, False]
    assert combine_selection(a, b, "intersect").tolist() == [True, False, False, False]
    assert combine_selection(a, b, "replace").tolist() == b.tolist()
    with pytest.raises(ValueError, match="replace, add or intersect"):
        combine_selection(a, b, "xor")


def test_pca_of_data_with_a_known_covariance_matches_eigh():
    covariance = np.array([[4.0, 1.2, 0.0], [1.2, 2.0, 0.3], [0.0, 0.3, 0.5]])
    data = exact_covariance_sample(covariance, 3000, seed=1)
    pca = fit_pca(data)
    expected = np.linalg.eigh(covariance)[0][::-1]
    np.testing.assert_allclose(pca.explained_variance, expected, rtol=1e-10)
    scores = pca.transform(data, 3)
    np.testing.assert_allclose(pca.inverse_transform(scores), data, atol=1e-10)


def test_pca_axes_keep_one_sign_whatever_the_order_or_the_sign_of_the_samples():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2000, 4)) @ rng.standard_normal((4, 4))
    pca = fit_pca(data)
    largest = pca.components[np.arange(4), np.abs(pca.components).argmax(axis=1)]
    assert (largest > 0).all()  # the convention: each axis' largest loading is positive
    shuffled = fit_pca(data[rng.permutation(len(data))])
    np.testing.assert_allclose(shuffled.components, pca.components, atol=1e-9)
    negated = fit_pca(-data)  # the same covariance: the same axes, and every score changes sign
    np.testing.assert_allclose(negated.components, pca.components, atol=1e-9)
    np.testing.assert_allclose(negated.transform(-data, 4), -pca.transform(data, 4), atol=1e-8)
    reference = decomposition.PCA(svd_solver="full").fit(data)  # scikit-learn's axes, up to their sign
    np.testing.assert_allclose(np.abs(pca.components), np.abs(reference.components_), atol=1e-8)


def exact_covariance_sample(covariance: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n rows whose sample covariance (np.cov, ddof 1) equals `covariance` exactly."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, len(covariance)))
    white -= white.mean(axis=0)
    white = white @ np.linalg.inv(np.linalg.cholesky(np.cov(white, rowvar=False))).T  # sample covariance = I
    return white @ np.linalg.cholesky(covariance).T + 0.25


def test_focus_raster_draws_each_sample_in_its_pixel_with_its_id_and_colour():
    # Inside pixels, off their edges (where float32 rounding may go either way); the last one lies outside the range.
    x = np.array([0.075, 0.925, 0.575, 0.58, 2.0], np.float32)
    y = np.array([0.075, 0.175, 0.775, 0.775, 0.5], np.float32)
    labels = pd.DataFrame({"label": np.array([0, 1, 2, 2, 0], np.int16)})
    colouring = make_colouring(labels, "label")
    ids = np.array([10, 11, 12, 13, 14])
    image = render_focus((x, y), colouring, ids, np.ones(5, bool), None, ((0.0, 1.0), (0.0, 1.0)), size=20)
    rows, cols = (y[:4] * 20).astype(int), (x[:4] * 20).astype(int)  # row 0 is the lowest y, as Bokeh draws
    assert image.samples[rows, cols].tolist() == [10, 11, 12, 12]  # samples 12 and 13 share a pixel: the first shows
    assert (image.samples >= 0).sum() == 3 and 14 not in image.samples
    drawn = image.rgba[..., 3] > 0
    occupied = np.zeros((20, 20), bool)
    occupied[rows, cols] = True
    assert drawn[occupied].all() and not (drawn & ~grow(occupied, 2)).any()  # few points: grown 2 pixels a side
    for row, col, label in zip(rows, cols, [0, 1, 2]):
        assert tuple(image.rgba[row, col, :3]) == hex_to_rgb(colouring.colors[label])


# ---- the views on a real trial ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_placeholder_until_a_trial_is_set(vae_trial):
    explorer = LatentExplorer()
    assert explorer.layout.objects == [explorer.placeholder] and explorer.placeholder.object == PLACEHOLDER
    explorer.set_trial(vae_trial)
    assert explorer.layout.objects == [explorer.body]
    explorer.set_trial(None)
    assert explorer.layout.objects == [explorer.placeholder]


@pytest.mark.slow
def test_composite_has_one_cell_a_pair_and_follows_the_dimension_set(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, image = explorer.state, explorer.splom.image
    assert state.dims == state.kl_order  # all 4 dimensions, highest KL first
    assert image.layout.pairs() == [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    for row, col in image.layout.pairs():
        # Each cell shows exactly the bins its pair occupies (datashader and numpy agree up to edge rounding).
        x, y = state.columns[image.layout.dims[col]], state.columns[image.layout.dims[row]]
        ranges = [image.layout.ranges[col], image.layout.ranges[row]]
        counts, _, _ = np.histogram2d(x, y, bins=image.layout.cell, range=ranges)
        occupied = np.flipud(counts.T > 0)  # rows from the top, as the image
        drawn = painted(cell_pixels(image, row, col))
        # Few samples: each point is grown by SPREAD_PX pixels, so the drawn pixels lie within that of an occupied bin.
        missed = (occupied & ~drawn).mean()
        stray = (drawn & ~grow(occupied, SPREAD_PX)).mean()
        assert missed < 0.002 and stray < 0.002, (row, col, missed, stray)  # edge rounding: datashader vs numpy
    top, left = image.layout.origin(0, 1)
    assert not painted(image.rgba[top : top + image.layout.cell, left:, :3]).any()  # nothing above the diagonal

    state.dims = state.kl_order[:3]
    three = explorer.splom.image
    assert three.layout.n == 3 and len(three.layout.pairs()) == 3 and three.rgba.shape != image.rgba.shape
    state.dims = [state.kl_order[0], state.kl_order[1], state.kl_order[3]]
    assert not np.array_equal(explorer.splom.image.rgba, three.rgba)
    assert explorer.splom.dims.value == state.dims  # the picker follows


@pytest.mark.slow
def test_colouring_by_class_draws_each_class_in_its_legend_colour(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, splom = explorer.state, explorer.splom
    colouring = state.colouring
    assert colouring.names == ("0", "1", "2") and splom.legend.options == {"0": "0", "1": "1", "2": "2"}
    for k, colour in enumerate(colouring.colors):
        splom.legend.value = [colouring.names[k]]  # the legend toggles every other class off
        assert state.hidden == [i for i in range(3) if i != k]
        others = [n for i, n in enumerate(colouring.names) if i != k]  # they say so in words
        assert list(splom.legend.options) == [n if n == colouring.names[k] else f"{n} · hidden" for n in "012"]
        assert all(f"{n} · hidden" in splom.legend.options for n in others)
        image = splom.image
        pixels = np.concatenate(
            [cell_pixels(image, r, c)[painted(cell_pixels(image, r, c))] for r, c in image.layout.pairs()]
        )
        assert len(pixels) > 0
        # Over a white background a pixel is white + alpha (colour - white): its darkening points towards the colour.
        darkening = 255.0 - pixels.astype(float)
        expected = 255.0 - np.array(hex_to_rgb(colour), float)
        cosine = darkening @ expected / (np.linalg.norm(darkening, axis=1) * np.linalg.norm(expected))
        assert cosine.min() > 0.99, (k, cosine.min())
    splom.legend.value = list(colouring.names)
    assert state.hidden == [] and list(splom.legend.options) == ["0", "1", "2"]
    state.color_by = "scale"  # a ground-truth factor: 6 values, 6 legend entries
    assert list(splom.legend.options) == [str(v) for v in range(6)] and len(set(state.colouring.colors)) == 6


@pytest.mark.slow
def test_clicking_a_cell_opens_that_pair_in_the_focus_plot(vae_trial):
    explorer = LatentExplorer(vae_trial)
    layout = explorer.splom.image.layout
    top, left = layout.origin(3, 1)
    browser(explorer.splom.figure, Tap, x=left + layout.cell / 2, y=layout.height - top - layout.cell / 2)
    assert explorer.state.focus == (layout.dims[1], layout.dims[3])
    names = explorer.state.coordinate_names
    assert explorer.focus.title == f"{names[layout.dims[3]]} against {names[layout.dims[1]]}"
    assert explorer.focus.figure.xaxis[0].axis_label == names[layout.dims[1]]


def splom_click_at(layout, row: int, col: int, x_value: float, y_value: float) -> tuple[float, float]:
    """Where, in the SPLOM figure's units (image pixels from the bottom left), cell (row, col) shows a value pair."""
    top, left = layout.origin(row, col)
    return left + layout.to_pixel(x_value, col, "x"), layout.height - top - layout.to_pixel(y_value, row, "y")


@pytest.mark.slow
def test_clicking_a_cell_picks_the_sample_nearest_on_screen_in_that_cells_two_dimensions(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, layout = explorer.state, explorer.splom.image.layout
    row, col = 2, 0
    x_dim, y_dim = layout.dims[col], layout.dims[row]
    x, y = state.columns[x_dim].astype(float), state.columns[y_dim].astype(float)
    (x_lo, x_hi), (y_lo, y_hi) = layout.ranges[col], layout.ranges[row]
    for target in (int(np.argmax(x)), int(np.argmin(y)), 17):  # click a little off three samples
        at = (x[target] + 0.004 * (x_hi - x_lo), y[target] - 0.003 * (y_hi - y_lo))
        click_x, click_y = splom_click_at(layout, row, col, *at)
        browser(explorer.splom.figure, Tap, x=click_x, y=click_y)
        # Screen-normalised: each axis in units of its cell's span, whatever the two spans are.
        distance = ((x - at[0]) / (x_hi - x_lo)) ** 2 + ((y - at[1]) / (y_hi - y_lo)) ** 2
        assert state.current_row == int(np.argmin(distance))
        assert state.focus == (x_dim, y_dim)
        np.testing.assert_allclose(state.current_z, state.mu[state.current_row])
    # Hidden classes are not picked: hide the class of the nearest sample and click the same place again.
    nearest_label = int(state.labels[state.current_row])
    explorer.splom.legend.value = [n for n in state.colouring.names if n != str(nearest_label)]
    browser(explorer.splom.figure, Tap, x=click_x, y=click_y)
    shown = state.labels != nearest_label
    distance = np.where(shown, ((x - at[0]) / (x_hi - x_lo)) ** 2 + ((y - at[1]) / (y_hi - y_lo)) ** 2, np.inf)
    assert state.current_row == int(np.argmin(distance))
    before = state.current_row
    top, left = layout.origin(0, 0)  # a diagonal cell: a histogram, no samples to pick
    browser(explorer.splom.figure, Tap, x=left + 5, y=layout.height - top - 5)
    assert state.current_row == before


@pytest.mark.slow
def test_the_splom_names_and_ticks_are_axes_of_text_at_each_cells_values(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, figure = explorer.state, explorer.splom.figure
    for dims in (state.kl_order, state.kl_order[:2]):
        state.dims = list(dims)
        layout = explorer.splom.image.layout
        names = figure.select_one({"name": "splom-names-below"})
        assert sorted(names.major_label_overrides.values()) == sorted(state.coordinate_names[d] for d in dims)
        left_names = figure.select_one({"name": "splom-names-left"}).major_label_overrides
        for position, d in enumerate(dims):  # each row's name, with its KL, beside the row's centre
            top, _ = layout.origin(position, position)
            centre = round(layout.height - top - layout.cell / 2, 3)
            assert left_names[centre] == f"{state.coordinate_names[d]} · {state.coordinate_notes[d]}"
        ticks = figure.select_one({"name": "splom-ticks-below"})
        assert ticks.ticker.ticks == sorted(ticks.major_label_overrides) and len(ticks.ticker.ticks) >= 2 * len(dims)
        for position, label in ticks.major_label_overrides.items():  # each tick sits where its value is drawn
            col = next(
                c for c in range(layout.n) if layout.origin(c, c)[1] <= position <= layout.origin(c, c)[1] + layout.cell
            )
            _, left = layout.origin(col, col)
            assert abs(layout.to_value(position - left, col, "x") - float(label)) < 0.01 * np.ptp(layout.ranges[col])
    assert figure.xaxis[0].visible is False  # no axis of the figure's own coordinates (image pixels)
    n, cell = layout.n, layout.cell
    side = n * cell + (n - 1) * GAP + 2  # the cells and a pixel a side for their frames: no room for burnt-in text
    assert explorer.splom.image.rgba.shape[:2] == (side, side)


@pytest.mark.slow
def test_box_selection_selects_exactly_the_samples_inside_and_repaints(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state = explorer.state
    unselected = explorer.splom.image.rgba
    x, y = state.columns[state.focus[0]], state.columns[state.focus[1]]
    x0, x1 = np.quantile(x, [0.2, 0.7])
    y0, y1 = np.quantile(y, [0.1, 0.8])
    box = {"type": "rect", "x0": x0, "y0": y0, "x1": x1, "y1": y1}
    browser(explorer.focus.figure, SelectionGeometry, geometry=box, final=True)
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    assert 0 < inside.sum() < len(x)
    assert np.array_equal(state.selection, inside)
    assert not np.array_equal(explorer.splom.image.rgba, unselected)
    labels, counts = np.unique(state.labels[inside], return_counts=True)
    summary = explorer.selection.describe()
    assert f"{inside.sum():,} of {len(x):,} selected" in summary
    assert all(f"class {label}: {count}" in summary for label, count in zip(labels, counts))

    explorer.selection.mode.value = "intersect"
    box = {"type": "rect", "x0": x0, "y0": y0, "x1": np.median(x), "y1": y1}
    browser(explorer.focus.figure, SelectionGeometry, geometry=box, final=True)
    assert np.array_equal(state.selection, inside & (x <= np.median(x)))
    explorer.selection.invert.clicks += 1
    assert np.array_equal(state.selection, ~(inside & (x <= np.median(x))))
    explorer.selection.clear.clicks += 1
    assert state.selection is None and np.array_equal(explorer.splom.image.rgba, unselected)


@pytest.mark.slow
def test_pca_mode_reports_the_explained_variance_of_a_known_covariance(vae_trial):
    covariance = np.diag([3.0, 1.5, 0.6, 0.1]) + 0.2
    mu = exact_covariance_sample(covariance, 2000, seed=2)
    latents = pd.DataFrame({f"mu_{i}": mu[:, i].astype(np.float32) for i in range(4)})
    latents["sample"], latents["label"] = np.arange(2000), np.arange(2000) % 3
    explorer = LatentExplorer(vae_trial, latents)
    state, splom = explorer.state, explorer.splom
    splom.mode.value = "pca"
    eigenvalues = np.linalg.eigh(covariance)[0][::-1]
    np.testing.assert_allclose(state.pca.explained_variance, eigenvalues, rtol=1e-4)  # float32 means
    assert (splom.n_components.start, splom.n_components.end, splom.n_components.value) == (2, 4, 2)
    assert f"explain {100 * eigenvalues[:2].sum() / eigenvalues.sum():.1f}%" in splom.title
    assert splom.image.layout.names == ("PC1", "PC2")
    splom.n_components.value = 3
    assert f"explain {100 * eigenvalues[:3].sum() / eigenvalues.sum():.1f}%" in splom.heading.object
    assert splom.image.layout.names == ("PC1", "PC2", "PC3") and len(explorer.sliders.sliders) == 3
    splom.mode.value = "latent"
    assert splom.image.layout.names[0] == f"z{state.kl_order[0]}"


@pytest.mark.slow
def test_focus_plot_rasterizes_again_when_zoomed_and_picks_and_lassos_like_the_browser(vae_trial):
    explorer = LatentExplorer(vae_trial)
    state, focus = explorer.state, explorer.focus
    x, y = state.columns[state.focus[0]], state.columns[state.focus[1]]
    full = focus.image
    assert (full.samples >= 0).sum() > 0.5 * len(x)  # most samples own a pixel at the full view
    x_mid, y_mid = float(np.median(x)), float(np.median(y))
    browser(focus.figure, RangesUpdate, x0=x_mid, x1=float(x.max()), y0=y_mid, y1=float(y.max()))
    assert focus.image.ranges == ((x_mid, float(x.max())), (y_mid, float(y.max())))
    shown = set(focus.image.samples[focus.image.samples >= 0].tolist())
    inside = (x >= x_mid) & (x < x.max()) & (y >= y_mid) & (y < y.max())
    assert shown <= set(state.latents["sample"][inside]) and shown  # only the samples inside the zoomed view
    row = int(np.flatnonzero(inside)[0])
    browser(focus.figure, Tap, x=float(x[row]), y=float(y[row]))
    assert state.current_row == row
    triangle = {"type": "poly", "x": [x_mid, x.max(), x_mid], "y": [y_mid, y_mid, y.max()]}
    browser(focus.figure, SelectionGeometry, geometry=triangle, final=True)
    expected = lasso_mask(x, y, triangle["x"], triangle["y"])
    assert np.array_equal(state.selection, expected) and expected.any()
    assert focus.image.ranges[0] == (x_mid, float(x.max()))  # a selection keeps the zoom
