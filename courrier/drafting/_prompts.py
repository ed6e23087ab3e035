"""Versioned prompts for the model-written sections: one TOML file per style in `prompts/`.

Each prompt file has an id, a version and a SHA-256 (of its bytes), all recorded in the provenance.
A rendered prompt is ordered for llama.cpp's prefix reuse: the system message, then the letter's
data, then the citizen's text, are the same for every section of a letter; only the task differs.
Data is serialized as JSON with ``<`` and ``>`` escaped, so no value can close its ``<<< >>>`` block.
"""

from __future__ import annotations

import json
import string
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

from .._canonical import canonical_json, sha256_hex
from ..errors import TemplateDefect, UserError
from ..port import PromptMessage

__all__ = ["STYLES", "PromptTemplate", "RenderedPrompt", "Style", "canonical_messages", "prompt_for"]

Style = Literal["standard", "langage_clair"]
"""How the model writes: standard administrative French, or plain language (« langage clair »)."""

STYLES: tuple[Style, ...] = get_args(Style)

_PLACEHOLDERS = {
    "system": set(),
    "data": {"data"},
    "citizen": {"citizen"},
    "fill": {"section", "instructions", "min_chars", "max_chars"},
    "rephrase": {"section", "instructions", "min_chars", "max_chars", "vetted"},
    "retry": {"reasons"},
}


@dataclass(frozen=True)
class RenderedPrompt:
    """The messages sent for one attempt, and the SHA-256 of their canonical form."""

    messages: tuple[PromptMessage, ...]
    sha256: str
    shared: str
    """How the first user message opens: the letter's data, the same for every section of a letter."""


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt file: the parts that, filled with a section's data, make its messages."""

    id: str
    version: str
    sha256: str
    parts: dict[str, str]

    def render(
        self,
        *,
        mode: Literal["fill", "rephrase"],
        section: str,
        instructions: str,
        min_chars: int,
        max_chars: int,
        data: Any,
        citizen: tuple[str, ...],
        vetted: str,
        refusals: tuple[str, ...] = (),
    ) -> RenderedPrompt:
        """The messages for one section; `refusals` holds why the earlier outputs of this section were
        refused. A retry carries those reasons only, never the refused output: the model is told what
        to avoid, and the prompt does not grow by a whole section per attempt."""
        blocks = [self.parts["data"].format(data=_as_data(data))]
        if citizen:
            blocks.append(self.parts["citizen"].format(citizen=_as_data(list(citizen))))
        task = self.parts[mode].format(
            section=section,
            instructions=instructions,
            min_chars=min_chars,
            max_chars=max_chars,
            vetted=_as_data(vetted),
        )
        shared = "".join(f"{block}\n\n" for block in blocks)
        messages = [PromptMessage("system", self.parts["system"]), PromptMessage("human", shared + task)]
        for reasons in refusals:
            messages.append(PromptMessage("human", self.parts["retry"].format(reasons=reasons)))
        return RenderedPrompt(tuple(messages), sha256_hex(canonical_messages(messages)), shared)


def canonical_messages(messages: Sequence[PromptMessage]) -> bytes:
    """The bytes hashed for a rendered prompt: the RFC 8785 canonical JSON of a list of
    ``{"content": ..., "role": ...}`` objects, roles named as LangChain's message types.
    Changing it changes every prompt hash recorded in past drafts."""
    return canonical_json([{"content": message.content, "role": message.role} for message in messages])


def _as_data(value: Any) -> str:
    """JSON with ``<`` and ``>`` escaped: data can never close or open a ``<<< >>>`` block."""
    text = json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


@cache
def prompt_for(style: str) -> PromptTemplate:
    """The prompt file of a style; `UserError` for an unknown style."""
    if style not in STYLES:
        raise UserError(f"style de rédaction inconnu : {style!r} (styles : {', '.join(STYLES)})")
    raw = resources.files("courrier.drafting").joinpath("prompts", f"{style}.toml").read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    parts = {name: data[name] for name in _PLACEHOLDERS}
    for name, expected in _PLACEHOLDERS.items():
        found = {field for _, field, _, _ in string.Formatter().parse(parts[name]) if field}
        if found != expected:
            raise TemplateDefect(
                f"prompts/{style}.toml", [f"{name} : champs {sorted(found)}, attendus {sorted(expected)}"]
            )
    return PromptTemplate(id=data["id"], version=data["version"], sha256=sha256_hex(raw), parts=parts)
