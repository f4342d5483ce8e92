"""Settings: defaults, TOML file, environment, overrides — in that order of strength."""

from __future__ import annotations

from pathlib import Path

import pytest

from coprd.config import URL_FILE, ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COPRD_DATA_DIR", "COPRD_DATABASE_URL", "COPRD_URL", "COPRD_CONFIG", "COPRD_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_embedded_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path})
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'coprd.sqlite'}"
    assert settings.public_url == "http://127.0.0.1:8080"


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "coprd.toml").write_text('[coprd]\nport = 9000\nurl = "https://toml"\n')
    monkeypatch.setenv("COPRD_URL", "https://env")
    settings = load_settings({"data_dir": tmp_path})
    assert settings.port == 9000
    assert settings.public_url == "https://env"
    assert load_settings({"data_dir": tmp_path, "url": "https://flag"}).public_url == (
        "https://flag"
    )


def test_recorded_url_of_the_last_serve(tmp_path: Path) -> None:
    (tmp_path / URL_FILE).write_text("http://127.0.0.1:18080\n")
    assert load_settings({"data_dir": tmp_path}).public_url == "http://127.0.0.1:18080"


@pytest.mark.parametrize(
    "toml", ['[coprd]\nport = "many"\n', "[coprd]\nnope = 1\n", "not toml = = ="]
)
def test_bad_settings_are_refused(tmp_path: Path, toml: str) -> None:
    (tmp_path / "coprd.toml").write_text(toml)
    with pytest.raises(ConfigError):
        load_settings({"data_dir": tmp_path})


@pytest.mark.parametrize(
    "toml", ["port = true", "port = 80.9", 'port = "8_080"', 'port = "\u0668\u0660"', "port = -1"]
)
def test_a_number_is_a_whole_number_in_ascii_digits(tmp_path: Path, toml: str) -> None:
    """int() alone reads True as 1, 80.9 as 80 and Arabic-Indic digits as ASCII ones."""
    (tmp_path / "coprd.toml").write_text(f"[coprd]\n{toml}\n")
    with pytest.raises(ConfigError, match="setting 'port' has an invalid value"):
        load_settings({"data_dir": tmp_path})


def test_a_number_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPRD_PORT", " 9001 ")
    assert load_settings({"data_dir": tmp_path}).port == 9001


def test_missing_explicit_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPRD_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError):
        load_settings({"data_dir": tmp_path})


def test_what_a_build_may_leave_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings({"data_dir": tmp_path})
    assert (defaults.max_log_bytes, defaults.log_tail_bytes) == (64 * 1024**2, 1024**2)
    assert (defaults.max_result_files, defaults.max_result_bytes) == (2000, 20 * 1024**3)
    monkeypatch.setenv("COPRD_MAX_RESULT_FILES", "8000")
    monkeypatch.setenv("COPRD_MAX_LOG_BYTES", "1000")
    settings = load_settings({"data_dir": tmp_path})
    assert (settings.max_result_files, settings.max_log_bytes) == (8000, 1000)
    # A finish names at most 10,000 packages: a higher limit could never be reported.
    monkeypatch.setenv("COPRD_MAX_RESULT_FILES", "10001")
    with pytest.raises(ConfigError, match="max_result_files"):
        load_settings({"data_dir": tmp_path})


def test_prune_days_is_a_positive_number_of_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = {"data_dir": str(tmp_path)}
    assert load_settings(here).prune_days == 14
    monkeypatch.setenv("COPRD_PRUNE_DAYS", "30")
    assert load_settings(here).prune_days == 30
    monkeypatch.setenv("COPRD_PRUNE_DAYS", "0")
    with pytest.raises(ConfigError, match="prune_days"):
        load_settings(here)
