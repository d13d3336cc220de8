"""The whole local stack in this process: what ``make dev`` runs and tests start.

Start order: the gateway's socket (its URL goes into the emulator's webhook URL),
moto and the resources, the LINE emulator, the handlers' environment, then the
gateway, Lambda's asynchronous invocations, the scheduler runner and the SQS poller.
``stop()`` undoes it in reverse.
One LocalStack per process at a time (moto's state and ``os.environ`` are global).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from linecrm import resources
from linecrm.admin.staff import Role
from linecrm_local import demo, grants, staff_auth
from linecrm_local.async_invoke import AsyncInvoker
from linecrm_local.aws_local import EnvironmentPatch, LocalAws, LocalResources, create_resources
from linecrm_local.clock import MovableClock
from linecrm_local.console_static import ConsoleFiles, console_auth, console_config
from linecrm_local.gateway import LocalGateway
from linecrm_local.lambda_runtime import FUNCTIONS_ROOT, LocalFunctions
from linecrm_local.provision import ChannelSecret
from linecrm_local.scheduler_runner import SchedulerRunner
from linecrm_local.seed import seed_demo_account
from linecrm_local.serving import PortInUseError, bind_listening_socket
from linecrm_local.sqs_poller import SqsPoller
from linecrm_local.staff_oauth import HostedLogin

if TYPE_CHECKING:
    from linecrm_local.demo_shop import DemoShop
    from linecrm_local.emulator import LineEmulator

logger = logging.getLogger(__name__)


class LocalStack:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        gateway_port: int = 0,
        emulator_port: int = 0,
        moto_port: int = 0,
        scheduler_tick_seconds: float = 1.0,
        scheduler_retry_delay_seconds: float = 0.05,
        poll_interval_seconds: float = 0.05,
        batching_window_seconds: float | None = None,
        visibility_timeout_seconds: int | None = None,
        clock: MovableClock | None = None,
        log_level: str = "WARNING",
        admin_token: str = demo.DEMO_ADMIN_TOKEN,
        functions_root: Path = FUNCTIONS_ROOT,
        synchronous_webhooks: bool = True,
        settings: Mapping[str, str] | None = None,
        demo_shop_port: int | None = None,
    ) -> None:
        """Ports 0 pick free ones. ``visibility_timeout_seconds`` overrides the queues'
        (minutes on AWS) so retried messages come back fast in tests. ``settings``
        (variable -> value) overrides a setting of every function that has it.
        ``demo_shop_port`` (0: a free one) also serves the demo shop (``make dev``)."""
        self.host = host
        self.gateway_port = gateway_port
        self.emulator_port = emulator_port
        self.moto_port = moto_port
        self.scheduler_tick_seconds = scheduler_tick_seconds
        self.scheduler_retry_delay_seconds = scheduler_retry_delay_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.batching_window_seconds = batching_window_seconds
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.clock = clock or MovableClock()
        self.log_level = log_level
        self.admin_token = admin_token
        self.functions_root = functions_root
        self.synchronous_webhooks = synchronous_webhooks
        self.settings = dict(settings or {})
        self.demo_shop_port = demo_shop_port
        self._demo_shop: DemoShop | None = None

        self.aws = LocalAws(host, moto_port)
        # The handlers run on the stack's clock: moving it moves what they see as now.
        self.functions = LocalFunctions(functions_root, clock=self.clock.now)
        self.gateway = LocalGateway(
            self.functions,
            admin_token=admin_token,
            host=host,
            port=gateway_port,
            console=ConsoleFiles(config=console_config(demo.DEMO_CHANNEL_ID)),
        )
        self._emulator: LineEmulator | None = None
        self._resources: LocalResources | None = None
        self._invoker: AsyncInvoker | None = None
        self._runner: SchedulerRunner | None = None
        self._poller: SqsPoller | None = None
        self._environment: EnvironmentPatch | None = None
        self._grants: ExitStack | None = None
        self.grant_check: grants.GrantCheck | None = None
        self._started: list[str] = []
        self.staff_pool: staff_auth.StaffPool | None = None
        self.demo_staff: list[tuple[str, Role]] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
        from linecrm_local.emulator.config import EmulatedLoginChannel

        # Bind the ports first: a busy one fails before moto's (process-wide) state is
        # reset, and the webhook URL needs the gateway's port.
        self.gateway.bind()
        self._started.append("gateway")
        if self.emulator_port:
            bind_listening_socket("LINE emulator", self.host, self.emulator_port).close()
        self.aws.start()
        self._started.append("aws")
        self._resources = create_resources(
            self.aws,
            [
                ChannelSecret(
                    demo.DEMO_CHANNEL_ID,
                    demo.DEMO_CHANNEL_SECRET,
                    demo.DEMO_CHANNEL_ACCESS_TOKEN,
                    event_sources={demo.DEMO_EVENT_SOURCE: demo.DEMO_EVENT_SOURCE_KEY},
                    login_channel_id=demo.DEMO_LOGIN_CHANNEL_ID,
                    login_channel_secret=demo.DEMO_LOGIN_CHANNEL_SECRET,
                    bot_basic_id=demo.DEMO_BOT_BASIC_ID,
                )
            ],
            visibility_timeout_seconds=self.visibility_timeout_seconds,
        )

        # The staff user pool (Cognito on moto) with the demo staff, one per role: the
        # gateway signs them in and checks their tokens (docs/staff.md).
        self.staff_pool = self._resources.staff_pool
        assert self.staff_pool is not None
        self.demo_staff = staff_auth.seed_demo_staff(self.aws.session(), self.staff_pool)
        self.gateway.staff_auth = staff_auth.StaffAuth(self.aws.session(), self.staff_pool)
        # The console signs in through the local managed login (as Cognito's on AWS).
        self.gateway.hosted_login = HostedLogin(
            self.staff_pool.client_id, self.gateway.staff_auth.sign_in
        )
        if self.gateway.console is not None:
            self.gateway.console.config["auth"] = console_auth(self.staff_pool.client_id)

        channel = EmulatedChannel(
            channel_id=demo.DEMO_CHANNEL_ID,
            channel_secret=demo.DEMO_CHANNEL_SECRET,
            channel_access_token=demo.DEMO_CHANNEL_ACCESS_TOKEN,
            webhook_url=self.webhook_url(demo.DEMO_CHANNEL_ID),
            bot_user_id=demo.DEMO_BOT_USER_ID,
            basic_id=demo.DEMO_BOT_BASIC_ID,
        )
        login_channel = EmulatedLoginChannel(
            channel_id=demo.DEMO_LOGIN_CHANNEL_ID,
            channel_secret=demo.DEMO_LOGIN_CHANNEL_SECRET,
            callback_urls=[f"{self.gateway.url}/r/callback"],  # inflow routes' callback
            linked_bot_channel_id=demo.DEMO_CHANNEL_ID,
        )
        self._emulator = LineEmulator(
            EmulatorConfig(
                channels=[channel],
                login_channels=[login_channel],
                synchronous_webhooks=self.synchronous_webhooks,
            )
        )
        self._start_emulator(self._emulator)
        self._started.append("emulator")

        # The process has AWS and Powertools settings; each function its own settings,
        # as on AWS (a variable of another function is missing there too).
        self._environment = EnvironmentPatch(self._resources.environment(log_level=self.log_level))
        self._environment.apply()
        for name, environment in self._resources.function_environments(
            self._emulator.base_url, overrides=self.settings
        ).items():
            self.functions.set_environment(name, environment)
        # Tests ask for it (grants.require_grants): each function's AWS calls are checked
        # against its role in the CDK template, as AWS would.
        self.grant_check = grants.check_for(self._resources)
        if self.grant_check is not None:
            self._grants = ExitStack()
            self._grants.enter_context(grants.enforcing(self.grant_check))
            self._started.append("grants")
        self._started.append("environment")
        seed_demo_account(
            demo.DEMO_CHANNEL_ID,
            self._resources.table_names[resources.MAIN_TABLE.logical_id],
            self.aws.session(),
        )

        self.gateway.start()
        self._started.append("gateway")  # stops serving before moto goes away
        if self.demo_shop_port is not None:
            self._start_demo_shop(self.demo_shop_port)
        self._invoker = AsyncInvoker(
            self.functions,
            destinations={
                config.function.name: self._resources.queues[config.on_failure.logical_id].url
                for config in resources.ASYNC_INVOCATIONS
                if config.on_failure is not None
            },
        )
        self._invoker.start()
        self._started.append("invoker")
        self._runner = SchedulerRunner(
            self.functions,
            self.clock,
            invoker=self._invoker,
            group_name=self._resources.schedule_group_name,
            tick_seconds=self.scheduler_tick_seconds,
            retry_delay_seconds=self.scheduler_retry_delay_seconds,
        )
        self._runner.start()
        self._started.append("runner")
        self._poller = SqsPoller(
            self.functions,
            self._resources.polled_queues(),
            poll_interval_seconds=self.poll_interval_seconds,
            batching_window_seconds=self.batching_window_seconds,
            region=self._resources.region,
            may_have_messages=self.aws.queue_may_have_messages,
        )
        self._poller.start()
        self._started.append("poller")
        logger.info("local stack up: gateway %s, emulator %s", self.gateway_url, self.emulator_url)

    def _start_demo_shop(self, port: int) -> None:
        from linecrm_local.demo_shop import DemoShop, DemoShopConfig
        from linecrm_local.seed import seed_demo_shop

        config = DemoShopConfig(
            api_url=self.gateway_url,
            channel_id=demo.DEMO_CHANNEL_ID,
            source=demo.DEMO_EVENT_SOURCE,
            key=demo.DEMO_EVENT_SOURCE_KEY,
            account_link_dialog_url=f"{self.emulator_url}/dialog/bot/accountLink",
            clock=self.clock.now,
        )
        self._demo_shop = DemoShop(config, host=self.host, port=port).start()
        self._started.append("demo_shop")
        # The shop's pages carry the web tag with this key (docs/web-tag.md).
        self._demo_shop.app.web_tag_key = seed_demo_shop(
            demo.DEMO_CHANNEL_ID,
            self.resources.table_names[resources.MAIN_TABLE.logical_id],
            self._demo_shop.url,
            demo.DEMO_LIFF_ID,
            self.aws.session(),
        )

    def _start_emulator(self, emulator: LineEmulator) -> None:
        # The port was checked in _start; werkzeug's bind failure would sys.exit.
        try:
            emulator.start(self.host, self.emulator_port)
        except SystemExit as exit_:
            raise PortInUseError("LINE emulator", self.host, self.emulator_port) from exit_

    def stop(self) -> None:
        """Stop what was started, in reverse order; safe to call twice."""
        while self._started:
            part = self._started.pop()
            try:
                if part == "poller" and self._poller is not None:
                    self._poller.stop()
                elif part == "runner" and self._runner is not None:
                    self._runner.stop()
                elif part == "grants" and self._grants is not None:
                    self._grants.close()
                elif part == "invoker" and self._invoker is not None:
                    self._invoker.stop()
                elif part == "environment" and self._environment is not None:
                    self._environment.restore()
                elif part == "emulator" and self._emulator is not None:
                    self._emulator.stop()
                elif part == "gateway":
                    self.gateway.stop()
                elif part == "demo_shop" and self._demo_shop is not None:
                    self._demo_shop.stop()
                elif part == "aws":
                    self.aws.stop()
            except Exception:
                logger.exception("stopping the local stack's %s failed", part)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ what tests and dev use
    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    def webhook_url(self, channel_id: str = demo.DEMO_CHANNEL_ID) -> str:
        return f"{self.gateway.url}/webhook/{channel_id}"

    def events_url(self, channel_id: str = demo.DEMO_CHANNEL_ID) -> str:
        return f"{self.gateway.url}/events/{channel_id}"

    @property
    def demo_shop(self) -> DemoShop:
        if self._demo_shop is None:
            raise RuntimeError("the demo shop is not running (LocalStack(demo_shop_port=…))")
        return self._demo_shop

    @property
    def emulator(self) -> LineEmulator:
        if self._emulator is None:
            raise RuntimeError("the local stack is not started")
        return self._emulator

    @property
    def emulator_url(self) -> str:
        return self.emulator.base_url

    @property
    def moto_url(self) -> str:
        return self.aws.url

    @property
    def resources(self) -> LocalResources:
        if self._resources is None:
            raise RuntimeError("the local stack is not started")
        return self._resources

    @property
    def runner(self) -> SchedulerRunner:
        if self._runner is None:
            raise RuntimeError("the local stack is not started")
        return self._runner

    @property
    def invoker(self) -> AsyncInvoker:
        """Lambda's asynchronous invocations (what the scheduler runner invokes with)."""
        if self._invoker is None:
            raise RuntimeError("the local stack is not started")
        return self._invoker

    @property
    def poller(self) -> SqsPoller:
        if self._poller is None:
            raise RuntimeError("the local stack is not started")
        return self._poller

    @property
    def send_queue_url(self) -> str:
        return self.resources.queues[resources.SEND_QUEUE.logical_id].url

    @property
    def send_dlq_url(self) -> str:
        return self.resources.queues[resources.SEND_QUEUE.logical_id].dlq_url
