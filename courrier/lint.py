"""Lint a template library: every structure check, plus the example drafted and checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ._request import LetterRequest, Recipient, Sender, Signatory
from .drafting import Drafter, LetterData
from .errors import CourrierError, TemplateDefect
from .guards import check_output
from .rendering import (
    LINK_REFUSED,
    Template,
    TemplateLibrary,
    library_links,
    library_roots,
    open_library,
    template_folders,
)

__all__ = ["LintProblem", "lint"]

_SAMPLE_SENDER = Sender(
    organisation="Mairie d'Exempleville",
    service="Service des affaires générales",
    address=["1 place de la Mairie", "00000 Exempleville"],
    city="Exempleville",
    phone="01 00 00 00 00",
    email="mairie@exempleville.fr",
    signatory=Signatory(first_name="Camille", last_name="Exemple", role="Le maire"),
)
_SAMPLE_RECIPIENT = Recipient(name="Dominique Usager", address=["2 rue de l'Exemple", "00000 Exempleville"])


@dataclass(frozen=True)
class LintProblem:
    """One defect found in a template (or in the library's layout)."""

    template: str
    message: str

    def __str__(self) -> str:
        return f"{self.template} : {self.message}"


def lint(path: str | Path, *, base: TemplateLibrary | str | Path | None = None) -> list[LintProblem]:
    """Check every template of the library `path` (layered on `base`, as `TemplateLibrary.from_path`
    reads it: then the templates of `base` too, which the layer's shared parts may change); an empty
    list means the library is clean. Each symbolic link in it is a problem."""
    roots = library_roots(path, base)
    problems = [LintProblem(str(link), LINK_REFUSED) for link in library_links(*roots)]
    try:
        environment = open_library(*roots)
    except TemplateDefect as defect:
        return problems + [LintProblem(defect.template_id, p) for p in defect.problems]
    for directory in template_folders(*roots).values():
        try:
            template = Template(directory, environment)
        except TemplateDefect as defect:
            problems += [LintProblem(defect.template_id, p) for p in defect.problems]
            continue
        problems += [LintProblem(template.id, message) for message in _example_problems(template)]
    return problems


def _example_problems(template: Template) -> list[str]:
    """Draft the manifest's example; check it renders, its fallbacks pass every guard, and it holds every
    mention."""
    request = LetterRequest(
        template=template.id,
        facts=template.manifest.example,
        sender=_SAMPLE_SENDER,
        recipient=_SAMPLE_RECIPIENT,
        date=dt.date(2026, 1, 1),
    )
    drafter = Drafter(library=TemplateLibrary(template.directory.parent, {template.id: template}))
    try:
        draft = drafter.draft(request)
    except CourrierError as error:
        return [f"l'exemple ne se rédige pas : {error}"]
    letter = LetterData(template, draft.request, template.validate_facts(draft.request.facts))
    texts = {paragraph.section: paragraph.text for paragraph in draft.paragraphs}
    problems = [
        f"section {spec.id} : le texte de repli échoue au contrôle {verdict.guard} ({verdict.detail})"
        for spec in template.sections
        if spec.mode != "locked" and spec.id in texts
        for verdict in check_output(texts[spec.id], letter.guard_context(spec, texts[spec.id]))
        if not verdict.passed
    ]
    problems += [f"mention obligatoire absente de l'exemple : {label}" for label in draft.missing_mentions()]
    return problems
