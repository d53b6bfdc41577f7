"""Deterministic demo seed: ``python -m app.initial_data [--reset] [--no-demo | --demo]``.

- Brings the schema to the latest migration, then adds the default tiers if missing.
- Adds the demo partners and their ledger history unless they are already there, so
  running it twice changes nothing. ``--reset`` drops every table and starts over.
- Demo partners are for development and test only. With ``APP_ENV=production`` the
  script refuses (exit status 2, nothing touched) to seed them, or to ``--reset``, unless
  asked explicitly with ``--demo`` or ``SEED_DEMO=1``; ``--no-demo`` (migrate + default
  tiers, the reference data production needs) is always allowed.
- Amounts come from a fixed random seed and dates are offsets from the start of the
  seed's WIB day, so balances, tiers and expiring points are the same on every run,
  whatever the time of day (lots expire at the end of a WIB day; see app/demo_fixtures.py
  for the five fixtures everything else relies on).
- Outside production, the support console's demo logins (``DEMO_AGENT_EMAIL`` /
  ``DEMO_AGENT_PASSWORD``, ``DEMO_ADMIN_EMAIL`` / ``DEMO_ADMIN_PASSWORD``, generated into
  ``.env`` by ``make run``) are created or updated, whenever both values of a pair are
  set; a password is re-hashed only when it changed.
- History is written through the ledger service, in time order, with expiry applied
  when each lot falls due, exactly as production would have written it. Its
  idempotency keys are in the seed's reserved namespace (``seed:``).
"""

import argparse
import logging
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.commands import import_erp_sales, load_content, load_questionnaires
from app.core.clock import utcnow, wib_date, wib_start_of_day
from app.core.config import AppEnv, Settings, settings
from app.core.db import get_engine, get_session_factory, write_transaction
from app.core.logging import configure_logging
from app.core.migrations import downgrade_base, upgrade_head
from app.demo_fixtures import ANDI, BUDI, FIXTURES, JOKO, RINA, SARAH
from app.models import (
    Claim,
    ClaimLine,
    ConsentRecord,
    Partner,
    PointsAccount,
    PointsLot,
    Reward,
    VoucherCode,
)
from app.models.claim import ClaimKind, ClaimStatus
from app.models.console_user import ConsoleRole
from app.models.enums import Language, PartnerRole
from app.services import (
    claims,
    console_auth,
    earn_rules,
    erp,
    ledger,
    partners,
    tiers,
    vouchers,
)
from app.services.ledger import KeyNamespace

log = logging.getLogger("app.initial_data")

RANDOM_SEED = 20240611
SEED_ACTOR = "seed"
# Lots in the seed always use the default one-year expiry, whatever EXPIRY_DAYS says,
# so the seeded balances do not depend on configuration.
SEED_EXPIRY_DAYS = 365

