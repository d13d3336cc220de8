"""Broadcasts, the delivery policy (caps, quiet hours) and the delivery ledger.

A broadcast is planned in the background (the ``jobs`` function): ``POST …/broadcasts``
answers 202; ``GET …/broadcasts/{id}`` shows its progress and the ledger's outcome.
``POST …/broadcasts/preview`` is the dry run: recipients, caps applied, a sample.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from linecrm.admin.params import ChannelId, IdempotencyKey, new_router, responses
from linecrm.broadcasts.service import (
    BroadcastPreview,
    BroadcastReport,
    BroadcastRequest,
    BroadcastService,
    PreviewJobStatus,
)
from linecrm.delivery.ledger_admin import LedgerAdmin
from linecrm.domain.broadcasts import Broadcast
from linecrm.domain.deliveries import Delivery
from linecrm.domain.delivery_policy import DeliveryPolicy
from linecrm.domain.time_zones import shown_in

router = new_router()


def broadcast_service() -> BroadcastService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app wires the broadcast service")


def ledger_admin() -> LedgerAdmin:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app wires the ledger admin")


Broadcasts = Annotated[BroadcastService, Depends(broadcast_service)]
Ledger = Annotated[LedgerAdmin, Depends(ledger_admin)]
BroadcastId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,100}$", description="broadcast id")]
PreviewId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,100}$", description="preview id")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=200, description="delivery id")]


class BroadcastListResponse(BaseModel):
    broadcasts: list[Broadcast]


class DeliveryListResponse(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None = None


class RedriveAllRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=100, ge=1, le=1000)
    force: bool = Field(
        default=False,
        description="also re-drive deliveries first attempted more than 23 h ago, past "
        "LINE's 24 h retry-key window (a second copy is possible; recorded on the row)",
    )


class RedriveRefused(BaseModel):
    delivery_id: str
    reason: str


class RedriveAllResponse(BaseModel):
    redriven: list[str]
    refused: list[RedriveRefused] = Field(
        default_factory=list, description="past the retry-key window, not forced"
    )


def _shown(service: BroadcastService, channel_id: str, broadcast: Broadcast) -> Broadcast:
    """Times in answers are in the account's time zone (its delivery policy's)."""
    return shown_in(service.delivery_policy(channel_id).zone, broadcast)


def _accepted(broadcast: Broadcast) -> Response[Broadcast]:
    return Response(
        status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=broadcast
    )


# ---------------------------------------------------------------- broadcasts
@router.post(
    "/broadcasts", tags=["broadcasts"], responses=responses(202, "The broadcast, queued", 409)
)
def create_broadcast(
    channel_id: ChannelId,
    request: BroadcastRequest,
    service: Broadcasts,
    idempotency_key: IdempotencyKey = None,
) -> Response[Broadcast]:
    """Send now (omit `send_at`) or at a time; cancellable until sent. With an
    `Idempotency-Key`, a repeated request gets the same broadcast and sends nothing."""
    created = service.create(channel_id, request, idempotency_key)
    return _accepted(_shown(service, channel_id, created))


@router.post(
    "/broadcasts/preview",
    tags=["broadcasts"],
    responses={
        **responses(200, "Who would get it, caps applied, a rendered sample"),
        200: {
            "description": "Who would get it, caps applied, a rendered sample",
            "content": {"application/json": {"model": BroadcastPreview}},
        },
        202: {
            "description": "A big channel: the preview runs as a job; poll "
            "GET …/broadcasts/previews/{preview_id} for progress and the result",
            "content": {"application/json": {"model": PreviewJobStatus}},
        },
    },
)
def preview_broadcast(
    channel_id: ChannelId, request: BroadcastRequest, service: Broadcasts
) -> Response[BroadcastPreview | PreviewJobStatus]:
    """The dry run: nothing is sent. Up to 5,000 friends it answers at once (200); a
    bigger channel's preview continues as a job (202 and the job's progress)."""
    preview = service.preview(channel_id, request)
    status = HTTPStatus.ACCEPTED if isinstance(preview, PreviewJobStatus) else HTTPStatus.OK
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=preview)


@router.get(
    "/broadcasts/previews/<preview_id>",
    tags=["broadcasts"],
    responses=responses(200, "The preview job: progress, then the preview", 404),
)
def get_broadcast_preview(
    channel_id: ChannelId, preview_id: PreviewId, service: Broadcasts
) -> PreviewJobStatus:
    """A preview that runs as a job (kept a day)."""
    return service.preview_job(channel_id, preview_id)


@router.get("/broadcasts", tags=["broadcasts"], responses=responses(200, "Recent, newest first"))
def list_broadcasts(
    channel_id: ChannelId,
    service: Broadcasts,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BroadcastListResponse:
    """Recent broadcasts, newest first, with their status and counters."""
    recent = service.recent(channel_id, limit)
    return BroadcastListResponse(broadcasts=[_shown(service, channel_id, b) for b in recent])


@router.get(
    "/broadcasts/<broadcast_id>",
    tags=["broadcasts"],
    responses=responses(200, "The broadcast and its deliveries by status", 404),
)
def get_broadcast(
    channel_id: ChannelId, broadcast_id: BroadcastId, service: Broadcasts
) -> BroadcastReport:
    """A broadcast with its chunk deliveries and recipients counted by ledger status."""
    report = service.report(channel_id, broadcast_id)
    broadcast = _shown(service, channel_id, report.broadcast)
    return report.model_copy(update={"broadcast": broadcast})


@router.post(
    "/broadcasts/<broadcast_id>/cancel",
    tags=["broadcasts"],
    responses=responses(200, "Cancelled", 404, 409),
)
def cancel_broadcast(
    channel_id: ChannelId, broadcast_id: BroadcastId, service: Broadcasts
) -> Broadcast:
    """Stops planning and skips chunks not sent yet; 409 once it is sent."""
    return _shown(service, channel_id, service.cancel(channel_id, broadcast_id))


# ---------------------------------------------------------------- delivery policy
@router.get(
    "/delivery-policy",
    tags=["delivery policy"],
    responses=responses(200, "Caps, quiet hours, time zone (defaults: none)"),
)
def get_delivery_policy(channel_id: ChannelId, service: Broadcasts) -> DeliveryPolicy:
    """The channel's time zone, marketing caps and quiet hours (defaults when never set)."""
    return service.delivery_policy(channel_id)


