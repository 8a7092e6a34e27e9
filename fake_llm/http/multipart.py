"""Multipart form bodies (the audio uploads), parsed with Starlette's form parser into the mapping a dialect
parses: the form fields (`name[]` fields as lists) and each upload described, never its bytes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from fake_llm.core.media import wav_seconds
from fake_llm.errors import ProviderRequestError


async def _once(raw: bytes) -> AsyncGenerator[bytes, None]:
    yield raw


async def read_multipart(raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The form of `raw` (already read within the server's max_body_bytes). An upload becomes `{filename,
    content_type, bytes}`, plus `seconds` when it is a WAV file. A body that is not a multipart form is a 400
    naming the `file` field, as OpenAI answers."""
    if not headers.get("content-type", "").startswith("multipart/form-data"):
        raise ProviderRequestError(
            "Invalid Content-Type header: the audio endpoints take multipart/form-data with a 'file' part.",
            param="file",
        )
    parser = MultiPartParser(Headers(headers), _once(raw), max_files=1, max_fields=100)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ProviderRequestError(f"Could not parse multipart form: {exc.message}", param="file") from exc
    body: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            upload: dict[str, Any] = {"filename": value.filename or "", "content_type": value.content_type}
            upload["bytes"] = len(data)
            seconds = wav_seconds(data)
            if seconds is not None:
                upload["seconds"] = round(seconds, 3)
            body[key] = upload
        elif key.endswith("[]"):
            body.setdefault(key[:-2], []).append(value)
        else:
            body[key] = value
    await form.close()
    return body
