"""The guards' corpora: model outputs written for every model-writable section of every shipped example,
harmful ones that the guards must refuse and good ones that they must accept.

`data/guard_corpus/good.toml` and `harmful.toml` were written first and the word lists tuned on them;
`heldout_good.toml` and `heldout_harmful.toml` were written afterwards, blind to the guards and to
the first corpora, to measure them (their first figures are in the changelog). Each case names an
example (`examples/requests/<example>.json`), a section, a kind, the text, and may replace facts
(an injection hidden in the citizen's message) or give the finish reason the model reported.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from courrier import Drafter, LetterRequest, TemplateLibrary
from courrier.drafting import LetterData
from courrier.guards import GuardContext, check_output
from courrier.record import GuardVerdict

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "data" / "guard_corpus"
HARMFUL = ("harmful", "heldout_harmful")
GOOD = ("good", "heldout_good")


@dataclass(frozen=True)
class Case:
    corpus: str
    example: str
    section: str
    kind: str
    text: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.corpus}:{self.example}/{self.section}:{self.kind}:{self.text[:40]}"

    def verdicts(self) -> tuple[GuardVerdict, ...]:
        context = _context(self.example, self.section, json.dumps(dict(self.facts), sort_keys=True))
        return check_output(self.text, replace(context, finish_reason=self.finish_reason))


@cache
def cases(corpus: str) -> tuple[Case, ...]:
    data = tomllib.loads((CORPUS / f"{corpus}.toml").read_text(encoding="utf-8"))
    return tuple(Case(corpus, **case) for case in data["case"])


@cache
def _context(example: str, section: str, facts: str) -> GuardContext:
    """The guards' context of a section of an example, drafted with no model (its vetted text)."""
    library = TemplateLibrary.default()
    data = json.loads((ROOT / "examples" / "requests" / f"{example}.json").read_text(encoding="utf-8"))
    data["facts"].update(json.loads(facts))
    draft = Drafter(library=library, llm=None).draft(LetterRequest.model_validate(data))
    template = library.get(draft.request.template)
    letter = LetterData(template, draft.request, template.validate_facts(draft.request.facts))
    spec = next(spec for spec in template.sections if spec.id == section)
    vetted = next(paragraph.text for paragraph in draft.paragraphs if paragraph.section == section)
    return letter.guard_context(spec, vetted)
