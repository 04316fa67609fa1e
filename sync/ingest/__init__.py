"""Syncing usage in: one sync of a window of days (`job.py`), the batched upsert every page
goes through (`writer.py`), and the hourly sync as the scheduler runs it, due across
replicas and paused on credentials that need a person (`scheduled.py`)."""
