"""The Codex side of codexbot: everything that does not need Slack.

Floors, each importing only the ones below it: `config.py`, `clock.py` and `notices.py`
at the bottom; `store/` (the database); `codex/` (the Codex Analytics API) and `org/` (the
people and who may see whom); `ingest/` (syncing usage in) and `reports/` (answers out) on
top. Nothing here imports `bot`: the Slack side and the CLI build on this package, never
the reverse, and nothing here writes a sentence people read (templates/ does).
"""
