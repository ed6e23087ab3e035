"""How a public module names what it re-exports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["publish"]


def publish(module: str, namespace: Mapping[str, Any], names: Iterable[str]) -> None:
    """Set `__module__` to `module` on the classes and functions among `names` that a private module
    defines, so that reprs, tracebacks and docs name them where users import them (as httpx does)."""
    for name in names:
        value = namespace[name]
        origin = getattr(value, "__module__", None)
        private = isinstance(origin, str) and any(part.startswith("_") for part in origin.split("."))
        if private and (isinstance(value, type) or callable(value)):
            value.__module__ = module
