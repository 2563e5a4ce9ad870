"""How the SDK reads when used; ``mypy --strict`` must accept this file as it is."""

from __future__ import annotations

import asyncio
import pathlib

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


async def async_usage() -> list[str]:
    async with AsyncClient() as client:
        record = await client.put_object("docs", "b.json", b"[]", wait=5.0)
        page = await client.list_objects("docs", status="ready")
        keys = [r.key async for r in page]
        return [record.digest.hex, *keys]


if __name__ == "__main__":
    print(asyncio.run(async_usage()))