REGIONS = (
    "DKI Jakarta",
    "Jawa Barat",
    "Jawa Tengah",
    "Jawa Timur",
    "Banten",
    "DI Yogyakarta",
    "Sumatera Utara",
    "Sumatera Selatan",
    "Sulawesi Selatan",
    "Bali",
    "Kalimantan Timur",
)
FIRST_NAMES = (
    "Ahmad", "Siti", "Dedi", "Wahyu", "Ratna", "Bambang", "Fitri", "Eko", "Nur", "Rudi",
    "Indah", "Agung", "Yuliana", "Hadi", "Mega", "Fajar", "Lina", "Teguh", "Putri", "Arif",
    "Sri", "Dimas", "Ayu", "Rizky", "Wulan", "Iwan", "Novi", "Slamet", "Dian", "Hendro",
)  # fmt: skip
LAST_NAMES = (
    "Saputra", "Rahmawati", "Hidayat", "Nugroho", "Kurniawan", "Wibowo", "Lestari",
    "Siregar", "Nasution", "Harahap", "Sihombing", "Setiawan", "Purnomo", "Handayani",
    "Syahputra", "Halim", "Pangaribuan", "Utami", "Firmansyah", "Sulistyo",
)  # fmt: skip
SHOP_PREFIX = {
    PartnerRole.RETAILER: ("Toko", "Warung", "Toko", "Kios"),
    PartnerRole.WHOLESALER: ("UD", "CV", "Grosir"),
}
SHOP_WORDS = (
    "Makmur", "Sejahtera", "Barokah", "Sentosa", "Rejeki", "Abadi", "Mulia", "Jaya",
    "Harapan", "Mandiri", "Sumber Rezeki", "Cahaya", "Berkah Abadi", "Lancar", "Murah Meriah",
)  # fmt: skip
REWARDS = (
    ("VOUCHER-PULSA-25", "Phone credit voucher 25k"),
    ("VOUCHER-BELANJA-100", "Shopping voucher 100k"),
    ("SHIRT-MITRA", "Mitra polo shirt"),
    ("RICE-5KG", "Rice 5 kg"),
)
QUIZZES = ("New SKU basics", "Display & planogram", "Product knowledge Q2", "Safe storage")

# (wa_id, name, shop, region) of the distributors besides Andi; retailers hang off them.
DISTRIBUTORS = (
    ("6281300000001", "Hendra Gunawan", "PT Sentosa Niaga Jaya", "DKI Jakarta"),
    ("6281300000002", "Agus Setiawan", "PT Jatim Mandiri Distribusi", "Jawa Timur"),
    ("6281300000003", "Dewi Kusuma", "CV Mataram Sejahtera", "Jawa Tengah"),
    ("6281300000004", "Irfan Hasanuddin", "PT Makassar Prima Niaga", "Sulawesi Selatan"),
    ("6281300000005", "Yusuf Maulana", "PT Parahyangan Distrindo", "Jawa Barat"),
)


@dataclass
class Event:
    """One ledger event, ``days_ago`` before the seed's now."""

    days_ago: float
    kind: str  # "earn" | "spend" | "spend_share" (a share of the balance at that time)
    reason: str
    points: int = 0
    share: float = 0.0
    reference_type: str = ""
    reference_id: str = ""
    description: str = ""
    expires_in_days: int = SEED_EXPIRY_DAYS


@dataclass
class PartnerSpec:
    wa_id: str
    name: str
    shop_name: str | None
    role: PartnerRole
    region: str
    parent_wa_id: str | None = None
    language: Language = Language.ID
    opted_out: bool = False
    joined_days_ago: float = 400
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class SeedSummary:
    created: bool
    partners: int
    ledger_entries: int


# --- event helpers ---------------------------------------------------------------------


def _welcome(days_ago: float) -> Event:
    return Event(
        days_ago,
        "earn",
        "welcome_bonus",
        100,
        reference_type="program",
        reference_id="welcome",
        description="Welcome bonus",
    )


def _claim(days_ago: float, points: int, invoice: str, claim_no: str | None = None) -> Event:
    # Older history has no claim rows: the reference is the invoice. A seeded claim row
    # (seed_claims) is referenced by its claim number, as the claims service does.
    return Event(
        days_ago,
        "earn",
        "claim",
        points,
        reference_type="claim",
        reference_id=claim_no or invoice,
        description=f"Sales claim {invoice}",
    )


def _quiz(days_ago: float, points: int, quiz: str) -> Event:
    return Event(
        days_ago,
        "earn",
        "quiz",
        points,
        reference_type="quiz_attempt",
        reference_id=quiz.lower().replace(" ", "-"),
        description=f"Quiz: {quiz}",
    )


def _campaign(days_ago: float, points: int, campaign: str, expires_in_days: int) -> Event:
    return Event(
        days_ago,
        "earn",
        "campaign_bonus",
        points,
        reference_type="campaign",
        reference_id=campaign,
        description=f"Campaign bonus {campaign}",
        expires_in_days=expires_in_days,
    )


