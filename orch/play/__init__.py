"""Plays: loading YAML and Python plays, their inputs and templates, and the engine that runs
their steps in batches and journals where a run stopped."""
