"""Schema compatibility: `schema_diff` compares two schemas by the configs they accept.

docs/compat.md is the user guide.
"""

from .report import LEVELS as LEVELS
from .report import MODES as MODES
from .report import CompatChange as CompatChange
from .report import CompatReport as CompatReport
from .report import Effect as Effect
from .report import Level as Level
from .report import Mode as Mode
from .report import level_of as level_of
from .report import schema_diff as schema_diff

__all__ = [
    "LEVELS",
    "MODES",
    "CompatChange",
    "CompatReport",
    "Effect",
    "Level",
    "Mode",
    "level_of",
    "schema_diff",
]