@router.put(
    "/delivery-policy",
    tags=["delivery policy"],
    responses=responses(200, "The stored policy"),
)
def put_delivery_policy(
    channel_id: ChannelId, policy: DeliveryPolicy, service: Broadcasts
) -> DeliveryPolicy:
    """Frequency caps and quiet hours for marketing messages (transactional bypass)."""
    return service.set_delivery_policy(channel_id, policy)


# ---------------------------------------------------------------- delivery ledger
@router.get(
    "/deliveries", tags=["deliveries"], responses=responses(200, "Deliveries, newest first")
)
def list_deliveries(
    channel_id: ChannelId,
    ledger: Ledger,
    service: Broadcasts,
    status: Annotated[Literal["queued", "sent", "skipped", "dead"] | None, Query()] = None,
    cause: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> DeliveryListResponse:
    """The delivery ledger, newest first, a page at a time; filter by status and cause."""
    deliveries, next_cursor = ledger.list_page(
        channel_id, status=status, cause=cause, limit=limit, cursor=cursor
    )
    zone = service.delivery_policy(channel_id).zone
    return DeliveryListResponse(
        deliveries=[shown_in(zone, delivery) for delivery in deliveries], next_cursor=next_cursor
    )


@router.get(
    "/deliveries/<delivery_id>",
    tags=["deliveries"],
    responses=responses(200, "One delivery", 404),
)
def get_delivery(
    channel_id: ChannelId, delivery_id: DeliveryId, ledger: Ledger, service: Broadcasts
) -> Delivery:
    """One ledger row: recipients, messages, status, attempts and the last failure."""
    delivery = ledger.get(channel_id, delivery_id)
    return shown_in(service.delivery_policy(channel_id).zone, delivery)


@router.post(
    "/deliveries/<delivery_id>/redrive",
    tags=["deliveries"],
    responses=responses(200, "Queued again (same retry key)", 404, 409),
)
def redrive_delivery(
    channel_id: ChannelId,
    delivery_id: DeliveryId,
    ledger: Ledger,
    service: Broadcasts,
    force: Annotated[
        bool,
        Query(description="re-drive even past LINE's 24 h retry-key window (may duplicate)"),
    ] = False,
) -> Delivery:
    """Queue a dead delivery again, with the same retry key.

    409 if the delivery is not dead, or if its first attempt is past LINE's retry-key
    window (LINE dedupes a retry key for 24 h): then only `force=true` sends it, and the
    row records `redrive_forced_at`."""
    redriven = ledger.redrive(channel_id, delivery_id, force=force)
    return shown_in(service.delivery_policy(channel_id).zone, redriven)


@router.post(
    "/deliveries/redrive-dead",
    tags=["deliveries"],
    responses=responses(200, "The ids queued again"),
)
def redrive_dead(
    channel_id: ChannelId, request: RedriveAllRequest, ledger: Ledger
) -> RedriveAllResponse:
    """Re-drive every dead delivery (optionally of one cause), up to `limit`; those past
    LINE's retry-key window are listed as refused unless `force`."""
    redriven, refused = ledger.redrive_all_dead(
        channel_id, cause=request.cause, limit=request.limit, force=request.force
    )
    return RedriveAllResponse(
        redriven=redriven,
        refused=[RedriveRefused(delivery_id=r.delivery_id, reason=r.reason) for r in refused],
    )
