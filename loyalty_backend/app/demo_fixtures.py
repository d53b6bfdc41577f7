"""The five demo partners every demo, doc and test relies on, and what the seed gives them.

Values are those right after ``python -m app.initial_data`` (relative to the seed's "now").
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoFixture:
    wa_id: str
    name: str
    shop_name: str | None
    role: str
    region: str
    tier: str  # tier code
    language: str
    opted_out: bool
    available_points: int
    lifetime_earned: int
    expiring_30d_points: int  # expiring within 30 days of the seed
    expiring_in_days: int | None  # WIB days from the seed's date to their last day
    history_entries: int
    address: str | None = None  # delivery address on file (rewards that are goods)


BUDI = DemoFixture(
    wa_id="6281200000001",
    name="Budi Santoso",
    shop_name="Toko Sinar Jaya",
    role="retailer",
    region="DKI Jakarta",
    tier="gold",
    language="id",
    opted_out=False,
    available_points=7500,
    lifetime_earned=9600,
    expiring_30d_points=1000,
    expiring_in_days=20,
    history_entries=10,
    address="Jl. Kebon Jeruk Raya No. 27, RT 003/RW 005, Kebon Jeruk, Jakarta Barat, "
    "DKI Jakarta 11530",
)
SARAH = DemoFixture(
    wa_id="6281200000002",
    name="Sarah Wijaya",
    shop_name="CV Maju Bersama",
    role="wholesaler",
    region="Jawa Timur",
    tier="silver",
    language="en",
    opted_out=False,
    available_points=750,
    lifetime_earned=950,
    expiring_30d_points=0,
    expiring_in_days=None,
    history_entries=5,
    address="Jl. Raya Darmo No. 112, Darmo, Wonokromo, Surabaya, Jawa Timur 60241",
)
ANDI = DemoFixture(
    wa_id="6281200000003",
    name="Andi Pratama",
    shop_name="PT Distribusi Nusantara",
    role="distributor",
    region="Sumatera Utara",
    tier="platinum",
    language="id",
    opted_out=False,
    available_points=13000,
    lifetime_earned=19900,
    expiring_30d_points=0,
    expiring_in_days=None,
    history_entries=11,
    address="Jl. Gatot Subroto No. 88, Sei Sikambing B, Medan Sunggal, Medan, Sumatera Utara 20122",
)
RINA = DemoFixture(
    wa_id="6281200000004",
    name="Rina Lestari",
    shop_name=None,
    role="field_seller",
    region="Sulawesi Selatan",
    tier="silver",
    language="id",
    opted_out=False,
    available_points=0,
    lifetime_earned=0,
    expiring_30d_points=0,
    expiring_in_days=None,
    history_entries=0,
)
JOKO = DemoFixture(
    wa_id="6281200000005",
    name="Joko Susilo",
    shop_name="Warung Berkah",
    role="retailer",
    region="Jawa Tengah",
    tier="silver",
    language="id",
    opted_out=True,
    available_points=1000,
    lifetime_earned=1000,
    expiring_30d_points=0,
    expiring_in_days=None,
    history_entries=3,
    address="Jl. Pemuda No. 45, Sekayu, Semarang Tengah, Semarang, Jawa Tengah 50132",
)

FIXTURES = (BUDI, SARAH, ANDI, RINA, JOKO)

# The stranger who has not joined: no partner has this id.
STRANGER_WA_ID = "6289900000000"
