"""Keep the nulls of the examples in ``/openapi.json``.

FastAPI encodes the schema with ``exclude_none``, which also strips every null out of the
examples, so an answer example loses its nullable fields (``"muted_until": null``) and no
longer validates against the schema it illustrates. This puts the examples back as the
models and routes give them; nothing else of the schema changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

# Examples given to routes' ``responses=`` (the models' own are found from the models).
_ROUTE_EXAMPLES: list[Any] = []


def keep_nulls(example: Any) -> Any:
    """``example``, remembered so that /openapi.json shows it with its nulls."""
    _ROUTE_EXAMPLES.append(example)
    return example


def _models(root: type[BaseModel]) -> Iterator[type[BaseModel]]:
    yield root
    for sub in root.__subclasses__():
        yield from _models(sub)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _route_examples(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            for answer in op.get("responses", {}).values():
                for content in answer.get("content", {}).values():
                    if "example" in content:
                        yield content


def restore_examples(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (from ``FastAPI.openapi``) with the models' and routes' own examples."""
    schemas = spec.get("components", {}).get("schemas", {})
    for model in _models(BaseModel):
        found = schemas.get(model.__name__)
        if found is None or "examples" not in found:
            continue
        # The same generator as FastAPI's, before the encoding that drops nulls.
        examples = model.model_json_schema(mode="serialization").get("examples")
        # Only the model the component was made from (another may share its name).
        if examples is not None and _without_nulls(examples) == found["examples"]:
            found["examples"] = examples
    for content in _route_examples(spec):
        for example in _ROUTE_EXAMPLES:
            if _without_nulls(example) == content["example"]:
                content["example"] = example
                break
    return spec
