"""``sangraha buckets``, run through main() with a fake bucket API."""

from __future__ import annotations

import io
import json

import pytest

from sangraha_client import cli
from tests.client.fake_buckets import BucketAPI


class Run:
    def __init__(self, api: BucketAPI) -> None:
        self.api = api

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(
            ["--url", "http://x.test", *argv],
            transport=self.api.transport(),
            stdout=out,
            stderr=err,
        )
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def api() -> BucketAPI:
    return BucketAPI()


@pytest.fixture
def run(api: BucketAPI, monkeypatch: pytest.MonkeyPatch) -> Run:
    for name in ("SANGRAHA_KEY", "SANGRAHA_API_KEY", "SANGRAHA_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    return Run(api)


def test_ls_prints_a_table(run: Run, api: BucketAPI) -> None:
    api.add("photos", "any", objects=12, size=3 * 1024 * 1024 + 512 * 1024)
    api.add("docs", objects=1, size=10)
    code, out, err = run("buckets", "ls")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "POLICY", "OBJECTS", "SIZE", "CREATED", "(UTC)"]
    assert lines[1].split() == ["docs", "validated", "1", "10", "B", "2026-01-02", "03:04:05"]
    assert lines[2].split() == ["photos", "any", "12", "3.5", "MiB", "2026-01-02", "03:04:05"]
    code, out, _ = run("buckets", "ls", "--json")
    assert code == 0
    assert [b["name"] for b in json.loads(out)] == ["docs", "photos"]


def test_create_show_set_and_rm(run: Run, api: BucketAPI) -> None:
    code, out, _ = run("buckets", "create", "uploads", "--kinds", "any")
    assert code == 0
    assert "policy:     any" in out and "name:       uploads" in out
    assert api.requests[-1].headers["if-none-match"] == "*"
    code, out, _ = run("buckets", "show", "uploads", "--json")
    assert code == 0 and json.loads(out)["kinds"] == "any"
    code, out, _ = run("buckets", "set", "uploads", "validated")
    assert code == 0 and "policy:     validated" in out
    assert api.buckets["uploads"]["kinds"] == "validated"
    code, _, err = run("buckets", "rm", "uploads")
    assert code == 0 and "deleted bucket uploads" in err
    assert api.buckets == {}


def test_errors_have_their_exit_codes(run: Run, api: BucketAPI) -> None:
    api.add("full")
    api.full.add("full")
    code, _, err = run("buckets", "rm", "full")
    assert code == cli.EXIT_ERROR and "still holds objects" in err
    code, _, err = run("buckets", "show", "absent")
    assert code == cli.EXIT_NOT_FOUND and "absent" in err
    code, _, err = run("buckets", "create", "full")
    assert code == cli.EXIT_ERROR and "already exists" in err
    code, _, err = run("buckets", "set", "full", "everything")
    assert code == cli.EXIT_USAGE and "invalid choice" in err
    assert len(api.requests) == 3
