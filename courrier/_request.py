"""The letter request: who writes, to whom, with which template and facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import Field, TypeAdapter, ValidationError

from ._validation import FrozenModel, Line, problems_from
from .errors import FieldProblem, InvalidRequest, TemplateNotFound

__all__ = [
    "Contact",
    "LetterRequest",
    "Recipient",
    "References",
    "Sender",
    "Signatory",
]


class Signatory(FrozenModel):
    """The person who signs: prénom, nom, qualité (CRPA L212-1)."""

    first_name: Line = Field(description="Prénom du signataire.")
    last_name: Line = Field(description="Nom du signataire.")
    role: Line = Field(
        description="Qualité du signataire, ex. « Le maire », « La directrice générale des services »."
    )

    @property
    def label(self) -> str:
        """Who signs, as the record names them: « prénom nom, qualité »."""
        return f"{self.first_name} {self.last_name}, {self.role}"


class Contact(FrozenModel):
    """The agent who follows the case ("Affaire suivie par")."""

    name: Line = Field(description="Prénom et nom de l'agent.")
    phone: Line | None = Field(default=None, description="Téléphone direct.")
    email: Line | None = Field(default=None, description="Courriel direct.")


class Sender(FrozenModel):
    """The public body that writes, and who signs for it."""

    organisation: Line = Field(description="Collectivité ou administration, ex. « Mairie de Saint-Aubin ».")
    service: Line | None = Field(default=None, description="Service émetteur.")
    address: list[Line] = Field(
        min_length=1, max_length=6, description="Adresse postale, une ligne par élément."
    )
    city: Line = Field(description="Lieu d'émission du courrier, ex. « Saint-Aubin-sur-Loire ».")
    phone: Line | None = Field(default=None, description="Téléphone du service.")
    email: Line | None = Field(default=None, description="Courriel du service.")
    signatory: Signatory
    delegation: Line | None = Field(
        default=None, description="Mention de délégation, ex. « Pour le maire et par délégation »."
    )
    case_officer: Contact | None = Field(default=None, description="Agent qui suit l'affaire.")


class Recipient(FrozenModel):
    """The person or organisation the letter is addressed to."""

    civility: Literal["Madame", "Monsieur"] | None = Field(
        default=None, description="Civilité ; absente, la lettre s'adresse à « Madame, Monsieur »."
    )
    name: Line = Field(description="Nom complet, ou raison sociale.")
    address: list[Line] = Field(
        min_length=1, max_length=6, description="Adresse postale, une ligne par élément."
    )


class References(FrozenModel):
    """Case references printed in the letter (N/Réf., V/Réf.)."""

    ours: Line | None = Field(default=None, description="Notre référence (N/Réf.).")
    yours: Line | None = Field(default=None, description="Votre référence (V/Réf.).")


class LetterRequest(FrozenModel):
    """Everything needed to draft one letter: the template, its facts, sender, recipient, date."""

    template: str = Field(min_length=1, max_length=200, description="Identifiant du modèle de courrier.")
    facts: dict[str, Any] = Field(
        default_factory=dict, description="Faits propres au modèle (voir son schéma)."
    )
    sender: Sender
    recipient: Recipient
    date: dt.date | None = Field(
        default=None, description="Date du courrier ; par défaut, le jour de la rédaction."
    )
    references: References = Field(default_factory=References)
    attachments: list[Line] = Field(default_factory=list, max_length=30, description="Pièces jointes.")

    @classmethod
    def from_json(
        cls, data: str | bytes, *, source: str | None = None, library: _Library | None = None
    ) -> LetterRequest:
        """Read a request from JSON; `InvalidRequest` naming every field at fault (and `source`, the
        file it came from). With `library` (a `TemplateLibrary`), its facts are checked too, as
        `from_data` does."""
        try:
            parsed = _JSON.validate_json(data)
        except ValidationError as error:
            raise InvalidRequest(problems_from(error), source=source) from error
        return cls.from_data(parsed, source=source, library=library)

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, source: str | None = None, library: _Library | None = None
    ) -> LetterRequest:
        """Read a request from JSON-like data (a dict); `InvalidRequest` as `from_json`.

        With `library` (a `TemplateLibrary`), the facts are checked against the template's fields in
        the same pass: one `InvalidRequest` names every fault of the request and of its facts (the
        facts are checked whenever the template is known and `facts` is an object, even when other
        fields are at fault), and `TemplateNotFound` is raised for an unknown template in a request
        that is otherwise valid.
        """
        try:
            request = cls.model_validate(data)
        except ValidationError as error:
            problems = problems_from(error)
            if library is not None:
                problems += _facts_problems(library, data, problems)
            raise InvalidRequest(problems, source=source) from error
        if library is not None:
            library.get(request.template).validate_facts(request.facts, source=source)
        return request


_JSON: TypeAdapter[Any] = TypeAdapter(Any)
"""Any JSON document, parsed: a request is read in two steps so that its facts can be checked even
when the request itself is at fault."""


class _Template(Protocol):
    def validate_facts(self, facts: Mapping[str, Any], *, source: str | None = None) -> object: ...


class _Library(Protocol):
    """What a `TemplateLibrary` offers to check the facts of a request (the library is a layer above)."""

    def get(self, template_id: str) -> _Template: ...


def _facts_problems(library: _Library, data: object, found: list[FieldProblem]) -> list[FieldProblem]:
    """The faults of the facts of a request that is itself at fault (`found`), when its template can be
    told: its id a string the request does not fault, its facts an object (absent, no facts)."""
    if not isinstance(data, Mapping) or any(problem.path == "template" for problem in found):
        return []
    template_id, facts = data.get("template"), data.get("facts", {})
    if not isinstance(template_id, str) or not isinstance(facts, Mapping):
        return []
    try:
        library.get(template_id).validate_facts(facts)
    except TemplateNotFound as error:
        return [FieldProblem("template", f"modèle inconnu (disponibles : {', '.join(error.available)})")]
    except InvalidRequest as error:
        return list(error.problems)
    return []
