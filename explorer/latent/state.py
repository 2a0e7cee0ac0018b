"""The state every latent view shares: trial, embedding, shown dimensions, PCA, selection and the current point.

No widgets here: views watch these parameters and widgets set them, so tests drive it by setting params.
The current point always lives in latent space (`current_z`); in PCA mode the sliders move it along principal axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import param

from explorer.latent.colouring import Colouring, make_colouring
from explorer.latent.selection import box_mask, class_mix, combine_selection, lasso_mask, nearest_sample
from explorer.latent.splom_layout import MAX_DIMS
from explorer.latent.stats import PCA, fit_pca
from vaemodels import (
    DATASETS,
    RANGE_KINDS,
    class_moments,
    cpu_model,
    decode,
    dimension_kl,
    mu_columns,
    order_by_kl,
    sweep_ranges,
)

DEFAULT_SHOWN_DIMS = 8


class LatentState(param.Parameterized):
    """Trial, embedding and the user's choices; the views read it, the widgets write it."""

    mode = param.Selector(default="latent", objects=["latent", "pca"], doc="latent dimensions or principal components")
    n_components = param.Integer(default=2, bounds=(1, None), doc="principal components kept in PCA mode")
    dims = param.List(default=[], item_type=int, doc="coordinates shown in the SPLOM, in order")
    color_by = param.String(default="label", doc="latents column that colours the samples, or 'none'")
    hidden = param.List(default=[], item_type=int, doc="category codes of the colouring that are hidden")
    selection = param.Parameter(default=None, doc="(N,) bool mask over the latents rows, or None")
    selection_mode = param.Selector(default="replace", objects=["replace", "add", "intersect"])
    current_z = param.Parameter(default=None, doc="(latent_dim,) the latent point being decoded")
    current_row = param.Integer(default=None, allow_None=True, doc="latents row of the sample last picked")
    label = param.Integer(default=0, doc="class given to a conditional decoder")
    focus = param.Tuple(default=(0, 1), length=2, doc="coordinates on the focus plot's x and y axes")
    range_kind = param.Selector(default="embedding", objects=list(RANGE_KINDS), doc="what the sliders span")
    range_k = param.Number(default=1.0, bounds=(0.1, 10.0), doc="std multiple of the `class` range")
    trial_version = param.Integer(default=0, doc="bumped when a new trial is set")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.trial: Any = None
        self.latents: pd.DataFrame | None = None
        self.model = None

    # ---- the trial ---------------------------------------------------------------------------------------------

    def set_trial(self, trial: Any, latents: pd.DataFrame) -> None:
        """Show a loaded trial (vaemodels.checkpoint.LoadedTrial) and its latents table."""
        latent_dim = trial.config.model.latent_dim
        missing = [c for c in ("sample", "label", *mu_columns(latent_dim)) if c not in latents.columns]
        if missing:
            raise KeyError(f"the latents of {trial.checkpoint} lack column {missing[0]!r}")
        self.trial, self.latents, self.model = trial, latents.reset_index(drop=True), cpu_model(trial.model)
        self.mu = np.ascontiguousarray(latents[mu_columns(latent_dim)].to_numpy(np.float32))  # (N, d)
        self.mu_columns = np.ascontiguousarray(self.mu.T)  # (d, N)
        self.labels = latents["label"].to_numpy(np.int64)
        self.kl = dimension_kl(latents, trial.history, latent_dim)
        self.kl_order = order_by_kl(self.kl)
        self._pca: PCA | None = None
        self._pca_scores: np.ndarray | None = None
        self._colourings: dict[str, Colouring] = {}
        with param.parameterized.batch_call_watchers(self):
            self.param.n_components.bounds = (1, latent_dim)
            self.mode, self.n_components = "latent", min(latent_dim, max(2, self.n_components))
            self.color_by = "label" if (self.labels >= 0).any() else "none"
            self.hidden, self.selection, self.current_row, self.label = [], None, None, 0
            self.current_z = np.zeros(latent_dim)
            self._reset_dims()
            self.trial_version += 1

    @property
    def colouring(self) -> Colouring:
        """The categories and colours of the current `color_by` column (cached a column)."""
        if self.color_by not in self._colourings:
            column = self.color_by
            self._colourings[column] = make_colouring(self.latents, column, self.value_names(column))
        return self._colourings[self.color_by]

    @property
    def colour_options(self) -> list[str]:
        """Columns that can colour the samples: the class label, the ground-truth factors, the reconstruction error."""
        options = ["label"] if (self.labels >= 0).any() else []
        options += [f for f in self.factor_names if f != "label"]
        options += ["recon_error"] if "recon_error" in self.latents.columns else []
        options += ["attribute"] if "attribute" in self.latents.columns else []  # an attribute vector's projection
        return [*options, "none"]

    def forget_colouring(self, column: str) -> None:
        """Drop the cached colouring of a column whose values changed."""
        self._colourings.pop(column, None)

    def visible_mask(self) -> np.ndarray:
        """(N,) True for the samples whose category is not hidden."""
        if not self.hidden:
            return np.ones(len(self.mu), bool)
        return ~np.isin(self.colouring.codes, self.hidden)

    @param.depends("color_by", watch=True)
    def _show_all_categories(self) -> None:
        self.hidden = []

    @property
    def latent_dim(self) -> int:
        """Size of z."""
        return int(self.mu.shape[1])

    @property
    def factor_names(self) -> list[str]:
        """The dataset's ground-truth factor columns present in the latents."""
        names = DATASETS[self.trial.config.data.dataset].factor_names
        return [n for n in names if n in self.latents.columns]

    def value_names(self, column: str) -> tuple[str, ...]:
        """The dataset's names of a column's integer values (its label_names, a factor's value names); () for none."""
        spec = DATASETS.get(self.trial.config.data.dataset)
        return spec.value_names(column) if spec is not None else ()

    def class_name(self, label: int) -> str:
        """A label as the page writes it: its class name where the dataset names it, else its number; 'none'."""
        names = self.value_names("label")
        return "none" if label < 0 else names[label] if label < len(names) else str(label)

    @property
    def conditional(self) -> bool:
        """True when the decoder takes a class label."""
        return bool(self.model.conditions_decoder)

    # ---- the coordinate space: latent dimensions or principal components -------------------------------------

    @property
    def pca(self) -> PCA:
        """PCA of the means, fitted once a trial."""
        if self._pca is None:
            self._pca = fit_pca(self.mu)
            self._pca_scores = np.ascontiguousarray(self._pca.transform(self.mu, self.latent_dim).T, dtype=np.float32)
        return self._pca

    @property
    def columns(self) -> np.ndarray:
        """(d, N) the samples' coordinates, one row a coordinate: the means, or the scores on every component."""
        if self.mode == "latent":
            return self.mu_columns
        self.pca  # noqa: B018 (fits on first use)
        return self._pca_scores

    @property
    def n_coordinates(self) -> int:
        """How many coordinates are in use: every latent dimension, or the kept components."""
        return self.latent_dim if self.mode == "latent" else self.n_components

    @property
    def axes(self) -> np.ndarray:
        """(k, d) unit directions in latent space of the coordinates in use."""
        return np.eye(self.latent_dim) if self.mode == "latent" else self.pca.components[: self.n_components]

    @property
    def coordinate_names(self) -> list[str]:
        """A name a coordinate: z0, z1, ... or PC1, PC2, ..."""
        prefix, start = ("z", 0) if self.mode == "latent" else ("PC", 1)
        return [f"{prefix}{i + start}" for i in range(self.latent_dim)]

    @property
    def coordinate_notes(self) -> list[str]:
        """A short note a coordinate: its KL, or its share of the variance."""
        if self.mode == "latent":
            return [f"KL {k:.2f}" for k in self.kl]
        return [f"{100 * r:.1f}%" for r in self.pca.explained_variance_ratio]

    @property
    def prior_centers(self) -> np.ndarray:
        """(d,) the prior mean's coordinate on each axis: 0 for latent dimensions, the origin's score for components."""
        origin = np.zeros(self.latent_dim)
        return origin if self.mode == "latent" else self.pca.transform(origin, self.latent_dim)

    @property
    def order(self) -> list[int]:
        """Coordinates in display order: by KL, highest first, or by principal component."""
        return list(self.kl_order) if self.mode == "latent" else list(range(self.n_components))

    @property
    def point(self) -> np.ndarray:
        """(k,) the current point's coordinates."""
        if self.mode == "latent":
            return np.asarray(self.current_z, dtype=np.float64)
        return self.pca.transform(self.current_z, self.n_components)

    def explained_variance_title(self) -> str:
        """The PCA title: the kept components' total share of the variance."""
        ratio = self.pca.explained_variance_ratio
        return f"PCA of the means: {self.n_components} components explain {100 * ratio[: self.n_components].sum():.1f}%"

    @param.depends("mode", "n_components", watch=True)
    def _reset_dims(self) -> None:
        shown = self.order[: min(DEFAULT_SHOWN_DIMS if self.mode == "latent" else MAX_DIMS, self.n_coordinates)]
        with param.parameterized.batch_call_watchers(self):
            self.dims = shown
            self.focus = (shown[0], shown[1]) if len(shown) > 1 else (shown[0], shown[0])

    # ---- the current point --------------------------------------------------------------------------------------

    def set_coordinate(self, index: int, value: float) -> None:
        """Move the current point so that coordinate `index` equals `value`, keeping the others."""
        shift = value - self.point[index]
        if shift != 0.0:
            self.current_z = self.current_z + shift * self.axes[index]

    def go_to_row(self, row: int) -> None:
        """Make a sample current: its mean becomes the point, its class the decoder's label."""
        with param.parameterized.batch_call_watchers(self):
            self.current_row = int(row)
            if self.labels[row] >= 0:
                self.label = int(self.labels[row])
            self.current_z = self.mu[row].astype(np.float64)

    def go_to_nearest(self, dims: tuple[int, int], at: tuple[float, float], spans: tuple[float, float]) -> None:
        """Make current the shown sample nearest `at` in coordinates `dims` (x, y), distances in units of `spans`."""
        visible = np.flatnonzero(self.visible_mask())
        if len(visible) > 0:
            x, y = self.columns[dims[0]][visible], self.columns[dims[1]][visible]
            self.go_to_row(int(visible[nearest_sample(x, y, at, spans)]))

    def go_to_origin(self) -> None:
        """The prior's mean: z = 0."""
        self.current_z = np.zeros(self.latent_dim)

    def go_to_centroid(self) -> None:
        """The mean of the selected samples (of all samples when nothing is selected)."""
        rows = self.mu if self.selection is None or not self.selection.any() else self.mu[self.selection]
        self.current_z = rows.mean(axis=0).astype(np.float64)

    def slider_ranges(self) -> np.ndarray:
        """(k, 2) slider ranges of the current kind, widened to contain the current point."""
        label = int(self.labels[self.current_row]) if self.current_row is not None else self.label
        columns = self.columns[: self.n_coordinates]
        centers = self.prior_centers[: self.n_coordinates]
        return sweep_ranges(columns.T, self.range_kind, centers, self.point, self.labels, label, self.range_k)

    def class_statistics(self, label: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std a coordinate of one class (of all samples when label is None)."""
        return class_moments(self.columns[: self.n_coordinates].T, self.labels, label)

    def decode_current(self) -> np.ndarray:
        """The current point decoded (with the current label): uint8 (H, W) or (H, W, C)."""
        return decode(self.model, self.current_z, self.label)[0]

    # ---- the selection --------------------------------------------------------------------------------------------

    def select_box(self, bounds: tuple[float, float, float, float]) -> None:
        """Select the shown samples inside a box drawn on the focus plot (in its coordinates)."""
        x, y = self.columns[self.focus[0]], self.columns[self.focus[1]]
        self.apply_selection(box_mask(x, y, bounds) & self.visible_mask())

    def select_lasso(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Select the samples inside a lasso polygon drawn on the focus plot."""
        x, y = self.columns[self.focus[0]], self.columns[self.focus[1]]
        self.apply_selection(lasso_mask(x, y, xs, ys) & self.visible_mask())

    def apply_selection(self, mask: np.ndarray) -> None:
        """Merge a new mask into the selection by `selection_mode` (replace, add, intersect)."""
        self.selection = combine_selection(self.selection, np.asarray(mask, dtype=bool), self.selection_mode)

    def invert_selection(self) -> None:
        """Select exactly the samples not selected (all, when nothing is)."""
        self.selection = np.ones(len(self.mu), bool) if self.selection is None else ~self.selection

    def clear_selection(self) -> None:
        """Select nothing."""
        self.selection = None

    def selection_summary(self) -> tuple[int, dict[int, int]]:
        """Number of selected samples and how many of them each class has."""
        if self.selection is None:
            return 0, {}
        return int(self.selection.sum()), class_mix(self.labels, self.selection)
