from __future__ import annotations

from pathlib import Path

import pytest

from sangraha_core import (
    ConfigurationError,
    MissingExtraError,
    Settings,
    open_blob_store,
    open_metadata_store,
    open_queue,
)


def test_embedded_defaults_live_under_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.blob_url == (tmp_path / "blobs").resolve().as_uri()
    assert s.metadata_url == f"sqlite:///{tmp_path.resolve() / 'metadata.db'}"
    assert s.queue_url == "memory://"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_QUEUE_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    monkeypatch.setenv("SANGRAHA_MAX_OBJECT_SIZE", "1024")
    s = Settings()
    assert s.queue_url.startswith("amqp://")
    assert s.max_object_size == 1024


def test_bad_setting_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_MAX_OBJECT_SIZE", "-5")
    with pytest.raises(ValueError):
        Settings()


@pytest.mark.parametrize("opener", [open_blob_store, open_metadata_store, open_queue])
def test_unknown_scheme_names_the_known_ones(opener: object) -> None:
    with pytest.raises(ConfigurationError, match="use one of"):
        opener("ftp://nowhere")  # type: ignore[operator]


def test_missing_extra_names_the_install_command() -> None:
    err = MissingExtraError("s3", "s3")
    assert isinstance(err, ImportError)
    assert 'pip install "sangraha-core[s3]"' in str(err)
