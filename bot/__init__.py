"""The Slack side of codexbot, and the operators' command line.

`app.py` builds the Bolt app and `listeners/` answers Slack's requests: each listener
parses, calls one deciding function (sync/reports/answers.py, or `connecting.py` for the
connect form) and renders through `messages.py` and `rendering.py` from templates/.
`identity.py` maps Slack users to employees; `scheduler.py` runs the hourly sync and
`digests.py` delivers digests by DM; `server.py` serves HTTP mode or Socket Mode; `cli/`
is the `codexbot` command. This package may import `sync`; `sync` never imports it.
"""
