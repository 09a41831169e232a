"""The relational schema: one set of tables serves every terminology (LOINC, SNOMED CT, RxNorm,
ICD-10-CM, FHIR CodeSystems). Vocabulary quirks become rows (properties, designations), not tables.

Naming: singular snake_case tables, `<table>_id` keys, indexes `ix_<table>_<cols>`. Loaders never build
these classes per row: they write plain tuples through `termsvc.store.bulk`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# 64-bit ids on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid, which is 64-bit and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class CodeSystemVersion(SQLModel, table=True):
    """One version of one code system (canonical url + version). Several versions live side by side;
    one per url is `is_current`. `version` is '' when the resource has none."""

    __tablename__ = "code_system"
    __table_args__ = (
        UniqueConstraint("url", "version", name="uq_code_system_url_version"),
        Index("ix_code_system_url_current", "url", "is_current"),
    )

    code_system_id: int | None = Field(default=None, primary_key=True)
    url: str
    version: str = ""
    resource_id: str | None = Field(default=None, index=True)
    name: str | None = None
    title: str | None = None
    status: str = "active"
    content: str = "complete"
    supplements: str | None = None
    case_sensitive: bool | None = None
    hierarchy_meaning: str | None = None
    publisher: str | None = None
    description: str | None = Field(default=None, sa_column=Column(Text))
    # The resource as loaded, without `concept` (concepts live in their own tables).
    resource_json: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = "fhir"
    is_current: bool = True
    concept_count: int = 0
    load_id: int | None = None
    loaded_at: datetime | None = None


class Concept(SQLModel, table=True):
    __tablename__ = "concept"
    __table_args__ = (UniqueConstraint("code_system_id", "code", name="uq_concept_code_system_code"),)

    # Assigned by the load run, not by the database, so dependent rows can be written without round trips.
    concept_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    code_system_id: int
    code: str
    display: str | None = None
    definition: str | None = Field(default=None, sa_column=Column(Text))
    active: bool = True
    # notSelectable: headers, groupers, chapters
    abstract: bool = False
    # the publisher's own status word (LOINC DISCOURAGED, FHIR deprecated, ...)
    status: str | None = None


class CodeSystemProperty(SQLModel, table=True):
    """A property a code system declares (CodeSystem.property)."""

    __tablename__ = "code_system_property"
    __table_args__ = (UniqueConstraint("code_system_id", "code", name="uq_code_system_property"),)

    code_system_property_id: int | None = Field(default=None, primary_key=True)
    code_system_id: int
    code: str
    uri: str | None = None
    type: str = "string"
    description: str | None = Field(default=None, sa_column=Column(Text))


class Designation(SQLModel, table=True):
    __tablename__ = "designation"
    __table_args__ = (Index("ix_designation_concept", "concept_id"),)

    designation_id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True,
                                                                       autoincrement=True))
    concept_id: int = Field(sa_column=Column(BigId, nullable=False))
    language: str | None = None
    use_system: str | None = None
    use_code: str | None = None
    use_display: str | None = None
    value: str = Field(sa_column=Column(Text, nullable=False))
    # SNOMED CT language refsets: preferred (True) or acceptable (False) in `language`'s dialect.
    preferred: bool | None = None


# Bytewise order on PostgreSQL too, so a prefix is one index range (`word >= 'abc' AND word < 'abc\U0010ffff'`)
# whatever the database's locale; SQLite compares bytes already.
WordText = Text().with_variant(Text(collation="C"), "postgresql")


class DesignationWord(SQLModel, table=True):
    """Each distinct word (store.words) of a concept's designations, for SNOMED CT: an ECL term filter reads the
    index range of each search word's prefix (cost proportional to the matches) instead of scanning the
    designations of every candidate concept. Written by the load, in its transaction."""

    __tablename__ = "designation_word"
    __table_args__ = ({"sqlite_with_rowid": False},)

    code_system_id: int = Field(primary_key=True)
    word: str = Field(sa_column=Column(WordText, primary_key=True))
    concept_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))


class InactiveDesignation(SQLModel, table=True):
    """A term that was once a display of the concept and is no longer (an inactive SNOMED CT description). Kept
    apart from `designation` so nothing lists or searches it: $validate-code reads it to tell a retired display
    (a warning) from a wrong one (an error)."""

    __tablename__ = "inactive_designation"
    __table_args__ = (Index("ix_inactive_designation_concept", "concept_id"),)

    inactive_designation_id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True,
                                                                               autoincrement=True))
    concept_id: int = Field(sa_column=Column(BigId, nullable=False))
    language: str | None = None
    use_system: str | None = None
    use_code: str | None = None
    value: str = Field(sa_column=Column(Text, nullable=False))


class ConceptProperty(SQLModel, table=True):
    """A typed property value. `type` is one of code, string, boolean, integer, decimal, dateTime,
    Coding; `value` holds its lexical form; Coding values add `value_system` and `value_display`."""

    __tablename__ = "concept_property"
    __table_args__ = (
        Index("ix_concept_property_concept", "concept_id"),
        Index("ix_concept_property_filter", "code_system_id", "code", "value"),
    )

    concept_property_id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True,
                                                                           autoincrement=True))
    concept_id: int = Field(sa_column=Column(BigId, nullable=False))
    code_system_id: int
    code: str
    type: str = "string"
    value: str = Field(sa_column=Column(Text, nullable=False))
    value_system: str | None = None
    value_display: str | None = None
    # SNOMED CT relationships and concrete values: the relationship group (0 = ungrouped), which ECL attribute
    # groups need; NULL on every other property (refset memberships, associations, concept fields)
    role_group: int | None = None


class ConceptEdge(SQLModel, table=True):
    """A direct is-a (parent/child) link within one code system version."""

    __tablename__ = "concept_edge"
    __table_args__ = (Index("ix_concept_edge_child", "child_id", "parent_id"), {"sqlite_with_rowid": False})

    parent_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    child_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    code_system_id: int = Field(index=True)


class Closure(SQLModel, table=True):
    """The transitive closure of is-a, self-rows included (depth 0), built set-wise after each load."""

    __tablename__ = "closure"
    __table_args__ = (Index("ix_closure_descendant", "descendant_id", "ancestor_id"),
                      {"sqlite_with_rowid": False})

    ancestor_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    descendant_id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    code_system_id: int = Field(index=True)


class ValueSetResource(SQLModel, table=True):
    __tablename__ = "value_set"
    __table_args__ = (UniqueConstraint("url", "version", name="uq_value_set_url_version"),)

    value_set_id: int | None = Field(default=None, primary_key=True)
    url: str = Field(index=True)
    version: str = ""
    resource_id: str | None = Field(default=None, index=True)
    name: str | None = None
    title: str | None = None
    status: str = "active"
    resource_json: str = Field(sa_column=Column(Text, nullable=False))
    is_current: bool = True
    load_id: int | None = None
    updated_at: datetime | None = None


class ConceptMapResource(SQLModel, table=True):
    __tablename__ = "concept_map"
    __table_args__ = (UniqueConstraint("url", "version", name="uq_concept_map_url_version"),)

    concept_map_id: int | None = Field(default=None, primary_key=True)
    url: str = Field(index=True)
    version: str = ""
    resource_id: str | None = Field(default=None, index=True)
    name: str | None = None
    title: str | None = None
    status: str = "active"
    source_scope: str | None = None
    target_scope: str | None = None
    resource_json: str = Field(sa_column=Column(Text, nullable=False))
    is_current: bool = True
    load_id: int | None = None
    updated_at: datetime | None = None


class ConceptMapElement(SQLModel, table=True):
    """One source->target pair of a ConceptMap (an element/target of a group), flattened for lookups in
    both directions. An element with no target has target_code NULL (equivalence unmatched)."""

    __tablename__ = "concept_map_element"
    __table_args__ = (
        Index("ix_concept_map_element_source", "source_system", "source_code"),
        Index("ix_concept_map_element_target", "target_system", "target_code"),
        Index("ix_concept_map_element_map", "concept_map_id"),
    )

    concept_map_element_id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True,
                                                                              autoincrement=True))
    concept_map_id: int
    group_index: int = 0
    source_system: str | None = None
    source_version: str | None = None
    source_code: str | None = None
    source_display: str | None = None
    target_system: str | None = None
    target_version: str | None = None
    target_code: str | None = None
    target_display: str | None = None
    equivalence: str = "equivalent"
    comment: str | None = Field(default=None, sa_column=Column(Text))
    # JSON arrays of the R4 dependsOn / product entries
    depends_on: str | None = Field(default=None, sa_column=Column(Text))
    product: str | None = Field(default=None, sa_column=Column(Text))


class LoadRun(SQLModel, table=True):
    """The record of one load: what was read (with checksums), what was written, how long it took."""

    __tablename__ = "load_run"

    load_id: int | None = Field(default=None, primary_key=True)
    kind: str
    source: str = Field(sa_column=Column(Text, nullable=False))
    status: str = "running"
    started_at: datetime
    finished_at: datetime | None = None
    replace: bool = False
    checksums_json: str | None = Field(default=None, sa_column=Column(Text))
    counts_json: str | None = Field(default=None, sa_column=Column(Text))
    timings_json: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))


class StoreGeneration(SQLModel, table=True):
    """One row: the store generation, which every load and resource write adds one to as it commits
    (termsvc.store.generation), so per-process caches know when what they hold is out of date."""

    __tablename__ = "store_generation"

    generation_id: int = Field(primary_key=True)
    # a random id given when the store is created: a store made again from scratch starts its count again
    store_id: str
    generation: int = Field(sa_column=Column(BigInteger, nullable=False))


metadata = SQLModel.metadata
from termsvc.store import auth_tables as auth_tables  # noqa: E402  (registers the tables)
from termsvc.store import expansion_tables as expansion_tables  # noqa: E402  (registers the tables)
from termsvc.store import workbench_tables as workbench_tables  # noqa: E402  (registers the tables)
