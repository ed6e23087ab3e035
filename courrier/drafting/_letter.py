"""What the model may see of a letter, and what the guards accept as its sources."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from .._request import LetterRequest
from ..french import date_longue, montant
from ..guards import GuardContext
from ..rendering import SectionSpec, Template

__all__ = ["LetterData", "model_mode"]

_IDENTIFIER_TYPES = frozenset({"choice", "integer", "boolean"})
"""Fact types whose values are codes or raw numbers: sources of items, never of words."""


class LetterData:
    """The letter's data for the prompt, the citizen's own texts, and what the guards trust: the
    words of what the letter writes (`trusted_sources`), and every value of the request and facts but
    the citizen's texts, for items (`identifiers`)."""

    def __init__(self, template: Template, request: LetterRequest, facts: BaseModel) -> None:
        self.template = template
        citizen_fields = {spec.name for spec in template.manifest.fields if spec.citizen_text}
        self.citizen_texts = tuple(
            str(value) for name in sorted(citizen_fields) if (value := getattr(facts, name)) is not None
        )
        types = {spec.name: spec.type for spec in template.manifest.fields}
        trusted_facts = {
            name: _for_prompt(getattr(facts, name), types[name])
            for name in sorted(types)
            if name not in citizen_fields and getattr(facts, name) is not None
        }
        sender, recipient, references = request.sender, request.recipient, request.references
        assert request.date is not None, "the drafter dates the request before any section is written"
        self.prompt_data: dict[str, Any] = {
            "courrier": {
                "date": date_longue(request.date),
                "expediteur": sender.service or sender.organisation,
                "collectivite": sender.organisation,
                "destinataire": " ".join(filter(None, (recipient.civility, recipient.name))),
                "notre_reference": references.ours,
                "votre_reference": references.yours,
            },
            "faits": trusted_facts,
        }
        # Addresses and the city of the sender are the layout's: a place there is no place for what a
        # section says (« place du 8-Mai-1945 » is the mairie's address, not the shop's).
        trusted_request = request.model_dump(
            mode="json", exclude={"sender": {"address", "city"}, "recipient": {"address"}}
        )
        trusted_request["facts"] = {
            name: value for name, value in trusted_request["facts"].items() if name not in citizen_fields
        }
        # Words come from what the letter writes: the facts as it writes them (not choice codes nor
        # raw numbers), the sender and the recipient. Every value vouches for items (a reference, a
        # phone, an ISO date), but an identifier vouches for no word.
        written_facts = {
            name: value for name, value in trusted_facts.items() if types[name] not in _IDENTIFIER_TYPES
        }
        # Phones and e-mails are items, not words.
        people = {key: trusted_request[key] for key in ("sender", "recipient")}
        people["signatory_name"] = f"{sender.signatory.first_name} {sender.signatory.last_name}"
        people = copy.deepcopy(people)
        for holder in (people["sender"], people["sender"].get("case_officer") or {}):
            for key in ("phone", "email"):
                holder.pop(key, None)
        courrier = {
            key: value for key, value in self.prompt_data["courrier"].items() if "reference" not in key
        }
        self.trusted_sources = tuple(
            dict.fromkeys((*_leaves(courrier), *_leaves(written_facts), *_leaves(people)))
        )
        self.identifiers = tuple(
            dict.fromkeys(value for value in (*_leaves(self.prompt_data), *_leaves(trusted_request)))
        )
        self.decides = template.manifest.decision_for(facts)

    def guard_context(self, spec: SectionSpec, vetted_text: str) -> GuardContext:
        """What the guards check a model-written section against."""
        assert spec.min_chars is not None, "only sections a model may write have bounds"
        assert spec.max_chars is not None, "only sections a model may write have bounds"
        return GuardContext(
            mode=model_mode(spec),
            vetted_text=vetted_text,
            trusted_sources=self.trusted_sources,
            citizen_texts=self.citizen_texts,
            min_chars=spec.min_chars,
            max_chars=spec.max_chars,
            mentions=self.template.manifest.required_mentions,
            identifiers=self.identifiers,
            decides=self.decides,
        )


def model_mode(spec: SectionSpec) -> Literal["fill", "rephrase"]:
    """How the model writes a section that is not locked: it fills it, or rephrases its vetted text."""
    return "fill" if spec.mode == "fill" else "rephrase"


def _for_prompt(value: Any, field_type: str) -> Any:
    """A fact as the letter writes it: dates and amounts in French, lists as lists."""
    if field_type == "date":
        return date_longue(value)
    if field_type == "amount" and isinstance(value, Decimal):
        return montant(value)
    return value


def _leaves(value: Any) -> Iterator[str]:
    """Every scalar in a JSON-like value, as text."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)
