"""Admin API: /admin/… (IAM-authorized on AWS; a bearer token in the local stack).

The routes, their models and the error mapping live in ``linecrm.admin`` (the layer),
so the OpenAPI document can be generated from the same code this function runs.
"""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import functools
    import os
    from pathlib import Path
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from linecrm.admin.api import build_app
    from linecrm.config.admin import AdminSettings
    from linecrm.dashboard import routes as dashboard_routes
    from linecrm.observability import logger, metrics
    from linecrm.tracing import tracer
    from linecrm.wiring import Container

# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, AdminSettings))
app = build_app(
    lambda: container().admin,
    lambda: container().import_service,
    lambda: container().broadcast_service,
    lambda: container().ledger_admin,
    lambda: container().channel_registry,
    event_store=lambda: container().event_store,
    scenario_service=lambda: container().scenario_service,
    rich_menu_service=lambda: container().rich_menu_service,
    account_links=lambda: container().account_links,
    login_keys=lambda: container().login_keys,
    clock=lambda: container().clock,
    route_service=lambda: container().route_service,
    report_service=lambda: container().report_service,
    insight_reports=lambda: container().insight_reports,
    experiment_reports=lambda: container().experiment_reports,
    public_base_url=lambda: container().settings.public_base_url,
    web_tag_keys=lambda: container().web_tag_keys,
    chat_service=lambda: container().chat_service,
    dashboard_service=lambda: container().dashboard_service,
    audit_log=lambda: container().audit_log,
    staff_directory=lambda: container().staff_directory,
)
# The analytics dashboard's page and assets (built by `make dashboard`); its data comes
# from the report routes above, called by the page with the admin's credentials.
app.include_router(
    dashboard_routes.build_router(
        Path(__file__).with_name("dashboard_assets"),
        # Lambda sets AWS_REGION; the local stack sets it for its functions too.
        region=lambda: os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", ""),
    )
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container()  # the first invocation validates the settings, before any work
    return app.resolve(event, context)
