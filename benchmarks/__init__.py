"""linecrm benchmarks: `make bench` (python -m benchmarks). Figures are ratios to a
baseline measured in the same run, so they compare across machines."""
