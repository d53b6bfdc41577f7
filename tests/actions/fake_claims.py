"""A stand-in for the backend's claim endpoints (docs/contracts.md, issue 17) and for the
Graph API's media download, so the claim actions are tested without the real backend.

It keeps claims in memory and judges them by a script, not by rules: an invoice number
listed in ``approve`` is approved with two rule lines, one in ``other_partner`` is
rejected with a reason, anything else waits for review. Duplicates (same normalised
invoice number, same photo) get 409 like the real backend; a replayed idempotency key
gets the first answer back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from actions import backend_client
from tests.actions.fake_backend import Answer, FakeBackend, Seen, fake_backend
from tests.support.demo import FIXTURES
from tests.support.processes import SERVICE_TOKEN

GRAPH_TOKEN = "test-graph-token"
PHOTO_BYTES = b"\xff\xd8\xff\xe0 a photo of an invoice"

CATALOGUE = [
    ("KSGA-24", "Kopi Susu Gula Aren 24 x 200 ml", "karton", ("kopi susu", "kopsus", "gula aren")),
    ("KHT-24", "Kopi Hitam Tubruk 24 x 200 ml", "karton", ("kopi hitam", "tubruk")),
    ("TML-48", "Teh Melati 48 x 250 ml", "karton", ("teh melati", "teh")),
    ("SCK-12", "Susu Cokelat 12 x 1 L", "karton", ("susu coklat", "coklat")),
    ("KSLS-24", "Kopi Susu Less Sugar 24 x 200 ml", "karton", ("less sugar", "kopsus less")),
    ("BKL-20", "Biskuit Kelapa 20 x 150 g", "dus", ("biskuit", "biskuit kelapa")),
    ("K3S-50", "Kopi 3in1 Sachet 50 x 20 g", "bal", ("sachet", "3in1", "kopi sachet")),
    ("AMN-24", "Air Mineral 24 x 600 ml", "karton", ("air mineral", "amdk")),
]
# Names the fake calls ambiguous (the real backend decides by score).
AMBIGUOUS = {"kopi": ["KSGA-24", "KHT-24", "KSLS-24", "K3S-50"], "susu": ["KSGA-24", "SCK-12"]}

OCR_INVOICE = {
    "image_id": "img-invoice-1",
    "invoice_no": "INV/DN/2611/00123",
    "invoice_date": "2026-11-26",
    "customer_code": "CUST-0001",
    "seller": "PT Distribusi Nusantara",
    "lines": [
        {"sku": "KSGA-24", "quantity": 10, "text": "KOPI SUSU GA 24X200ML", "confidence": 0.93},
        {"sku": "TML-48", "quantity": 5, "text": "TEH MELATI 48X250", "confidence": 0.9},
    ],
    "seconds": 1.2,
}
OCR_NOTHING = {
    "image_id": "img-shelf-1", "invoice_no": None, "invoice_date": None,
    "customer_code": None, "seller": None, "lines": [], "seconds": 0.8,
}


def normalise(invoice_no: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", invoice_no.upper())


@dataclass
class ClaimsApi:
    """The fake's state; tests change ``ocr``, ``approve``, ``down`` … between turns."""

    ocr: dict[str, Any] | int = field(default_factory=lambda: dict(OCR_INVOICE))
    approve: set[str] = field(default_factory=lambda: {normalise("INV/DN/2611/00123")})
    other_partner: set[str] = field(default_factory=lambda: {normalise("INV/DN/2611/00999")})
    down: bool = False  # every backend call answers 503
    graph_down: bool = False
    claims: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    uploads: int = 0
    url: str = ""

    def respond(self, seen: Seen) -> Answer:
        parts = urlsplit(seen.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        if path.startswith("/v21.0/") or path.startswith("/media/"):
            return self.graph(seen, path)
        if self.down:
            return 503, {"detail": "down"}
        if seen.authorization != f"Bearer {SERVICE_TOKEN}":
            return 401, {"detail": "Not authenticated"}
        if path == "/api/v1/catalogue/products":
            return 200, {"items": [
                {"sku": sku, "name": name, "unit": unit, "points_per_unit": 10,
                 "is_new": sku == "KSLS-24", "synonyms": list(synonyms)}
                for sku, name, unit, synonyms in CATALOGUE
            ]}
        if path == "/api/v1/catalogue/match":
            return 200, self.match(query.get("q", [""])[0])
        if path == "/api/v1/ocr/invoice":
            if isinstance(self.ocr, int):
                return self.ocr, {"detail": "cannot read this file"}
            return 200, self.ocr
        if path == "/api/v1/claim-images":
            self.uploads += 1
            return 201, {"image_id": f"img-display-{self.uploads}"}
        match = re.fullmatch(r"/api/v1/partners/by-wa/([^/]+)(/claims)?", path)
        if not match:
            return 404, {"detail": "Not Found"}
        wa_id = match[1]
        if wa_id not in FIXTURES:
            return 404, {"detail": "partner not found"}
        if not match[2]:
            return 200, {"wa_id": wa_id, "name": "Budi Santoso", "language": "id",
                         "status": "active"}
        if seen.method == "GET":
            limit = int(query.get("limit", ["5"])[0])
            mine = [c for c in reversed(self.claims) if c["_wa_id"] == wa_id][:limit]
            return 200, {"items": [_public(c) for c in mine]}
        return self.submit(wa_id, seen.json())

    def graph(self, seen: Seen, path: str) -> Answer:
        if seen.authorization != f"Bearer {GRAPH_TOKEN}":
            return 401, {"error": {"code": 190, "message": "Invalid OAuth access token"}}
        if self.graph_down:
            return 500, {"error": {"code": 131016, "message": "Service unavailable"}}
        if path.startswith("/media/"):
            return 200, PHOTO_BYTES
        media_id = path.rsplit("/", 1)[-1]
        return 200, {"url": f"{self.url}/media/{media_id}", "mime_type": "image/jpeg",
                     "file_size": len(PHOTO_BYTES), "id": media_id}

    def match(self, q: str) -> dict[str, Any]:
        text = q.strip().lower()
        if text in AMBIGUOUS:
            return {"items": [{"sku": sku, "name": _name(sku), "score": 70.0}
                              for sku in AMBIGUOUS[text]], "ambiguous": True}
        for sku, name, _, synonyms in CATALOGUE:
            if text == sku.lower() or text == name.lower() or text in synonyms:
                return {"items": [{"sku": sku, "name": name, "score": 95.0}], "ambiguous": False}
        return {"items": [], "ambiguous": False}

    def submit(self, wa_id: str, body: dict[str, Any]) -> Answer:
        self.submitted.append(body)
        key = body["idempotency_key"]
        if key in self.by_key:
            return 200, _public(self.by_key[key])
        if body["kind"] == "sales":
            if not body.get("invoice_no") or not body.get("lines"):
                return 422, {"detail": "a sales claim needs an invoice number and lines"}
            invoice = normalise(body["invoice_no"])
            for claim in self.claims:
                if claim["invoice_no"] and normalise(claim["invoice_no"]) == invoice:
                    return 409, {"detail": "invoice already claimed",
                                 "code": "duplicate_invoice", "claim_no": claim["claim_no"]}
        for claim in self.claims:
            if body.get("image_id") and claim["_image_id"] == body["image_id"]:
                return 409, {"detail": "photo already used", "code": "duplicate_photo",
                             "claim_no": claim["claim_no"]}
        claim = self.judge(wa_id, body)
        self.claims.append(claim)
        self.by_key[key] = claim
        return 201, _public(claim)

    def judge(self, wa_id: str, body: dict[str, Any]) -> dict[str, Any]:
        invoice = normalise(body.get("invoice_no") or "")
        claim = {
            "_wa_id": wa_id, "_image_id": body.get("image_id"),
            "claim_no": f"KLM-{len(self.claims) + 1:06d}", "kind": body["kind"],
            "status": "pending_review", "invoice_no": body.get("invoice_no"),
            "invoice_date": body.get("invoice_date"), "points": 0,
            "lines": [{"sku": ln["sku"], "name": _name(ln["sku"]), "quantity": ln["quantity"],
                       "unit": "karton"} for ln in body.get("lines") or []],
            "rules": [], "reasons": [],
            "review_eta": {"id": "Jawaban dalam 2 hari kerja",
                           "en": "An answer within 2 working days"},
            "created_at": "2026-11-26T03:00:00+00:00",
        }
        if body["kind"] == "display":
            claim["reasons"] = [{"code": "display_review", "description": {
                "id": "Foto display selalu diperiksa tim kami",
                "en": "Display photos are always checked by our team"}}]
        elif invoice in self.approve:
            claim.update(status="approved", points=625, review_eta=None, rules=[
                {"rule": "base", "points": 500, "description": {
                    "id": "10 krt Kopi Susu Gula Aren × 50 = 500",
                    "en": "10 ctn Kopi Susu Gula Aren × 50 = 500"}},
                {"rule": "tier", "points": 125, "description": {
                    "id": "Gold ×1,25", "en": "Gold ×1.25"}},
            ])
        elif invoice in self.other_partner:
            claim.update(status="rejected", review_eta=None, reasons=[{
                "code": "other_customer", "description": {
                    "id": "Faktur ini atas nama toko lain, bukan toko Anda",
                    "en": "This invoice was issued to another shop, not yours"}}])
        else:
            claim["reasons"] = [{"code": "no_erp_record", "description": {
                "id": "Data penjualan faktur ini belum masuk dari distributor",
                "en": "The distributor has not sent the sales data for this invoice yet"}}]
        return claim

    def decide(self, claim_no: str, status: str, points: int = 0) -> None:
        """What an admin's decision does (the partner sees it at the next status check)."""
        for claim in self.claims:
            if claim["claim_no"] == claim_no:
                claim.update(status=status, points=points, review_eta=None)


def _name(sku: str) -> str:
    return next(name for s, name, _, _ in CATALOGUE if s == sku)


def _public(claim: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claim.items() if not k.startswith("_")}


@contextmanager
def claims_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ClaimsApi, FakeBackend]]:
    """The fake claims API and Graph API on one port; the actions' client points at it."""
    api = ClaimsApi()
    with fake_backend(api.respond) as server:
        api.url = server.url
        monkeypatch.setenv("BACKEND_URL", server.url)
        monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
        monkeypatch.setenv("WHATSAPP_API_BASE_URL", server.url)
        monkeypatch.setenv("WHATSAPP_API_VERSION", "v21.0")
        monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", GRAPH_TOKEN)
        backend_client.reset_client()
        try:
            yield api, server
        finally:
            backend_client.reset_client()
