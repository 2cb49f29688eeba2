"""Training the small demo LLaVA shipped with the repository: `python -m llava.train.train_demo`."""
