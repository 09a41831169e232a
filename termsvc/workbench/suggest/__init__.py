"""Suggestion engine of the mapping workbench: ranked targets for a local code, with scores and explanations.
See ranker.TargetIndex for how a suggestion is made."""

from termsvc.workbench.suggest.model import Candidate, LocalTerm, Suggestion
from termsvc.workbench.suggest.normalise import evidence_key
from termsvc.workbench.suggest.ranker import TargetIndex
from termsvc.workbench.suggest.store import build_index, read_candidates

__all__ = ["Candidate", "LocalTerm", "Suggestion", "TargetIndex", "build_index", "evidence_key", "read_candidates"]
