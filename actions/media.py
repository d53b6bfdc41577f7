"""Download a photo or document a partner sent, from the WhatsApp Graph API (or the sandbox).

Two calls, as Meta documents them: ``GET {base}/{version}/{media_id}`` with the access
token → ``{"url", "mime_type", …}``, then ``GET url`` with the same token → the bytes.
Synchronous (``requests``): actions call it from a worker thread (:mod:`actions.offload`),
never on rasa-sdk's event loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

import requests
import structlog

from mitra_config.graph_api import GRAPH_API_BASE_URL, GRAPH_API_VERSION
from mitra_config.secrets import require_secret

logger = structlog.get_logger(__name__)

TIMEOUT = (3.0, 20.0)  # (connect, read) seconds
# The backend takes invoice files up to 10 MB; larger ones are not worth downloading.
MAX_BYTES = 10 * 1024 * 1024


class MediaUnavailable(Exception):
    """The media could not be downloaded (expired id, Graph API down, too big)."""


@dataclass(frozen=True)
class DownloadedMedia:
    data: bytes
    mime_type: str


def _session() -> requests.Session:
    global _shared
    if _shared is None:
        _shared = requests.Session()
    return _shared


_shared: requests.Session | None = None


def download_media(media_id: str) -> DownloadedMedia:
    """The bytes and MIME type of ``media_id``; raises :class:`MediaUnavailable`."""
    base = os.environ.get("WHATSAPP_API_BASE_URL", "").strip() or GRAPH_API_BASE_URL
    version = (os.environ.get("WHATSAPP_API_VERSION", "").strip() or GRAPH_API_VERSION).strip("/")
    headers = {"Authorization": f"Bearer {require_secret('WHATSAPP_ACCESS_TOKEN')}"}
    session = _session()
    try:
        info = session.get(
            f"{base.rstrip('/')}/{version}/{quote(media_id, safe='')}",
            headers=headers, timeout=TIMEOUT,
        )
        if info.status_code != 200:
            raise MediaUnavailable(f"media info: HTTP {info.status_code}")
        meta = info.json()
        url = meta.get("url") if isinstance(meta, dict) else None
        if not isinstance(url, str) or not url:
            raise MediaUnavailable("media info without url")
        declared = meta.get("file_size")
        if isinstance(declared, int) and declared > MAX_BYTES:
            raise MediaUnavailable(f"media too big ({declared} bytes)")
        content = session.get(url, headers=headers, timeout=TIMEOUT)
        if content.status_code != 200:
            raise MediaUnavailable(f"media download: HTTP {content.status_code}")
    except (requests.RequestException, ValueError) as exc:
        logger.error("media.unreachable", error=type(exc).__name__)
        raise MediaUnavailable(str(exc)) from exc
    if len(content.content) > MAX_BYTES:
        raise MediaUnavailable(f"media too big ({len(content.content)} bytes)")
    mime = (
        meta.get("mime_type")
        or content.headers.get("Content-Type")
        or "application/octet-stream"
    )
    return DownloadedMedia(data=content.content, mime_type=str(mime).split(";")[0].strip())
