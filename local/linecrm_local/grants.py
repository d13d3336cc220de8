"""Every AWS call a local function makes, checked against its role's IAM statements.

On AWS a call the function's role does not allow fails with AccessDenied; moto allows
everything. With a ``GrantCheck`` active (``enforcing``), each botocore call made while
a function's handler runs (``lambda_runtime.current_function``) is mapped to the IAM
actions and resource ARNs AWS would authorize (``iam_requests``) and matched against
that function's statements. An ungranted call is recorded (``take_violations``) and
fails like on AWS, with a ``ClientError`` naming the function, action and resource.

The statements come from the synthesized CDK template with its references resolved to
the local resources' names and ARNs (the tests build them; see tests/support/grants.py).
Calls of threads a handler starts itself are not attributed to it (contextvars do not
follow a new thread), nor are the local stack's own (the SQS poller's receives, which
the event source makes on AWS).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import botocore.session
from botocore.exceptions import ClientError

from linecrm_local.aws_calls import on_every_session
from linecrm_local.lambda_runtime import current_function

_EVENT = "before-parameter-build"
SCHEDULER_SERVICE = "scheduler.amazonaws.com"


@dataclass(frozen=True)
class IamRequest:
    """One authorization AWS makes for a call: an action on a resource, with context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Statement:
    """An Allow statement of a role policy, its resources resolved to local ARNs."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def allows(self, request: IamRequest) -> bool:
        return (
            any(_matches(pattern, request.action, ignore_case=True) for pattern in self.actions)
            and any(_matches(pattern, request.resource) for pattern in self.resources)
            and all(
                _condition_holds(operator, key, values, request.context)
                for operator, keys in self.conditions.items()
                for key, values in keys.items()
            )
        )


@dataclass(frozen=True)
class Violation:
    function: str
    action: str
    resource: str
    operation: str
    expected: bool = False  # on something not deployed: denied on AWS too, by design

    def __str__(self) -> str:
        return (
            f"{self.function} called {self.operation}: its role does not allow "
            f"{self.action} on {self.resource}"
        )


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any characters, ``?`` one."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _condition_holds(
    operator: str, key: str, expected: Sequence[str], context: Mapping[str, str]
) -> bool:
    value = context.get(key)
    if value is None:
        return False  # as IAM: a condition on a key the request lacks does not hold
    if operator in ("StringEquals", "ArnEquals", "Bool"):
        return value in expected
    if operator in ("StringLike", "ArnLike"):
        return any(_matches(pattern, value) for pattern in expected)
    return False  # an operator this check does not model never allows


# ---------------------------------------------------------------- botocore -> IAM
def iam_requests(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str
) -> list[IamRequest]:
    """The IAM authorizations AWS makes for one API call (the ones linecrm makes)."""
    mapper = _MAPPERS.get(service)
    if mapper is None:
        return [IamRequest(f"{service}:{operation}", "*")]
    return mapper(operation, params, region, account)


def _cognito_idp(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[IamRequest]:
    pool = params.get("UserPoolId", "*")
    return [
        IamRequest(
            f"cognito-idp:{operation}", f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool}"
        )
    ]


def _dynamodb(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[IamRequest]:
    def table(name: str, index: str | None = None) -> str:
        arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if operation == "TransactWriteItems":
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
        kinds["ConditionCheck"] = "ConditionCheckItem"
        return [
            IamRequest(f"dynamodb:{kinds[kind]}", table(body["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [
            IamRequest("dynamodb:GetItem", table(item["Get"]["TableName"]))
            for item in params.get("TransactItems", [])
        ]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [
            IamRequest(f"dynamodb:{operation}", table(name))
            for name in params.get("RequestItems", {})
        ]
    name = params.get("TableName", "*")
    return [IamRequest(f"dynamodb:{operation}", table(name, params.get("IndexName")))]


_SQS_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[IamRequest]:
    if "QueueUrl" in params:
        path = urlparse(params["QueueUrl"]).path.strip("/").split("/")
        queue_account, name = (path[-2], path[-1]) if len(path) >= 2 else (account, path[-1])
    else:
        queue_account, name = (
            params.get("QueueOwnerAWSAccountId", account),
            params.get("QueueName", "*"),
        )
    action = _SQS_BATCH.get(operation, operation)
    return [IamRequest(f"sqs:{action}", f"arn:aws:sqs:{region}:{queue_account}:{name}")]


_S3_OBJECT = {
    "GetObject": "GetObject",
    "HeadObject": "GetObject",
    "PutObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "DeleteObject": "DeleteObject",
}


def _s3(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[IamRequest]:
    bucket = params.get("Bucket", "*")
    if operation in _S3_OBJECT:
        key = params.get("Key", "*")
        return [IamRequest(f"s3:{_S3_OBJECT[operation]}", f"arn:aws:s3:::{bucket}/{key}")]
    if operation in ("ListObjects", "ListObjectsV2"):
        context = {"s3:prefix": params.get("Prefix", "")}
        return [IamRequest("s3:ListBucket", f"arn:aws:s3:::{bucket}", context)]
    return [IamRequest(f"s3:{operation}", f"arn:aws:s3:::{bucket}")]


def _secretsmanager(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[IamRequest]:
    secret = params.get("SecretId", "*")
    if not secret.startswith("arn:"):
        secret = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}"
    return [IamRequest(f"secretsmanager:{operation}", secret)]


def _scheduler(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[IamRequest]:
    base = f"arn:aws:scheduler:{region}:{account}"
    if operation in ("CreateSchedule", "UpdateSchedule", "GetSchedule", "DeleteSchedule"):
        group = params.get("GroupName") or "default"
        requests = [
            IamRequest(f"scheduler:{operation}", f"{base}:schedule/{group}/{params.get('Name')}")
        ]
        role = (params.get("Target") or {}).get("RoleArn")
        if role:  # handing the schedule its role is a PassRole of the caller's
            requests.append(
                IamRequest("iam:PassRole", role, {"iam:PassedToService": SCHEDULER_SERVICE})
            )
        return requests
    if "Name" in params and "ScheduleGroup" in operation:
        return [IamRequest(f"scheduler:{operation}", f"{base}:schedule-group/{params['Name']}")]
    return [IamRequest(f"scheduler:{operation}", "*")]


def _lambda(
    operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[IamRequest]:
    name = str(params.get("FunctionName", "*"))
    if not name.startswith("arn:"):
        name = f"arn:aws:lambda:{region}:{account}:function:{name}"
    action = "InvokeFunction" if operation in ("Invoke", "InvokeAsync") else operation
    return [IamRequest(f"lambda:{action}", name)]


_MAPPERS: dict[str, Callable[[str, Mapping[str, Any], str, str], list[IamRequest]]] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "s3": _s3,
    "secretsmanager": _secretsmanager,
    "scheduler": _scheduler,
    "lambda": _lambda,
    "cognito-idp": _cognito_idp,
}


# ---------------------------------------------------------------- the check
class GrantCheck:
    """The statements of each function's role (by local function name)."""

    def __init__(
        self,
        statements: Mapping[str, Sequence[Statement]],
        *,
        region: str,
        account: str,
        undeployed: Callable[[IamRequest], bool] = lambda request: False,
    ) -> None:
        """``undeployed``: requests on something the deployment does not have (e.g. the
        secret of a channel it was not deployed for). AWS denies those as well, and the
        functions expect that, so they are denied here without counting as a violation."""
        self.statements = {name: tuple(found) for name, found in statements.items()}
        self.region = region
        self.account = account
        self.undeployed = undeployed

    def denied(
        self, function: str, service: str, operation: str, params: Mapping[str, Any]
    ) -> list[Violation]:
        """What of this call the function's role does not allow (nothing: granted)."""
        statements = self.statements.get(function, ())
        return [
            Violation(
                function,
                request.action,
                request.resource,
                f"{service}.{operation}",
                expected=self.undeployed(request),
            )
            for request in iam_requests(
                service, operation, params, region=self.region, account=self.account
            )
            if not any(statement.allows(request) for statement in statements)
        ]

    def without(self, function: str, action: str) -> GrantCheck:
        """This check with ``action`` taken out of ``function``'s statements (tests)."""
        statements = dict(self.statements)
        statements[function] = tuple(
            Statement(
                tuple(a for a in s.actions if a.lower() != action.lower()),
                s.resources,
                s.conditions,
            )
            for s in statements.get(function, ())
        )
        return GrantCheck(
            statements, region=self.region, account=self.account, undeployed=self.undeployed
        )


