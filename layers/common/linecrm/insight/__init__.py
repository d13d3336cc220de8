"""Opens and clicks from LINE's insight API (docs/insight.md)."""
