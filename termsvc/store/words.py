"""The one tokeniser of the word indexes (`expansion_word` of kept expansions, `designation_word` of SNOMED CT
descriptions): lower-cased whitespace-separated words, so that a search word matches where it starts a word of
the text, as ECL `match` and the $expand text filter define it. Each word is kept by its first WORD_CHARS
characters (an index key has a size limit); a search word is looked up as the index range of its prefix."""

from __future__ import annotations

from sqlalchemy import Connection, text

from termsvc.store.bulk import BulkWriter
from termsvc.store.tables import DesignationWord

# longer words are indexed by their first WORD_CHARS characters
WORD_CHARS = 200
# sorts after every continuation of a prefix in bytewise (UTF-8) order (the word columns compare bytes)
_AFTER = "\U0010ffff"
# concept ids read per query while indexing a code system's designations (bounds the memory held)
INDEX_CHUNK = 20_000
SCT = "http://snomed.info/sct"
WORD_COLUMNS = ("code_system_id", "word", "concept_id")


def words(value: str) -> set[str]:
    """The distinct words of a text, as indexed."""
    return {w[:WORD_CHARS] for w in value.lower().split()}


def search_words(value: str) -> list[str]:
    """The words of a search text, in order, as looked up."""
    return [w[:WORD_CHARS] for w in value.lower().split()]


def prefix_range(word: str) -> tuple[str, str]:
    """The bounds lo <= word < hi of the indexed words starting with `word`: one index range."""
    return word, word + _AFTER


def indexes_designations(url: str) -> bool:
    """Which code systems get a designation word index: SNOMED CT only, the one code system ECL description
    filters apply to (the index costs load time, and ICD-10-CM, LOINC or RxNorm loads gain nothing from it)."""
    return url == SCT


def index_designation_words(conn: Connection, code_system_id: int) -> int:
    """Write the words of every designation of a code system version (already written, in the current
    transaction) as (code_system_id, word, concept_id) rows, distinct per concept. Reads the designations a
    chunk of concept ids at a time, in concept order, so memory stays bounded whatever the release size."""
    bounds = conn.execute(text("SELECT MIN(concept_id), MAX(concept_id) FROM concept WHERE code_system_id = :cs"),
                          {"cs": code_system_id}).one()
    if bounds[0] is None:
        return 0
    writer = BulkWriter(conn)
    table = DesignationWord.__table__  # type: ignore[attr-defined]
    # DISTINCT: a SNOMED CT description is one row per dialect it is in; each text is tokenised once
    query = text("SELECT DISTINCT d.concept_id, d.value FROM designation d JOIN concept c ON c.concept_id = "
                 "d.concept_id WHERE d.concept_id >= :lo AND d.concept_id < :hi AND c.code_system_id = :cs")
    for lo in range(int(bounds[0]), int(bounds[1]) + 1, INDEX_CHUNK):
        per_concept: dict[int, set[str]] = {}
        for concept_id, value in conn.execute(query, {"lo": lo, "hi": lo + INDEX_CHUNK, "cs": code_system_id}):
            per_concept.setdefault(int(concept_id), set()).update(words(str(value)))
        writer.extend(table, WORD_COLUMNS, [(code_system_id, word, concept_id)
                                       for concept_id, found in per_concept.items() for word in found])
    writer.flush()
    return writer.counts.get("designation_word", 0)
