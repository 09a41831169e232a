"""Local result codes from HL7 v2 ORU^R01 messages: OBX-3 codes that are not in a standard code system, with
their units (OBX-6), specimen (SPM-4, else OBR-15) and the order they belong to (OBR-4), counted across every
message read. A dual-coded OBX-3 (LOINC in one triplet, a local code in the other) gives the local code, and
the LOINC code is kept as a hint."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from termsvc.errors import LoadError
from termsvc.workbench.hl7v2 import Message, Segment, decode, read_messages
from termsvc.workbench.local_codes import ImportedCode

# HL7 table 0396 names of standard code systems; anything else (L, 99xxx, a lab's own name) is local
STANDARD = frozenset({"LN", "SCT", "SNM", "SNM3", "SNOMED", "SNOMEDCT", "SCTUS", "RXNORM", "RXN", "I10", "I10C",
                      "ICD10CM", "I9", "I9C", "I9CDX", "CPT", "C4", "C5", "UCUM", "NDC", "CVX", "MVX", "HCPCS",
                      "HPC", "UML", "LNC"})


def is_local_system(name: str) -> bool:
    upper = name.strip().upper()
    return not (upper in STANDARD or upper.startswith("HL7"))


@dataclass
class _Seen:
    display: str
    file: str
    system: str
    count: int = 0
    units: Counter[str] = field(default_factory=Counter)
    specimens: Counter[str] = field(default_factory=Counter)
    orders: Counter[str] = field(default_factory=Counter)
    loinc_hints: Counter[str] = field(default_factory=Counter)
    value_types: Counter[str] = field(default_factory=Counter)


def _text_or_code(seg: Segment, n: int) -> str:
    return seg.component(n, 2) or seg.component(n, 1)


def _specimen(order: Segment | None, specimens: list[Segment]) -> str:
    for spm in specimens:
        found = _text_or_code(spm, 4)
        if found:
            return found
    if order is not None:
        # OBR-15 (SPS): component 1 is itself a coded element, so its parts are subcomponents
        parts = order.subcomponents(15, 1)
        for part in (parts[1] if len(parts) > 1 else "", parts[0] if parts else ""):
            if part.strip():
                return part.strip()
    return ""


def _local_triplet(obx: Segment, file: str) -> tuple[str, str, str, str] | None:
    """(code, display, system, loinc hint) of OBX-3's local triplet, or None if it is standard-coded only."""
    comps = obx.components(3)
    get = lambda i: comps[i].strip() if i < len(comps) else ""  # noqa: E731
    triplets = [(get(0), get(1), get(2)), (get(3), get(4), get(5))]
    local = [t for t in triplets if t[0] and is_local_system(t[2])]
    if not local:
        return None
    # prefer the triplet the sender marks as local (L or a 99xxx name) over an unknown system name
    local.sort(key=lambda t: 0 if t[2].upper() == "L" or t[2].startswith("99") else 1)
    code, display, system = local[0]
    display = display or get(8)
    if not display:
        raise LoadError(file, f"local code {code!r} has no text (OBX-3.2, .5 or .9)", line=obx.line,
                        field_name="OBX-3")
    hint = next((t[0] for t in triplets if t[0] and t[2].upper() in ("LN", "LNC")), "")
    return code, display, system, hint


def _observations(message: Message) -> Iterable[tuple[Segment, Segment | None, list[Segment]]]:
    """Each OBX with its order (OBR) and the specimens (SPM) of that order group."""
    order: Segment | None = None
    group: list[Segment] = []
    specimens: list[Segment] = []
    for seg in message.segments[1:]:
        if seg.id == "OBR":
            yield from ((obx, order, specimens) for obx in group)
            order, group, specimens = seg, [], []
        elif seg.id == "OBX":
            group.append(seg)
        elif seg.id == "SPM":
            specimens.append(seg)
    yield from ((obx, order, specimens) for obx in group)


def read_hl7_files(paths: Iterable[Path]) -> list[ImportedCode]:
    seen: dict[str, _Seen] = {}
    for path in paths:
        file = str(path)
        for message in read_messages(decode(path.read_bytes(), file), file):
            if message.type[0] != "ORU":
                continue
            for obx, order, specimens in _observations(message):
                if not obx.component(3, 1) and not obx.component(3, 4):
                    # an observation without identifier (an attached document, say) has nothing to map
                    continue
                found = _local_triplet(obx, file)
                if found is None:
                    continue
                code, display, system, hint = found
                item = seen.setdefault(code, _Seen(display, file, system))
                item.count += 1
                for counter, value in ((item.units, _text_or_code(obx, 6) if obx.component(6, 1) == ""
                                        else obx.component(6, 1)),
                                       (item.specimens, _specimen(order, specimens)),
                                       (item.orders, _text_or_code(order, 4) if order else ""),
                                       (item.loinc_hints, hint), (item.value_types, obx.component(2, 1))):
                    if value:
                        counter[value] += 1
    return [_imported(code, item) for code, item in seen.items()]


def _top(counter: Counter[str]) -> str | None:
    return counter.most_common(1)[0][0] if counter else None


def _imported(code: str, item: _Seen) -> ImportedCode:
    extra = {"coding_system": item.system}
    for key, counter in (("loinc_hint", item.loinc_hints), ("value_type", item.value_types)):
        if counter:
            extra[key] = _top(counter) or ""
    return ImportedCode(code, item.display, units=_top(item.units), specimen=_top(item.specimens),
                        category=_top(item.orders), count=item.count, extra=extra, source_file=item.file)


def hl7_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".hl7", ".txt", ".er7"))
    return [path]
