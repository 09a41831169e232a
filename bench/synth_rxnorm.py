"""Write a full-size synthetic RxNorm full monthly release (OUT/RxNorm_full_MMDDYYYY/rrf/), deterministic from a seed.

Files and column layouts follow NLM's RxNorm Technical Documentation: pipe-delimited with a trailing pipe,
LF line endings, UTF-8: RXNCONSO (18 fields), RXNREL (16), RXNSAT (13), RXNSTY (6), RXNCUI (5),
RXNCUICHANGES (7), RXNSAB (25). SAB=RXNORM content follows the RxNorm model (IN/PIN/MIN, BN, DF/DFG, SCDC,
SCDF, SCDG, SCD, SBDC, SBDF, SBD, GPCK, BPCK with their relationships in both directions, RXCUI2 RELA RXCUI1);
other sources' atoms (MTHSPL, NDDF, MMSL, ...) hang off the same RXCUIs. Names are made up.

Usage: python bench/synth_rxnorm.py [--out DIR] [--seed N] [--scale F] [--conso N] [--rel N] [--sat N]
Sizes: see bench/README.md."""

from __future__ import annotations

import itertools
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth_common import Out, Rng, common_args, make_words, mark_generated, scaled

EOL = "\n"
RELEASE_VSAB = "RXNORM_20AA_251103F"
DOSE_FORMS = ["Oral Tablet", "Oral Capsule", "Injectable Solution", "Topical Cream", "Oral Solution",
              "Extended Release Oral Tablet", "Delayed Release Oral Capsule", "Transdermal System", "Nasal Spray",
              "Ophthalmic Solution", "Inhalant Powder", "Rectal Suppository", "Chewable Tablet", "Oral Suspension",
              "Topical Ointment", "Injectable Suspension", "Metered Dose Inhaler", "Vaginal Cream",
              "Prefilled Syringe", "Auto-Injector", "Cartridge", "Oral Powder", "Otic Solution", "Topical Gel",
              "Sublingual Tablet", "Disintegrating Oral Tablet", "Medicated Patch", "Pack"]
DOSE_FORM_GROUPS = ["Oral Product", "Pill", "Injectable Product", "Topical Product", "Inhalant Product",
                    "Ophthalmic Product", "Nasal Product", "Rectal Product", "Vaginal Product", "Transdermal Product",
                    "Otic Product", "Oral Liquid Product"]
UNITS = ["MG", "MG", "MG", "MG/ML", "MCG", "UNT/ML", "MG/HR", "%", "MEQ", "MG/ACTUAT"]
OTHER_SABS = [("MTHSPL", ("SU", "DP"), 30), ("NDDF", ("CDC", "CDA", "IN"), 12), ("MMSL", ("CD", "BD", "GN"), 10),
              ("MMX", ("CD", "BD"), 12), ("GS", ("CD", "BD", "IN"), 10), ("VANDF", ("CD", "IN"), 6),
              ("SNOMEDCT_US", ("PT", "FN", "SY"), 8), ("ATC", ("IN", "RXN_IN"), 2), ("DRUGBANK", ("IN", "SY"), 4),
              ("USP", ("CD", "IN"), 2)]
# Relationship pairs as RxNorm ships them: the RELA of row (A, RELA, B) reads "B RELA A"; both directions present.
INVERSE = {"has_ingredient": "ingredient_of", "has_precise_ingredient": "precise_ingredient_of",
           "has_form": "form_of", "has_part": "part_of", "tradename_of": "has_tradename",
           "consists_of": "constitutes", "has_dose_form": "dose_form_of", "isa": "inverse_isa",
           "has_doseformgroup": "doseformgroup_of", "contains": "contained_in", "has_ingredients": "ingredients_of",
           "reformulation_of": "reformulated_to"}
INVERSE.update({v: k for k, v in list(INVERSE.items())})
REL_OF = {"isa": "RN", "inverse_isa": "RB"}  # REL is the second RXCUI's relation to the first
STY = {"IN": ("T121", "A1.4.1.1.1", "Pharmacologic Substance"), "PIN": ("T109", "A1.4.1.2.1", "Organic Chemical"),
       "MIN": ("T121", "A1.4.1.1.1", "Pharmacologic Substance"), "BN": ("T121", "A1.4.1.1.1",
                                                                         "Pharmacologic Substance"),
       "DRUG": ("T200", "A1.3.3", "Clinical Drug")}
