"""The model layer: the only part of courrier that imports langchain-core or llama.cpp.

`LocalEngine` runs a GGUF file in-process with llama.cpp; `LocalChatModel` is the same engine as a
LangChain chat model; `port_for` adapts either, or any other LangChain chat model, to the drafter's
port (`courrier.port`). The rest of courrier reaches this package only once a model is asked for, so
drafting without a model imports neither library; and the local engine's path (`LocalEngine`,
`LocalPort`) imports no LangChain: `LocalChatModel`, `GenericPort` and `to_langchain` are imported on
first use.
"""

import importlib as _importlib
import typing as _typing

from .._exports import publish
from ._engine import Completion, LocalEngine, LocalReplyMetadata
from ._loading import DEFAULT_MODEL_FILE, LOAD_SETTINGS, MODEL_CACHE, ModelCache, default_model_path
from ._port import LocalPort, port_for

if _typing.TYPE_CHECKING:
    from ._generic import GenericPort, to_langchain
    from ._local import LocalChatModel

__all__ = [
    "DEFAULT_MODEL_FILE",
    "LOAD_SETTINGS",
    "MODEL_CACHE",
    "Completion",
    "GenericPort",
    "LocalChatModel",
    "LocalEngine",
    "LocalPort",
    "LocalReplyMetadata",
    "ModelCache",
    "default_model_path",
    "port_for",
    "to_langchain",
]

_WITH_LANGCHAIN = {"LocalChatModel": "._local", "GenericPort": "._generic", "to_langchain": "._generic"}
"""The names that load LangChain, imported on first use from their modules."""

publish(__name__, globals(), [name for name in __all__ if name not in _WITH_LANGCHAIN])


def __getattr__(name: str) -> _typing.Any:
    if name not in _WITH_LANGCHAIN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _importlib.import_module(_WITH_LANGCHAIN[name], __name__)
    publish(__name__, vars(module), [name])
    value = getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WITH_LANGCHAIN})
