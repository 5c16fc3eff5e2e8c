"""A large YAML fixture file is parsed once: later loads read its document kept as JSON, and give
the very same fixtures (``superoffice_emulator.storage.parsed``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from superoffice_emulator.domain.sessions import hash_password
from superoffice_emulator.settings import default_fixtures
from superoffice_emulator.storage import fixtures as fixtures_module
from superoffice_emulator.storage import parsed
from superoffice_emulator.storage.fixtures import FixtureError, load_fixtures


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fixtures_module._load_cached.cache_clear()  # each load below reads its file
    return tmp_path / "cache" / "superoffice-emulator" / "fixtures"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A copy of the demo fixtures (large enough to be kept)."""
    path = tmp_path / "demo.yaml"
    path.write_text(default_fixtures().read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _reload(path: Path) -> fixtures_module.Fixtures:
    fixtures_module._load_cached.cache_clear()
    return load_fixtures(path)


def _no_yaml(text: object, source: str, *, json_format: bool) -> object:
    raise AssertionError("the YAML was parsed again")


def test_a_large_file_is_parsed_once_and_then_read_as_the_same_fixtures(
    cache: Path, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_fixtures(demo)
    assert [path.suffix for path in cache.iterdir()] == [".json"]
    monkeypatch.setattr(fixtures_module, "_read_document", _no_yaml)
    assert _reload(demo) == first


def test_an_edited_file_is_parsed_again(cache: Path, demo: Path) -> None:
    first = load_fixtures(demo)
    demo.write_text(demo.read_text(encoding="utf-8").replace("Administrator", "Boss", 1), encoding="utf-8")
    second = _reload(demo)
    assert second != first
    assert [role.name for role in second.roles].count("Boss") == 1
    assert len(list(cache.iterdir())) == 2


def test_a_file_with_plain_passwords_is_not_kept(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain password is hashed anew (another salt) on every load: its copy is never the same, and
    is not even validated to find out (each hash is deliberately slow)."""
    hashed: list[str] = []

    def counted(plain: str) -> str:
        hashed.append(plain)
        return hash_password(plain)

    monkeypatch.setattr(fixtures_module, "hash_password", counted)
    text = default_fixtures().read_text(encoding="utf-8")
    path = tmp_path / "plain.yaml"
    plain = text.replace("password_hash:", "password:", 1).replace("$argon2", "plain-$argon2", 1)
    path.write_text(plain, encoding="utf-8")
    load_fixtures(path)
    assert not cache.exists() or not list(cache.iterdir())
    assert len(hashed) == 1


def test_a_date_the_copy_would_read_otherwise_is_not_kept(cache: Path, tmp_path: Path) -> None:
    """A YAML date-time keeps its time zone, its ISO text in the copy is read without one: they differ."""
    text = default_fixtures().read_text(encoding="utf-8")
    path = tmp_path / "zoned.yaml"
    zoned = text.replace("registered: '2025-02-02T09:00:00'", "registered: 2025-02-02T09:00:00+02:00", 1)
    assert zoned != text
    path.write_text(zoned, encoding="utf-8")
    load_fixtures(path)
    assert not cache.exists() or not list(cache.iterdir())


def test_a_small_file_is_not_kept(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text("roles: [{role_id: 1, name: Admin, rights: {all: update}}]\n", encoding="utf-8")
    load_fixtures(path)
    assert not cache.exists()


def test_a_damaged_copy_is_ignored_and_the_file_parsed(cache: Path, demo: Path) -> None:
    first = load_fixtures(demo)
    (kept,) = cache.iterdir()
    kept.write_text('{"roles": "not a list"', encoding="utf-8")
    assert _reload(demo) == first
    kept.write_text('{"roles": "not a list"}', encoding="utf-8")  # valid JSON, invalid fixtures
    assert _reload(demo) == first
    kept.write_text("[" * 100_000, encoding="utf-8")  # deeper than the JSON parser recurses
    assert _reload(demo) == first


def test_an_invalid_file_is_reported_from_the_file_and_not_kept(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(default_fixtures().read_text(encoding="utf-8") + "\nusers: 42\n", encoding="utf-8")
    with pytest.raises(FixtureError) as raised:
        load_fixtures(path)
    assert raised.value.source == str(path)
    assert not cache.exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into a read-only folder"
)
def test_an_unwritable_cache_folder_only_means_parsing_every_time(cache: Path, demo: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.parent.chmod(0o500)
    try:
        first = load_fixtures(demo)
        assert _reload(demo) == first
        assert not cache.exists()
    finally:
        cache.parent.chmod(0o700)


def test_a_copy_others_may_write_is_not_read(
    cache: Path, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_fixtures(demo)
    (kept,) = cache.iterdir()
    kept.chmod(0o666)
    monkeypatch.setattr(fixtures_module, "_read_document", _no_yaml)
    with pytest.raises(AssertionError, match="parsed again"):
        _reload(demo)


def test_a_link_in_place_of_a_copy_is_not_followed(
    cache: Path, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_fixtures(demo)
    (kept,) = cache.iterdir()
    elsewhere = tmp_path / "elsewhere.json"
    kept.rename(elsewhere)
    kept.symlink_to(elsewhere)
    monkeypatch.setattr(fixtures_module, "_read_document", _no_yaml)
    with pytest.raises(AssertionError, match="parsed again"):
        _reload(demo)


def test_a_relative_cache_folder_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert parsed.folder() is None


def test_a_cache_folder_that_is_a_file_only_means_parsing_every_time(cache: Path, demo: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("not a folder", encoding="utf-8")
    first = load_fixtures(demo)
    assert _reload(demo) == first
    assert parsed.read(demo.read_text(encoding="utf-8")) is None
