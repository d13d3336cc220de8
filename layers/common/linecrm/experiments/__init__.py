"""A/B tests and holdouts: the experiment report (docs/experiments.md)."""
