"""The Slack side of codexbot. It may import `sync`; `sync` never imports it."""
