"""The fixed demo partners (DESIGN.md, "Demo fixtures") and the stranger."""

from __future__ import annotations

STRANGER_WA_ID = "6289900000000"

DEMO_PARTNERS: tuple[dict, ...] = (
    {
        "wa_id": "6281200000001",
        "name": "Budi Santoso",
        "shop_name": "Toko Sinar Jaya",
        "role": "retailer",
        "region": "DKI Jakarta",
        "tier": "Gold",
        "language": "id",
        "notes": "points expiring within 30 days; an approved and a pending claim",
    },
    {
        "wa_id": "6281200000002",
        "name": "Sarah Wijaya",
        "shop_name": "CV Maju Bersama",
        "role": "wholesaler",
        "region": "Jawa Timur",
        "tier": "Silver",
        "language": "en",
        "notes": "enough points for the cheapest voucher, not the dearest reward",
    },
    {
        "wa_id": "6281200000003",
        "name": "Andi Pratama",
        "shop_name": "PT Distribusi Nusantara",
        "role": "distributor",
        "region": "Sumatera Utara",
        "tier": "Platinum",
        "language": "id",
        "notes": "parent of several retailers in the seed",
    },
    {
        "wa_id": "6281200000004",
        "name": "Rina Lestari",
        "shop_name": None,
        "role": "field_seller",
        "region": "Sulawesi Selatan",
        "tier": "Silver",
        "language": "id",
        "notes": "new: zero points, no history",
    },
    {
        "wa_id": "6281200000005",
        "name": "Joko Susilo",
        "shop_name": "Warung Berkah",
        "role": "retailer",
        "region": "Jawa Tengah",
        "tier": "Silver",
        "language": "id",
        "notes": "has opted out of proactive messages",
    },
)

STRANGER: dict = {
    "wa_id": STRANGER_WA_ID,
    "name": "Hendra Gunawan",
    "shop_name": None,
    "role": None,
    "region": None,
    "tier": None,
    "language": "id",
    "notes": "stranger: not a partner, has not joined",
}

_BY_ID = {p["wa_id"]: p for p in (*DEMO_PARTNERS, STRANGER)}


def profile_name(wa_id: str) -> str:
    """The WhatsApp profile name a simulated sender shows when the caller gives none."""
    known = _BY_ID.get(wa_id)
    return known["name"] if known else "Sandbox User"


def partner_list(seen_ids: list[str]) -> list[dict]:
    """Fixtures first (in order), then the stranger, then any other id seen in traffic."""
    items = [{**p, "is_partner": True} for p in DEMO_PARTNERS]
    items.append({**STRANGER, "is_partner": False})
    for wa_id in seen_ids:
        if wa_id not in _BY_ID:
            items.append(
                {
                    "wa_id": wa_id,
                    "name": None,
                    "shop_name": None,
                    "role": None,
                    "region": None,
                    "tier": None,
                    "language": None,
                    "notes": "seen in sandbox traffic",
                    "is_partner": None,
                }
            )
    return items
