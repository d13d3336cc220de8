"""LINE's webhook.yml as a test oracle for webhook event samples.

Two checks, both read from the spec at test time:

- ``callback_errors``: the body against the ``POST /callback`` request-body schema
  (``CallbackRequest``), with the emulator's validator. That validator makes the
  spec's discriminators (``Event``, ``Source``, ``MessageContent``, …) dispatch to the
  subtype the mapping names, so a text message without ``text`` or an event type
  LINE does not document fails.
- ``walk_callback``: what the schema cannot say, because LINE's objects allow extra
  properties: every property of the sample is one the spec declares (a misspelt
  optional field is drift too), and which discriminator subtypes the sample used,
  so the tests can tell when LINE adds a subtype no sample covers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import yaml

from linecrm_local.emulator.validation import SPECS_DIR, BodyError, SpecCatalog

WEBHOOK_SPEC = SPECS_DIR / "webhook.yml"
CALLBACK_PATH = "/callback"
SCHEMA_REF_PREFIX = "#/components/schemas/"
# The bot's user id in every sample request (LINE: ``U[0-9a-f]{32}``).
DESTINATION = "U1f0e2d3c4b5a69788796a5b4c3d2e1f0"


@functools.cache
def webhook_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(WEBHOOK_SPEC.read_text(encoding="utf-8"))
    return document


@functools.cache
def _catalog() -> SpecCatalog:
    return SpecCatalog([webhook_document()])


def schemas() -> dict[str, Any]:
    found: dict[str, Any] = webhook_document()["components"]["schemas"]
    return found


def callback_request(*events: dict[str, Any], destination: str = DESTINATION) -> dict[str, Any]:
    return {"destination": destination, "events": list(events)}


def callback_errors(body: Any) -> list[BodyError]:
    """Errors of a webhook request body against the spec's ``POST /callback``."""
    assert _catalog().has_json_body("POST", CALLBACK_PATH), "webhook.yml lost POST /callback"
    return _catalog().validate("POST", CALLBACK_PATH, body)


def discriminator_mapping(schema_name: str) -> dict[str, str]:
    """``{value: $ref}`` of the discriminator on ``components.schemas.<schema_name>``."""
    mapping: dict[str, str] = schemas()[schema_name]["discriminator"]["mapping"]
    return dict(mapping)


def discriminated_schemas() -> dict[str, dict[str, str]]:
    """Every schema that dispatches on a discriminator, with its mapping."""
    return {
        name: dict(schema["discriminator"].get("mapping", {}))
        for name, schema in schemas().items()
        if isinstance(schema, dict) and "discriminator" in schema
    }


@dataclass
class SpecWalk:
    """Walks an instance alongside the spec's schemas (refs, allOf, discriminators)."""

    undeclared: list[str] = field(default_factory=list)
    # (base schema name, discriminator value) for every dispatch taken.
    dispatched: set[tuple[str, str]] = field(default_factory=set)

    def walk(self, instance: Any, schema: Any, path: str) -> None:
        name, resolved = _resolve(schema)
        discriminator = resolved.get("discriminator")
        if discriminator and isinstance(instance, dict):
            kind = instance.get(discriminator["propertyName"])
            target = discriminator.get("mapping", {}).get(kind)
            if name is None or not isinstance(kind, str) or target is None:
                return  # callback_errors reports an unknown or missing value
            self.dispatched.add((name, kind))
            self.walk(instance, {"$ref": target}, path)
            return
        if isinstance(instance, dict):
            declared, additional = _properties(resolved)
            for key, value in instance.items():
                where = f"{path}.{key}" if path else key
                if key in declared:
                    self.walk(value, declared[key], where)
                elif additional is not None:
                    self.walk(value, additional, where)
                else:
                    self.undeclared.append(where)
        elif isinstance(instance, list):
            items = _items(resolved)
            for index, item in enumerate(instance):
                if items is not None:
                    self.walk(item, items, f"{path}[{index}]")


def walk_callback(body: dict[str, Any]) -> SpecWalk:
    walk = SpecWalk()
    walk.walk(body, {"$ref": SCHEMA_REF_PREFIX + "CallbackRequest"}, "")
    return walk


def _resolve(schema: Any) -> tuple[str | None, dict[str, Any]]:
    name = None
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMA_REF_PREFIX)
        schema = schemas()[name]
    return name, schema if isinstance(schema, dict) else {}


def _properties(schema: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Declared properties over ``allOf`` parts (no dispatch: a subtype's base is plain)."""
    declared: dict[str, Any] = dict(schema.get("properties", {}))
    additional = schema.get("additionalProperties")
    additional = {} if additional is True else additional if isinstance(additional, dict) else None
    for part in schema.get("allOf", []):
        part_declared, part_additional = _properties(_resolve(part)[1])
        for key, value in part_declared.items():
            declared.setdefault(key, value)
        additional = additional if additional is not None else part_additional
    return declared, additional


def _items(schema: dict[str, Any]) -> Any:
    if "items" in schema:
        return schema["items"]
    for part in schema.get("allOf", []):
        found = _items(_resolve(part)[1])
        if found is not None:
            return found
    return None
