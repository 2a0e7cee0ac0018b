"""Comparison maths on latent codes: matching two trials' dimensions, neighbourhoods, attribute vectors."""
