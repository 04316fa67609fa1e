"""The Codex Enterprise Analytics API: the client that reads usage pages (`client.py`), the
stored connection with its encrypted key (`connection.py`), and a simulator of the API for
the demo, the tests and the benchmarks (`simulator/`)."""
