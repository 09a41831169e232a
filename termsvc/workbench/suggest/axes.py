"""The scale a local code's answers hint at: findings (Positive, Not detected) are ordinal, numbers quantitative."""

from __future__ import annotations

import re

from termsvc.workbench.suggest.normalise import fold

_ORDINAL_ANSWERS = re.compile(r"\b(positive|negative|detected|not detected|reactive|nonreactive|non reactive|"
                              r"presumptive|invalid|inconclusive|indeterminate|equivocal|present|absent|pos|neg)\b")
_QUANTITATIVE_ANSWERS = re.compile(r"\b(numeric|index|value|ct|titer|concentration|\d+(?:\.\d+)?)\b")
def scale_hint(answers: str | None) -> str | None:
    """Ord when the local code's answers are findings (Positive/Not detected), Qn when numbers or values."""
    if not answers:
        return None
    text = fold(answers)
    ordinal = bool(_ORDINAL_ANSWERS.search(text))
    quantitative = bool(_QUANTITATIVE_ANSWERS.search(text))
    if ordinal and not quantitative:
        return "Ord"
    if quantitative and not ordinal:
        return "Qn"
    return None

