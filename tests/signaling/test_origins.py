from __future__ import annotations

from signaling.origins import origin_allowed


def test_same_origin_and_non_browser_clients_are_allowed_by_default() -> None:
    assert origin_allowed(None, "127.0.0.1:8080", ())
    assert origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", ())
    assert origin_allowed("HTTPS://Example.org", "example.org", ())
    assert not origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080", ())
    assert not origin_allowed("null", "127.0.0.1:8080", ())
    assert not origin_allowed("file://127.0.0.1:8080", "127.0.0.1:8080", ())


def test_allow_list_and_wildcard() -> None:
    allowed = ("https://app.example.org/",)
    assert origin_allowed("https://app.example.org", "127.0.0.1:8080", allowed)
    assert not origin_allowed("https://evil.example.org", "127.0.0.1:8080", allowed)
    assert origin_allowed("https://evil.example.org", "127.0.0.1:8080", ("*",))
