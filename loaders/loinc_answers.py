"""Answer lists: AnswerList.csv defines the lists (LL codes) and their answers (LA codes), both concepts of
http://loinc.org; each list with answers is also stored as the ValueSet http://loinc.org/vs/<LL> (its LA
codes in SequenceNumber order). LoincAnswerListLink.csv ties terms to lists.

Properties, as tx.fhir.org reports them: the list has `Answer` (each LA) and `answers-for` (each term);
the answer has `AnswerList` (each list it is in); the term has `answer-list` (a Coding, HL7's name).
Externally defined lists (ExtDefinedYN=Y) have no answers in the file, so they get no ValueSet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_csv import read_table
from termsvc.loaders.loinc_model import COPYRIGHT, SYSTEM
from termsvc.loaders.loinc_release import ANSWER_LIST, ANSWER_LIST_LINK, Release
from termsvc.store.loadrun import CodeSystemWriter, LoadRun

VALUE_SET_BASE = "http://loinc.org/vs/"


@dataclass
class _AnswerList:
    name: str
    oid: str
    # (sequence number, file order, LA code, display)
    answers: list[tuple[int, int, str, str]] = field(default_factory=list)


def load_answer_lists(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress,
                      version: str) -> None:
    item = release.find(ANSWER_LIST)
    if item is None:
        return
    lists: dict[str, _AnswerList] = {}
    answers = 0
    with read_table(run, release, item, progress, ("AnswerListId", "AnswerListName", "AnswerStringId",
                                                   "SequenceNumber", "DisplayText")) as (header, body):
        at_list, at_name = header.index["AnswerListId"], header.index["AnswerListName"]
        at_answer, at_sequence, at_text = (header.index["AnswerStringId"], header.index["SequenceNumber"],
                                           header.index["DisplayText"])
        at_oid, at_description = header.get("AnswerListOID"), header.get("Description")
        for line, row in body:
            list_code = row[at_list].strip()
            if not list_code:
                raise LoadError(item.name, "empty answer list id", line=line, field_name="AnswerListId")
            answer_list = lists.get(list_code)
            if answer_list is None:
                name = row[at_name].strip()
                answer_list = lists[list_code] = _AnswerList(name, row[at_oid].strip() if at_oid is not None else "")
                writer.add_concept(list_code, name or None)
            code = row[at_answer].strip()
            if not code:
                continue  # an externally defined list: its row names no answer
            text = row[at_text].strip()
            if not writer.has_code(code):
                description = row[at_description].strip() if at_description is not None else ""
                writer.add_concept(code, text or None, definition=description or None)
                answers += 1
            sequence = row[at_sequence].strip()
            try:
                number = int(sequence) if sequence else 0
            except ValueError:
                raise LoadError(item.name, f"sequence number {sequence!r} is not a whole number", line=line,
                                field_name="SequenceNumber") from None
            answer_list.answers.append((number, len(answer_list.answers), code, text))
            writer.add_property(list_code, "Answer", code, type="code")
            writer.add_property(code, "AnswerList", list_code, type="code")
    run.counts["loinc:answer lists"] = len(lists)
    run.counts["loinc:answers"] = answers
    with run.timed("loinc:answer list value sets"):
        batch = [value_set(code, answer_list, version) for code, answer_list in lists.items() if answer_list.answers]
        if batch:
            run.value_sets(batch)


def value_set(list_code: str, answer_list: _AnswerList, version: str) -> dict[str, Any]:
    ordered = sorted(answer_list.answers)
    concepts = [{"code": code, "display": text} if text else {"code": code} for _, _, code, text in ordered]
    resource: dict[str, Any] = {
        "resourceType": "ValueSet", "id": list_code, "url": VALUE_SET_BASE + list_code, "version": version,
        "name": "LOINC_" + list_code.replace("-", "_"), "title": answer_list.name or list_code,
        "status": "active", "publisher": "Regenstrief Institute, Inc.", "copyright": COPYRIGHT,
        "compose": {"include": [{"system": SYSTEM, "version": version, "concept": concepts}]},
    }
    if answer_list.oid:
        resource["identifier"] = [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:" + answer_list.oid}]
    return resource


def load_answer_list_links(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress) -> None:
    item = release.find(ANSWER_LIST_LINK)
    if item is None:
        return
    count = 0
    with read_table(run, release, item, progress, ("LoincNumber", "AnswerListId")) as (header, body):
        at_term, at_list = header.index["LoincNumber"], header.index["AnswerListId"]
        at_name = header.get("AnswerListName")
        for line, row in body:
            term, list_code = row[at_term].strip(), row[at_list].strip()
            if not term or not list_code:
                raise LoadError(item.name, "empty code in an answer list link", line=line,
                                field_name="LoincNumber" if not term else "AnswerListId")
            if not writer.has_code(list_code):
                raise LoadError(item.name, f"answer list {list_code} is not in AnswerList.csv", line=line,
                                field_name="AnswerListId")
            name = row[at_name].strip() if at_name is not None else ""
            writer.add_property(term, "answer-list", list_code, type="Coding", system=SYSTEM, display=name or None)
            writer.add_property(list_code, "answers-for", term, type="code")
            count += 1
    run.counts["loinc:answer list links"] = count
