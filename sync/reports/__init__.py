"""Answers out: periods people may ask for (`periods.py`), the six stats (`metrics.py`) and
client surfaces (`surfaces.py`), per-person and per-team queries (`queries.py`), the 1:1
digest (`digest.py`) and when digests and 1:1 preps are due (`schedules.py`), and the one
deciding function behind each request every surface makes (`answers.py`): access-checked,
logged, and returned as values for templates."""
