"""Machine-learning models: where artefacts live, defaults for training."""
