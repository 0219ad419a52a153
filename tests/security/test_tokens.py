"""One-time link tokens: unguessable in the URL, only a digest in the database."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from app.security.tokens import NO_TOKEN_DIGEST, new_link_token, token_digest


def test_a_token_carries_256_random_bits_in_url_safe_characters():
    token, _ = new_link_token()

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32


def test_tokens_do_not_repeat_and_use_the_whole_alphabet():
    tokens = [new_link_token()[0] for _ in range(2000)]

    assert len(set(tokens)) == len(tokens)
    assert len(set("".join(tokens))) == 64


def test_the_stored_digest_is_the_sha256_of_the_token():
    token, digest = new_link_token()

    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert digest == token_digest(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token not in digest


def test_a_changed_token_has_another_digest():
    token, digest = new_link_token()

    assert token_digest(token[:-1]) != digest
    assert token_digest(token + "A") != digest
    assert token_digest(token.swapcase()) != digest


@pytest.mark.parametrize(
    "odd",
    [
        "",
        "\x00",
        "abc",
        "é" * 43,
        "\ud800" * 43,
        "a" * 10_000_000,
        "{token}\x00",
        "{token}\n",
        "{token} ",
    ],
)
def test_odd_input_gets_a_digest_that_matches_no_link(odd):
    token, digest = new_link_token()

    found = token_digest(odd.format(token=token))

    assert found == NO_TOKEN_DIGEST
    assert found != digest
    assert len(found) == 64
