"""The CSRF token in a page's forms is kept per session (``app.security.csrf_tokens``): it
still belongs to that session alone, and a new session has a new one."""

from __future__ import annotations

from tests.helpers.clients import CSRF_FIELD, client_for, make_user, sign_in


def _signed_in(app, setting, email):
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    client.get("/")  # the session's first page makes its token; later pages keep it
    return client


def token_on_page(client, path: str) -> str:
    """The one token every form of the page carries."""
    tokens = set(CSRF_FIELD.findall(client.get(path).text))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def _sign_out(client, setting, token: str):
    origin = f"http://{setting.slug}.localhost"
    return client.post(
        "/logout", data={"csrf_token": token}, headers={"Origin": origin, "Referer": f"{origin}/"}
    )


def _is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_pages_token_is_its_own_sessions_and_works_only_there(app, member):
    setting, email = member
    with app.app_context():
        other_email = make_user(setting.slug, role="staff")
    mine, theirs = _signed_in(app, setting, email), _signed_in(app, setting, other_email)
    my_token = token_on_page(mine, "/")
    assert token_on_page(mine, "/journal/") == my_token  # kept: the same on the next page
    their_token = token_on_page(theirs, "/")
    assert their_token != my_token

    refused = _sign_out(theirs, setting, my_token)

    assert refused.status_code == 400
    assert _is_signed_in(theirs)
    assert _sign_out(theirs, setting, their_token).status_code == 303
    assert not _is_signed_in(theirs)
    assert _is_signed_in(mine)


def test_signing_in_again_makes_a_new_token_and_the_old_one_is_refused(app, member):
    setting, email = member
    client = _signed_in(app, setting, email)
    old_token = token_on_page(client, "/")
    assert _sign_out(client, setting, old_token).status_code == 303

    assert sign_in(client, email).status_code == 303
    new_token = token_on_page(client, "/")

    assert new_token != old_token
    assert _sign_out(client, setting, old_token).status_code == 400
    assert _is_signed_in(client)
    assert _sign_out(client, setting, new_token).status_code == 303
