"""How raw Codex `client_id`s are grouped into the few surfaces people read.

The API adds client ids without notice: anything not listed here is "Other", never an error.
"""

from __future__ import annotations

from functools import cache

CHATGPT = "Codex in ChatGPT"
IDE = "IDE"
CLI = "CLI"
GITHUB = "GitHub"
OTHER = "Other"

SURFACE_ORDER = (CHATGPT, IDE, CLI, GITHUB, OTHER)

_EXACT = {
    "CODEX_WEB": CHATGPT,
    "CODEX_DESKTOP_APP": CHATGPT,
    "CODEX_WORK_WEB": CHATGPT,
    "CODEX_WORK_DESKTOP": CHATGPT,
    "CODEX_WORK_MOBILE": CHATGPT,
    "CODEX_MOBILE": CHATGPT,
    "CODEX_CLI": CLI,
    "CODEX_GITHUB": GITHUB,
    "CODEX_GITHUB_ACTION": GITHUB,
    "CODEX_XCODE": IDE,
    "CODEX_ANDROID_STUDIO": IDE,
}

_PREFIXES = (("CODEX_IDE_", IDE), ("CODEX_GITHUB_", GITHUB))


@cache  # a handful of client ids, looked up for every usage row read
def surface_of(client_id: str) -> str:
    client_id = (client_id or "").upper()
    if client_id in _EXACT:
        return _EXACT[client_id]
    for prefix, surface in _PREFIXES:
        if client_id.startswith(prefix):
            return surface
    return OTHER
