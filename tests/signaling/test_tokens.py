from __future__ import annotations

import pytest

from signaling.tokens import TokenError, main, mint_token, verify_token

NOW_S = 1_700_000_000.0


def test_a_minted_token_admits_to_its_room_until_it_expires() -> None:
    token = mint_token("secret", "room1", 60, NOW_S)
    verify_token("secret", token, "room1", NOW_S)
    verify_token("secret", token, "room1", NOW_S + 59)
    with pytest.raises(TokenError, match="expired"):
        verify_token("secret", token, "room1", NOW_S + 60)
    with pytest.raises(TokenError, match="for room"):
        verify_token("secret", token, "room2", NOW_S)
    with pytest.raises(TokenError, match="signature"):
        verify_token("other secret", token, "room1", NOW_S)


def test_wildcard_room() -> None:
    token = mint_token("secret", "*", 60, NOW_S)
    verify_token("secret", token, "anything", NOW_S)


@pytest.mark.parametrize("token", [None, "", "abc", "v1.", "v1.x.y", "v2.abc.def"])
def test_malformed_tokens_are_refused(token: str | None) -> None:
    with pytest.raises(TokenError):
        verify_token("secret", token, "room", NOW_S)


def test_tampered_payload_is_refused() -> None:
    token = mint_token("secret", "room", 60, NOW_S)
    prefix, _payload, signature = token.split(".")
    forged = mint_token("secret", "room", 10_000, NOW_S).split(".")[1]
    with pytest.raises(TokenError, match="signature"):
        verify_token("secret", f"{prefix}.{forged}.{signature}", "room", NOW_S)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        mint_token("", "room", 60, NOW_S)


def test_cli_mints_a_token(capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    assert main(["--room", "r", "--ttl-s", "30", "--secret", "k"]) == 0
    token = capsys.readouterr().out.strip()
    verify_token("k", token, "r", time.time())
    monkeypatch.delenv("SIGNALING_TOKEN_SECRET", raising=False)
    assert main(["--room", "r"]) == 2
    assert "SIGNALING_TOKEN_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("SIGNALING_TOKEN_SECRET", "env-secret")
    assert main(["--room", "r"]) == 0
    verify_token("env-secret", capsys.readouterr().out.strip(), "r", time.time())
