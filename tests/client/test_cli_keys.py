"""``sangraha keys`` and ``sangraha presign``, run through main() with a fake admin API."""

from __future__ import annotations

import io
import json
import pathlib
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from sangraha_client import cli
from sangraha_core import Settings
from sangraha_core.access import KeyAdmin, MasterKey, looks_like_bearer
from sangraha_core.metadata.sql import SqlMetadataStore
from tests.client.fake_keys import BEARER, KEY_ID, SECRET, AdminAPI


class Run:
    def __init__(self, api: AdminAPI) -> None:
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


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANGRAHA_KEY", "SANGRAHA_API_KEY", "SANGRAHA_DATA_DIR", "SANGRAHA_METADATA_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api() -> AdminAPI:
    return AdminAPI()


@pytest.fixture
def run(api: AdminAPI) -> Run:
    return Run(api)


def test_create_prints_the_secret_once_with_a_warning(run: Run, api: AdminAPI) -> None:
    code, out, err = run(
        "keys",
        "create",
        "--grant",
        "photos-*:read,list",
        "--grant",
        "docs:write",
        "--name",
        "uploader",
        "--expires",
        "12h",
        "--rate-limit",
        "2.5",
    )
    assert (code, err) == (0, "")
    assert f"key_id:       {KEY_ID}\n" in out
    assert f"secret:       {SECRET}\n" in out and f"bearer:       {BEARER}\n" in out
    assert "shown this once" in out and f"SANGRAHA_KEY={BEARER}" in out
    body = json.loads(api.requests[0].content)
    assert [g["buckets"] for g in body["grants"]] == ["photos-*", "docs"]
    assert (body["name"], body["rate_limit"]) == ("uploader", 2.5)
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(hours=12)) < timedelta(seconds=5)


@pytest.mark.parametrize("where", ["before", "after"])
def test_create_json_is_the_answer_itself(run: Run, where: str) -> None:
    args = ["keys", "create", "--grant", "docs:read"]
    code, out, err = run(*(["--json", *args] if where == "before" else [*args, "--json"]))
    assert code == 0
    answer = json.loads(out)
    assert (answer["key_id"], answer["secret"], answer["bearer"]) == (KEY_ID, SECRET, BEARER)
    assert "shown this once" in err


def test_list_show_revoke_rotate(run: Run, api: AdminAPI) -> None:
    code, out, _ = run("keys", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith(f"{KEY_ID}  active") and "photos-*:list,read" in lines[0]
    code, out, _ = run("keys", "list", "--json")
    assert [k["key_id"] for k in json.loads(out)] == [KEY_ID, "SKOTHERKEY234567ABCD"]

    code, out, _ = run("keys", "show", KEY_ID)
    assert code == 0 and "status:       active\n" in out and "secret" not in out
    code, out, _ = run("keys", "revoke", KEY_ID, "--json")
    assert json.loads(out)["status"] == "revoked"
    code, out, _ = run("keys", "rotate", KEY_ID)
    assert code == 0 and f"bearer:       {BEARER}" in out and "shown this once" in out
    assert [r.url.path for r in api.requests][-3:] == [
        f"/v1/keys/{KEY_ID}",
        f"/v1/keys/{KEY_ID}/revoke",
        f"/v1/keys/{KEY_ID}/rotate",
    ]


def test_refusals_exit_with_their_codes(run: Run, api: AdminAPI) -> None:
    api.status = 404
    code, _, err = run("keys", "show", "SKNOSUCHKEY")
    assert code == cli.EXIT_NOT_FOUND and err.startswith("sangraha: 404")
    api.status = 403
    code, _, err = run("keys", "create", "--grant", "*:admin")
    assert code == cli.EXIT_ERROR and err.startswith("sangraha: 403")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create"], "--grant"),
        (["keys", "create", "--grant", "docs"], "must look like"),
        (["keys", "create", "--grant", "docs:read", "--expires", "soon"], "90m, 12h or 30d"),
        (["keys", "create", "--grant", "docs:read", "--rate-limit", "0"], "positive"),
        (["keys", "create", "--grant", "docs:read", "--local"], "--data-dir or --metadata-url"),
        (["keys", "show"], "ID"),
        (["presign", "docs"], "BUCKET/KEY"),
        (["--api-key", BEARER, "presign", "docs/a", "--expires", "8d"], "7 days"),
        (["--api-key", BEARER, "presign", "docs/a", "--put", "--version", "v"], "--version"),
        (["presign", "docs/a"], "--api-key or $SANGRAHA_KEY"),
        (["--api-key", "an operator token", "presign", "docs/a"], "bearer token"),
    ],
)
def test_usage_errors_exit_2(run: Run, api: AdminAPI, argv: list[str], message: str) -> None:
    code, _, err = run(*argv)
    assert code == cli.EXIT_USAGE and message in err, err
    assert err.count("\n") == 1 and api.requests == []