def _redeem(days_ago: float, points: int, reward: tuple[str, str]) -> Event:
    return Event(
        days_ago,
        "spend",
        "redemption",
        points,
        reference_type="redemption",
        reference_id=reward[0],
        description=f"Redeemed: {reward[1]}",
    )


def _adjust_down(days_ago: float, points: int, note: str) -> Event:
    return Event(
        days_ago,
        "spend",
        "adjustment",
        points,
        reference_type="adjustment",
        reference_id=note,
        description=f"Correction: {note}",
    )


# --- the five fixtures (see app/demo_fixtures.py for what these add up to) --------------


def _fixture_specs() -> list[PartnerSpec]:
    budi = PartnerSpec(
        BUDI.wa_id,
        BUDI.name,
        BUDI.shop_name,
        PartnerRole.RETAILER,
        BUDI.region,
        parent_wa_id="6281300000001",
        joined_days_ago=400.5,
    )
    budi.events = [
        _welcome(400.5),
        _claim(390, 2000, "INV-SJ-2301"),
        _claim(345, 1000, "INV-SJ-2344"),  # the 1,000 points that expire in 20 days
        _redeem(300, 1500, REWARDS[1]),  # takes the welcome lot and 1,400 of INV-SJ-2301
        _claim(250, 2000, "INV-SJ-2417"),
        _quiz(150, 250, QUIZZES[0]),
        _claim(90, 2500, "INV-SJ-2502"),
        _claim(40, 1500, "INV-SJ-2560", claim_no=BUDI_APPROVED_CLAIM.claim_no),
        # 600 left of INV-SJ-2301 expire 25 days ago
        _campaign(10, 250, "NEW-SKU-LAUNCH", 180),
    ]
    sarah = PartnerSpec(
        SARAH.wa_id,
        SARAH.name,
        SARAH.shop_name,
        PartnerRole.WHOLESALER,
        SARAH.region,
        language=Language.EN,
        joined_days_ago=200.25,
    )
    sarah.events = [
        _welcome(200.25),
        _claim(150, 400, "INV-MB-0912"),
        _quiz(100, 150, QUIZZES[1]),
        _claim(50, 300, "INV-MB-1004"),
        _redeem(30, 200, REWARDS[0]),
    ]
    andi = PartnerSpec(
        ANDI.wa_id,
        ANDI.name,
        ANDI.shop_name,
        PartnerRole.DISTRIBUTOR,
        ANDI.region,
        joined_days_ago=500.5,
    )
    andi.events = [
        _welcome(500.5),
        _claim(420, 3000, "INV-DN-7710"),
        _redeem(400, 2500, REWARDS[3]),
        _claim(330, 4000, "INV-DN-7802"),
        _claim(240, 5000, "INV-DN-7899"),
        _quiz(180, 300, QUIZZES[2]),
        _claim(120, 4500, "INV-DN-8003"),
        _redeem(100, 4100, REWARDS[2]),
        _campaign(70, 1000, "Q3-UPSELL", 180),
        _claim(45, 2000, "INV-DN-8120"),
        _adjust_down(20, 300, "duplicate invoice INV-DN-8003"),
    ]
    rina = PartnerSpec(
        RINA.wa_id,
        RINA.name,
        None,
        PartnerRole.FIELD_SELLER,
        RINA.region,
        parent_wa_id="6281300000004",
        joined_days_ago=1,
    )
    joko = PartnerSpec(
        JOKO.wa_id,
        JOKO.name,
        JOKO.shop_name,
        PartnerRole.RETAILER,
        JOKO.region,
        parent_wa_id="6281300000003",
        opted_out=True,
        joined_days_ago=300.25,
    )
    joko.events = [
        _welcome(300.25),
        _claim(200, 800, "INV-WB-0301"),
        _quiz(90, 100, QUIZZES[3]),
    ]
    return [budi, sarah, andi, rina, joko]


