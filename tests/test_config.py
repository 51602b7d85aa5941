"""Settings: the defaults the README promises are the ones the code uses."""

from __future__ import annotations

from pathlib import Path

from smartmail.config import SETTINGS, load_settings


def test_the_embedded_default_keeps_its_database_as_smartmail_db_in_the_data_dir(
    tmp_path: Path,
) -> None:
    settings = load_settings({"SMARTMAIL_DATA_DIR": str(tmp_path / "data")}, env_file=None)
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'smartmail.db'}"
    assert SETTINGS["SMARTMAIL_DATABASE_URL"][0] == "sqlite:///<data dir>/smartmail.db"
