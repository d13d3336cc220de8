"""Broadcasts: planning (who gets what, in which chunks) and the admin-side service."""