# --- everyone else, generated from the fixed random seed --------------------------------

CLAIM_RANGE = {
    PartnerRole.DISTRIBUTOR: (30, 100),  # x 50 points
    PartnerRole.WHOLESALER: (10, 40),
    PartnerRole.RETAILER: (2, 18),
    PartnerRole.FIELD_SELLER: (1, 8),
}


def _generated_specs(rng: random.Random) -> list[PartnerSpec]:
    specs: list[PartnerSpec] = []
    for wa_id, name, shop, region in DISTRIBUTORS:
        specs.append(PartnerSpec(wa_id, name, shop, PartnerRole.DISTRIBUTOR, region))
    distributor_by_region = {region: wa_id for wa_id, _, _, region in DISTRIBUTORS}
    distributor_by_region[ANDI.region] = ANDI.wa_id

    plan = [(PartnerRole.WHOLESALER, 9), (PartnerRole.RETAILER, 30), (PartnerRole.FIELD_SELLER, 6)]
    used_names = {f.name for f in FIXTURES} | {d[1] for d in DISTRIBUTORS}
    serial = 100
    for role, count in plan:
        for index in range(count):
            serial += 1
            # Andi supplies the first four retailers (Sumatera Utara), as the demo says.
            if role is PartnerRole.RETAILER and index < 4:
                region = ANDI.region
            else:
                region = rng.choice(REGIONS)
            name = _unique_name(rng, used_names)
            shop = None
            if role in SHOP_PREFIX:
                shop = f"{rng.choice(SHOP_PREFIX[role])} {rng.choice(SHOP_WORDS)}"
            parent = None
            if role in (PartnerRole.RETAILER, PartnerRole.FIELD_SELLER):
                parent = distributor_by_region.get(region) or rng.choice(DISTRIBUTORS)[0]
            wa_id = f"62813000{serial:05d}"
            if role is PartnerRole.FIELD_SELLER and index == 0:
                wa_id = "ID.4f9c2a7e1b83"  # WhatsApp user ids need not be phone numbers
            specs.append(
                PartnerSpec(
                    wa_id=wa_id,
                    name=name,
                    shop_name=shop,
                    role=role,
                    region=region,
                    parent_wa_id=parent,
                    language=Language.EN if rng.random() < 0.15 else Language.ID,
                    opted_out=rng.random() < 0.08,
                )
            )
    for spec in specs:
        _generate_history(rng, spec)
    return specs


def _unique_name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in used:
            used.add(name)
            return name


def _generate_history(rng: random.Random, spec: PartnerSpec) -> None:
    joined = float(rng.randint(20, 700)) + rng.choice((0.25, 0.5, 0.75))
    spec.joined_days_ago = joined
    events = [_welcome(joined)]
    low, high = CLAIM_RANGE[spec.role]
    for n in range(rng.randint(1, 8)):
        day = rng.uniform(0.5, joined - 0.1)
        events.append(_claim(day, 50 * rng.randint(low, high), f"INV-{spec.wa_id[-4:]}-{n:03d}"))
    if joined > 340 and rng.random() < 0.5:
        # A claim about a year old: its points expire within the next few weeks.
        day = rng.uniform(336, min(joined - 0.1, 360))
        events.append(_claim(day, 50 * rng.randint(low, high), f"INV-{spec.wa_id[-4:]}-OLD"))
    for n in range(rng.randint(0, 3)):
        events.append(_quiz(rng.uniform(0.5, joined - 0.1), 50 * rng.randint(1, 5), QUIZZES[n]))
    if rng.random() < 0.3:
        events.append(
            _campaign(
                rng.uniform(1, min(joined - 0.1, 150)),
                50 * rng.randint(2, 10),
                "NEW-SKU-LAUNCH",
                180,
            )
        )
    for _ in range(rng.randint(0, 2)):
        share = rng.choice((0.3, 0.5, 0.7))
        events.append(
            Event(
                rng.uniform(0.5, joined - 0.1),
                "spend_share",
                "redemption",
                share=share,
                reference_type="redemption",
                reference_id=rng.choice(REWARDS)[0],
                description="Redeemed a reward",
            )
        )
    if rng.random() < 0.1:
        events.append(
            Event(
                rng.uniform(0.5, joined - 0.1),
                "spend_share",
                "adjustment",
                share=0.1,
                reference_type="adjustment",
                reference_id="claim-correction",
                description="Correction: quantity on invoice",
            )
        )
    spec.events = events


