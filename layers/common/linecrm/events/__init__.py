"""The events API (``POST /events/{channel_id}``): authenticate the shop's source,
apply each event of the batch once, report per event. See docs/events.md."""
