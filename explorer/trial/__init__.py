"""Views of the selected trial: summary, KL per dimension, training curves and reconstructions."""
