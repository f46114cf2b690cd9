"""The pure stages a candidate goes through: load, schema, diff, impact, snapshot.

`evaluate` runs them on one candidate. What makes a reload cost what changed rather than the
size of the config lives beside them: `pieces` (a YAML document parsed per top-level key,
unchanged pieces reused), `share` (one walk that freezes, sharing what equals the previous
snapshot) and `encode` (the canonical JSON through orjson where it equals the stdlib's).
"""