# --- applying -----------------------------------------------------------------------------


def seed_demo(session: Session, now: datetime | None = None) -> SeedSummary:
    """Add the demo partners and history in one transaction, unless already there."""
    now = (now or utcnow()).replace(microsecond=0)
    # Events are offsets from the start of the WIB day, so where they fall relative to
    # end-of-day expiries does not depend on the time of day the seed runs.
    base = wib_start_of_day(wib_date(now))
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
        # Reference data like the tiers: upserted on every run (idempotent).
        load_content.load_content(session)
        seed_voucher_pools(session, now)
        load_questionnaires.load_questionnaires(session, notify=False)  # quizzes, surveys
        if session.scalar(select(Partner.id).where(Partner.wa_id == BUDI.wa_id)) is not None:
            seed_fixture_addresses(session)  # a database seeded before addresses existed
            return SeedSummary(created=False, partners=0, ledger_entries=0)
        rng = random.Random(RANDOM_SEED)
        specs = _fixture_specs() + _generated_specs(rng)
        # Parents first: distributors, then everyone else in a stable order.
        specs.sort(key=lambda s: (s.role is not PartnerRole.DISTRIBUTOR, s.wa_id))
        by_wa: dict[str, Partner] = {}
        entries = 0
        for spec in specs:
            partner = partners.create_partner(
                session,
                wa_id=spec.wa_id,
                name=spec.name,
                shop_name=spec.shop_name,
                role=spec.role,
                region=spec.region,
                parent=by_wa[spec.parent_wa_id] if spec.parent_wa_id else None,
                language=spec.language,
                opted_out=spec.opted_out,
                consent_source="seed",
                now=base - timedelta(days=spec.joined_days_ago),
                actor=SEED_ACTOR,
            )
            by_wa[spec.wa_id] = partner
            if spec.opted_out:
                session.add(
                    ConsentRecord(
                        partner_id=partner.id,
                        kind="marketing",
                        granted=False,
                        source="seed",
                        created_at=base - timedelta(days=spec.joined_days_ago / 2),
                    )
                )
            entries += _apply_events(session, partner, spec, base, now)
        seed_catalogue_and_erp(session, by_wa, now)
        seed_claims(session, by_wa, base)
        seed_fixture_addresses(session)
    log.info("demo data seeded", extra={"partners": len(specs), "ledger_entries": entries})
    return SeedSummary(created=True, partners=len(specs), ledger_entries=entries)


def _apply_events(
    session: Session, partner: Partner, spec: PartnerSpec, base: datetime, now: datetime
) -> int:
    written = 0
    for n, event in enumerate(sorted(spec.events, key=lambda e: -e.days_ago)):
        at = base - timedelta(days=event.days_ago)
        written += _expire_until(session, partner.id, at)
        points = event.points
        if event.kind == "spend_share":
            balance = session.scalar(
                select(PointsAccount.balance).where(PointsAccount.partner_id == partner.id)
            )
            points = int((balance or 0) * event.share) // 50 * 50
            if points <= 0:
                continue
        common = {
            "partner_id": partner.id,
            "points": points,
            "reason": event.reason,
            "reference_type": event.reference_type,
            "reference_id": event.reference_id,
            "idempotency_key": f"{KeyNamespace.SEED}{spec.wa_id}:{n}",
            "description": event.description,
            "now": at,
            "actor": SEED_ACTOR,
            "key_owner": KeyNamespace.SEED,
        }
        if event.kind == "earn":
            ledger.earn(session, expires_in_days=event.expires_in_days, **common)
        else:
            ledger.spend(session, **common)
        written += 1
    return written + _expire_until(session, partner.id, now)


