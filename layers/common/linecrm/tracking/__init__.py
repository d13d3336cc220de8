"""Click tracking: tracked links in outgoing messages, and the clicks on them."""
