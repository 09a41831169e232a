"""loaders/, valuesets/ and cli/ are installed as termsvc.loaders, termsvc.valuesets and termsvc.cli: code that
imports them by their folder names works from the repository (where the folders are on sys.path) and fails
once installed. This scan keeps the installed package importable."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER_IMPORT = re.compile(r"^\s*(from|import)\s+(loaders|valuesets|cli)(\.|\s|$)", re.MULTILINE)


def test_no_module_imports_an_installed_folder_by_its_repository_name() -> None:
    offenders = []
    for folder in ("termsvc", "loaders", "valuesets", "cli", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_symlink() or any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                continue
            for match in FOLDER_IMPORT.finditer(path.read_text(encoding="utf-8")):
                line = path.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0).strip()}")
    assert not offenders, "import these as termsvc.<folder>:\n" + "\n".join(offenders)
