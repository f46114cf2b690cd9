"""The pure stages a candidate goes through: load, schema, diff, impact, snapshot."""
