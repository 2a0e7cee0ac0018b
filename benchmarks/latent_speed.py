"""Speed of the latent views: the composite SPLOM against HoloViews' datashaded gridmatrix, and traversal decoding.

At one million synthetic means (10 classes): the composite for 8, 16 and 32 dimensions (goals: 8 under 1 s, 32 under
5 s), HoloViews' own `datashade(gridmatrix(...))` rendered to Bokeh at 8 and 16 (first and warm render; 32 is
skipped, it takes minutes), and a selection repaint at 8 and 32 (goal at 8: under 1 s). Then on the CPU: one traversal
step (decode one z, encode the PNG; goal 50 ms) and one 8 x 10 traversal grid, labelled and at full size as the grid
view draws it (goal 500 ms), beside the bare decoder forward pass. The last line is the headline: the worst time /
goal ratio (<= 1 meets every goal).

Run: .venv/bin/python benchmarks/latent_speed.py [--quick]   (--quick: 200,000 points and no 16-dim gridmatrix)
benchmarks/explorer_speed.py runs these measurements too, beside the table and trial-switch ones (one headline).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from explorer.images import to_png
from explorer.latent.colouring import make_colouring
from explorer.latent.decoded_view import DISPLAY_SIZE
from explorer.latent.splom import SplomRenderer
from vaemodels import (
    GridLabels,
    TrialConfig,
    create_model,
    decode,
    export_scale,
    labelled_grid,
    torch_threads,
    traversal_images,
    traversal_values,
    upscale_factor,
)

GOALS = {"composite 8": 1.0, "composite 32": 5.0, "repaint 8": 1.0, "step": 0.050, "grid": 0.500}


CPU_SECONDS: dict[str, float] = {}  # process CPU time of the timed calls: what they cost when cores are shared


def timed(function: Callable[[], object], repeats: int = 1, name: str | None = None) -> float:
    """Best wall time of `repeats` calls, seconds; with a name, also keep that call's CPU time (all threads)."""
    best = float("inf")
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        function()
        wall = time.perf_counter() - start
        if wall < best:
            best = wall
            if name:
                CPU_SECONDS[name] = time.process_time() - cpu_start
    return best


