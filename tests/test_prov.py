"""PROV-JSON export: the `prov` package reads it back, it says what the record says, and no fact leaks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from prov.model import ProvDocument

from courrier import Draft, Drafter, LetterRequest
from courrier.outputs import to_prov_json
from courrier.outputs.prov import NAMESPACES
from courrier.record import ModelFingerprint, ModelRecord, seal, text_sha256

ROOT = Path(__file__).resolve().parent.parent
EXPLANATION = (
    "Votre demande porte sur la place de l'Église un samedi, jour de marché. L'arrêté municipal y interdit "
    "alors toute installation commerciale : votre demande ne peut donc pas être acceptée."
)
CONTACT = (
    "Pour toute question sur cette décision, nos services restent à votre disposition. "
    "Merci de rappeler la référence de ce courrier."
)
NEW_CONTACT = "Nos services restent à votre disposition pour toute question sur cette décision."
EDITOR, APPROVER, QUALITE = "Maëlle Kerouac", "Yannick Le Goff", "Premier adjoint au maire"
SETTINGS = {"temperature": 0.2, "seed": 42, "finish_reason": "stop"}
USAGE = {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160}


def revision(attributes: dict[str, Any]) -> bool:
    return attributes.get("prov:type") == {"$": "prov:Revision", "type": "xsd:QName"}


@pytest.fixture(scope="module")
def letter_request() -> LetterRequest:
    path = ROOT / "examples" / "requests" / "decision-defavorable.json"
    return LetterRequest.model_validate_json(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def template_draft(letter_request: LetterRequest) -> Draft:
    return Drafter(llm=None).draft(letter_request)


@pytest.fixture(scope="module")
def model_draft(letter_request: LetterRequest) -> Draft:
    """The explanation is rejected once (too short), then accepted; the contact accepted at once."""
    replies = [
        AIMessage(content=text, response_metadata=SETTINGS, usage_metadata=USAGE)
        for text in ("x", EXPLANATION, CONTACT)
    ]
    draft = Drafter(llm=GenericFakeChatModel(messages=iter(replies))).draft(letter_request)
    origins = {p.section: p.origin for p in draft.paragraphs}
    assert origins["explication"] == origins["contact"] == "model"
    return draft


@pytest.fixture(scope="module")
def revised_draft(model_draft: Draft) -> Draft:
    edited = model_draft.edit("contact", NEW_CONTACT, author=EDITOR, reason="plus direct")
    return edited.approve(by=APPROVER, role=QUALITE)


@pytest.fixture(params=["template_draft", "model_draft", "revised_draft"])
def any_draft(request: pytest.FixtureRequest) -> Draft:
    draft: Draft = request.getfixturevalue(request.param)
    return draft


def read(document: dict[str, Any]) -> ProvDocument:
    """The document as `prov` reads it, any warning (such as a future rejection) an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ProvDocument.deserialize(content=json.dumps(document), format="json")


