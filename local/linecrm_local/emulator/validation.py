"""Validate request bodies against LINE's OpenAPI documents (``specs/``).

LINE's documents model polymorphic objects (``Message``, ``Recipient``, ``Action``…)
as a base schema carrying a ``discriminator`` and subtypes that ``allOf`` the base.
openapi-schema-validator only follows a discriminator inside ``oneOf``/``anyOf``/
``allOf``, so on the base schema it checks nothing beyond ``type: string``: a text
message without ``text`` would pass. We therefore rewrite every reference to such a
base (except the subtypes' own ``allOf`` back-references) to a small dispatch schema
whose ``x-linecrm-discriminator`` keyword validates the instance against the subtype
that the mapping names, and rejects values the mapping does not know.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker

SPECS_DIR = Path(__file__).parent / "specs"
SPEC_FILES = ("messaging-api.yml", "manage-audience.yml")
DISPATCH_KEYWORD = "x-linecrm-discriminator"
SCHEMA_REF_PREFIX = "#/components/schemas/"
DISPATCH_SUFFIX = "__dispatch"

# LINE documents these limits in the API reference but not in the OpenAPI files. It
# counts them in UTF-16 code units (an emoji outside the BMP is two), where JSON
# Schema's maxLength would count code points (developers.line.biz, "Character counting
# in a text"). Template messages are counted in grapheme clusters, so not checked here.
TEXT_MAX_CHARS = 5000
ALT_TEXT_MAX_CHARS = 1500
ALT_TEXT_TYPES = frozenset({"flex", "imagemap"})
MAX_ERROR_DETAILS = 20


@dataclass(frozen=True)
class BodyError:
    """One LINE-style error detail: ``{"message": ..., "property": ...}``."""

    message: str
    property: str

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "property": self.property}


def _dispatch(
    validator: Any, rule: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    base_ref = {"$ref": rule["base"]}
    prop = rule["propertyName"]
    if not isinstance(instance, dict) or not isinstance(instance.get(prop), str):
        # The base schema reports the missing or mistyped discriminator property.
        yield from validator.descend(instance, base_ref)
        return
    target = rule["mapping"].get(instance[prop])
    if target is None:
        allowed = ", ".join(sorted(rule["mapping"]))
        yield ValidationError(f"Invalid value; must be one of [{allowed}]", path=[prop])
        return
    yield from validator.descend(instance, {"$ref": target})


_BodyValidator = extend(OAS30WriteValidator, {DISPATCH_KEYWORD: _dispatch})


def _load_yaml(name: str) -> dict[str, Any]:
    text = (SPECS_DIR / name).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 - safe loader
    return document


def _rewrite_refs(node: Any, targets: dict[str, str], keep: set[int]) -> Any:
    """Point every ``$ref`` to a discriminated base at its dispatch schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in targets and id(node) not in keep:
            return {**node, "$ref": targets[ref]}
        return {key: _rewrite_refs(value, targets, keep) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, targets, keep) for item in node]
    return node


def _with_discriminator_dispatch(schemas: dict[str, Any]) -> dict[str, Any]:
    bases = {
        name: schema["discriminator"]
        for name, schema in schemas.items()
        if isinstance(schema, dict)
        and "discriminator" in schema
        and not {"oneOf", "anyOf"} & schema.keys()
    }
    targets = {
        SCHEMA_REF_PREFIX + name: SCHEMA_REF_PREFIX + name + DISPATCH_SUFFIX for name in bases
    }
    # A subtype's ``allOf: [{$ref: Base}, ...]`` must keep pointing at the plain base,
    # or validating the subtype would dispatch back to itself forever.
    keep: set[int] = set()
    for discriminator in bases.values():
        for subtype_ref in discriminator.get("mapping", {}).values():
            subtype = schemas.get(subtype_ref.removeprefix(SCHEMA_REF_PREFIX), {})
            keep.update(id(part) for part in subtype.get("allOf", []) if isinstance(part, dict))
    rewritten: dict[str, Any] = _rewrite_refs(schemas, targets, keep)
    for name, discriminator in bases.items():
        rewritten[name + DISPATCH_SUFFIX] = {
            DISPATCH_KEYWORD: {
                "base": SCHEMA_REF_PREFIX + name,
                "propertyName": discriminator["propertyName"],
                "mapping": dict(discriminator.get("mapping", {})),
            }
        }
    return rewritten


class SpecCatalog:
    """The request-body schemas of LINE's operations, keyed by (method, spec path)."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        schemas: dict[str, Any] = {}
        self._bodies: dict[tuple[str, str], dict[str, Any]] = {}
        for document in documents:
            schemas.update(copy.deepcopy(document.get("components", {}).get("schemas", {})))
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
                    schema = body.get("content", {}).get("application/json", {}).get("schema")
                    if schema is not None:
                        self._bodies[(method.upper(), path)] = schema
        self._components = {"schemas": _with_discriminator_dispatch(schemas)}
        self._validators: dict[tuple[str, str], Any] = {}

    def has_json_body(self, method: str, spec_path: str) -> bool:
        return (method.upper(), spec_path) in self._bodies

    def validate(self, method: str, spec_path: str, body: Any) -> list[BodyError]:
        """Errors of ``body`` against the operation's schema; [] when it is valid."""
        key = (method.upper(), spec_path)
        validator = self._validators.get(key)
        if validator is None:
            root = {**self._bodies[key], "components": self._components}
            validator = _BodyValidator(root, format_checker=oas30_format_checker)
            self._validators[key] = validator
        errors = [_to_body_error(error) for error in validator.iter_errors(body)]
        errors.extend(_documented_limits(body))
        errors.sort(key=lambda error: error.property)
        return errors[:MAX_ERROR_DETAILS]


@functools.cache
def spec_catalog() -> SpecCatalog:
    """Loaded once per process: the documents are large."""
    return SpecCatalog([_load_yaml(name) for name in SPEC_FILES])


def _property_path(parts: Iterator[Any] | Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _to_body_error(error: ValidationError) -> BodyError:
    parts = list(error.absolute_path)
    message = error.message
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next(
            (name for name in error.validator_value if message.startswith(repr(name))), None
        )
        if missing is not None:
            parts.append(missing)
            message = "Must be specified"
    elif error.validator in {"maxItems", "minItems"}:
        message = f"Size must be between {_size_bounds(error.schema)}"
    return BodyError(message=message, property=_property_path(parts))


def _size_bounds(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "the documented bounds"
    return f"{schema.get('minItems', 0)} and {schema.get('maxItems', 'unbounded')}"


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _documented_limits(body: Any) -> list[BodyError]:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return []
    errors = []
    for index, message in enumerate(body["messages"]):
        if not isinstance(message, dict):
            continue
        limits: dict[str, int] = {}
        if message.get("type") in {"text", "textV2"}:
            limits["text"] = TEXT_MAX_CHARS
        if message.get("type") in ALT_TEXT_TYPES:
            limits["altText"] = ALT_TEXT_MAX_CHARS
        for key, limit in limits.items():
            value = message.get(key)
            if isinstance(value, str) and _utf16_units(value) > limit:
                errors.append(
                    BodyError(
                        message=f"Length must be between 0 and {limit}",
                        property=f"messages[{index}].{key}",
                    )
                )
    return errors
