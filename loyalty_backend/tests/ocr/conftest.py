"""The OCR tests are pure (no database): they run once, not once per database backend."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from app.ocr import Matcher

CATALOGUE_FILE = Path(__file__).resolve().parents[3] / "content" / "catalogue.yml"
SAMPLES = Path(__file__).parent / "samples"

# The demo catalogue (DESIGN.md), for when content/catalogue.yml is not there.
FIXTURE_CATALOGUE = [
    ("KSGA-24", "Kopi Susu Gula Aren 24 x 200 ml", ("kopi susu", "kopsus", "gula aren")),
    ("KHT-24", "Kopi Hitam Tubruk 24 x 200 ml", ("kopi hitam", "tubruk")),
    ("TML-48", "Teh Melati 48 x 250 ml", ("teh melati", "teh")),
    ("SCK-12", "Susu Cokelat 12 x 1 L", ("susu coklat", "coklat")),
    ("KSLS-24", "Kopi Susu Less Sugar 24 x 200 ml", ("less sugar", "kopsus less")),
    ("BKL-20", "Biskuit Kelapa 20 x 150 g", ("biskuit", "biskuit kelapa")),
    ("K3S-50", "Kopi 3in1 Sachet 50 x 20 g", ("sachet", "3in1", "kopi sachet")),
    ("AMN-24", "Air Mineral 24 x 600 ml", ("air mineral", "amdk")),
]


def load_catalogue() -> list[tuple[str, str, tuple[str, ...]]]:
    if not CATALOGUE_FILE.exists():
        return FIXTURE_CATALOGUE
    products = yaml.safe_load(CATALOGUE_FILE.read_text())["products"]
    return [(p["sku"], p["name"], tuple(p.get("synonyms") or ())) for p in products]


@pytest.fixture(autouse=True)
def db() -> Iterator[None]:
    """Overrides the suite's per-backend database fixture: nothing to set up."""
    yield None


@pytest.fixture(scope="session", params=["content", "fixture"])
def matcher(request: pytest.FixtureRequest) -> Matcher:
    """The catalogue as content/catalogue.yml has it, and as DESIGN.md lists it."""
    return Matcher(load_catalogue() if request.param == "content" else FIXTURE_CATALOGUE)


@pytest.fixture(scope="session")
def content_matcher() -> Matcher:
    return Matcher(load_catalogue())