def relations(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list(document.get(kind, {}).values())


def related(document: dict[str, Any], kind: str, **formal: str) -> list[dict[str, Any]]:
    """The `kind` relations whose formal attributes (without the prov: prefix) have these values."""
    return [
        r for r in relations(document, kind) if all(r.get(f"prov:{name}") == v for name, v in formal.items())
    ]


def of_type(document: dict[str, Any], kind: str, prov_type: str) -> dict[str, dict[str, Any]]:
    qname = {"$": prov_type, "type": "xsd:QName"}
    return {
        identifier: attributes
        for identifier, attributes in document.get(kind, {}).items()
        if attributes.get("prov:type") == qname
        or (isinstance(attributes.get("prov:type"), list) and qname in attributes["prov:type"])
    }


def test_every_export_reads_back_with_prov_and_survives_prov_n(any_draft: Draft) -> None:
    document = read(to_prov_json(any_draft))
    assert {ns.prefix: ns.uri for ns in document.get_registered_namespaces()} == NAMESPACES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ProvDocument.deserialize(content=document.get_provn(), format="provn")
    assert again == document


def test_a_template_only_draft(template_draft: Draft) -> None:
    document = to_prov_json(template_draft)
    record = template_draft.provenance
    letter = f"draft:{template_draft.id}/v1"
    assert list(of_type(document, "entity", "courrier:Letter")) == [letter]
    attributes = document["entity"][letter]
    assert attributes["courrier:recordSha256"] == template_draft.sha256
    assert attributes["courrier:textSha256"] == text_sha256(template_draft.text)
    assert attributes["courrier:templateId"] == "decision-defavorable"
    assert attributes["courrier:templateVersion"] == record.template.version
    assert attributes["courrier:approved"] is False
    template = document["entity"][f"sha256:{record.template.sha256}"]
    assert template["prov:type"] == {"$": "courrier:Template", "type": "xsd:QName"}
    assert document["entity"][f"sha256:{record.facts_sha256}"]["prov:type"]["$"] == "courrier:Facts"
    assert f"sha256:{record.request_sha256}" in document["entity"]

    paragraphs = of_type(document, "entity", "courrier:Paragraph")
    assert [p["courrier:section"] for p in paragraphs.values()] == [
        p.section for p in template_draft.paragraphs
    ]
    assert [p["courrier:textSha256"] for p in paragraphs.values()] == [
        text_sha256(p.text) for p in template_draft.paragraphs
    ]
    assert {p["courrier:origin"] for p in paragraphs.values()} == {"template"}
    members = related(document, "hadMember", collection=letter)
    assert [m["prov:entity"] for m in members] == list(paragraphs)
    for paragraph in paragraphs:
        assert related(document, "wasDerivedFrom", generatedEntity=paragraph) == [
            {"prov:generatedEntity": paragraph, "prov:usedEntity": f"sha256:{record.template.sha256}"}
        ]

    drafting = f"draft:{template_draft.id}/drafting"
    assert document["activity"][drafting]["prov:endTime"] == record.created_at.isoformat()
    assert related(document, "wasGeneratedBy", entity=letter, activity=drafting)
    assert not of_type(document, "activity", "courrier:Generation")
    assert not any(revision(r) for r in relations(document, "wasDerivedFrom"))

    (organisation,) = of_type(document, "agent", "prov:Organization")
    (signatory,) = of_type(document, "agent", "prov:Person")
    (software,) = of_type(document, "agent", "prov:SoftwareAgent")
    assert document["agent"][organisation]["prov:label"] == "Mairie de Port-Sainte-Aurore"
    assert document["agent"][signatory]["prov:label"] == record.signatory
    assert document["agent"][software]["courrier:version"] == record.software["version"]
    assert related(document, "actedOnBehalfOf", delegate=signatory, responsible=organisation)
    assert related(
        document, "actedOnBehalfOf", delegate=software, responsible=organisation, activity=drafting
    )
    assert related(document, "wasAssociatedWith", activity=drafting, agent=software)
    assert {r["prov:agent"] for r in related(document, "wasAttributedTo", entity=letter)} == {
        organisation,
        signatory,
    }


def test_each_model_attempt_is_a_generation_with_its_parameters(model_draft: Draft) -> None:
    document = to_prov_json(model_draft)
    generations = of_type(document, "activity", "courrier:Generation")
    base = f"draft:{model_draft.id}/v1"
    assert list(generations) == [
        f"{base}/explication/attempt-1",
        f"{base}/explication/attempt-2",
        f"{base}/contact/attempt-1",
    ]
    rejected, accepted, contact = generations.values()
    assert rejected["courrier:accepted"] is False
    assert "length" in rejected["courrier:rejectedBy"].split()
    assert accepted["courrier:accepted"] is contact["courrier:accepted"] is True
    for generation in generations.values():
        assert generation["courrier:seed"] == {"$": "42", "type": "xsd:int"}
        assert generation["courrier:temperature"] == {"$": "0.2", "type": "xsd:double"}
        assert generation["courrier:inputTokens"] == {"$": "120", "type": "xsd:int"}
        assert generation["courrier:finishReason"] == "stop"

    # prov reads the typed literals back as numbers and booleans
    read_back = read(document).get_record(f"{base}/explication/attempt-1")[0]
    assert read_back.get_attribute("courrier:seed") == {42}
    assert read_back.get_attribute("courrier:temperature") == {0.2}
    assert read_back.get_attribute("courrier:accepted") == {False}

    entry = next(e for e in model_draft.provenance.paragraphs if e.section == "explication")
    prompt = f"sha256:{entry.attempts[0].prompt.sha256}"
    assert document["entity"][prompt]["courrier:promptId"] == entry.attempts[0].prompt.id
    assert document["entity"][prompt]["courrier:promptVersion"] == entry.attempts[0].prompt.version
    paragraph = f"{base}/explication"
    assert document["entity"][paragraph]["courrier:origin"] == "model"
    assert document["entity"][paragraph]["courrier:fallback"] is False
    assert related(document, "wasGeneratedBy", entity=paragraph, activity=f"{base}/explication/attempt-2")
    assert related(document, "wasDerivedFrom", generatedEntity=paragraph, usedEntity=prompt)

    (model,) = (a for a in of_type(document, "agent", "prov:SoftwareAgent") if a.startswith("agent:model/"))
    for activity in generations:
        assert related(document, "wasAssociatedWith", activity=activity, agent=model, plan=prompt)
        assert related(document, "used", activity=activity, entity=prompt)
        assert related(
            document, "wasStartedBy", activity=activity, starter=f"draft:{model_draft.id}/drafting"
        )


def test_an_edited_and_approved_draft(revised_draft: Draft) -> None:
    assert revised_draft.version == 3
    document = to_prov_json(revised_draft)
    base = f"draft:{revised_draft.id}"
    letters = of_type(document, "entity", "courrier:Letter")
    assert list(letters) == [f"{base}/v1", f"{base}/v2", f"{base}/v3"]
    assert letters[f"{base}/v3"]["courrier:recordSha256"] == revised_draft.sha256
    assert letters[f"{base}/v3"]["courrier:approved"] is True
    assert letters[f"{base}/v2"]["courrier:recordSha256"] == revised_draft.provenance.previous_sha256
    for version in (2, 3):
        (derivation,) = related(document, "wasDerivedFrom", generatedEntity=f"{base}/v{version}")
        assert derivation["prov:usedEntity"] == f"{base}/v{version - 1}"
        assert revision(derivation)

    (editor,) = (a for a, v in document["agent"].items() if v["prov:label"] == EDITOR)
    (approver,) = (a for a, v in document["agent"].items() if v["prov:label"] == APPROVER)
    assert document["agent"][approver]["prov:type"] == {"$": "prov:Person", "type": "xsd:QName"}
    assert document["agent"][editor]["prov:type"] == {"$": "prov:Person", "type": "xsd:QName"}

    edit = document["activity"][f"{base}/v2/edit"]
    (record,) = revised_draft.provenance.edits
    assert edit["prov:startTime"] == record.at.isoformat()
    assert edit["courrier:reason"] == "plus direct"
    assert edit["courrier:afterSha256"] == text_sha256(NEW_CONTACT)
    assert related(document, "wasAssociatedWith", activity=f"{base}/v2/edit", agent=editor)
    assert related(document, "wasGeneratedBy", entity=f"{base}/v2", activity=f"{base}/v2/edit")

    approval = f"{base}/v3/approval"
    assert document["activity"][approval]["courrier:qualite"] == QUALITE
    assert related(document, "wasAssociatedWith", activity=approval, agent=approver) == [
        {"prov:activity": approval, "prov:agent": approver, "prov:role": QUALITE}
    ]
    assert related(document, "wasGeneratedBy", entity=f"{base}/v3", activity=approval)
    assert related(document, "used", activity=approval, entity=f"{base}/v2")

    # the contact written by the model stays, revised by the editor's text, which the letter now holds
    before, after = f"{base}/v1/contact", f"{base}/v2/contact"
    assert document["entity"][before]["courrier:origin"] == "model"
    assert document["entity"][after]["courrier:origin"] == "human"
    assert document["entity"][after]["courrier:textSha256"] == text_sha256(NEW_CONTACT)
    (derivation,) = related(document, "wasDerivedFrom", generatedEntity=after)
    assert derivation["prov:usedEntity"] == before
    assert revision(derivation)
    assert related(document, "wasAttributedTo", entity=after, agent=editor)
    members = {m["prov:entity"] for m in related(document, "hadMember", collection=f"{base}/v3")}
    assert after in members
    assert before not in members


def test_a_local_model_file_is_an_entity_the_generations_used(model_draft: Draft) -> None:
    fingerprint = ModelFingerprint(
        file_name="SmolLM2-135M-Instruct-Q8_0.gguf",
        size=3_000_000_000,
        sha256="ab" * 32,
        name="SmolLM2 135M Instruct",
        architecture="llama",
        quantization="Q8_0",
        chat_template_sha256="cd" * 32,
        llama_cpp_python="0.3.16",
    )
    model = ModelRecord(kind="llama-cpp", fingerprint=fingerprint, settings={"n_ctx": 4096})
    record = model_draft.provenance.model_copy(update={"model": model})
    draft = model_draft.model_copy(update={"provenance": record, "integrity": seal(record)})
    document = to_prov_json(draft)
    read(document)
    file = document["entity"][f"sha256:{fingerprint.sha256}"]
    assert file["courrier:fileName"] == fingerprint.file_name
    assert file["courrier:quantization"] == "Q8_0"
    assert file["courrier:size"] == {"$": "3000000000", "type": "xsd:long"}
    agent = document["agent"][f"agent:model/llama-cpp/{fingerprint.sha256}"]
    assert agent["courrier:n_ctx"] == {"$": "4096", "type": "xsd:int"}
    assert agent["courrier:llamaCppPython"] == "0.3.16"
    for generation in of_type(document, "activity", "courrier:Generation"):
        assert related(document, "used", activity=generation, entity=f"sha256:{fingerprint.sha256}")


def test_a_model_error_is_named_by_its_type_only(letter_request: LetterRequest) -> None:
    class Broken(FakeListChatModel):
        def _call(self, *args: Any, **kwargs: Any) -> str:
            raise RuntimeError("serveur injoignable")

    draft = Drafter(llm=Broken(responses=["x"])).draft(letter_request)
    document = to_prov_json(draft)
    read(document)
    generations = of_type(document, "activity", "courrier:Generation")
    assert [g["courrier:error"] for g in generations.values()] == ["RuntimeError", "RuntimeError"]
    assert document["entity"][f"draft:{draft.id}/v1/contact"]["courrier:fallback"] is True
    assert "injoignable" not in json.dumps(document, ensure_ascii=False)


def test_no_fact_value_appears(any_draft: Draft) -> None:
    text = json.dumps(to_prov_json(any_draft), ensure_ascii=False)
    facts = any_draft.request.facts
    secrets = [facts[name] for name in ("objet_demande", "fondement_juridique", "motifs_fait")]
    secrets += [facts["tribunal_administratif"], any_draft.request.recipient.name]
    assert all(secret not in text for secret in secrets)
    assert any_draft.provenance.facts_sha256 in text


def test_the_export_is_deterministic(any_draft: Draft) -> None:
    first = to_prov_json(any_draft)
    again = to_prov_json(Draft.from_json(any_draft.to_json()))
    assert first == again
    assert json.dumps(first) == json.dumps(again)
