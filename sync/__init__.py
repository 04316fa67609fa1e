"""The Codex side of codexbot: analytics client, simulator, store, directory and sync.

Nothing in this package imports `bot`: the Slack side builds on it, never the reverse.
"""
