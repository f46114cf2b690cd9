"""Schema compatibility: `schema_diff` compares two schemas by the configs they accept.

docs/compat.md is the user guide. The modules, each importing only from those below it::

    report.py       schema_diff and CompatReport: modes, levels, which changes concern a config
    witness.py      witness configs for what is not proven: one schema accepts, the other not
    rules.py        compare_schemas and RULES, the rules in the order they report;
                    default and the keywords that no rule below handles
    subsume.py      refine: inclusions proven branch by branch through allOf, anyOf, oneOf
    values.py       type, nullable, enum, const
    composition.py  allOf, anyOf, oneOf, discriminator, not, if/then/else; witness values
    arrays.py       prefixItems, items, additionalItems, contains, uniqueItems, unevaluatedItems
    objects.py      required, properties, patternProperties, additionalProperties,
                    unevaluatedProperties, propertyNames, dependentRequired,
                    dependentSchemas, dependencies
    limits.py       numeric bounds, multipleOf, lengths and counts, pattern, format
    comparator.py   Finding, and the Comparator that walks two schemas and runs the rules
    navigate.py     Side and Node: dialects, $ref resolution, views, what a node allows
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