def _expire_until(session: Session, partner_id: int, until: datetime) -> int:
    """Expire due lots at the moment each fell due, as the daily job would have."""
    written = 0
    while True:
        due = session.scalar(
            select(PointsLot.expires_at)
            .where(
                PointsLot.partner_id == partner_id,
                PointsLot.points_remaining > 0,
                PointsLot.expires_at < until,
            )
            .order_by(PointsLot.expires_at)
            .limit(1)
        )
        if due is None:
            return written
        # The first instant after the lot's last valid moment (00:00 WIB the next day).
        gone = due + timedelta(microseconds=1)
        written += len(
            ledger.expire_due_lots(session, gone, partner_id=partner_id, actor=SEED_ACTOR)
        )


# --- catalogue, customer codes and ERP sales lines ---------------------------------------
# (claims: issue 17). The products and earn rules come from content/*.yml; the ERP lines
# from content/demo_erp_sales.csv, through the same import as any CSV, so the seed
# exercises the real path. Its dates are ISO dates or "today-N" (N WIB days before the
# seed's date), so the demo invoices stay recent; the sample invoice the sandbox's web
# phone sends (INV/DN/2611/00123, 26 Nov 2026) is a fixed date, like the photo.

DEMO_ERP_SALES = load_content.CONTENT_DIR / "demo_erp_sales.csv"
# ERP customer codes ("Kode Plg" on invoices) of the five fixtures (DESIGN.md).
FIXTURE_CUSTOMER_CODES = {
    BUDI.wa_id: "CUST-0001",
    SARAH.wa_id: "CUST-0002",
    ANDI.wa_id: "CUST-0003",
    RINA.wa_id: "CUST-0004",
    JOKO.wa_id: "CUST-0005",
}
# Everyone else: CUST-1001, CUST-1002, ... in WhatsApp-id order.
GENERATED_CUSTOMER_CODE_START = 1001


def seed_catalogue_and_erp(
    session: Session, by_wa: dict[str, Partner], now: datetime, sales_csv: Path = DEMO_ERP_SALES
) -> int:
    """Customer codes for every demo partner, and the demo ERP lines; returns lines added.

    Runs inside the seed's transaction (after the partners exist, before any claim).
    """
    serial = GENERATED_CUSTOMER_CODE_START
    for wa_id in sorted(by_wa):
        code = FIXTURE_CUSTOMER_CODES.get(wa_id)
        if code is None:
            code, serial = f"CUST-{serial}", serial + 1
        by_wa[wa_id].erp_customer_code = code
    session.flush()
    today = wib_date(now)
    rows = []
    for row in import_erp_sales.read_rows(sales_csv):
        values = dict(row.values)
        day = values["invoice_date"]
        if day.startswith("today-"):
            values["invoice_date"] = (today - timedelta(days=int(day[6:]))).isoformat()
        rows.append(values)
    # Nothing waits for these lines yet: no re-judging (the claims are seeded after).
    result = erp.ingest(session, rows, source="seed", now=now, rejudge=False)
    if result.rejected:
        raise ValueError(f"{sales_csv}: rejected demo ERP lines: {result.rejected}")
    return result.accepted


# --- claims (issue 17) --------------------------------------------------------------------
# Budi has one approved claim and one waiting for the distributor's data. The approved
# one is the ledger's "Sales claim INV-SJ-2560" (1,500 points, 40 days ago, credited by
# Budi's history above under the claim's number); its rules are what the earn rules give
# for it at that time (24 krt x 50 = 1,200, Gold x1.25 = +300), checked here. The pending
# one's invoice is not in content/demo_erp_sales.csv, so it stays pending.


