"""The optional yaml-rs fast path of `hotconf.pipeline.load` (``pip install hotconf[fast]``).

yaml-rs 0.1.6 differs from the reference rules (`hotconf.pipeline.load`) on tags, anchors,
merge keys, digit separators (`1_000`, even `_1`), radix spellings (`0X1F`, `0b1`, `+0x1`),
`.inf`/`.nan`, overflowing numbers and non-string keys, reads flow collections by YAML 1.2
where libyaml reads 1.1, recurses (and crashes) on deep nesting, and has no line numbers. So
it only sees text with none of those constructs (a conservative scan: a false alarm costs
speed, never correctness), its result is checked, and everything else, errors included, takes
the reference path. tests/pipeline/test_load.py holds the evidence; other versions are not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

VERSION = "0.1.6"  # the only yaml-rs release the equality tests vouch for
_FAST_CHARS = "[]{}!&*%\\|>`@<\t\r"  # flow, tags, anchors, directives, escapes, block scalars
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"
_SEP = "[-+.0-9eE]"
_FAST_PATTERNS = [  # each starts with a literal, which the regex engine skips to quickly
    re.compile(r"0(?:[XObB]|(?<=[-+]0)[xo]|[xo][0-9a-fA-F]*_)").search,  # radix spellings
    re.compile(  # `_` in a token of number characters
        "_(?:" + "|".join(f"(?<=\\s{_SEP}{{{k}}}_)" for k in range(9)) + f"|(?<={_SEP}{{9}}_))"
    ).search,
    re.compile(r"\n(?:[ -]{100}|[^\n]{1000})").search,  # deep nesting; over-long implicit keys
]


def _suitable(text: str) -> bool:
    t = "\n" + text
    if not t.isascii() or t.encode().translate(None, _PRINTABLE):
        return False
    if any(c in t for c in _FAST_CHARS) or "\n---" in t or "\n..." in t:
        return False  # (yaml-rs reads a document after `...` with no `---`; libyaml refuses it)
    return not any(p(t) for p in _FAST_PATTERNS)


Check = Callable[[dict[str, Any], Any], "str | None"]


class FastLoader(Protocol):
    def __call__(
        self, text: str, limits: Any, check: Check | None = ...
    ) -> dict[str, Any] | None: ...


def loader(check: Check) -> FastLoader | None:
    """The fast loader, or None when yaml-rs (exactly `VERSION`) is not installed.

    Args:
        check: the reference loader's check of a result against the limits (None: fine).

    Returns:
        ``fast(text, limits, check=check)``: yaml-rs's result where it provably equals the
        reference loader's, else None (then the reference path runs). With ``check=None``
        the caller checks the result against the limits and the rules itself, as ``check``
        would (`hotconf.pipeline.pieces` does, in the walk it makes anyway).
    """
    try:
        import yaml_rs
    except ImportError:  # the optional `fast` extra is not installed
        return None
    if getattr(yaml_rs, "__version__", "") != VERSION:
        return None

    def fast(text: str, limits: Any, check: Check | None = check) -> dict[str, Any] | None:
        if not _suitable(text):
            return None
        try:
            data = yaml_rs.loads(text, parse_datetime=False)
        except Exception:
            return None
        if type(data) is not dict or not data:
            return None
        return data if check is None or check(data, limits) is None else None

    return fast
