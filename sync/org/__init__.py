"""The people: the org directory and which Codex accounts are whose (`directory.py`), the
CSV import (`org_csv.py` reads a file, `importer.py` plans and applies it, `source.py`
re-imports the `[org] source` HRIS file at each sync), the reporting tree and its walks
(`chart.py`), the one access policy with what "archived" and "admin" mean (`access.py`),
and the log of who viewed whose stats (`access_log.py`)."""
