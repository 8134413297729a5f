"""The shape of validation errors, shared by the HTTP layer and the commands."""

from __future__ import annotations


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"dotted.path": [messages]}``.

    Errors on an object as a whole (``_schema``) are filed under the object's own path.
    """
    if isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        return {prefix or "_body": list(messages)}
    if isinstance(messages, str):
        return {prefix or "_body": [messages]}
    flat: dict[str, list[str]] = {}
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for name, inner in items:
        path = prefix if name == "_schema" else f"{prefix}.{name}" if prefix else str(name)
        for key, value in flatten_errors(inner, path).items():
            flat.setdefault(key, []).extend(value)
    return flat
