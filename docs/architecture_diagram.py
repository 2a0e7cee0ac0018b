"""Draw docs/architecture.png: the packages, what imports what, and where plugins come in.

Run: .venv/bin/python docs/architecture_diagram.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BLUE, GREEN, ORANGE, GREY, RED = "#dbe8f6", "#dcefdc", "#fbe5cc", "#eeeeee", "#c0392b"


def box(ax, x, y, w, h, title, lines, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12", fc=color, ec="#555"))
    ax.text(x + w / 2, y + h - 0.28, title, ha="center", va="top", fontsize=12.5, weight="bold", family="monospace")
    for i, line in enumerate(lines):
        ax.text(x + 0.18, y + h - 0.78 - 0.36 * i, line, ha="left", va="top", fontsize=9.5)


def arrow(ax, start, end, label="", color="#333", style="-|>", dashed=False, offset=(0.1, 0.0)):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=16, color=color, lw=1.6, linestyle="--" if dashed else "-"
        )
    )
    if label:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, label, fontsize=9, color=color, ha="left", va="center", style="italic")


def main() -> None:
    fig, ax = plt.subplots(figsize=(12, 8.2), dpi=130)
    ax.set_xlim(0, 12.3)
    ax.set_ylim(0, 8.2)
    ax.axis("off")

    box(
        ax,
        0.3,
        6.1,
        4.6,
        1.85,
        "latentsweep CMD",
        [
            "console script: vaemodels.cli.main",
            "its subcommands: the entry-point group",
            "latentsweep.commands (pyproject.toml)",
        ],
        GREY,
    )
    box(
        ax,
        0.3,
        3.3,
        4.6,
        2.3,
        "sweeps/",
        [
            "Ray Tune + Optuna: the only package",
            "that imports ray",
            "registers train, models, sweep, best,",
            "metrics, status, dashboard (sweeps.commands)",
        ],
        GREEN,
    )
    box(
        ax,
        6.4,
        3.3,
        4.1,
        2.3,
        "explorer/",
        ["Panel + HoloViews + datashader app", "reads results through vaemodels", "registers explore (explorer.cli)"],
        ORANGE,
    )
    box(
        ax,
        0.3,
        0.2,
        10.7,
        2.5,
        "vaemodels/   (public surface: vaemodels/__init__.py)",
        [
            "registries: architectures.py (ArchSpec: class, own keys + defaults + checks, search ranges,"
            " plateau monitor,",
            "                 loss terms)   dataset_registry.py (DatasetSpec: loader, sizes, labels, factors,"
            " reloadable)",
            "config.py (TrialConfig)   metric_names.py (names, thresholds, defaults)   training.py   models.py"
            "   losses.py",
            "file formats: trial_folder.py   checkpoint.py   embeddings.py (latents.parquet)   trials_table.py"
            "   storage.py",
        ],
        BLUE,
    )
    box(
        ax,
        6.4,
        6.1,
        4.6,
        1.85,
        "your plugin package",
        ["entry points: latentsweep.architectures,", "latentsweep.datasets, latentsweep.commands"],
        GREY,
    )

    arrow(ax, (2.6, 3.3), (2.6, 2.75), "imports")
    arrow(ax, (8.45, 3.3), (8.45, 2.75), "imports")
    arrow(ax, (2.6, 6.1), (2.6, 5.65), "entry points", dashed=True)
    arrow(ax, (4.3, 6.1), (7.2, 5.65), "entry points", dashed=True, offset=(-0.6, 0.25))
    arrow(ax, (10.8, 6.1), (10.8, 2.72), "registers\ninto", dashed=True, offset=(0.08, 0.0))
    arrow(ax, (4.95, 4.45), (6.35, 4.45), color=RED, style="<|-|>")
    ax.text(5.65, 4.7, "never imports", fontsize=9, color=RED, ha="center")
    ax.text(5.65, 4.15, "in either direction", fontsize=8.5, color=RED, ha="center")
    ax.text(
        6.0,
        8.05,
        "Dependencies run one way: down. vaemodels imports neither sweeps nor explorer.",
        ha="center",
        fontsize=11,
    )
    out = Path(__file__).with_name("architecture.png")
    fig.savefig(out, bbox_inches="tight")
    print(out)


if __name__ == "__main__":
    main()
