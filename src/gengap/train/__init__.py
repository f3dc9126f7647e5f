"""Post-training: pretraining of the built-in base models, SFT, compute accounting."""
