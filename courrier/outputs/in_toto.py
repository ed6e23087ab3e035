"""The provenance record as an in-toto Statement v1: the letter's text as subject, the record as predicate."""

from __future__ import annotations

from typing import Any

from .._canonical import text_sha256
from .._draft import Draft

__all__ = ["PREDICATE_TYPE", "to_in_toto_statement"]

PREDICATE_TYPE = "https://courrier.invalid/provenance/v1"
"""The in-toto predicate type of a courrier provenance record."""


def to_in_toto_statement(draft: Draft) -> dict[str, Any]:
    """An in-toto Statement v1 whose subject is the letter's text and whose predicate is the record.

    `VerificationError` for a draft that does not match its record, as for every document.
    """
    draft.require_intact()
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {
                "name": f"courrier-draft-{draft.id}-v{draft.version}",
                "digest": {"sha256": text_sha256(draft.text)},
            }
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": draft.provenance.model_dump(mode="json"),
    }
