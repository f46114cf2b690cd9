"""The `Comparator`: it walks two schemas side by side and collects `Finding`s.

The keyword rules (`hotconf.compat.rules` lists them, in order) do the comparing, one family of
keywords each. The Comparator gives them what they share: `emit` records a finding, `compare`
goes down into a pair of subschemas (references resolved, cycles cut, schemas too large to
compare cut short), `presence` reports a keyword added or removed, and `folded` reports the
differences of a pair of subschemas as one finding. `summarize` says what several findings do
together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..pipeline.snapshot import REDACTED
from .navigate import Node, _uses_unevaluated, view

Effect = Literal["widen", "narrow", "change", "none", "semantic"]
Path = tuple[str, ...]
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference, before a mode turns its effect into a level."""

    kind: str
    path: Path
    pointer: str
    effect: Effect
    reason: str
    old: Any = None
    new: Any = None
    effects: frozenset[Effect] = frozenset()  # aggregated findings: every nested effect


def summarize(findings: Iterable[Finding]) -> tuple[Effect, frozenset[Effect]]:
    """The effect of several findings taken together, and every effect among them."""
    effects: set[Effect] = set()
    for f in findings:
        if not f.kind.startswith("default_"):
            effects |= f.effects or {f.effect}
    effects.discard("none")
    if not effects:
        return "none", frozenset()
    if "semantic" in effects:
        return "semantic", frozenset(effects)
    if "change" in effects or {"widen", "narrow"} <= effects:
        return "change", frozenset(effects)
    return next(iter(effects)), frozenset(effects)


_INVERT: dict[Effect, Effect] = {
    "widen": "narrow", "narrow": "widen", "change": "change", "none": "none",
    "semantic": "semantic",
}  # fmt: skip


def _reasons(findings: list[Finding], limit: int = 3) -> str:
    texts = [f.reason for f in findings if f.effect != "none"]
    more = f"; and {len(texts) - limit} more" if len(texts) > limit else ""
    return "; ".join(texts[:limit]) + more


def _moved(added: bool) -> tuple[str, Effect, str]:
    """``(state, effect, verdict)`` of a restriction that was added or removed."""
    return ("added", "narrow", "rejected") if added else ("removed", "widen", "accepted")


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# A rule compares one family of keywords of two subschemas (see `hotconf.compat.rules.RULES`).
Rule = Callable[["Comparator", Node, Node, Path], None]
# A refinement revisits the findings the rules made for a pair of subschemas (see
# `hotconf.compat.subsume.refine`).
Refine = Callable[["Comparator", Node, Node, Path, list["Finding"]], list["Finding"]]


class Comparator:
    """Walks two schemas side by side and collects `Finding`s.

    At each pair of subschemas it runs its rules in order. A rule compares the keywords of its
    family, reports what differs through `emit` (or `presence`, `folded`) and goes down into
    subschemas through `compare`, which resolves references and guards against cycles and
    against schemas too large to compare.
    """

    def __init__(
        self,
        sensitive: Callable[[Path], bool],
        rules: Sequence[Rule],
        *,
        max_comparisons: int,
        max_depth: int,
        refine: Refine | None = None,
    ) -> None:
        self.sensitive = sensitive
        self.rules = tuple(rules)
        self.max_comparisons = max_comparisons
        self.max_depth = max_depth
        self.refine = refine
        # what `refine` may spend on its proofs: a tenth of the walk, as a proof re-walks
        self.proof_budget = max_comparisons // 10
        self.findings: list[Finding] = []
        self._stack: set[tuple[str, str]] = set()
        self.calls = 0
        self.truncated = False
        self._unevaluated: set[Path] = set()

    def emit(self, kind: str, path: Path, where: str, effect: Effect, reason: str, *values: Any,
             effects: frozenset[Effect] = frozenset()) -> None:  # fmt: skip
        """Record a finding; ``values`` are the old and new keyword values, when shown."""
        if path[:-1] in self._unevaluated and effect not in ("none", "semantic"):
            reason += " (next to unevaluated* keywords, so not provable)"
            effect, effects = "semantic", frozenset({"semantic"})
        old, new = (*values, None, None)[:2]
        if kind.startswith(("enum_", "const_", "default_")) and self.sensitive(path):
            old, new = (None if v is None else REDACTED for v in (old, new))
        self.findings.append(Finding(kind, path, where, effect, reason, old, new, effects))

    def show(self, value: Any, path: Path) -> str:
        return json.dumps(REDACTED) if self.sensitive(path) else _show(value)

    def collect(self, run: Callable[[], object]) -> list[Finding]:
        """The findings ``run`` makes, collected aside instead of reported."""
        saved, self.findings = self.findings, []
        try:
            run()
            return self.findings
        finally:
            self.findings = saved

    def sub(self, old: Node, new: Node, path: Path) -> list[Finding]:
        return self.collect(lambda: self.compare(old, new, path))

    def folded(self, kind: str, old: Node, new: Node, path: Path, where: str, text: str) -> None:
        """Report the findings between two subschemas as one finding of ``kind``."""
        found = self.sub(old, new, path)
        effect, effects = summarize(found)
        if kind == "not_changed":
            effect, effects = _INVERT[effect], frozenset(_INVERT[e] for e in effects)
        plain = all(x.schema in (True, False, {}) for x in (old, new))
        text += f" are now {_moved(effect == 'narrow')[2]}" if plain else f": {_reasons(found)}"
        if effect != "none":
            self.emit(kind, path, where, effect, text, effects=effects)

    def presence(self, kind: str, path: Path, o: Node, n: Node, keyword: str, what: str) -> bool:
        """Report ``keyword`` added or removed; False when both sides have it (compare on)."""
        vo, vn = o.get(keyword), n.get(keyword)
        if (vo is None) == (vn is None):
            return vo is None
        state, effect, verdict = _moved(vo is None)
        where = (o if vn is None else n).at(keyword)
        self.emit(f"{kind}_{state}", path, where, effect, f"{keyword} {state}: {what} {verdict}")
        return True

    def compare(self, old: Node, new: Node, path: Path) -> None:
        """Compare two subschemas that apply to the configs' values at ``path``."""
        key = (old.pointer, new.pointer)
        if key in self._stack:
            return  # a recursive schema: equal so far means equal (coinduction)
        self.calls += 1
        if self.calls > self.max_comparisons or len(self._stack) > self.max_depth:
            if not self.truncated:
                self.truncated = True
                text = "schemas too large or too deeply nested to compare fully; rest skipped"
                self.emit("comparison_truncated", path, new.pointer, "semantic", text)
            return
        self._stack.add(key)
        try:
            o, n = view(old), view(new)
            if o.schema != {} or n.schema != {}:
                self._compare(o, n, path)
        finally:
            self._stack.discard(key)

    def _compare(self, o: Node, n: Node, path: Path) -> None:
        if o.schema is False or n.schema is False:
            if o.schema is not False:
                text = "no value is accepted here any more"
                self.emit("false_schema_added", path, n.pointer, "narrow", text)
            elif n.schema is not False:
                text = "nothing was accepted here; now values matching the schema are"
                self.emit("false_schema_removed", path, n.pointer, "widen", text)
            return
        mine = path not in self._unevaluated and (_uses_unevaluated(o) or _uses_unevaluated(n))
        if mine:
            self._unevaluated.add(path)
        try:
            if self.refine is None:
                for rule in self.rules:
                    rule(self, o, n, path)
            else:
                found = self.collect(lambda: [rule(self, o, n, path) for rule in self.rules])
                self.findings.extend(self.refine(self, o, n, path, found))
        finally:
            if mine:
                self._unevaluated.discard(path)