VERSIONS = ["RXNORM_04AC_050210F", "RXNORM_09AA_090706F", "RXNORM_10AA_100706F", "RXNORM_12AA_120507F",
            "RXNORM_14AA_140707F", "RXNORM_16AA_160606F", "RXNORM_18AA_180702F", "RXNORM_20AA_200706F",
            "RXNORM_20AA_230703F", "RXNORM_20AA_250804F"]


def generate(out: Path, *, seed: int, conso: int, rel: int, sat: int, scale: float) -> dict[str, int]:
    rng = Rng(seed)
    if out.exists():
        shutil.rmtree(out)
    # the folder NLM's zip unpacks to, named after the release date (MMDDYYYY) as RXNSAB's RXNORM version says
    release = RELEASE_VSAB.rsplit("_", 1)[1]
    rrf = out / f"RxNorm_full_{release[2:4]}{release[4:6]}20{release[0:2]}" / "rrf"
    words = make_words(rng, 20000)
    rnd = rng.random  # the hot loops draw with random() directly: randint/choice cost several calls each

    def pipe(name: str) -> Out:
        return Out(rrf / name, None, sep="|", eol=EOL, trailing_sep=True)

    f_conso, f_rel, f_sat, f_sty = pipe("RXNCONSO.RRF"), pipe("RXNREL.RRF"), pipe("RXNSAT.RRF"), pipe("RXNSTY.RRF")
    f_cui, f_changes, f_sab = pipe("RXNCUI.RRF"), pipe("RXNCUICHANGES.RRF"), pipe("RXNSAB.RRF")
    files = [f_conso, f_rel, f_sat, f_sty, f_cui, f_changes, f_sab]

    counters = {"rxcui": 1, "rxaui": 100_000, "rui": 1_000_000, "atui": 1_000_000}
    retired: list[str] = []
    active_cuis: list[str] = []

    def next_cui() -> str:
        while True:
            counters["rxcui"] += 1 + int(rnd() * 9)
            value = str(counters["rxcui"])
            if rng.random() < 0.04:  # retired numbers: absent from RXNCONSO, listed in RXNCUI
                retired.append(value)
                continue
            return value

    def next_aui() -> str:
        counters["rxaui"] += 1 + int(rnd() * 4)
        return str(counters["rxaui"])

    # RXNORM concepts: cui -> (tty, name, main rxaui)
    concept: dict[str, tuple[str, str, str]] = {}

    def atom(cui: str, sab: str, tty: str, name: str, code: str, suppress: str = "N") -> str:
        aui = next_aui()
        cvf = "4096" if sab == "RXNORM" and suppress == "N" and rnd() < 0.8 else ""
        saui = aui if sab == "RXNORM" else (str(10_000 + int(rnd() * 9_990_000)) if rnd() < 0.5 else "")
        f_conso.row((cui, "ENG", "", "", "", "", "", aui, saui, cui if sab == "RXNORM" else code, "", sab, tty, code,
                     name, "0" if sab != "RXNORM" else "", suppress, cvf))
        return aui

    def new_concept(tty: str, name: str) -> str:
        cui = next_cui()
        suppress = "O" if tty not in ("IN", "DF", "DFG") and rng.random() < 0.12 else "N"
        aui = atom(cui, "RXNORM", tty, name, cui, suppress)
        concept[cui] = (tty, name, aui)
        active_cuis.append(cui)
        if tty in ("IN", "PIN", "MIN", "BN"):
            sty = STY[tty]
        elif tty in ("DF", "DFG"):
            sty = ("T169", "A1.2", "Functional Concept")
        else:
            sty = STY["DRUG"]
        f_sty.row((cui, *sty, "", "4096"))
        if tty in ("SCD", "SBD", "GPCK", "BPCK") and rng.random() < 0.7:
            atom(cui, "RXNORM", "PSN", name.lower(), cui, suppress)
        if rng.random() < 0.25:
            atom(cui, "RXNORM", "SY", " ".join(name.split()[:3]), cui, suppress)
        if tty in ("SCD", "SBD") and rng.random() < 0.15:
            atom(cui, "RXNORM", "TMSY", name.replace(" MG", "mg"), cui, suppress)
        return cui

    def relate(a: str, rela: str, b: str, sab: str = "RXNORM", stype: str = "CUI") -> None:
        """Row says `b rela a`, and its inverse row says `a inverse b`, as RXNREL carries both."""
        for x, r, y in ((a, rela, b), (b, INVERSE[rela], a)):
            counters["rui"] += 1
            f_rel.row((x, "", stype, REL_OF.get(r, "RO"), y, "", stype, r, f"R{counters['rui']}", "", sab, sab, "",
                       "", "N", "4096" if rnd() < 0.5 else ""))

    def k(n: int) -> int:
        return max(2, round(n * scale))

    dfs = [new_concept("DF", name) for name in DOSE_FORMS]
    dfgs = [new_concept("DFG", name) for name in DOSE_FORM_GROUPS]
    for df in dfs:
        relate(rng.choice(dfgs), "isa", df)
    ins = [new_concept("IN", " ".join(rng.choice(words) for _ in range(rng.randint(1, 2))))
           for _ in range(k(14_500))]
    pins = []
    for _ in range(k(3_200)):
        base = rng.choice(ins)
        pin = new_concept("PIN", f"{concept[base][1]} {rng.choice(('hydrochloride', 'sodium', 'acetate', 'sulfate'))}")
        relate(base, "has_form", pin)
        pins.append(pin)
    mins = []
    for _ in range(k(5_500)):
        parts = rng.sample(ins, rng.randint(2, 3))
        m = new_concept("MIN", " / ".join(concept[p][1] for p in parts))
        for p in parts:
            relate(p, "has_part", m)
        mins.append(m)
    bns = []
    for _ in range(k(25_000)):
        b = new_concept("BN", rng.choice(words).capitalize() + rng.choice(("", "", " XR", "-D", " Plus")))
        relate(rng.choice(ins + mins), "tradename_of", b)
        bns.append(b)

    scdcs: list[tuple[str, str, str]] = []  # cui, ingredient cui, strength text
    for _ in range(k(32_000)):
        ing = rng.choice(ins) if rng.random() < 0.85 else rng.choice(pins)
        strength = f"{rng.choice((1, 2, 2.5, 5, 10, 20, 25, 40, 50, 100, 200, 250, 500, 1000))} {rng.choice(UNITS)}"
        c = new_concept("SCDC", f"{concept[ing][1]} {strength}")
        relate(ing, "has_precise_ingredient" if concept[ing][0] == "PIN" else "has_ingredient", c)
        scdcs.append((c, ing, strength))
    scdfs: dict[tuple[str, str], str] = {}
    scdgs: dict[tuple[str, str], str] = {}
    scds: list[tuple[str, list[tuple[str, str, str]], str]] = []
    for _ in range(k(48_000)):
        n_comp = 1 if rng.random() < 0.85 else rng.randint(2, 3)
        comps = rng.sample(scdcs, n_comp)
        df = rng.choice(dfs[:-1])
        name = " / ".join(f"{concept[ing][1]} {s}" for _, ing, s in comps) + f" {concept[df][1]}"
        c = new_concept("SCD", name)
        for comp, ing, _ in comps:
            relate(comp, "consists_of", c)
            key = (ing, df)
            if key not in scdfs:
                scdfs[key] = new_concept("SCDF", f"{concept[ing][1]} {concept[df][1]}")
                relate(ing, "has_ingredient", scdfs[key])
                relate(df, "has_dose_form", scdfs[key])
            relate(scdfs[key], "isa", c)
            group = dfgs[DOSE_FORMS.index(concept[df][1]) % len(dfgs)]
            gkey = (ing, group)
            if gkey not in scdgs:
                scdgs[gkey] = new_concept("SCDG", f"{concept[ing][1]} {concept[group][1]}")
                relate(ing, "has_ingredient", scdgs[gkey])
                relate(group, "has_doseformgroup", scdgs[gkey])
            relate(scdgs[gkey], "isa", c)
        relate(df, "has_dose_form", c)
        if n_comp > 1 and mins:
            relate(rng.choice(mins), "has_ingredients", c)
        scds.append((c, comps, df))
    for _ in range(k(26_000)):
        scd, comps, df = rng.choice(scds)
        bn = rng.choice(bns)
        brand = concept[bn][1]
        c = new_concept("SBD", f"{concept[scd][1]} [{brand}]")
        relate(scd, "tradename_of", c)
        relate(bn, "has_ingredient", c)
        relate(df, "has_dose_form", c)
        for comp, _, _ in comps:
            sbdc = new_concept("SBDC", f"{concept[comp][1]} [{brand}]")
            relate(comp, "tradename_of", sbdc)
            relate(bn, "has_ingredient", sbdc)
            relate(sbdc, "consists_of", c)
        sbdf = new_concept("SBDF", f"{concept[comps[0][1]][1]} {concept[df][1]} [{brand}]")
        relate(bn, "has_ingredient", sbdf)
        relate(df, "has_dose_form", sbdf)
        relate(sbdf, "isa", c)
    pack = dfs[-1]
    for _ in range(k(1_200)):
        contents = rng.sample(scds, rng.randint(2, 4))
        gp = new_concept("GPCK", "{" + " / ".join(f"{rng.randint(1, 28)} ({concept[c][1]})" for c, _, _ in contents)
                         + "} Pack")
        relate(pack, "has_dose_form", gp)
        for c, _, _ in contents:
            relate(c, "contains", gp)
        if rng.random() < 0.5:
            bp = new_concept("BPCK", concept[gp][1] + f" [{concept[rng.choice(bns)][1]}]")
            relate(gp, "tradename_of", bp)
            relate(pack, "has_dose_form", bp)

    # Other sources' atoms on the same RXCUIs up to the RXNCONSO target; source-asserted relationships between
    # atoms of one source up to the RXNREL target.
    sab_table = [(sab, ttys) for sab, ttys, _ in OTHER_SABS]
    sab_cum = list(itertools.accumulate(w for _, _, w in OTHER_SABS))
    other_atoms: dict[str, list[tuple[str, str]]] = {sab: [] for sab, _ in sab_table}
    while f_conso.rows < conso:
        cui = active_cuis[int(len(active_cuis) * rnd())]
        sab, ttys = rng.choices(sab_table, cum_weights=sab_cum)[0]
        code = str(1000 + int(rnd() * 99_990_000))
        name = concept[cui][1].upper() if rnd() < 0.5 else concept[cui][1]
        aui = atom(cui, sab, ttys[int(rnd() * len(ttys))], name, code)
        bucket = other_atoms[sab]
        if len(bucket) < 50_000:
            bucket.append((cui, aui))
        elif rnd() < 0.1:
            bucket[int(rnd() * len(bucket))] = (cui, aui)
    source_relas = ("has_ingredient", "isa", "has_dose_form", "has_tradename", "has_part")
    sabs_with_atoms = [sab for sab, atoms in other_atoms.items() if len(atoms) > 1]
    while f_rel.rows < rel and sabs_with_atoms:
        sab = sabs_with_atoms[int(rnd() * len(sabs_with_atoms))]
        atoms = other_atoms[sab]
        (c1, a1), (c2, a2) = atoms[int(rnd() * len(atoms))], atoms[int(rnd() * len(atoms))]
        rela = source_relas[int(rnd() * len(source_relas))]
        for x, xa, r, y, ya in ((c1, a1, rela, c2, a2), (c2, a2, INVERSE[rela], c1, a1)):
            counters["rui"] += 1
            f_rel.row((x, xa, "AUI", REL_OF.get(r, "RO"), y, ya, "AUI", r, f"R{counters['rui']}", "", sab, sab, "",
                       "", "N", ""))

    # Attributes: NDCs on drug atoms first (RXNORM's normalised 11-digit NDCs), then the RxNorm attributes.
    drugs = [c for c, (tty, _, _) in concept.items() if tty in ("SCD", "SBD", "GPCK", "BPCK")]
    attr_names = ("RXN_HUMAN_DRUG", "RXN_AVAILABLE_STRENGTH", "RXN_STRENGTH", "RXN_BN_CARDINALITY",
                  "RXN_QUANTITY", "RXTERM_FORM", "RXN_ACTIVATED", "RXN_OBSOLETED")
    while f_sat.rows < sat:
        cui = drugs[int(rnd() * len(drugs))]
        tty, name, aui = concept[cui]
        counters["atui"] += 1
        if rnd() < 0.35:
            f_sat.row((cui, "", "", aui, "AUI", cui, f"AT{counters['atui']}", "", "NDC", "RXNORM",
                       f"{int(rnd() * 99_999_999_999):011d}", "N", "4096"))
        else:
            atn = attr_names[int(rnd() * len(attr_names))]
            atv = {"RXN_HUMAN_DRUG": "US", "RXN_BN_CARDINALITY": rng.choice(("single", "multi")),
                   "RXN_QUANTITY": f"{rng.randint(1, 100)} ML", "RXTERM_FORM": rng.choice(("Tab", "Cap", "Sol")),
                   "RXN_ACTIVATED": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(5, 25):02d}",
                   "RXN_OBSOLETED": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(5, 25):02d}"
                   }.get(atn, name.split(" ", 1)[-1][:40])
            f_sat.row((cui, "", "", aui, "AUI", cui, f"AT{counters['atui']}", "", atn, "RXNORM", atv, "N", "4096"))

    # Retired RXCUIs: remapped to one current RXCUI, or split over several (the cardinality).
    for cui in retired:
        start = rng.randrange(len(VERSIONS) - 1)
        end = rng.randrange(start, len(VERSIONS) - 1)
        targets = rng.sample(active_cuis, 1 if rng.random() < 0.97 else rng.randint(2, 4))
        for target in targets:
            f_cui.row((cui, VERSIONS[start], VERSIONS[end], str(len(targets)), target))
    # Atoms that moved between RXCUIs this release.
    for _ in range(k(3_000)):
        cui = rng.choice(active_cuis)
        tty, name, aui = concept[cui]
        f_changes.row((aui, cui, "RXNORM", tty, name, rng.choice(retired) if retired else cui, cui))

    for sab, ttys, _ in [("RXNORM", ("IN", "SCD"), 0), *OTHER_SABS]:
        vsab = RELEASE_VSAB if sab == "RXNORM" else f"{sab}_2025_10_01"
        f_sab.row((f"C{rng.randint(5_000_000, 5_999_999)}", f"C{rng.randint(1_000_000, 1_999_999)}", vsab, sab,
                   f"{sab} source", sab, vsab.split("_", 1)[1], "", "", "2020AA", "", ";;;;;;;;;;;;", ";;;;;;;;;;;;",
                   "0" if sab == "RXNORM" else "3", "", "", "", ",".join(ttys), "NDC" if sab != "ATC" else "", "ENG",
                   "UTF-8", "Y", "Y", f"{sab} source", ";;;;;;;;;;;;;;;;"))

    for f in files:
        f.close()
    counts = {f.path.name: f.rows for f in files}
    counts["rxnorm_concepts"] = len(concept)
    counts["rxnorm_atoms_tty"] = sum(1 for _ in concept)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = common_args(__doc__ or "", "rxnorm")
    parser.add_argument("--conso", type=int, default=1_000_000, help="rows in RXNCONSO.RRF")
    parser.add_argument("--rel", type=int, default=6_000_000, help="rows in RXNREL.RRF")
    parser.add_argument("--sat", type=int, default=3_000_000, help="rows in RXNSAT.RRF")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.out, seed=args.seed, conso=scaled(args.conso, args.scale),
                      rel=scaled(args.rel, args.scale), sat=scaled(args.sat, args.scale), scale=args.scale)
    mark_generated(args.out, args.seed, args.scale, time.perf_counter() - started)
    print(json.dumps(counts, indent=1))
    print(f"written to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
