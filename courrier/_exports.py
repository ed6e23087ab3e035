"""How a public module names what it re-exports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["publish"]


def publish(module: str, namespace: Mapping[str, Any], names: Iterable[str]) -> None:
    """Set `__module__` to `module` on the classes and functions among `names` that courrier defines,
    so that reprs, tracebacks and docs name them where users import them (as httpx does). The top
    level publishes last: a name it holds is `courrier.Name`, any other its public submodule's."""
    for name in names:
        value = namespace[name]
        origin = getattr(value, "__module__", None)
        if (
            isinstance(origin, str)
            and origin.startswith("courrier")
            and (isinstance(value, type) or callable(value))
        ):
            value.__module__ = module
