"""The people: the org directory and which Codex accounts are whose (`directory.py`), the
CSV import (`importer.py`), the reporting tree and its walks (`chart.py`), the one access
policy with what "archived" and "admin" mean (`access.py`), and the log of who viewed whose
stats (`access_log.py`)."""
