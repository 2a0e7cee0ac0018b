"""sweeps: Ray Tune + Optuna sweeps over the vaemodels registry. The only package that imports ray."""