@dataclass(frozen=True)
class SeedClaim:
    claim_no: str  # the number it gets in a fresh database (claims are numbered by row id)
    invoice_no: str
    invoice_days_ago: int  # WIB days before the seed's date
    submitted_days_ago: float  # before the start of the seed's WIB day
    lines: tuple[tuple[str, int], ...]
    points: int  # what the ledger history credited for it (0: not approved)


BUDI_APPROVED_CLAIM = SeedClaim(
    "KLM-000001", "INV-SJ-2560", 41, 40, (("KSGA-24", 24),), points=1500
)
BUDI_PENDING_CLAIM = SeedClaim(
    "KLM-000002", "INV/SJ/2611/00131", 1, 0.5, (("KSGA-24", 6), ("KHT-24", 4)), points=0
)


def seed_claims(session: Session, by_wa: dict[str, Partner], base: datetime) -> None:
    """Budi's approved and pending claims (inside the seed's transaction, after the ERP
    lines). Raises ValueError if they would not match the ledger history above."""
    budi = by_wa[BUDI.wa_id]
    for spec in (BUDI_APPROVED_CLAIM, BUDI_PENDING_CLAIM):
        submitted_at = base - timedelta(days=spec.submitted_days_ago)
        normalised = erp.normalise_invoice_no(spec.invoice_no)
        claim = Claim(
            partner_id=budi.id,
            kind=ClaimKind.SALES.value,
            status=ClaimStatus.SUBMITTED.value,
            invoice_no=spec.invoice_no,
            invoice_no_normalised=normalised,
            invoice_date=wib_date(base) - timedelta(days=spec.invoice_days_ago),
            points=0,
            rules=[],
            reasons=[],
            signals=[],
            idempotency_key=f"{KeyNamespace.SEED.value}{spec.claim_no}",
            created_at=submitted_at,
        )
        session.add(claim)
        session.flush()
        claim.claim_no = claims.claim_no_for(claim.id)
        if claim.claim_no != spec.claim_no:
            raise ValueError(f"seed claims need an empty claim table ({claim.claim_no})")
        for sku, quantity in spec.lines:
            session.add(ClaimLine(claim=claim, sku=sku, quantity=quantity))
        session.flush()
        if not spec.points:
            claims.judge(session, claim.id, now=submitted_at)  # no ERP lines: pending
            continue
        # Approved when it was sent; the ledger history already holds its points.
        judged_at = submitted_at + timedelta(hours=1)
        award = earn_rules.award_for_claim(
            session,
            partner=budi,
            claim_lines=list(spec.lines),
            invoice_date=claim.invoice_date,
            now=judged_at,
        )
        if award.points != spec.points:
            raise ValueError(f"{spec.claim_no}: the rules give {award.points}, not {spec.points}")
        checks = claims.line_checks(
            list(spec.lines),
            erp.sales_lines_for_invoice(session, normalised),
            budi.erp_customer_code,
        )
        for line, check in zip(claim.lines, checks, strict=True):
            line.erp_quantity, line.match_status = check.erp_quantity, check.match.value
        claim.status = ClaimStatus.APPROVED.value
        claim.points = award.points
        claim.rules = [
            {"rule": r.rule_code, "points": r.points, "description": dict(r.description)}
            for r in award.lines
        ]
        claim.judged_at = judged_at
        claim.decided_by = "auto"


# --- rewards (issue 18) --------------------------------------------------------------------
# The rewards come from content/rewards.yml (load_content, above). The demo voucher pools
# are generated from a fixed random seed, so every demo database has the same codes, and
# expire 180 days after the seed. A pool is filled only while it has no codes at all:
# codes already issued are never generated again.

DEMO_VOUCHER_POOLS = (("VCR-50K", "M50K", 200), ("VCR-100K", "M100K", 100))
DEMO_VOUCHER_DAYS = 180


