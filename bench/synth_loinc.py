"""Write a full-size synthetic LOINC release folder (OUT/Loinc_2.81), deterministic from a seed.

Files, headers and quoting follow the LOINC release as Regenstrief ships it (every field double-quoted,
CRLF line endings, a few multi-line quoted fields): LoincTable/Loinc.csv (all 40 columns), LoincTable/MapTo.csv,
AccessoryFiles/PartFile/{Part.csv, LoincPartLink_Primary.csv, LoincPartLink_Supplementary.csv},
AccessoryFiles/AnswerFile/{AnswerList.csv, LoincAnswerListLink.csv},
AccessoryFiles/ComponentHierarchyBySystem/ComponentHierarchyBySystem.csv, AccessoryFiles/ConsumerName/ConsumerName.csv
and two linguistic variants. Content is made up; LOINC numbers carry their mod-10 check digit.

Usage: python bench/synth_loinc.py [--out DIR] [--seed N] [--scale F] [--terms N] ...
Sizes: see bench/README.md."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth_common import Out, Rng, common_args, luhn_digit, make_words, mark_generated, scaled

EOL = "\r\n"
LOINC_HEADER = ["LOINC_NUM", "COMPONENT", "PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "CLASS",
                "VersionLastChanged", "CHNG_TYPE", "DefinitionDescription", "STATUS", "CONSUMER_NAME",
                "CLASSTYPE", "FORMULA", "EXMPL_ANSWERS", "SURVEY_QUEST_TEXT", "SURVEY_QUEST_SRC",
                "UNITSREQUIRED", "RELATEDNAMES2", "SHORTNAME", "ORDER_OBS", "HL7_FIELD_SUBFIELD_ID",
                "EXTERNAL_COPYRIGHT_NOTICE", "EXAMPLE_UNITS", "LONG_COMMON_NAME", "EXAMPLE_UCUM_UNITS",
                "STATUS_REASON", "STATUS_TEXT", "CHANGE_REASON_PUBLIC", "COMMON_TEST_RANK", "COMMON_ORDER_RANK",
                "HL7_ATTACHMENT_STRUCTURE", "EXTERNAL_COPYRIGHT_LINK", "PanelType", "AskAtOrderEntry",
                "AssociatedObservations", "VersionFirstReleased", "ValidHL7AttachmentRequest", "DisplayName"]
PART_LINK_HEADER = ("LoincNumber", "LongCommonName", "PartNumber", "PartName", "PartCodeSystem", "PartTypeName",
                    "LinkTypeName", "Property")
ANSWER_HEADER = ("AnswerListId", "AnswerListName", "AnswerListOID", "ExtDefinedYN", "ExtDefinedAnswerListCodeSystem",
                 "ExtDefinedAnswerListLink", "AnswerStringId", "LocalAnswerCode", "LocalAnswerCodeSystem",
                 "SequenceNumber", "DisplayText", "ExtCodeId", "ExtCodeDisplayName", "ExtCodeSystem",
                 "ExtCodeSystemVersion", "ExtCodeSystemCopyrightNotice", "SubsequentTextPrompt", "Description",
                 "Score")
VARIANT_HEADER = ("LOINC_NUM", "COMPONENT", "PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "CLASS",
                  "SHORTNAME", "LONG_COMMON_NAME", "RELATEDNAMES2", "LinguisticVariantDisplayName")
PROP = "http://loinc.org/property/"

# (PROPERTY, weight, display in the long common name, UCUM example) after the spread of the LOINC table.
PROPERTIES = [("MCnc", 14, "Mass/volume", "mg/dL"), ("SCnc", 7, "Moles/volume", "mmol/L"),
              ("ACnc", 6, "Units/volume", "[arb'U]/mL"), ("PrThr", 12, "Presence", ""), ("Find", 14, "", ""),
              ("Type", 4, "Type", ""), ("NCnc", 3, "#/volume", "10*3/uL"), ("CCnc", 3, "Enzymatic activity/volume",
                                                                                 "U/L"),
              ("Titr", 3, "Titer", "{titer}"), ("Prid", 5, "Identifier", ""), ("Imp", 4, "Interpretation", ""),
              ("Susc", 6, "Susceptibility", "ug/mL"), ("MFr", 2, "Mass fraction", "%"),
              ("NFr", 2, "Number fraction", "%"), ("Naric", 1, "#/area", "/[HPF]"), ("Arb", 1, "Arbitrary", ""),
              ("Num", 2, "#", "{#}"), ("Time", 1, "Time", "s"), ("Len", 1, "Length", "cm"),
              ("EntMass", 1, "Mass", "kg"), ("Ratio", 2, "Ratio", "{ratio}"), ("MRat", 1, "Mass/time", "g/(24.h)")]
SCALES = [("Qn", 40), ("Ord", 18), ("Nom", 18), ("Nar", 6), ("Doc", 7), ("OrdQn", 2), ("SemiQn", 1), ("Multi", 1),
          ("-", 7)]
TIMES = [("Pt", 88), ("24H", 4), ("XXX", 3), ("12H", 1), ("8H", 1), ("Stdy", 1), ("1H", 1), ("-", 1)]
SYSTEM_STOCK = [("Ser/Plas", "Serum or Plasma"), ("Bld", "Blood"), ("Urine", "Urine"), ("^Patient", ""),
                ("Isolate", "Isolate"), ("CSF", "Cerebral spinal fluid"), ("Stool", "Stool"),
                ("Respiratory", "Respiratory system specimen"), ("XXX", "Specimen"), ("Ser", "Serum"),
                ("Plas", "Plasma"), ("BldA", "Arterial blood"), ("BldV", "Venous blood"), ("Saliva", "Saliva"),
                ("Tiss", "Tissue"), ("Plr fld", "Pleural fluid"), ("Synv fld", "Synovial fluid"), ("Hair", "Hair")]
METHOD_STOCK = ["Calculated", "Automated count", "Manual count", "Probe.amp.tar", "IA", "EIA", "IF", "Microscopy.light",
                "Detection limit <= 20 mg/L", "Test strip", "Molgen", "Estimated", "Measured", "Reported", "Visual"]
# (CLASS, CLASSTYPE, weight): laboratory, clinical, claims attachment, survey, as LOINC classifies.
CLASSES = [("CHEM", 1, 20), ("MICRO", 1, 9), ("SERO", 1, 6), ("DRUG/TOX", 1, 8), ("HEM/BC", 1, 3), ("UA", 1, 1),
           ("ABXBACT", 1, 2), ("ALLERGY", 1, 3), ("MOLPATH", 1, 7), ("CELLMARK", 1, 1), ("PANEL.CHEM", 1, 1),
           ("COAG", 1, 1), ("BLDBK", 1, 1), ("CLIN", 2, 5), ("RAD", 2, 6), ("DOC.ONTOLOGY", 2, 2), ("PANEL.CV", 2, 1),
           ("H&P.HX", 2, 2), ("ATTACH", 3, 1), ("SURVEY.PHQ", 4, 1), ("SURVEY.PROMIS", 4, 2), ("PHENX", 4, 4),
           ("SURVEY.GNHLTH", 4, 1)]
VERSIONS = ["1.0", "1.0i", "2.0", "2.09", "2.17", "2.26", "2.34", "2.40", "2.46", "2.52", "2.56", "2.61", "2.65",
            "2.69", "2.72", "2.74", "2.76", "2.77", "2.78", "2.79", "2.80", "2.81"]
STATUSES = [("ACTIVE", 885), ("DEPRECATED", 60), ("DISCOURAGED", 40), ("TRIAL", 15)]
ANSWER_SEEDS = ["Positive", "Negative", "Detected", "Not detected", "Yes", "No", "Unknown", "Normal", "Abnormal",
                "Present", "Absent", "Never", "Rarely", "Sometimes", "Often", "Always", "Mild", "Moderate", "Severe"]


def loinc_code(number: int, prefix: str = "") -> str:
    return f"{prefix}{number}-{luhn_digit(str(number))}"


def weighted(rng: Rng, table: list[tuple[str, int]]) -> str:
    return rng.choices([t[0] for t in table], [t[1] for t in table])[0]


def generate(out: Path, *, seed: int, terms: int, answer_lists: int, answers: int, extra_parts: int,
             version: str = "2.81") -> dict[str, int]:
    rng = Rng(seed)
    if out.exists():
        shutil.rmtree(out)
    out = out / f"Loinc_{version}"  # the folder the release zip unpacks to, named after the version
    words = make_words(rng, 12000)

    def csv(rel: str, header: tuple[str, ...] | list[str]) -> Out:
        return Out(out / rel, header, sep=",", eol=EOL, quote=True)

    loinc = csv("LoincTable/Loinc.csv", LOINC_HEADER)
    mapto = csv("LoincTable/MapTo.csv", ("LOINC", "MAP_TO", "COMMENT"))
    parts = csv("AccessoryFiles/PartFile/Part.csv", ("PartNumber", "PartTypeName", "PartName", "PartDisplayName",
                                                     "Status"))
    primary = csv("AccessoryFiles/PartFile/LoincPartLink_Primary.csv", PART_LINK_HEADER)
    supplementary = csv("AccessoryFiles/PartFile/LoincPartLink_Supplementary.csv", PART_LINK_HEADER)
    alist = csv("AccessoryFiles/AnswerFile/AnswerList.csv", ANSWER_HEADER)
    alink = csv("AccessoryFiles/AnswerFile/LoincAnswerListLink.csv",
                ("LoincNumber", "LongCommonName", "AnswerListId", "AnswerListName", "AnswerListLinkType",
                 "ApplicableContext"))
    chbs = csv("AccessoryFiles/ComponentHierarchyBySystem/ComponentHierarchyBySystem.csv",
               ("PATH_TO_ROOT", "SEQUENCE", "IMMEDIATE_PARENT", "CODE", "CODE_TEXT"))
    consumer = csv("AccessoryFiles/ConsumerName/ConsumerName.csv", ("LoincNumber", "ConsumerName"))
    variants_index = csv("AccessoryFiles/LinguisticVariants/LinguisticVariants.csv",
                         ("ID", "ISO_LANGUAGE", "ISO_COUNTRY", "LANGUAGE_NAME", "PRODUCER"))
    variants = {"de": csv("AccessoryFiles/LinguisticVariants/deDE15LinguisticVariant.csv", VARIANT_HEADER),
                "fr": csv("AccessoryFiles/LinguisticVariants/frFR18LinguisticVariant.csv", VARIANT_HEADER)}
    variants_index.row(("15", "de", "DE", "German (GERMANY)", "Synthetic"))
    variants_index.row(("18", "fr", "FR", "French (FRANCE)", "Synthetic"))
    files = [loinc, mapto, parts, primary, supplementary, alist, alink, chbs, consumer, variants_index,
             *variants.values()]

    next_lp = [100000]  # above the real codes reused below (LP29693-6), below LP432695-7

    def new_part(kind: str, name: str, display: str | None = None, status: str = "ACTIVE") -> str:
        next_lp[0] += rng.randint(1, 4)
        code = loinc_code(next_lp[0], "LP")
        parts.row((code, kind, name, display if display is not None else name, status))
        return code

    # Parts for each axis. Components are the long tail: about one per four terms, as in the LOINC table.
    components = [(new_part("COMPONENT", name), name) for name in
                  {(" ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))).capitalize()
                   for _ in range(max(10, terms // 4))}]
    components.sort(key=lambda c: c[0])
    prop_parts = {p: new_part("PROPERTY", p, d or p) for p, _, d, _ in PROPERTIES}
    time_parts = {t: new_part("TIME", t) for t, _ in TIMES}
    scale_parts = {s: new_part("SCALE", s) for s, _ in SCALES}
    systems = [(s, d) for s, d in SYSTEM_STOCK]
    systems += [(w.capitalize(), w.capitalize()) for w in rng.sample(words, min(len(words), max(20, terms // 100)))]
    system_parts = {s: new_part("SYSTEM", s, d or s) for s, d in systems}
    methods = METHOD_STOCK + [w.capitalize() for w in rng.sample(words, min(len(words), max(10, terms // 150)))]
    method_parts = {m: new_part("METHOD", m) for m in methods}
    class_parts = {c: new_part("CLASS", c) for c, _, _ in CLASSES}
    for i in range(extra_parts):
        kind = rng.choice(("ADJUSTMENT", "CHALLENGE", "DIVISOR", "SUFFIX", "SUPER SYSTEM", "TIME MODIFIER", "GENE",
                           "Rad.Anatomic Location.Region Imaged", "Document.Kind"))
        new_part(kind, f"{rng.choice(words)} {i}", status="ACTIVE" if rng.random() < 0.95 else "DEPRECATED")

    # Answer lists first, so terms can link to them as they are written.
    answer_pool = [(loinc_code(1000 + i * 3, "LA"), ANSWER_SEEDS[i] if i < len(ANSWER_SEEDS) else
                    " ".join(rng.choice(words) for _ in range(rng.randint(1, 3))).capitalize())
                   for i in range(answers)]
    lists: list[tuple[str, str]] = []
    for i in range(answer_lists):
        list_id = loinc_code(100 + i * 2, "LL")
        n = min(len(answer_pool), max(2, int(rng.expovariate(1 / 7)) + 2))
        start = int(len(answer_pool) * rng.random() ** 3)
        chosen = [answer_pool[(start + k) % len(answer_pool)] for k in range(n)]
        name = "|".join(display[:12] for _, display in chosen[:3])
        lists.append((list_id, name))
        oid = f"1.3.6.1.4.1.12009.10.1.{1000 + i}"
        for seq, (la, display) in enumerate(chosen, 1):
            alist.row((list_id, name, oid, "N", "", "", la, "", "", str(seq), display, "", "", "", "", "", "",
                       "", str(seq - 1) if rng.random() < 0.1 else ""))

    prop_table = [(p, w) for p, w, _, _ in PROPERTIES]
    prop_info = {p: (d, u) for p, _, d, u in PROPERTIES}
    class_table = [(c, w) for c, _, w in CLASSES]
    class_type = {c: t for c, t, _ in CLASSES}
    terms_kept: list[tuple[str, int, str, str, str]] = []  # code, component index, system, class, short name
    active_codes: list[str] = []
    number = 100
    ranked = 0
    for _ in range(terms):
        number += rng.randint(1, 2)
        code = loinc_code(number)
        ci = int(len(components) * rng.random() ** 1.6)
        comp_lp, comp = components[ci]
        prop = weighted(rng, prop_table)
        tm = weighted(rng, TIMES)
        system = systems[int(len(systems) * rng.random() ** 3)][0]
        scale = weighted(rng, SCALES)
        method = methods[int(len(methods) * rng.random() ** 2)] if rng.random() < 0.3 else ""
        klass = weighted(rng, class_table)
        ctype = class_type[klass]
        status = weighted(rng, STATUSES)
        first_v = rng.choice(VERSIONS)
        last_v = VERSIONS[rng.randint(VERSIONS.index(first_v), len(VERSIONS) - 1)]
        prop_display, ucum = prop_info[prop]
        sys_display = dict(systems).get(system) or system
        long_name = comp + (f" [{prop_display}]" if prop_display else "") + \
            (f" in {sys_display}" if sys_display and system != "^Patient" else "") + \
            (f" by {method}" if method else "")
        short = f"{comp[:20]} {system[:6]}" + (f"-{prop[:4]}" if prop else "")
        related = "; ".join(sorted({rng.choice(words) for _ in range(rng.randint(3, 14))} | {klass}))
        definition = ""
        if rng.random() < 0.05:
            definition = f"{comp} is {rng.choice(words)}."
            if rng.random() < 0.1:
                definition += f"\n{rng.choice(words).capitalize()} {rng.choice(words)}."
        reason = rng.choice(("DUPLICATE", "ERRONEOUS", "AMBIGUOUS")) if status == "DEPRECATED" else ""
        status_text = f"Term was deprecated as {reason.lower()}." if reason else ""
        test_rank = "0"
        if status == "ACTIVE" and ctype == 1 and ranked < 2000 and rng.random() < 0.05:
            ranked += 1
            test_rank = str(ranked)
        panel = "Panel" if klass.startswith("PANEL") else ""
        order_obs = rng.choice(("Both", "Both", "Observation", "Order", "")) if ctype == 1 else "Observation"
        loinc.row((code, comp, prop, tm, system, scale, method, klass, last_v,
                   rng.choice(("ADD", "MIN", "MAJ", "NAM")) if status != "DEPRECATED" else "DEL", definition,
                   status, "", str(ctype), "", "", "", "", "Y" if scale == "Qn" else "N", related, short, order_obs,
                   "", "", ucum, long_name, ucum, reason, status_text, "", test_rank, "0", "", "", panel, "", "",
                   first_v, "", long_name if rng.random() < 0.7 else ""))
        if status == "DEPRECATED" and active_codes and rng.random() < 0.7:
            for target in {rng.choice(active_codes[-5000:]) for _ in range(1 if rng.random() < 0.9 else 2)}:
                mapto.row((code, target, "Replaced by a more specific term" if rng.random() < 0.5 else ""))
        if status == "ACTIVE":
            active_codes.append(code)
        links = [(comp_lp, comp, "COMPONENT", "COMPONENT"), (prop_parts[prop], prop, "PROPERTY", "PROPERTY"),
                 (time_parts[tm], tm, "TIME", "TIME_ASPCT"), (system_parts[system], system, "SYSTEM", "SYSTEM"),
                 (scale_parts[scale], scale, "SCALE", "SCALE_TYP")]
        if method:
            links.append((method_parts[method], method, "METHOD", "METHOD_TYP"))
        for lp, name, kind, prop_code in links:
            primary.row((code, long_name, lp, name, "http://loinc.org", kind, "Primary", PROP + prop_code))
        supplementary.row((code, long_name, comp_lp, comp, "http://loinc.org", "COMPONENT", "DetailedModel",
                           PROP + "analyte"))
        supplementary.row((code, long_name, class_parts[klass], klass, "http://loinc.org", "CLASS",
                           "SyntaxEnhancement", PROP + "category"))
        if scale in ("Ord", "Nom", "OrdQn") and rng.random() < 0.35 and lists:
            list_id, list_name = lists[int(len(lists) * rng.random() ** 2)]
            alink.row((code, long_name, list_id, list_name, rng.choice(("NORMATIVE", "EXAMPLE", "EXAMPLE")), ""))
        if ctype == 1 and rng.random() < 0.9:
            consumer.row((code, f"{comp}, {sys_display or system}"))
        for language, out_file in variants.items():
            if rng.random() < 0.3:
                word = "in" if language == "de" else "dans"
                out_file.row((code, comp, prop_display or prop, tm, sys_display, scale, method, klass, "",
                              f"{comp} [{prop_display}] {word} {sys_display}", "", ""))
        if ctype in (1, 2) and status != "DEPRECATED":
            terms_kept.append((code, ci, system, klass, short))

    # The multiaxial component hierarchy: root, laboratory/clinical branches, class groups, component groups,
    # components, "component | system | class" nodes, then the terms as leaves.
    root = "LP432695-7"
    chbs.row(("", "1", "", root, "{component}"))
    branches = {1: ("LP29693-6", "Laboratory"), 2: (new_part("CLASS", "Clinical"), "Clinical")}
    for seq, (lp, name) in enumerate(branches.values(), 1):
        chbs.row((root, str(seq), root, lp, name))
    by_class: dict[str, dict[int, dict[str, list[tuple[str, str]]]]] = {}
    for code, ci, system, klass, short in terms_kept:
        by_class.setdefault(klass, {}).setdefault(ci, {}).setdefault(system, []).append((code, short))
    for class_seq, klass in enumerate(sorted(by_class), 1):
        branch_lp, _ = branches[class_type[klass]]
        class_path = f"{root}.{branch_lp}"
        class_lp = class_parts[klass]
        chbs.row((class_path, str(class_seq), branch_lp, class_lp, klass))
        group_path = f"{class_path}.{class_lp}"
        group_lp = new_part("COMPONENT", f"{klass} group")
        chbs.row((group_path, "1", class_lp, group_lp, f"{klass} group"))
        comp_path = f"{group_path}.{group_lp}"
        for comp_seq, (ci, by_system) in enumerate(sorted(by_class[klass].items()), 1):
            comp_lp, comp = components[ci]
            chbs.row((comp_path, str(comp_seq), group_lp, comp_lp, comp))
            sys_path = f"{comp_path}.{comp_lp}"
            for sys_seq, (system, leaves) in enumerate(sorted(by_system.items()), 1):
                node_name = f"{comp} | {system} | {klass}"
                node = new_part("COMPONENT", node_name)
                chbs.row((sys_path, str(sys_seq), comp_lp, node, node_name))
                leaf_path = f"{sys_path}.{node}"
                for leaf_seq, (code, short) in enumerate(leaves, 1):
                    chbs.row((leaf_path, str(leaf_seq), node, code, short))

    for f in files:
        f.close()
    counts = {str(f.path.relative_to(out)): f.rows for f in files}
    counts["version"] = int(version.replace(".", ""))
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = common_args(__doc__ or "", "loinc")
    parser.add_argument("--terms", type=int, default=105_000, help="rows in Loinc.csv")
    parser.add_argument("--answer-lists", type=int, default=7_000)
    parser.add_argument("--answers", type=int, default=30_000, help="distinct LA answer codes")
    parser.add_argument("--extra-parts", type=int, default=25_000,
                        help="parts of the other types (adjustment, challenge, gene, ...) in Part.csv")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.out, seed=args.seed, terms=scaled(args.terms, args.scale),
                      answer_lists=scaled(args.answer_lists, args.scale, 2),
                      answers=scaled(args.answers, args.scale, 30), extra_parts=scaled(args.extra_parts, args.scale))
    mark_generated(args.out, args.seed, args.scale, time.perf_counter() - started)
    print(json.dumps(counts, indent=1))
    print(f"written to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
