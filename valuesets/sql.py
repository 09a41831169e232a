"""Building one SQL statement from parts: bound parameters with generated names, fresh table aliases,
and the one dialect difference we need (a set of ids bound as a single JSON array)."""

from __future__ import annotations

import json
from typing import Any


class SqlBuilder:
    def __init__(self, dialect: str, *, membership: bool = False) -> None:
        self.dialect = dialect
        # the statement asks about one code ($validate-code): conditions stay correlated probes, never sets that
        # would be built whole for one row (ECL; see valuesets/ecl/drive.py)
        self.membership = membership
        self.params: dict[str, Any] = {}
        self._aliases = 0

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def alias(self, prefix: str = "c") -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def values(self, items: list[str]) -> str:
        """A parenthesised list of bound values for `IN`; never empty (an empty IN matches nothing)."""
        if not items:
            return "(NULL)"
        return "(" + ", ".join(self.bind(i) for i in items) + ")"

    def id_set(self, ids: list[int]) -> str:
        """A subquery yielding the given ids, bound as one parameter whatever their number."""
        param = self.bind(json.dumps(ids))
        if self.dialect == "postgresql":
            return f"SELECT CAST(jsonb_array_elements_text(CAST({param} AS jsonb)) AS bigint)"
        return f"SELECT value FROM json_each({param})"
