"""The analytics dashboard (web/dashboard, Apache ECharts): its HTML shell and assets,
served by the admin function. The page holds no data; it reads the admin API's report
routes with the admin's own credentials (docs/dashboard.md)."""
