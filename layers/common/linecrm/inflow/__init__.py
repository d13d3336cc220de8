"""Inflow routes (流入経路): routes, their QR codes, the LINE Login pass and attribution
(docs/inflow-routes.md)."""
