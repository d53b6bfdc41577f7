"""Media objects the sandbox stores and serves, and small generated files.

Generated images differ from one another (random colour blocks, not a flat colour) so
that the backend's duplicate-photo checks (content hash, perceptual hash) see distinct
photos unless a test asks for the same ``seed`` on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Meta's limits per upload kind (bytes) and the MIME types it accepts.
MAX_BYTES = {
    "image": 5 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "sticker": 500 * 1024,
    "document": 100 * 1024 * 1024,
}
SUPPORTED_MIME = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "sticker",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",
    "video/mp4": "video",
    "video/3gpp": "video",
    "text/plain": "document",
    "application/pdf": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "video/mp4": "mp4",
    "application/pdf": "pdf",
    "text/plain": "txt",
}


def media_kind(mime_type: str) -> str | None:
    """image/audio/video/sticker/document for a MIME type Meta accepts, else None."""
    return SUPPORTED_MIME.get(mime_type.split(";", 1)[0].strip().lower())


@dataclass(slots=True)
class Media:
    id: str
    data: bytes
    mime_type: str
    filename: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    sha256_hex: str = ""
    sha256_b64: str = ""
    download_key: str = ""

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.data).digest()
        self.sha256_hex = digest.hex()
        self.sha256_b64 = base64.b64encode(digest).decode()
        # Meta's download URLs carry an opaque hash; ours is derived from id and content.
        self.download_key = hashlib.sha256(self.id.encode() + digest).hexdigest()[:32]

    @property
    def file_size(self) -> int:
        return len(self.data)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def generate_png(seed: int | None = None, size: int = 96, grid: int = 8) -> bytes:
    """A valid RGB PNG of ``grid`` × ``grid`` random colour blocks (deterministic per seed)."""
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    colours = [
        [bytes(rng.randrange(256) for _ in range(3)) for _ in range(grid)] for _ in range(grid)
    ]
    block = size // grid
    rows = []
    for y in range(size):
        cells = colours[min(y // block, grid - 1)]
        row = b"".join(cells[min(x // block, grid - 1)] for x in range(size))
        rows.append(b"\x00" + row)  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def generate_pdf(text: str = "Sandbox document") -> bytes:
    """A one-page PDF with a line of text (valid xref, opens in any viewer)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 14 Tf 40 780 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# A 1×1 lossless WebP, the smallest valid sticker.
_WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")


def generate(kind: str, seed: int | None = None) -> tuple[bytes, str, str]:
    """(bytes, mime_type, filename) of a small placeholder file of the given kind.

    Audio and video are placeholder bytes with the right magic number, not playable
    media: the bot only stores and forwards them.
    """
    salt = random.Random(seed).randbytes(16) if seed is not None else random.randbytes(16)
    if kind == "image":
        return generate_png(seed), "image/png", "photo.png"
    if kind == "document":
        return (
            generate_pdf(f"Sandbox invoice {salt.hex()[:8].upper()}"),
            "application/pdf",
            "invoice.pdf",
        )
    if kind == "sticker":
        return _WEBP, "image/webp", "sticker.webp"
    if kind == "audio":
        return b"OggS\x00\x02" + salt, "audio/ogg; codecs=opus", "voice.ogg"
    if kind == "video":
        return b"\x00\x00\x00\x18ftypmp42" + salt, "video/mp4", "video.mp4"
    raise ValueError(f"cannot generate media of kind {kind!r}")
