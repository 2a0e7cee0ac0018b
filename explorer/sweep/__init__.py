"""Views of a whole sweep: the sweep chooser, the trial table, the overview scatter and the analytics (parallel
coordinates, hyperparameter importance, a Pareto front of two metrics)."""