def test_presign_prints_a_url_signed_with_the_key(run: Run) -> None:
    code, out, _ = run("--api-key", BEARER, "presign", "docs/dir/a b.json", "--expires", "15m")
    url = out.strip()
    parts = urlsplit(url)
    assert code == 0 and parts.path == "/v1/buckets/docs/objects/dir/a%20b.json"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Credential"][0].startswith(f"{KEY_ID}/")


def test_presign_put_goes_to_the_write_service(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_KEY", BEARER)
    code, out, _ = run("--write-url", "http://w.test", "presign", "docs/a.json", "--put")
    assert code == 0 and out.startswith("http://w.test/v1/buckets/docs/objects/a.json?")
    assert parse_qs(urlsplit(out.strip()).query)["X-Amz-Expires"] == ["3600"]


def test_create_local_makes_a_key_in_a_data_dir(tmp_path: pathlib.Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["keys", "create", "--local", "--data-dir", str(tmp_path), "--json"]
    argv += ["--grant", "*:read,list,write,delete,admin", "--name", "first", "--expires", "30d"]
    assert cli.main(argv, stdout=out, stderr=err) == 0, err.getvalue()
    made = json.loads(out.getvalue())
    assert looks_like_bearer(made["bearer"]) and made["name"] == "first"
    # The key is in the store, sealed under the master key made beside it.
    settings = Settings(data_dir=tmp_path)
    store = SqlMetadataStore.from_url(settings.metadata_url)
    try:
        master = MasterKey.from_file(tmp_path / "master.key")
        stored = store.get_access_key(made["key_id"])
        assert master.open(stored.key_id, stored.sealed_secret) == made["secret"]
        assert stored.expires_at is not None
        assert len(KeyAdmin(store, master).list(stored.principal())) == 1
    finally:
        store.close()


def test_create_local_against_a_store_needs_its_master_key(tmp_path: pathlib.Path) -> None:
    err = io.StringIO()
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    argv = ["keys", "create", "--local", "--metadata-url", url, "--grant", "*:admin"]
    assert cli.main(argv, stdout=io.StringIO(), stderr=err) == cli.EXIT_ERROR
    assert "master key" in err.getvalue() and err.getvalue().count("\n") == 1
    assert not (tmp_path / "elsewhere.db").exists()


def test_create_local_without_the_server_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setitem(sys.modules, "sangraha_server", None)
    err = io.StringIO()
    argv = ["keys", "create", "--local", "--data-dir", str(tmp_path), "--grant", "*:admin"]
    assert cli.main(argv, stderr=err) == cli.EXIT_USAGE
    assert "pip install ./packages/sangraha-* ." in err.getvalue()


def test_master_key_prints_a_new_one() -> None:
    out = io.StringIO()
    assert cli.main(["keys", "master-key"], stdout=out) == 0
    MasterKey.from_text(out.getvalue())
    again = io.StringIO()
    cli.main(["keys", "master-key"], stdout=again)
    assert again.getvalue() != out.getvalue()
