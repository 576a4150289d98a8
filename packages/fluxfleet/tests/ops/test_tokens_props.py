"""Property tests of the token parser and names: any text a client sends as a bearer token
is either the one token created or refused (None), never an exception."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
from fluxfleet.ops import tokens
from fluxfleet.store import open_store
from hypothesis import example, given
from hypothesis import strategies as st

_DIR = Path(tempfile.mkdtemp(prefix="fluxfleet-tokens-"))
atexit.register(shutil.rmtree, _DIR, True)
_STORE = open_store(f"duckdb:///{_DIR}/t.duckdb")
_TOKEN = tokens.create(_STORE, "ci", 1)
_PREFIX = _TOKEN.split("_")[1]


@given(st.text(max_size=80))
@example("fft_" + _PREFIX + "_" + "A" * 43)  # the right prefix, a wrong secret
@example(_TOKEN + " ")
@example(_TOKEN.upper())
@example("")
def test_any_other_text_is_refused(text: str) -> None:
    assert tokens.verify(_STORE, text) is None


@given(st.text(min_size=0, max_size=70))
@example("a" * 64)
@example("a" * 65)
@example("ci\n")
def test_names_are_accepted_exactly_by_their_grammar(name: str) -> None:
    ok = (
        0 < len(name) <= 64
        and name[0].isascii()
        and name[0].isalnum()
        and all(c.isascii() and (c.isalnum() or c in "_.@-") for c in name)
    )
    if ok:
        assert tokens.check_name(name) == name
    else:
        with pytest.raises(tokens.TokenError) as e:
            tokens.check_name(name)
        assert e.value.option == "NAME"


def test_the_token_itself_opens() -> None:
    assert tokens.verify(_STORE, _TOKEN) == "ci"
