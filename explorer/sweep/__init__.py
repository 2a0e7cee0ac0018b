"""Views of a whole sweep: the sweep chooser, the trial table and the overview scatter."""
