"""The template manifest (`template.toml`): its schema, and the facts model built from its fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python

from .._validation import FrozenModel, Line, LongText
from ..record import DISCLOSURE_SECTION, MAX_MENTIONS, SIGNATURE_SECTION, Decision, MentionSpec, SectionMode

__all__ = [
    "BODY_SLOT",
    "DISCLOSURE_FILE",
    "DISCLOSURE_SECTION",
    "LAYOUT_AFTER_BODY",
    "LAYOUT_BEFORE_BODY",
    "LAYOUT_BLOCKS",
    "LAYOUT_FILE",
    "OBJECT_SLOT",
    "RESERVED_NAMES",
    "FieldSpec",
    "Manifest",
    "Review",
    "SectionSpec",
    "build_facts_model",
]

LAYOUT_FILE = "_layout/lettre.j2"
"""The vetted base layout that every template extends."""

DISCLOSURE_FILE = "_layout/mention_ia.j2"
"""The vetted notice that a model drafted part of the letter, rendered after the body when enabled."""

LAYOUT_BEFORE_BODY = (
    "entete",
    "destinataire",
    "lieu_date",
    "references",
    "objet",
    "pieces_jointes",
    "appel",
)
"""Layout sections printed before the body, in letter order (always locked)."""

BODY_SLOT = "corps"
"""The layout block that holds the template's own sections."""

LAYOUT_AFTER_BODY = ("politesse", SIGNATURE_SECTION)
"""Layout sections printed after the body (always locked)."""

LAYOUT_BLOCKS = (*LAYOUT_BEFORE_BODY, BODY_SLOT, *LAYOUT_AFTER_BODY)
"""Every block the layout defines, in letter order."""

OBJECT_SLOT = "intitule"
"""The block, nested in `objet`, where a template writes its object line."""

RESERVED_NAMES = frozenset({"sender", "recipient", "letter_date", "references", "attachments"})
"""Variables that the layout provides; no field may take these names."""

_NAME = r"^[a-z][a-z0-9_]*$"

FieldType = Literal["text", "long_text", "date", "amount", "integer", "boolean", "choice", "list"]


class FieldSpec(FrozenModel):
    """One typed fact a template needs."""

    name: str = Field(pattern=_NAME, max_length=60)
    type: FieldType
    required: bool = True
    description: str = Field(min_length=1)
    choices: tuple[str, ...] | None = None
    default: Any = None
    required_when: dict[str, tuple[Any, ...]] | None = Field(
        default=None,
        description="For an optional field: the other field's values that make it required.",
    )
    citizen_text: bool = Field(
        default=False,
        description="Text written by the citizen: shown to the model as data only, never a source of "
        "facts for the guards, and never to be copied.",
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMES:
            raise ValueError(f"nom réservé à la mise en page : {name}")
        return name

    @model_validator(mode="after")
    def _choices_match_type(self) -> FieldSpec:
        if (self.type == "choice") != bool(self.choices):
            raise ValueError("`choices` est requis pour le type choice, et seulement pour lui")
        if self.required and self.default is not None:
            raise ValueError("un champ obligatoire n'a pas de valeur par défaut")
        if self.required and self.required_when:
            raise ValueError("`required_when` ne s'applique qu'à un champ facultatif")
        if self.citizen_text and self.type not in {"text", "long_text"}:
            raise ValueError("`citizen_text` ne s'applique qu'aux types text et long_text")
        return self


class SectionSpec(FrozenModel):
    """One body section: its block name, its mode, and for model-written modes, instructions and bounds."""

    id: str = Field(pattern=_NAME, max_length=60)
    mode: SectionMode
    instructions: str | None = Field(default=None, min_length=1)
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, gt=0, le=5_000)

    @field_validator("id")
    @classmethod
    def _not_layout(cls, section_id: str) -> str:
        if section_id in (*LAYOUT_BLOCKS, OBJECT_SLOT):
            raise ValueError(f"nom de section réservé à la mise en page : {section_id}")
        return section_id

    @model_validator(mode="after")
    def _model_sections_are_bounded(self) -> SectionSpec:
        guided = (self.instructions, self.min_chars, self.max_chars)
        if self.mode == "locked" and any(value is not None for value in guided):
            raise ValueError("une section locked n'a ni instructions ni bornes de longueur")
        if self.mode != "locked":
            if any(value is None for value in guided):
                raise ValueError(f"une section {self.mode} exige instructions, min_chars et max_chars")
            assert self.min_chars is not None
            assert self.max_chars is not None
            if self.min_chars > self.max_chars:
                raise ValueError("min_chars dépasse max_chars")
        return self


