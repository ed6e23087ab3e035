"""Writers that turn a draft into a document: plain text, Markdown, JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from ._draft import Draft

__all__ = ["FORMATS", "Format", "render"]

Format = Literal["text", "md", "json"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def _markdown_line(line: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def to_markdown(draft: Draft) -> str:
    """Markdown: one paragraph per section, line breaks kept as hard breaks, text escaped."""
    paragraphs = ("\\\n".join(_markdown_line(line) for line in p.text.splitlines()) for p in draft.paragraphs)
    return "\n\n".join(paragraphs) + "\n"


FORMATS: dict[str, Callable[[Draft], str]] = {
    "text": lambda draft: draft.text + "\n",
    "md": to_markdown,
    "json": lambda draft: draft.to_json() + "\n",
}


def render(draft: Draft, format: Format) -> str:
    """The draft as a document of the given format."""
    return FORMATS[format](draft)
