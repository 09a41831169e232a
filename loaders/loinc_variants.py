"""Linguistic variants: each `<ll><CC><id>LinguisticVariant.csv` translates terms into one language. Its
LONG_COMMON_NAME (preferred in that language), SHORTNAME, LinguisticVariantDisplayName and RELATEDNAMES2
become designations tagged with the language the index LinguisticVariants.csv gives for the file's id
(ISO_LANGUAGE-ISO_COUNTRY, e.g. de-DE), or the file name's when there is no index. The translated axis
names (COMPONENT, SYSTEM, ...) translate parts, not terms, and carry no part code to attach them to, so
they are not loaded. Rows for terms Loinc.csv does not carry are counted and skipped: translations lag
behind or run ahead of a release."""

from __future__ import annotations

from pathlib import PurePosixPath

from termsvc.errors import LoadError
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_csv import read_table
from termsvc.loaders.loinc_model import use
from termsvc.loaders.loinc_release import VARIANT_FILE, VARIANT_INDEX, Release
from termsvc.store.loadrun import CodeSystemWriter, LoadRun

# column -> preferred in its language
_DESIGNATIONS = {"LONG_COMMON_NAME": True, "SHORTNAME": None, "LinguisticVariantDisplayName": None,
                 "RELATEDNAMES2": None}


def _languages(run: LoadRun, release: Release, progress: Progress) -> dict[str, str]:
    item = release.find(VARIANT_INDEX)
    if item is None:
        return {}
    out: dict[str, str] = {}
    with read_table(run, release, item, progress, ("ID", "ISO_LANGUAGE", "ISO_COUNTRY")) as (header, body):
        at_id, at_language, at_country = header.index["ID"], header.index["ISO_LANGUAGE"], header.index["ISO_COUNTRY"]
        for line, row in body:
            ident, language, country = row[at_id].strip(), row[at_language].strip(), row[at_country].strip()
            if not ident or not language:
                raise LoadError(item.name, "a language needs an ID and an ISO_LANGUAGE", line=line,
                                field_name="ID" if not ident else "ISO_LANGUAGE")
            out[ident] = f"{language.lower()}-{country.upper()}" if country else language.lower()
    return out


def load_variants(run: LoadRun, writer: CodeSystemWriter, release: Release, progress: Progress) -> None:
    files = release.variant_files()
    if not files:
        return
    languages = _languages(run, release, progress)
    total = skipped = 0
    for item in files:
        match = VARIANT_FILE.match(PurePosixPath(item.name).name)
        assert match is not None  # variant_files() matched it
        language, country, ident = match.groups()
        tag = languages.get(ident) or f"{language}-{country}"
        with read_table(run, release, item, progress, ("LOINC_NUM",)) as (header, body):
            at_code = header.index["LOINC_NUM"]
            columns = [(header.index[c], use(c), preferred) for c, preferred in _DESIGNATIONS.items()
                       if c in header.index]
            for _line, row in body:
                code = row[at_code].strip()
                if not writer.has_code(code):
                    skipped += 1
                    continue
                for position, designation_use, preferred in columns:
                    value = row[position].strip()
                    if value:
                        writer.add_designation(code, value, language=tag, use=designation_use, preferred=preferred)
                        total += 1
    run.counts["loinc:translations"] = total
    if skipped:
        run.counts["loinc:translation rows for unknown terms (skipped)"] = skipped
