"""Rows for trial folders of schema 1 (made before checkpoints carried summary.json): every history read again."""

from __future__ import annotations

from typing import Any

from vaemodels import trial_folder as tf
from vaemodels.metric_names import LATENT_METRICS
from vaemodels.storage import Location


def old_layout_row(trial: Location, checkpoints: list[str]) -> dict[str, Any] | None:
    """A summary (as summary.json would hold it) rebuilt from the histories of a schema-1 trial's checkpoints."""
    histories = {}
    for name in checkpoints:
        try:
            histories[name] = trial.join(name, tf.HISTORY_FILE).read_json()
        except (OSError, ValueError):
            continue  # a checkpoint being written, or a damaged one: the others still count
    if not histories:
        return None
    last_name = max(histories)  # checkpoint folders sort by epoch
    try:
        config = trial.join(last_name, tf.CONFIG_FILE).read_json()
    except (OSError, ValueError):
        return None
    diverged = trial.join(last_name, tf.DIVERGED_FILE).exists()
    history = histories[last_name]  # the newest checkpoint holds every epoch so far
    summary = tf.trial_summary(config, history, finished=diverged, diverged=diverged, last_checkpoint=last_name)
    summary["schema_version"] = 1
    if summary["checkpoint_path"] not in histories:  # the best epoch's checkpoint was not kept: the best one kept
        best_name = min(histories, key=lambda n: tf.finite(histories[n][-1].get("loss") if histories[n] else None))
        best_entry = histories[best_name][-1] if histories[best_name] else {}
        summary.update({key: best_entry.get(key) for key in LATENT_METRICS})
        summary.update(checkpoint_path=best_name, latents_path=f"{best_name}/{tf.LATENTS_FILE}")
    latents = trial.join(summary["checkpoint_path"], tf.LATENTS_FILE)
    if not latents.exists():
        summary["latents_path"] = None
    dci = trial.join(summary["checkpoint_path"], tf.DCI_FILE)
    if dci.exists():
        summary.update({k: v for k, v in dci.read_json().items() if k in LATENT_METRICS})
    planned = config.get("epochs")
    if planned and len(history) >= planned:
        summary["status"] = "TERMINATED"  # schema 1 knew nothing of finishing; the planned epochs do
    return summary
