"""vaemodels: the architectures and datasets registries, the training loop, and the results' file formats.

This is the public surface that sweeps/, explorer/, the benchmarks and users import; everything else in the
package is internal. Names load on first use (PEP 562), so `import vaemodels` costs nothing until a name is
used: `latentsweep --help` never imports torch, scikit-learn or pyarrow.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {}
for _module, _names in {
    "errors": "UserError ConfigError DatasetFileError",
    "architectures": "ARCHITECTURES ArchKey ArchSpec LogRange RegistryError arch_keys architecture key_owner "
    "list_models loss_terms register_architecture takes_key",
    "config": "CONFIG_KEYS SCHEMA_VERSION DataConfig ModelConfig TrainConfig TrialConfig is_missing key_kind "
    "planned_updates",
    "dataset_registry": "DATASETS DatasetSpec register_dataset",
    "datasets": "Dataset DatasetUnavailable load_dataset load_samples",
    "npz_files": "refuse_float_pixels",
    "dataset_file": "DatasetFile DatasetFileError register_dataset_file use_recorded_dataset",
    "models": "VAE VAEOutput count_parameters create_model",
    "losses": "LossTerms vae_loss",
    "training": "EpochEnd TrainState TrainingDiverged evaluate fit measure_throughput new_state pick_device",
    "embeddings": "encode latents_metadata mu_columns read_latents",
    "decoding": "cpu_model decode to_uint8 torch_threads upscale_factor",
    "latent_ranges": "RANGE_KINDS class_moments coordinate_ranges dimension_kl kl_from_history latents_kl_per_dim "
    "order_by_kl prior_range sweep_ranges",
    "traversal": "GridLabels export_scale gif_size grid_size labelled_grid latent_traversal row_name start_text "
    "sweep_gif tile_origin traversal_images traversal_points traversal_title traversal_values value_label",
    "metric_names": "ACTIVE_VARIANCE BETTER CLASSIFIERS DCI_KEYS DCI_REGRESSOR DCI_REGRESSORS DCI_SAMPLES "
    "KEEP_POLICIES LATENT_KEYS LATENT_METRICS METRIC_MODES RECOMPUTABLE SCORE_KEYS SCORE_PROTOCOLS SCORE_SETTING "
    "SCORE_SETTINGS STUDY_DCI_REGRESSOR TRIAL_SCORE_KEYS UDR_CORRELATIONS UDR_KEYS draws_fresh loss_name metric_mode "
    "score_protocol",
    "metrics": "dci_metrics latent_metrics mig",
    "scores": "FactorOracle beta_vae_score explicitness factor_vae_score logistic_regression modularity sap udr",
    "storage": "Location StorageError human_bytes on resolve",
    "lease": "LEASE_FILE LEASE_HEARTBEAT_S LEASE_STALE_S Holder Lease LeaseHeld LeaseLost acquire_lease hold_lease "
    "held_line",
    "study_stats": "STUDY_SCORES configuration_labels has_seed_replicates label_order median_interval "
    "rank_correlation rank_disagreement scores_present summary_table swept_keys",
    "trial_folder": "ABANDONED_FILE ATTEMPT_FILE CHECKPOINT_PREFIX CONFIG_FILE DIVERGED_FILE HISTORY_FILE "
    "LATENTS_FILE SUMMARY_FILE "
    "checkpoint_name contain_paths fell_short finite is_checkpoint_name path_problem trial_summary",
    "checkpoint": "LoadedTrial TrialNotFound checkpoint_problem list_checkpoints load_trial load_trials "
    "prune_checkpoints restore_state save_checkpoint write_epoch_checkpoint",
    "trials_table": "PATH_COLUMNS TRIALS_FILE RowTable TableDamaged TableUnreadable frame_from_rows pending_row "
    "read_sidecar read_trials_table remove_partial_writes row_from_summary write_trials_table",
    "table_rebuild": "folder_row load_or_rebuild rebuild_trials_table trial_ids",
    "finishing": "FreshSampleError TrialDamaged finish_trial trial_dci trim_trial",
    "score_columns": "trial_scores",
    "udr_columns": "sweep_udr",
    "cli": "CommandParser add_config_flags config_overrides lazy main",
}.items():
    _EXPORTS.update(dict.fromkeys(_names.split(), f"vaemodels.{_module}"))

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vaemodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
