"""Every function's settings model, by function name (``resources.FunctionDefinition``).

For the tests and the local stack, which look models up by name: a function imports
its own model (``linecrm.config.<function>``), never this.
"""

from __future__ import annotations

from linecrm.config import FunctionSettings
from linecrm.config.admin import AdminSettings
from linecrm.config.events import EventsSettings
from linecrm.config.inflow import InflowSettings
from linecrm.config.jobs import JobsSettings
from linecrm.config.liff_login import LiffLoginSettings
from linecrm.config.schedule_failures import ScheduleFailuresSettings
from linecrm.config.scheduler import SchedulerSettings
from linecrm.config.sender import SenderSettings
from linecrm.config.webhook import WebhookSettings

FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    model.function_name: model
    for model in (
        WebhookSettings,
        SchedulerSettings,
        SenderSettings,
        LiffLoginSettings,
        JobsSettings,
        AdminSettings,
        EventsSettings,
        ScheduleFailuresSettings,
        InflowSettings,
    )
}
