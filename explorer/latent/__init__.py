"""The latent workbench of one trial: shared state and statistics, the SPLOM, the focus plot, the selection, the
traversal sliders and the decoded pictures; `workbench.LatentExplorer` assembles them."""
