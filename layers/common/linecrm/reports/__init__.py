"""Reports read from the counters kept as things happen (``linecrm.repositories.
campaign_stats``, the inflow routes' counters): per delivery, the campaign list, a
scenario's step funnel, the inflow routes and a daily timeline; as pydantic models
(``models``) and as CSV (``csv_format``). Guide: docs/reports.md."""
