"""Export a draft's provenance as a W3C PROV-JSON document (https://www.w3.org/submissions/prov-json/).

The document describes every version of the draft up to the current one, from its provenance record
alone: facts appear only as hashes, and model outputs, guard details and error messages not at all.

Namespaces (stable: tools may rely on them):

- ``courrier`` (``https://courrier.invalid/ns#``): the vocabulary, types (``courrier:Letter``, …)
  and attribute names (``courrier:textSha256``, ``courrier:temperature``, …);
- ``draft`` (``https://courrier.invalid/draft/``): the records of one draft, ``draft:<id>/v<n>``
  for version n of the letter, ``draft:<id>/v<n>/<section>`` for the paragraph text that version n
  produced, ``draft:<id>/drafting``, ``draft:<id>/v1/<section>/attempt-<k>``,
  ``draft:<id>/v<n>/edit`` and ``draft:<id>/v<n>/approval`` for the activities;
- ``agent`` (``https://courrier.invalid/agent/``): ``agent:organisation/<name>``,
  ``agent:person/<name>``, ``agent:software/courrier/<version>``, ``agent:model/<kind>[/<sha256>]``;
- ``sha256`` (``urn:hash::sha256:``): content-addressed entities, ``sha256:<hex>`` for the template
  sources, the request, its facts, each prompt file and the model file.

Names in identifiers are percent-encoded (RFC 3986 unreserved characters kept).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from .._canonical import canonical_json, text_sha256
from .._draft import Draft
from ..record import AttemptRecord, EditRecord, ParagraphRecord, ProvenanceRecord

__all__ = ["NAMESPACES", "to_prov_json"]

NAMESPACES = {
    "courrier": "https://courrier.invalid/ns#",
    "draft": "https://courrier.invalid/draft/",
    "agent": "https://courrier.invalid/agent/",
    "sha256": "urn:hash::sha256:",
}
"""The PROV-JSON prefixes of an export (``prov`` and ``xsd`` are predefined)."""

_INT32 = 2**31
_INT64 = 2**63


def to_prov_json(draft: Draft) -> dict[str, Any]:
    """The provenance of `draft` as a PROV-JSON document (plain JSON data, deterministic).

    `VerificationError` for a draft that does not match its record, as for every document.
    """
    draft.require_intact()
    return _Export(draft).document()


class _Export:
    """Builds the records of one export; relations get blank-node ids numbered in order."""

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.record: ProvenanceRecord = draft.provenance
        self.base = f"draft:{_name(draft.id)}"
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    def document(self) -> dict[str, Any]:
        record = self.record
        software = self._agents()
        model = self._model()
        drafting = self._drafting(software)
        makers: dict[int, tuple[str, dt.datetime | None]] = {
            1: (drafting, record.created_at if record.version == 1 else None)
        }
        for edit in record.edits:
            makers[edit.version] = (self._edit_activity(edit), edit.at)
        if record.approval is not None:
            makers[record.approval.version] = (self._approval_activity(), record.approval.at)
        for index, entry in enumerate(record.paragraphs):
            self._paragraph(index, entry, drafting, model)
        self._versions(makers)
        return {"prefix": dict(NAMESPACES), **self.records}

    # Agents

    def _agents(self) -> str:
        record = self.record
        organisation = self._organisation()
        self.add(
            "agent",
            organisation,
            {"prov:type": _qname("prov:Organization"), "prov:label": record.organisation},
        )
        signatory = _person(record.signatory)
        self.add("agent", signatory, {"prov:type": _qname("prov:Person"), "prov:label": record.signatory})
        self.relate("actedOnBehalfOf", {"prov:delegate": signatory, "prov:responsible": organisation})
        name = record.software.get("name", "courrier")
        version = record.software.get("version", "unknown")
        software = f"agent:software/{_name(name)}/{_name(version)}"
        self.add(
            "agent",
            software,
            {"prov:type": _qname("prov:SoftwareAgent"), "prov:label": name, "courrier:version": version},
        )
        return software

    def _organisation(self) -> str:
        return f"agent:organisation/{_name(self.record.organisation)}"

    def _model(self) -> str | None:
        model = self.record.model
        if model is None:
            return None
        fingerprint = model.fingerprint
        agent = f"agent:model/{_name(model.kind)}"
        attributes: dict[str, Any] = {
            **_settings(model.settings),
            "prov:type": _qname("prov:SoftwareAgent"),
            "prov:label": model.kind,
            "courrier:kind": model.kind,
        }
        if fingerprint is not None:
            agent += f"/{fingerprint.sha256}"
            attributes["prov:label"] = model.name
            attributes["courrier:llamaCppPython"] = fingerprint.llama_cpp_python
            self.add(
                "entity",
                _content(fingerprint.sha256),
                _present(
                    {
                        "prov:type": _qname("courrier:ModelFile"),
                        "courrier:fileName": fingerprint.file_name,
                        "courrier:size": _literal(fingerprint.size),
                        "courrier:sha256": fingerprint.sha256,
                        "courrier:name": fingerprint.name,
                        "courrier:architecture": fingerprint.architecture,
                        "courrier:quantization": fingerprint.quantization,
                        "courrier:chatTemplateSha256": fingerprint.chat_template_sha256,
                    }
                ),
            )
        self.add("agent", agent, attributes)
        return agent

    # Drafting: version 1 and its paragraphs

    def _drafting(self, software: str) -> str:
        record = self.record
        drafting = f"{self.base}/drafting"
        attributes: dict[str, Any] = {
            "prov:type": _qname("courrier:Drafting"),
            "courrier:maxRetries": _literal(record.max_retries),
        }
        if record.version == 1:
            attributes["prov:endTime"] = _time(record.created_at)
        if record.style is not None:
            attributes["courrier:style"] = record.style
        self.add("activity", drafting, attributes)
        template = _content(record.template.sha256)
        self.add(
            "entity",
            template,
            {
                "prov:type": _qname("courrier:Template"),
                "courrier:templateId": record.template.id,
                "courrier:templateVersion": record.template.version,
                "courrier:sha256": record.template.sha256,
            },
        )
        request, facts = _content(record.request_sha256), _content(record.facts_sha256)
        self.add(
            "entity",
            request,
            {"prov:type": _qname("courrier:Request"), "courrier:sha256": record.request_sha256},
        )
        self.add(
            "entity", facts, {"prov:type": _qname("courrier:Facts"), "courrier:sha256": record.facts_sha256}
        )
        self.relate("wasDerivedFrom", {"prov:generatedEntity": facts, "prov:usedEntity": request})
        for entity in (template, request, facts):
            self.relate("used", {"prov:activity": drafting, "prov:entity": entity})
        self.relate(
            "wasAssociatedWith", {"prov:activity": drafting, "prov:agent": software, "prov:plan": template}
        )
        self.relate(
            "actedOnBehalfOf",
            {"prov:delegate": software, "prov:responsible": self._organisation(), "prov:activity": drafting},
        )
        return drafting

    def _paragraph(self, index: int, entry: ParagraphRecord, drafting: str, model: str | None) -> None:
        """The paragraph's first text (version 1), then one entity per human edit of its section."""
        edits = [edit for edit in self.record.edits if edit.section == entry.section]
        accepted = next((attempt for attempt in entry.attempts if attempt.accepted), None)
        first = self._section_text(1, entry.section)
        attributes: dict[str, Any] = {
            "prov:type": _qname("courrier:Paragraph"),
            "courrier:section": entry.section,
            "courrier:position": _literal(index + 1),
            "courrier:mode": entry.mode,
            "courrier:origin": "template" if accepted is None else "model",
            "courrier:textSha256": edits[0].before_sha256 if edits else entry.text_sha256,
            "courrier:vettedSha256": entry.vetted_sha256,
        }
        if entry.attempts:
            attributes["courrier:fallback"] = entry.fallback_reason is not None
        self.add("entity", first, attributes)
        self.relate(
            "wasDerivedFrom",
            {"prov:generatedEntity": first, "prov:usedEntity": _content(self.record.template.sha256)},
        )
        generator = drafting
        for attempt in entry.attempts:
            activity = self._attempt(entry.section, attempt, drafting, model)
            if attempt.accepted:
                generator = activity
                self.relate(
                    "wasDerivedFrom",
                    {"prov:generatedEntity": first, "prov:usedEntity": _content(attempt.prompt.sha256)},
                )
        self.relate("wasGeneratedBy", {"prov:entity": first, "prov:activity": generator})
        previous = first
        for edit in edits:
            previous = self._edited(entry, edit, previous)

    def _attempt(self, section: str, attempt: AttemptRecord, drafting: str, model: str | None) -> str:
        activity = f"{self._section_text(1, section)}/attempt-{attempt.number}"
        prompt = _content(attempt.prompt.sha256)
        self.add(
            "entity",
            prompt,
            {
                "prov:type": _qname("courrier:Prompt"),
                "courrier:promptId": attempt.prompt.id,
                "courrier:promptVersion": attempt.prompt.version,
                "courrier:sha256": attempt.prompt.sha256,
            },
        )
        usage = attempt.usage
        attributes: dict[str, Any] = {
            **_settings(attempt.parameters),
            "prov:type": _qname("courrier:Generation"),
            "courrier:section": section,
            "courrier:attempt": _literal(attempt.number),
            "courrier:renderedPromptSha256": attempt.prompt.rendered_sha256,
            **_present(
                {
                    "courrier:inputTokens": _literal(usage.input_tokens) if usage else None,
                    "courrier:outputTokens": _literal(usage.output_tokens) if usage else None,
                    "courrier:finishReason": usage.finish_reason if usage else None,
                    "courrier:promptSeconds": _literal(usage.prompt_seconds) if usage else None,
                    "courrier:generationSeconds": _literal(usage.generation_seconds) if usage else None,
                    "courrier:outputSha256": attempt.output_sha256,
                    "courrier:error": attempt.error.partition(":")[0] if attempt.error else None,
                    "courrier:rejectedBy": " ".join(v.guard for v in attempt.verdicts if not v.passed)
                    or None,
                }
            ),
            "courrier:accepted": attempt.accepted,
        }
        self.add("activity", activity, attributes)
        self.relate("wasStartedBy", {"prov:activity": activity, "prov:starter": drafting})
        self.relate("used", {"prov:activity": activity, "prov:entity": prompt})
        if model is not None:
            self.relate(
                "wasAssociatedWith", {"prov:activity": activity, "prov:agent": model, "prov:plan": prompt}
            )
        fingerprint = self.record.model.fingerprint if self.record.model else None
        if fingerprint is not None:
            self.relate("used", {"prov:activity": activity, "prov:entity": _content(fingerprint.sha256)})
        return activity

    # Versions: edits, approval, the letter entities

    def _edited(self, entry: ParagraphRecord, edit: EditRecord, previous: str) -> str:
        activity = f"{self._letter(edit.version)}/edit"
        text = self._section_text(edit.version, entry.section)
        self.add(
            "entity",
            text,
            {
                "prov:type": _qname("courrier:Paragraph"),
                "courrier:section": entry.section,
                "courrier:mode": entry.mode,
                "courrier:origin": "human",
                "courrier:textSha256": edit.after_sha256,
                "courrier:vettedSha256": entry.vetted_sha256,
            },
        )
        self.relate("used", {"prov:activity": activity, "prov:entity": previous})
        self.relate(
            "wasGeneratedBy", {"prov:entity": text, "prov:activity": activity, "prov:time": _time(edit.at)}
        )
        self.relate(
            "wasDerivedFrom",
            {"prov:generatedEntity": text, "prov:usedEntity": previous, "prov:activity": activity},
            {"prov:type": _qname("prov:Revision")},
        )
        self.relate("wasAttributedTo", {"prov:entity": text, "prov:agent": _person(edit.author)})
        return text

    def _edit_activity(self, edit: EditRecord) -> str:
        activity = f"{self._letter(edit.version)}/edit"
        author = _person(edit.author)
        self.add("agent", author, {"prov:type": _qname("prov:Person"), "prov:label": edit.author})
        attributes: dict[str, Any] = {
            "prov:type": _qname("courrier:Edit"),
            "prov:startTime": _time(edit.at),
            "prov:endTime": _time(edit.at),
            "courrier:section": edit.section,
            "courrier:beforeSha256": edit.before_sha256,
            "courrier:afterSha256": edit.after_sha256,
        }
        if edit.reason is not None:
            attributes["courrier:reason"] = edit.reason
        self.add("activity", activity, attributes)
        self.relate("wasAssociatedWith", {"prov:activity": activity, "prov:agent": author})
        return activity

    def _versions(self, makers: dict[int, tuple[str, dt.datetime | None]]) -> None:
        """One entity per version of the letter, each a revision of the one before.

        `makers` maps a version to the activity that made it and when; a version made by an approval
        that a later edit voided has none, since the record keeps only the current approval.
        """
        record, current = self.record, self.record.version
        approval = record.approval
        for version in range(1, current + 1):
            letter = self._letter(version)
            attributes: dict[str, Any] = {
                "prov:type": [_qname("prov:Collection"), _qname("courrier:Letter")],
                "courrier:draftId": self.draft.id,
                "courrier:version": _literal(version),
                "courrier:templateId": record.template.id,
                "courrier:templateVersion": record.template.version,
            }
            if version == current:
                attributes["courrier:change"] = record.change
                attributes["courrier:recordSha256"] = self.draft.integrity.record_sha256
                attributes["courrier:textSha256"] = text_sha256(self.draft.text)
                attributes["courrier:approved"] = approval is not None
            elif version == current - 1 and record.previous_sha256 is not None:
                attributes["courrier:recordSha256"] = record.previous_sha256
            self.add("entity", letter, attributes)
            maker, time = makers.get(version, (None, None))
            if maker is not None:
                generation = {
                    "prov:entity": letter,
                    "prov:activity": maker,
                    "prov:time": time and _time(time),
                }
                self.relate("wasGeneratedBy", _present(generation))
            if version > 1:
                previous = self._letter(version - 1)
                if maker is not None:
                    self.relate("used", {"prov:activity": maker, "prov:entity": previous})
                self.relate(
                    "wasDerivedFrom",
                    {"prov:generatedEntity": letter, "prov:usedEntity": previous},
                    {"prov:type": _qname("prov:Revision")},
                )
        letter = self._letter(current)
        for entry in record.paragraphs:
            self.relate(
                "hadMember", {"prov:collection": letter, "prov:entity": self._current_text(entry.section)}
            )
        self.relate("wasAttributedTo", {"prov:entity": letter, "prov:agent": self._organisation()})
        self.relate("wasAttributedTo", {"prov:entity": letter, "prov:agent": _person(record.signatory)})

    def _approval_activity(self) -> str:
        approval = self.record.approval
        assert approval is not None
        activity = f"{self._letter(approval.version)}/approval"
        approver = _person(approval.by)
        self.add("agent", approver, {"prov:type": _qname("prov:Person"), "prov:label": approval.by})
        self.add(
            "activity",
            activity,
            {
                "prov:type": _qname("courrier:Approval"),
                "prov:startTime": _time(approval.at),
                "prov:endTime": _time(approval.at),
                "courrier:qualite": approval.role,
            },
        )
        self.relate(
            "wasAssociatedWith",
            {"prov:activity": activity, "prov:agent": approver},
            {"prov:role": approval.role},
        )
        return activity

    # Identifiers and records

    def _letter(self, version: int) -> str:
        return f"{self.base}/v{version}"

    def _section_text(self, version: int, section: str) -> str:
        return f"{self._letter(version)}/{_name(section)}"

    def _current_text(self, section: str) -> str:
        versions = [edit.version for edit in self.record.edits if edit.section == section]
        return self._section_text(max(versions, default=1), section)

    def add(self, kind: str, identifier: str, attributes: dict[str, Any]) -> None:
        self.records.setdefault(kind, {})[identifier] = attributes

    def relate(self, kind: str, formal: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        count = self.counts.get(kind, 0) + 1
        self.counts[kind] = count
        self.add(kind, f"_:{kind}{count}", {**formal, **(extra or {})})


def _name(text: str) -> str:
    """A name as the local part of a qualified name: percent-encoded but for unreserved characters."""
    return quote(text, safe="-._~")


def _person(name: str) -> str:
    return f"agent:person/{_name(name)}"


def _content(sha256: str) -> str:
    return f"sha256:{sha256}"


def _qname(name: str) -> dict[str, str]:
    return {"$": name, "type": "xsd:QName"}


def _time(moment: dt.datetime) -> str:
    return moment.isoformat()


def _literal(value: int | float | None) -> dict[str, str] | None:
    """A number as the typed literal the `prov` package writes itself (xsd:int, xsd:long, xsd:double)."""
    if value is None:
        return None
    if isinstance(value, float):
        return {"$": repr(value), "type": "xsd:double"}
    kind = (
        "xsd:int" if -_INT32 <= value < _INT32 else "xsd:long" if -_INT64 <= value < _INT64 else "xsd:integer"
    )
    return {"$": str(value), "type": kind}


def _settings(values: dict[str, Any]) -> dict[str, Any]:
    """Settings as ``courrier:<name>`` attributes (the fixed attributes a record sets win over them):
    booleans and strings as is, numbers typed, lists and objects as canonical JSON text, nulls left out."""
    attributes: dict[str, Any] = {}
    for name, value in sorted(values.items()):
        if value is None:
            continue
        if isinstance(value, bool | str):
            attributes[f"courrier:{_name(name)}"] = value
        elif isinstance(value, int | float):
            attributes[f"courrier:{_name(name)}"] = _literal(value)
        else:
            attributes[f"courrier:{_name(name)}"] = canonical_json(value).decode("utf-8")
    return attributes


def _present(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in attributes.items() if value is not None}
