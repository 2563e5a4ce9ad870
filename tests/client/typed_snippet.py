"""How the SDK reads when used; ``mypy --strict`` must accept this file as it is."""

from __future__ import annotations

import asyncio
import pathlib
from datetime import timedelta

import sangraha_client
from sangraha_client import AsyncClient, Client, ObjectRecord, SyncPage


def sync_usage(path: pathlib.Path) -> list[str]:
    with Client(base_url="http://127.0.0.1:8000", max_retries=3) as client:
        record: ObjectRecord = client.put_object("docs", "a.json", b'{"a": 1}', metadata={"k": "v"})
        ready = client.with_options(timeout=5.0).wait_until_ready("docs", record.key, timeout=10)
        size: int = ready.size
        data: bytes = client.get_object("docs", "a.json")
        with client.stream_object("docs", "a.json") as stream:
            chunks = [chunk for chunk in stream]
        client.upload_file("docs", "big.pdf", path, concurrency=2, progress=lambda d, t: None)
        page: SyncPage[ObjectRecord] = client.list_objects(
            "docs", prefix="a", kind="json", limit=10
        )
        try:
            client.delete_object("docs", "a.json")
        except sangraha_client.NotFoundError as exc:
            status: int = exc.status_code
            assert status == 404
        return [r.key for r in page] + [str(size), str(len(data)), str(len(chunks))]


def transfers(path: pathlib.Path) -> dict[str, str]:
    with Client(base_url="http://getter:8001", write_url="http://receiver:8002") as client:
        big: ObjectRecord = client.upload_file(
            "docs",
            "big.json",
            path,
            content_type="application/json",
            metadata={"title": "Grüße 文件"},
            threshold=5 * 1024 * 1024,
            part_size=5 * 1024 * 1024,
            concurrency=4,
            wait=60.0,
        )
        saved: pathlib.Path = client.download_file(
            "docs", "big.json", path.with_suffix(".copy"), resume=True, progress=None
        )
        head: sangraha_client.ObjectHead = client.head_object("docs", "big.json")
        title: str = head.metadata["title"]
        again: ObjectRecord = client.get_record_by_id(big.id)
        blob: bytes = client.get_blob(str(again.digest))
        session: sangraha_client.UploadSession = client.create_upload(
            "docs", "parts.json", content_type="application/json", size=2, metadata={"k": "v"}
        )
        part: sangraha_client.PartRecord = client.upload_part(session.id, 1, b"[]")
        held = [p.number for p in client.get_upload(session.id).parts]
        done: ObjectRecord = client.complete_upload(session.id)
        client.abort_upload(
            client.create_upload("docs", "x.json", content_type="application/json").id
        )
        tagged = client.list_objects("docs", metadata={"title": title}, status="ready")
        try:
            client.wait_until_ready("docs", "bad.json", timeout=5)
        except sangraha_client.ProcessingFailedError as exc:
            reason: str | None = exc.record.error
            assert reason
        except (sangraha_client.PendingError, sangraha_client.ChecksumMismatchError):
            pass
        return {
            "saved": str(saved),
            "blob": str(len(blob)),
            "part": str(part.size),
            "held": str(held),
            "done": done.id,
            "tagged": ",".join(r.key for r in tagged),
        }


async def async_usage() -> list[str]:
    async with AsyncClient() as client:
        record = await client.put_object("docs", "b.json", b"[]", wait=5.0)
        page = await client.list_objects("docs", status="ready")
        keys = [r.key async for r in page]
        walked: list[ObjectRecord] = [r async for r in client.list_objects("docs", prefix="b")]
        keys += [r.key for r in walked]
        head = await client.head_object("docs", "b.json")
        async with client.stream_object("docs", "b.json") as stream:
            body = b"".join([chunk async for chunk in stream])
        return [record.digest.hex, *keys, *head.metadata.values(), body.decode()]


def keys() -> list[str]:
    with Client(api_key="SK....secret") as admin:
        grant = sangraha_client.Grant(
            buckets="docs", actions=frozenset({sangraha_client.Action.WRITE})
        )
        new: sangraha_client.NewKeyView = admin.create_key(
            ["photos-*:read,list", grant], name="gallery", expires_in=timedelta(days=30)
        )
        listed: list[sangraha_client.KeyView] = admin.list_keys()
        active = [k.key_id for k in listed if k.status is sangraha_client.KeyStatus.ACTIVE]
        revoked: sangraha_client.KeyView = admin.revoke_key(admin.get_key(new.key_id).key_id)
        rotated: sangraha_client.NewKeyView = admin.rotate_key(new.key_id)
    with Client(api_key=rotated.bearer) as gallery:
        url: str = gallery.presign_get("photos-1", "a.jpg", expires=timedelta(hours=1))
        upload: str = gallery.presign_put("photos-1", "b.jpg", expires=600)
    return [*active, revoked.key_id, url, upload]


async def async_keys() -> str:
    async with AsyncClient(api_key="SK....secret") as admin:
        new = await admin.create_key("docs:read", rate_limit=2.5)
        return new.bearer + admin.presign_get("docs", "a.json", version="v1")


if __name__ == "__main__":
    print(asyncio.run(async_usage()))