def synthetic_means(n: int, dims: int, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """(dims, N) float32 means with class structure, and a latents-like frame holding the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    offsets = rng.normal(0, 1.5, (10, dims)).astype(np.float32)
    mu = rng.standard_normal((n, dims), dtype=np.float32) + offsets[labels]
    return np.ascontiguousarray(mu.T), pd.DataFrame({"label": labels.astype(np.int16)})


def bench_composite(columns: np.ndarray, latents: pd.DataFrame, results: dict[str, float]) -> None:
    """The composite at 8, 16 and 32 dimensions: first render, warm render, selection repaint."""
    colouring = make_colouring(latents, "label")
    names = [f"z{i}" for i in range(len(columns))]
    cold = timed(lambda: SplomRenderer(columns, names, colouring).render(list(range(8))))
    print(f"composite  8 dims, first in process (datashader compiles its kernel): {cold:6.2f} s")
    selection = columns[0] > 0.5  # about a third of the samples
    for n_dims in (8, 16, 32):
        renderer = SplomRenderer(columns, names, colouring)  # nothing cached: a new trial or colouring
        first = timed(lambda r=renderer, n=n_dims: r.render(list(range(n))), name=f"composite {n_dims}")
        warm = timed(lambda r=renderer, n=n_dims: r.render(list(range(n)), hidden=(3,)), repeats=2)
        repaint = timed(
            lambda r=renderer, n=n_dims: r.render(list(range(n)), selection=selection), name=f"repaint {n_dims}"
        )
        results[f"composite {n_dims}"], results[f"repaint {n_dims}"] = first, repaint
        print(
            f"composite {n_dims:2d} dims: first {first:6.2f} s, warm (a class toggled) {warm:5.2f} s, "
            f"selection repaint {repaint:5.2f} s"
        )


def bench_gridmatrix(columns: np.ndarray, dims_list: tuple[int, ...], results: dict[str, float]) -> None:
    """HoloViews' gridmatrix with datashaded Points, rendered to Bokeh: first and warm."""
    import holoviews as hv
    from holoviews.operation import gridmatrix
    from holoviews.operation.datashader import datashade

    hv.extension("bokeh", logo=False)
    for n_dims in dims_list:
        frame = pd.DataFrame({f"mu_{i}": columns[i] for i in range(n_dims)})
        grid = gridmatrix(hv.Dataset(frame), chart_type=hv.Points).map(
            datashade, hv.Points
        )  # histograms on the diagonal
        first = timed(lambda g=grid: hv.render(g, backend="bokeh"))
        warm = timed(lambda g=grid: hv.render(g, backend="bokeh"))
        results[f"gridmatrix {n_dims}"], results[f"gridmatrix warm {n_dims}"] = first, warm
        print(f"gridmatrix {n_dims:2d} dims (HoloViews, datashaded): first {first:6.2f} s, warm {warm:6.2f} s")


def bench_decoder(dataset: str, size: int, results: dict[str, float]) -> None:
    """One traversal step and one 8 x 10 grid of an 8-dimensional VAE, beside the bare decoder forward."""
    config = TrialConfig.from_dict({"dataset": dataset, "image_size": size, "latent_dim": 8, "arch": "vae"})
    model = create_model(config).eval()
    z = np.random.default_rng(0).standard_normal(8)
    one, eighty = torch.from_numpy(z[None].astype(np.float32)), torch.randn(80, 8)

    def bare(batch: torch.Tensor) -> None:
        with torch_threads(), torch.inference_mode():  # the same single thread as the explorer's decoding
            model.decode(batch)

    def step() -> None:
        to_png(decode(model, z)[0], upscale_factor(size, DISPLAY_SIZE))

    def grid() -> None:  # as the grid view draws it: decoded, labelled, upscaled towards 128 px a tile, PNG
        ranges = np.tile([-2.5, 2.5], (8, 1))
        images = traversal_images(model, z, np.eye(8), z, ranges, 10)
        labels = GridLabels(tuple(f"z{i}\nKL 1.00" for i in range(8)), traversal_values(ranges, 10))
        to_png(labelled_grid(images, labels, export_scale(size)))

    bare_one, bare_grid = timed(lambda: bare(one), 20), timed(lambda: bare(eighty), 5)
    step_s, grid_s = timed(step, 20, name=f"step {size}"), timed(grid, 5, name=f"grid {size}")
    results["step"], results["grid"] = max(results.get("step", 0), step_s), max(results.get("grid", 0), grid_s)
    print(
        f"{dataset} {size}x{size}, 1 thread: bare forward {1e3 * bare_one:5.1f} ms, step {1e3 * step_s:5.1f} ms "
        f"({step_s / bare_one:.1f}x bare); bare 80-batch {1e3 * bare_grid:6.1f} ms, "
        f"grid 8x10 {1e3 * grid_s:6.1f} ms ({grid_s / bare_grid:.1f}x bare)"
    )


def main() -> None:
    """Run every measurement and print the ratios; the last line is the headline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 points and no 16-dimension gridmatrix")
    parser.add_argument("--gridmatrix", default=None, help="dimension counts for the gridmatrix, e.g. 8 or '' (none)")
    args = parser.parse_args()
    n = 200_000 if args.quick else 1_000_000
    gridmatrix_dims = args.gridmatrix if args.gridmatrix is not None else ("8" if args.quick else "8,16")
    columns, latents = synthetic_means(n, 32)
    load = os.getloadavg()[0]
    print(f"{n:,} points, 10 classes; torch {torch.__version__}; {os.cpu_count()} cores, load average {load:.1f}")
    results: dict[str, float] = {}
    bench_composite(columns, latents, results)
    bench_gridmatrix(columns, tuple(int(d) for d in gridmatrix_dims.split(",") if d), results)
    for dataset, size in (("mnist_5k", 28), ("shapes", 64)):
        bench_decoder(dataset, size, results)
    for n_dims in (8, 16):
        if f"gridmatrix {n_dims}" in results:
            first = results[f"gridmatrix {n_dims}"] / results[f"composite {n_dims}"]
            warm = results[f"gridmatrix warm {n_dims}"] / results[f"composite {n_dims}"]
            print(f"gridmatrix / composite at {n_dims} dims: {first:.1f}x (first render), {warm:.1f}x (warm render)")
    ratios = {name: results[name] / goal for name, goal in GOALS.items()}
    for name, ratio in ratios.items():
        cpu = {k: v for k, v in CPU_SECONDS.items() if k == name or (name in ("step", "grid") and k.startswith(name))}
        cpu_note = ", ".join(f"{k} {v:.3f} s" for k, v in cpu.items())
        print(f"{name}: {results[name]:.3f} s wall, goal {GOALS[name]} s -> ratio {ratio:.2f} (CPU time: {cpu_note})")
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it)")
    worst = max(ratios, key=ratios.get)
    print(f"headline: worst time / goal ratio {ratios[worst]:.2f} ({worst}); <= 1 meets every goal")


if __name__ == "__main__":
    main()
