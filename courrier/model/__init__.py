"""The model layer: the only part of courrier that imports langchain-core or llama.cpp.

`LocalChatModel` runs a GGUF file in-process; `port_for` adapts any LangChain chat model to the
drafter's port (`courrier.port`). The rest of courrier reaches this package only once a chat model is
given, so drafting without a model imports neither library.
"""

from .._exports import publish
from ._loading import DEFAULT_MODEL_FILE, LOAD_SETTINGS, MODEL_CACHE, ModelCache, default_model_path
from ._local import LocalChatModel, LocalReplyMetadata
from ._port import GenericPort, LocalPort, port_for, to_langchain

__all__ = [
    "DEFAULT_MODEL_FILE",
    "LOAD_SETTINGS",
    "MODEL_CACHE",
    "GenericPort",
    "LocalChatModel",
    "LocalPort",
    "LocalReplyMetadata",
    "ModelCache",
    "default_model_path",
    "port_for",
    "to_langchain",
]

publish(__name__, globals(), __all__)
