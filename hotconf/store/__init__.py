"""The state directory: one SQLite database and the only code that speaks SQL.

- `db`: the connection, WAL, the tables and their migrations, transactions.
- `history`: `Store`, the history, last-known-good, rejections and metadata.
- `delta`: what turns one version into another (key order included); no SQL.
- `retention`: what a prune drops, and what it never drops.
- `outbox`: `Outbox` (``store.outbox``), webhook subscribers, the outbox and delivery
  attempts, on the store's connection: a version and its outbox rows commit together.
"""
