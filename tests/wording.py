"""Asserting what people read: a problem's words come from the templates, not from str()."""

from __future__ import annotations

import contextlib
import re

import pytest

from bot.rendering import words


@contextlib.contextmanager
def raises_saying(error_type: type[Exception], pattern: str):
    """Like pytest.raises(error_type, match=pattern), matched against the problem's words."""
    with pytest.raises(error_type) as caught:
        yield caught
    said = words(caught.value)
    assert re.search(pattern, said), f"{pattern!r} not in {said!r}"
