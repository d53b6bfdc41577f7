import pytest
from sqlalchemy.orm import Session

from app.commands.load_content import load_content
from app.services import catalogue
from app.services.catalogue import ProductMatch, ProductView, normalise_product_text

PRODUCTS = [
    ProductView("KSGA-24", "Kopi Susu Gula Aren 24 x 200 ml", "karton", 50, False,
                ("kopi susu", "kopsus", "gula aren"), "Kopi Susu Gula Aren"),
    ProductView("KHT-24", "Kopi Hitam Tubruk 24 x 200 ml", "karton", 40, False,
                ("kopi hitam", "tubruk"), "Kopi Hitam Tubruk"),
    ProductView("TML-48", "Teh Melati 48 x 250 ml", "karton", 30, False,
                ("teh melati", "teh"), "Teh Melati"),
    ProductView("SCK-12", "Susu Cokelat 12 x 1 L", "karton", 35, False,
                ("susu coklat", "coklat"), "Susu Cokelat"),
    ProductView("KSLS-24", "Kopi Susu Less Sugar 24 x 200 ml", "karton", 60, True,
                ("less sugar", "kopsus less"), "Kopi Susu Less Sugar"),
    ProductView("BKL-20", "Biskuit Kelapa 20 x 150 g", "dus", 20, False,
                ("biskuit", "biskuit kelapa"), "Biskuit Kelapa"),
    ProductView("K3S-50", "Kopi 3in1 Sachet 50 x 20 g", "bal", 15, False,
                ("sachet", "3in1", "kopi sachet"), "Kopi 3in1 Sachet"),
    ProductView("AMN-24", "Air Mineral 24 x 600 ml", "karton", 10, False,
                ("air mineral", "amdk"), "Air Mineral"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("KOPI SUSU GULA AREN 24X200ML", "kopi susu gula aren"),
        ("KOPSUS GA (24)", "kopi susu gula aren"),
        ("Teh Melati 48 x 250 ml", "teh melati"),
        ("SUSU COKLAT 12X1L", "susu cokelat"),
        ("kopi 3 in 1 sachet 50x20g", "kopi 3in1 sachet"),
        ("teh melati 5 krt", "teh melati"),
        ("  ", ""),
    ],
)
def test_normalise_product_text(text: str, normal: str) -> None:
    assert normalise_product_text(text) == normal


@pytest.mark.parametrize(
    ("text", "sku"),
    [
        # partners' words
        ("kopsus", "KSGA-24"),
        ("kopi susu", "KSGA-24"),  # "less sugar" must be said
        ("Kopi Susu", "KSGA-24"),
        ("gula aren", "KSGA-24"),
        ("teh", "TML-48"),
        ("teh melati", "TML-48"),
        ("kopi hitam", "KHT-24"),
        ("tubruk", "KHT-24"),
        ("coklat", "SCK-12"),
        ("susu coklat", "SCK-12"),
        ("less sugar", "KSLS-24"),
        ("kopsus less", "KSLS-24"),
        ("kopi susu less sugar", "KSLS-24"),
        ("kopi susu ls", "KSLS-24"),
        ("biskuit", "BKL-20"),
        ("sachet", "K3S-50"),
        ("3in1", "K3S-50"),
        ("amdk", "AMN-24"),
        ("air mineral", "AMN-24"),
        # distributors' prints
        ("KOPI SUSU GULA AREN 24X200ML", "KSGA-24"),
        ("KOPSUS GULA AREN 24X200ML", "KSGA-24"),
        ("KOPI SUSU GA 24X200ML", "KSGA-24"),
        ("KOPSUS GA (24)", "KSGA-24"),
        ("KPS GA 24X200", "KSGA-24"),
        ("KOPSUS LS 24X200ML", "KSLS-24"),
        ("KOPI SUSU LESS SUGAR 24X200ML", "KSLS-24"),
        ("TEH MELATI 48X250ML", "TML-48"),
        ("TEH MLT 48X250ML", "TML-48"),
        ("SUSU COKELAT 1L (12)", "SCK-12"),
        ("BISKUIT KLP 20X150G", "BKL-20"),
        ("KOPI 3 IN 1 SACHET 50X20G", "K3S-50"),
        ("AIR MINERAL 24X600ML", "AMN-24"),
        ("KOPI HTM TUBRUK 24X200ML", "KHT-24"),
        # typos
        ("teh mlati", "TML-48"),
        ("kopi susu gula arenn", "KSGA-24"),
        ("biskuit kelapaa", "BKL-20"),
        ("kopi hitm", "KHT-24"),
        # SKUs
        ("KSGA-24", "KSGA-24"),
        ("ksls", "KSLS-24"),
    ],
)
def test_resolves_the_words_people_use(text: str, sku: str) -> None:
    resolved = catalogue.resolve_product(PRODUCTS, text)
    assert isinstance(resolved, ProductMatch), (text, resolved)
    assert resolved.sku == sku


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("kopi", {"KSGA-24", "KHT-24", "KSLS-24", "K3S-50"}),
        ("susu", {"KSGA-24", "KSLS-24", "SCK-12"}),
    ],
)
def test_generic_words_are_ambiguous(text: str, candidates: set[str]) -> None:
    resolved = catalogue.resolve_product(PRODUCTS, text)
    assert isinstance(resolved, list)
    assert {m.sku for m in resolved} == candidates
    assert catalogue.is_ambiguous(resolved)


@pytest.mark.parametrize("text", ["xyz", "aqua 600ml", "", "24X200ML", "rokok"])
def test_nothing_close_is_none(text: str) -> None:
    assert catalogue.resolve_product(PRODUCTS, text) is None
    assert catalogue.match_products(PRODUCTS, text) == []


def test_matches_are_best_first_and_limited() -> None:
    matches = catalogue.match_products(PRODUCTS, "kopi susu", limit=2)
    assert [m.sku for m in matches] == ["KSGA-24", "KSLS-24"]
    assert matches[0].score == 100.0 > matches[1].score


def test_catalogue_from_the_content_files(session: Session) -> None:
    load_content(session)
    products = catalogue.list_products(session)
    assert [p.sku for p in products] == sorted(
        ["KSGA-24", "KHT-24", "TML-48", "SCK-12", "KSLS-24", "BKL-20", "K3S-50", "AMN-24"]
    )
    ksls = next(p for p in products if p.sku == "KSLS-24")
    assert (ksls.is_new, ksls.points_per_unit, ksls.unit) == (True, 60, "karton")
    assert "KOPSUS GULA AREN 24X200ML" in next(p for p in products if p.sku == "KSGA-24").synonyms
    # the session form reads the same catalogue
    assert catalogue.resolve_product(session, "KOPSUS GULA AREN 24X200ML").sku == "KSGA-24"
    assert set(catalogue.get_products(session, ["ksga-24", "NOPE"])) == {"KSGA-24"}
