"""Keeping the report counters as things happen: sent (the sender), blocks, follows and
unfollows (webhook signals), attributed purchases (events API signals)."""