_lock = threading.Lock()
_active: list[GrantCheck] = []
_violations: list[Violation] = []
_source: Callable[[Any], GrantCheck] | None = None


def require_grants(source: Callable[[Any], GrantCheck] | None) -> None:
    """From now on each local stack checks its functions' calls with ``source(its
    LocalResources)`` (None: no checks, as in ``make dev``)."""
    global _source
    _source = source


def check_for(local_resources: Any) -> GrantCheck | None:
    """The check ``require_grants`` asks for, for these local resources, if any."""
    return None if _source is None else _source(local_resources)


@contextmanager
def enforcing(check: GrantCheck) -> Iterator[GrantCheck]:
    """Check every function's AWS calls against ``check`` while active (the innermost
    active check applies)."""
    _install()
    with _lock:
        _active.append(check)
    try:
        yield check
    finally:
        with _lock:
            _active.remove(check)


def take_violations() -> list[Violation]:
    """The ungranted calls seen since the last take, then forgotten."""
    with _lock:
        found = list(_violations)
        _violations.clear()
    return found


def _on_call(**kwargs: Any) -> None:
    params: Mapping[str, Any] = kwargs["params"]
    model = kwargs["model"]
    function = current_function.get()
    if function is None:
        return
    if (kwargs.get("context") or {}).get("is_presign_request"):
        # Presigning sends nothing: botocore builds a presigned POST from the CreateBucket
        # model. AWS checks the signer's grant (s3:PutObject) when the URL is used.
        return
    with _lock:
        check = _active[-1] if _active else None
    if check is None:
        return
    service = model.service_model.service_name
    denied = check.denied(function, service, model.name, params)
    if not denied:
        return
    with _lock:
        _violations.extend(violation for violation in denied if not violation.expected)
    raise ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "; ".join(map(str, denied))}},
        model.name,
    )


def _register(session: botocore.session.Session) -> None:
    session.register(_EVENT, _on_call)


def _install() -> None:
    """Register the check on every botocore session created from now on, and the default."""
    on_every_session(_register)


# Sessions created from now on are checked (a warm container's clients too).
_install()
