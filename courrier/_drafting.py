"""The Drafter: from a letter request to a draft, section by section."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from ._errors import InvalidRequest
from ._llm import LocalChatModel
from ._models import Draft, LetterRequest, Paragraph, TemplateRef
from ._templates import TemplateLibrary
from ._validation import problems_from
from ._version import __version__

__all__ = ["Drafter"]


class Drafter:
    """Drafts letters from a template library.

    `llm` is any LangChain chat model (the local one, or one an integrator plugs in on purpose).
    With `llm=None` every section keeps its vetted text: the letter is complete with no model at all.
    """

    def __init__(self, library: TemplateLibrary | None = None, llm: BaseChatModel | None = None) -> None:
        self.library = library if library is not None else TemplateLibrary.default()
        self.llm = llm

    @classmethod
    def local(cls, library: TemplateLibrary | None = None, **settings: Any) -> Drafter:
        """A drafter with the local model (the embedded default unless `settings` or the environment
        name another GGUF file)."""
        return cls(library=library, llm=LocalChatModel.default(**settings))

    def draft(self, request: LetterRequest | Mapping[str, Any]) -> Draft:
        """Draft one letter. Raise `InvalidRequest` naming every field at fault, before any work."""
        request = _as_request(request)
        template = self.library.get(request.template)
        facts = template.validate_facts(request.facts)
        request = request.model_copy(
            update={"facts": facts.model_dump(mode="json"), "date": request.date or dt.date.today()}
        )
        paragraphs = tuple(
            Paragraph(section=s.section, mode=s.mode, origin="template", text=s.text)
            for s in template.render(request, facts)
        )
        return Draft(
            id=uuid.uuid4().hex,
            created_at=dt.datetime.now(dt.UTC),
            courrier_version=__version__,
            template=TemplateRef(id=template.id, version=template.version, sha256=template.sha256),
            request=request,
            paragraphs=paragraphs,
        )


def _as_request(request: LetterRequest | Mapping[str, Any]) -> LetterRequest:
    if isinstance(request, LetterRequest):
        return request
    try:
        return LetterRequest.model_validate(request)
    except ValidationError as error:
        raise InvalidRequest(problems_from(error)) from error
