"""JSON Merge Patch (RFC 7396)."""

from __future__ import annotations


def apply(target: object, patch: object) -> object:
    """``target`` with ``patch`` merged in: objects merge, ``null`` removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply(result.get(name), value)
    return result