def seed_voucher_pools(session: Session, now: datetime) -> int:
    """Fill the demo voucher pools that have never had a code; returns codes added."""
    added = 0
    expires_on = wib_date(now) + timedelta(days=DEMO_VOUCHER_DAYS)
    for n, (reward_code, prefix, count) in enumerate(DEMO_VOUCHER_POOLS):
        reward_id = session.scalar(select(Reward.id).where(Reward.code == reward_code))
        if reward_id is None:
            continue
        has_codes = session.scalar(
            select(func.count()).select_from(VoucherCode).where(VoucherCode.reward_id == reward_id)
        )
        if has_codes:
            continue
        codes = vouchers.demo_codes(prefix, count, seed=RANDOM_SEED + n)
        result = vouchers.import_codes(
            session, reward_code, codes, expires_at=expires_on, actor=SEED_ACTOR, now=now
        )
        added += result.added
    return added


def seed_fixture_addresses(session: Session) -> None:
    """The fixtures' delivery addresses (Rina has none), where a fixture has none yet."""
    for fixture in FIXTURES:
        if fixture.address is None:
            continue
        partner = session.scalars(
            select(Partner).where(Partner.wa_id == fixture.wa_id)
        ).one_or_none()
        if partner is not None and partner.address is None:
            partner.address = fixture.address
    session.flush()


# --- support console demo logins (issue 20) --------------------------------------------------

DEMO_CONSOLE_USERS = (
    ("DEMO_AGENT_EMAIL", "DEMO_AGENT_PASSWORD", "Demo Agent", ConsoleRole.AGENT),
    ("DEMO_ADMIN_EMAIL", "DEMO_ADMIN_PASSWORD", "Demo Admin", ConsoleRole.ADMIN),
)


def seed_console_users(session: Session, config: Settings = settings) -> int:
    """Create or update the demo console logins that are configured; never in production.
    Returns how many were created or changed."""
    if config.APP_ENV is AppEnv.PRODUCTION:
        return 0
    changed = 0
    for email_var, password_var, name, role in DEMO_CONSOLE_USERS:
        email, password = getattr(config, email_var), getattr(config, password_var)
        if not email or password is None:
            continue
        _user, saved = console_auth.ensure_user(
            session,
            email=email,
            name=name,
            role=role,
            password=password.get_secret_value(),
            actor_name=SEED_ACTOR,
        )
        changed += saved
        if saved:
            log.info("demo console login saved", extra={"role": role.value})
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reset", action="store_true", help="drop all data and reseed")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-demo", action="store_true", help="tiers only, no demo partners")
    which.add_argument(
        "--demo",
        action="store_true",
        help="seed the demo partners even outside development/test (same as SEED_DEMO=1)",
    )
    args = parser.parse_args(argv)
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)

    demo_allowed = settings.demo_data_allowed or args.demo
    if not demo_allowed and (args.reset or not args.no_demo):
        what = "drop every table (--reset)" if args.reset else "seed the demo partners"
        print(
            f"refusing to {what} with APP_ENV={settings.APP_ENV}: demo data is for "
            "development and test. Use --no-demo for the schema and default tiers only, "
            "or --demo (SEED_DEMO=1) if this really is a demo installation.",
            file=sys.stderr,
        )
        return 2

    engine = get_engine()
    if args.reset:
        downgrade_base(engine)
    upgrade_head(engine)
    with get_session_factory()() as session:
        if args.no_demo:
            with write_transaction(session):
                tiers.ensure_default_tiers(session)
                load_content.load_content(session)
                load_questionnaires.load_questionnaires(session)
            seed_console_users(session)
            return 0
        summary = seed_demo(session)
        seed_console_users(session)
    if summary.created:
        print(f"seeded {summary.partners} partners, {summary.ledger_entries} ledger entries")
    else:
        print("demo data already present: nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