class Review(FrozenModel):
    """Who vetted the legal text, and when."""

    status: Literal["a_relire", "relu"]
    by: str = Field(min_length=1)
    on: dt.date


class DecisionByChoice(FrozenModel):
    """A decision that follows a choice field: `decides = { field = "issue", values = { … } }`."""

    field: str
    values: dict[str, Decision]


class Manifest(FrozenModel):
    """A template's `template.toml`."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    title: str = Field(min_length=1)
    kind: str = Field(pattern=_NAME)
    decision: bool = False
    decides: Decision | DecisionByChoice | None = None
    """What the letter decides; a decision template must say it. Default: « aucune »."""
    legal_basis: tuple[str, ...] = Field(min_length=1)
    source: str = Field(default="lettre.j2", pattern=r"^[A-Za-z0-9_.-]+\.j2$")
    review: Review
    fields: tuple[FieldSpec, ...] = ()
    sections: tuple[SectionSpec, ...] = Field(min_length=1)
    required_mentions: tuple[MentionSpec, ...] = Field(default=(), max_length=MAX_MENTIONS)
    example: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_are_unique(self) -> Manifest:
        for kind, names in (
            ("champ", [f.name for f in self.fields]),
            ("section", [s.id for s in self.sections]),
        ):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"{kind} en double : {', '.join(duplicates)}")
        field_names = {spec.name for spec in self.fields}
        if self.decision and self.decides is None:
            raise ValueError("un modèle de décision doit dire ce qu'il décide : `decides`")
        if isinstance(self.decides, DecisionByChoice):
            choice = next((f for f in self.fields if f.name == self.decides.field and f.choices), None)
            if choice is None or set(self.decides.values) != set(choice.choices or ()):
                raise ValueError(
                    f"`decides` doit donner une décision pour chaque choix du champ {self.decides.field}"
                )
        for spec in self.fields:
            unknown = set(spec.required_when or ()) - field_names
            if unknown:
                raise ValueError(f"{spec.name} : required_when cite un champ inconnu ({', '.join(unknown)})")
        return self

    def decision_for(self, facts: BaseModel) -> Decision:
        """What a letter with these facts decides."""
        if isinstance(self.decides, DecisionByChoice):
            return self.decides.values[str(getattr(facts, self.decides.field))]
        return self.decides or "aucune"


def _reject_numbers(value: Any) -> Any:
    if isinstance(value, int | float | Decimal):
        raise ValueError("date attendue (format AAAA-MM-JJ), pas un nombre")
    return value


_TYPES: dict[str, Any] = {
    "text": Line,
    "long_text": LongText,
    "date": Annotated[dt.date, BeforeValidator(_reject_numbers)],
    "amount": Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)],
    "integer": int,
    "boolean": bool,
    "list": Annotated[list[Line], Field(min_length=1, max_length=50)],
}


def build_facts_model(manifest: Manifest) -> type[BaseModel]:
    """The pydantic model of a template's facts; its JSON Schema is what integrators read."""
    definitions: dict[str, Any] = {}
    for spec in manifest.fields:
        annotation = Literal[spec.choices] if spec.type == "choice" else _TYPES[spec.type]
        if spec.required:
            definitions[spec.name] = (annotation, Field(description=spec.description))
        else:
            definitions[spec.name] = (
                annotation | None,
                Field(default=spec.default, description=spec.description),
            )
    config = ConfigDict(
        extra="forbid",
        frozen=True,
        title=manifest.id,
        json_schema_extra={
            "description": manifest.title,
            "examples": [to_jsonable_python(manifest.example)],
        },
    )
    model: type[BaseModel] = create_model(f"Facts[{manifest.id}]", __config__=config, **definitions)
    return model
