"""Version rules of the ValueSet engine beyond code systems: `default-valueset-version` pins the version of
an imported value set whose import names none; on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from termsvc.errors import NotFound
from termsvc.store.loadrun import load_run
from termsvc.valuesets.versions import VersionRules
from tests.test_valueset_engine import SYSTEM, expand_codes, vs, write_shapes

IMPORTED = "http://x/vs/imported"


@pytest.fixture
def two_versions(engine: Engine) -> Engine:
    write_shapes(engine)
    with load_run(engine, "test", "value sets") as run:
        for version, codes in (("1.0.0", ["circle", "round"]), ("2.0.0", ["square", "round"])):
            run.value_set({"resourceType": "ValueSet", "url": IMPORTED, "version": version, "status": "active",
                           "compose": {"include": [{"system": SYSTEM, "concept": [{"code": c} for c in codes]}]}})
    return engine


def test_an_unpinned_import_uses_the_latest_version(two_versions: Engine) -> None:
    assert expand_codes(two_versions, vs({"valueSet": [IMPORTED]})) == {"square", "round"}


def test_default_valueset_version_pins_an_unpinned_import(two_versions: Engine) -> None:
    rules = VersionRules.from_lists([], [], [], [f"{IMPORTED}|1.0.0"])
    assert expand_codes(two_versions, vs({"valueSet": [IMPORTED]}), rules=rules) == {"circle", "round"}


def test_default_valueset_version_does_not_override_the_import_s_own_version(two_versions: Engine) -> None:
    rules = VersionRules.from_lists([], [], [], [f"{IMPORTED}|1.0.0"])
    assert expand_codes(two_versions, vs({"valueSet": [f"{IMPORTED}|2.0.0"]}), rules=rules) == {"square", "round"}


def test_a_pinned_version_that_does_not_exist_is_not_found(two_versions: Engine) -> None:
    rules = VersionRules.from_lists([], [], [], [f"{IMPORTED}|3.0.0"])
    with pytest.raises(NotFound, match=r"3\.0\.0") as caught:
        expand_codes(two_versions, vs({"valueSet": [IMPORTED]}), rules=rules)
    assert caught.value.message_id == "VS_EXP_IMPORT_UNK_PINNED"
