"""Synthetic phone photos of printed Indonesian distributor invoices, with ground truth.

Deterministic by seed. Two sets: DEV (for tuning) and HELD-OUT, made from other seeds
and with layouts, fonts, sellers, invoice-number styles, labels and product spellings
that DEV never uses, so the held-out figure says something about invoices not seen.

    loyalty_backend/.venv/bin/python bench/invoices/generate.py [--out var/ocr_set]
        [--dev 120] [--heldout 120]

Writes ``<out>/<split>/<nnnn>.jpg`` and ``<nnnn>.json`` (ground truth: invoice_no,
invoice_date ISO, customer_code, seller, lines [{sku, quantity, text}], and how it
was drawn).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

# --- what is printed ------------------------------------------------------------------

# How distributors print the demo catalogue (DESIGN.md). HELDOUT_NAMES are spellings the
# dev set never shows.
PRINTED_NAMES = {
    "KSGA-24": [
        "KOPI SUSU GULA AREN 24X200ML",
        "KOPSUS GULA AREN 24X200ML",
        "KOPSUS GULA AREN (24)",
        "KOPI SUSU GL AREN 200ML X24",
        "KOPI SUSU GULA AREN 200ML (24)",
    ],
    "KHT-24": [
        "KOPI HITAM TUBRUK 24X200ML",
        "KOPI TUBRUK 24X200ML",
        "KOPI HITAM TUBRUK (24)",
        "KP HITAM TUBRUK 200MLX24",
    ],
    "TML-48": ["TEH MELATI 48X250ML", "TEH MELATI 250ML (48)", "TEH MLT 48X250ML"],
    "SCK-12": ["SUSU COKELAT 12X1L", "SUSU COKLAT 1L (12)", "SUSU COKLAT 12X1LTR"],
    "KSLS-24": [
        "KOPI SUSU LESS SUGAR 24X200ML",
        "KOPSUS LESS SUGAR 24X200ML",
        "KOPSUS LESS SUGAR (24)",
    ],
    "BKL-20": ["BISKUIT KELAPA 20X150G", "BISKUIT KELAPA 150GR (20)", "BISK KELAPA 20X150GR"],
    "K3S-50": ["KOPI 3IN1 SACHET 50X20G", "KOPI 3IN1 SACHET 20GR (50)", "KOPI SACHET 3IN1 50X20GR"],
    "AMN-24": ["AIR MINERAL 24X600ML", "AIR MINERAL 600ML (24)", "AMDK 600ML 24 BTL"],
}
HELDOUT_NAMES = {
    "KSGA-24": ["KOPSUS G.AREN 24X200ML", "KOPI SUSU AREN 200ML/24"],
    "KHT-24": ["KOPI TUBRUK HITAM 200ML/24"],
    "TML-48": ["TEH MELATI BTL 48X250ML", "TEH RASA MELATI 250ML/48"],
    "SCK-12": ["SUSU COKLT 12 X 1 LT"],
    "KSLS-24": ["KOPSUS LESS SGR 24X200ML"],
    "BKL-20": ["BISKUIT KLP 20X150G"],
    "K3S-50": ["KOPI 3 IN 1 SACHET 50X20G"],
    "AMN-24": ["AIR MINERAL BTL 600ML/24"],
}
# Other brands' goods on the same invoice: never a catalogue line.
FOREIGN_GOODS = [
    "GULA PASIR 1KG (10)",
    "MIE GORENG SPESIAL 40X85G",
    "MINYAK GORENG 2L (6)",
    "SABUN CUCI 800G (12)",
    "BERAS PREMIUM 5KG",
    "TEPUNG TERIGU 1KG (12)",
]
PRICES = {
    "KSGA-24": 96000,
    "KHT-24": 88000,
    "TML-48": 120000,
    "SCK-12": 198000,
    "KSLS-24": 99000,
    "BKL-20": 150000,
    "K3S-50": 62500,
    "AMN-24": 42000,
}
UNITS = {
    "KSGA-24": "KRT",
    "KHT-24": "KRT",
    "TML-48": "KRT",
    "SCK-12": "KRT",
    "KSLS-24": "KRT",
    "BKL-20": "DUS",
    "K3S-50": "BAL",
    "AMN-24": "KRT",
}
UNIT_SPELLINGS = {"KRT": ["KRT", "KTN", "CTN", "KRT"], "DUS": ["DUS", "DS"], "BAL": ["BAL", "BL"]}

DEV_SELLERS = [
    ("PT Distribusi Nusantara", "Jl. Gatot Subroto No. 12, Medan", "061-4521 889"),
    ("CV Sumber Rejeki Abadi", "Jl. Raya Darmo 45, Surabaya", "031-567 2210"),
    ("PT Mitra Sejahtera Niaga", "Kawasan Industri Pulogadung Blok C-7, Jakarta", "021-460 7781"),
    ("UD Berkah Jaya", "Jl. Pemuda No. 88, Semarang", "024-355 1902"),
    ("PT Sinar Logistik Indonesia", "Jl. Soekarno Hatta 210, Bandung", "022-750 3341"),
]
HELDOUT_SELLERS = [
    ("PT Cahaya Boga Utama", "Jl. Urip Sumoharjo 17, Makassar", "0411-455 120"),
    ("CV Anugerah Pangan Lestari", "Jl. Ahmad Yani Km 4, Banjarmasin", "0511-326 778"),
    ("PT Prima Niaga Sentosa", "Jl. Sudirman No. 5, Pekanbaru", "0761-22 918"),
    ("UD Makmur Sentosa", "Jl. Diponegoro 31, Yogyakarta", "0274-561 004"),
]
CUSTOMERS = [
    ("CUST-0001", "Toko Sinar Jaya"),
    ("CUST-0002", "CV Maju Bersama"),
    ("CUST-0003", "PT Distribusi Nusantara"),
    ("CUST-0004", "Rina Lestari"),
    ("CUST-0005", "Warung Berkah"),
]
SHOP_WORDS = ["Toko", "Warung", "Toko", "Grosir", "Kios", "Minimarket"]
SHOP_NAMES = [
    "Sumber Makmur",
    "Harapan Baru",
    "Sejahtera",
    "Mulia",
    "Barokah",
    "Lancar Jaya",
    "Sentosa",
    "Jaya Abadi",
    "Rizki",
    "Amanah",
    "Murah Meriah",
    "Bintang",
]

MONTHS_ID = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MONTHS_ID_FULL = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]


@dataclass(frozen=True)
class SplitStyle:
    """What a split may draw."""

    name: str
    layouts: tuple[str, ...]
    fonts: tuple[str, ...]
    sellers: tuple[tuple[str, str, str], ...]
    number_styles: tuple[str, ...]
    date_styles: tuple[str, ...]
    no_labels: tuple[str, ...]
    date_labels: tuple[str, ...]
    code_labels: tuple[str, ...]
    extra_names: bool


DEV = SplitStyle(
    name="dev",
    layouts=("grid", "plain", "receipt", "side"),
    fonts=("sans", "serif", "mono"),
    sellers=tuple(DEV_SELLERS),
    number_styles=("inv", "fkt", "sj"),
    date_styles=("slash", "dash", "mon_id", "mon_en", "iso"),
    no_labels=("No. Faktur", "No Faktur", "Nomor Faktur", "No. Invoice", "No. Nota"),
    date_labels=("Tgl", "Tanggal", "Tgl. Faktur", "Tanggal Faktur"),
    code_labels=("Kode Plg", "Kode Pelanggan", "Kd. Plg"),
    extra_names=False,
)
# Held-out: everything dev has plus what dev never shows.
HELDOUT = SplitStyle(
    name="heldout",
    layouts=("grid", "plain", "receipt", "side", "compact", "compact"),
    fonts=("sans", "serif", "mono", "aileron", "serif_condensed", "aileron"),
    sellers=tuple(HELDOUT_SELLERS),
    number_styles=("inv", "fkt", "sj", "so", "fp"),
    date_styles=("slash", "dash", "mon_id", "mon_en", "iso", "full_id", "dot"),
    no_labels=("No. Faktur", "No Faktur", "Invoice No", "No. Transaksi"),
    date_labels=("Tgl", "Tanggal", "Date", "Tgl Invoice"),
    code_labels=("Kode Plg", "Kode Pelanggan", "ID Pelanggan", "Kode Cust"),
    extra_names=True,
)
SPLITS = {"dev": (DEV, 1000), "heldout": (HELDOUT, 700000)}


@dataclass
class Line:
    sku: str | None
    text: str
    quantity: int
    unit: str
    price: int
    item_code: str

    @property
    def total(self) -> int:
        return self.quantity * self.price


@dataclass
class Invoice:
    seller: str
    seller_address: str
    seller_phone: str
    title: str
    invoice_no: str
    invoice_date: date
    date_text: str
    due_text: str
    customer_code: str
    customer_name: str
    no_label: str
    date_label: str
    code_label: str
    to_label: str
    lines: list[Line] = field(default_factory=list)
    price_style: str = "dot"
    qty_style: str = "int"


def money(value: int, style: str) -> str:
    if style == "comma":
        return f"{value:,}.00"
    if style == "rp":
        return "Rp " + f"{value:,}".replace(",", ".")
    return f"{value:,}".replace(",", ".")


def qty_text(qty: int, unit: str, style: str) -> str:
    if style == "dec":
        return f"{qty},00"
    if style == "unit":
        return f"{qty} {unit}"
    return str(qty)


def invoice_number(rng: random.Random, style: str, seller: str, day: date) -> str:
    initials = "".join(w[0] for w in seller.split()[1:3]).upper()
    yymm = f"{day:%y%m}"
    if style == "inv":
        return f"INV/{initials}/{yymm}/{rng.randint(1, 99999):05d}"
    if style == "fkt":
        return f"FKT-{rng.randint(10000, 99999)}"
    if style == "sj":
        return f"{yymm}/SJ/{rng.randint(1, 99999):05d}"
    if style == "so":
        return f"SO.{yymm}.{rng.randint(1, 9999):04d}"
    return f"FP-{day:%Y}-{rng.randint(1, 999999):06d}"


def date_text(day: date, style: str) -> str:
    if style == "slash":
        return f"{day:%d/%m/%Y}"
    if style == "dash":
        return f"{day:%d-%m-%Y}"
    if style == "dot":
        return f"{day:%d.%m.%Y}"
    if style == "iso":
        return f"{day:%Y-%m-%d}"
    if style == "mon_id":
        return f"{day.day:02d} {MONTHS_ID[day.month - 1]} {day.year}"
    if style == "mon_en":
        return f"{day.day:02d} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day} {MONTHS_ID_FULL[day.month - 1]} {day.year}"


def make_invoice(rng: random.Random, style: SplitStyle) -> Invoice:
    seller, address, phone = rng.choice(style.sellers)
    day = date(2025, 1, 1) + timedelta(days=rng.randint(0, 700))
    dstyle = rng.choice(style.date_styles)
    if rng.random() < 0.6:
        code, name = rng.choice(CUSTOMERS)
    else:
        code = f"CUST-{rng.randint(6, 2999):04d}"
        name = f"{rng.choice(SHOP_WORDS)} {rng.choice(SHOP_NAMES)}"
    if name == seller:
        code, name = CUSTOMERS[0]
    inv = Invoice(
        seller=seller,
        seller_address=address,
        seller_phone=phone,
        title=rng.choice(["FAKTUR PENJUALAN", "FAKTUR PENJUALAN", "FAKTUR", "NOTA PENJUALAN"]),
        invoice_no=invoice_number(rng, rng.choice(style.number_styles), seller, day),
        invoice_date=day,
        date_text=date_text(day, dstyle),
        due_text=date_text(day + timedelta(days=rng.choice([14, 30, 45])), dstyle),
        customer_code=code,
        customer_name=name,
        no_label=rng.choice(style.no_labels),
        date_label=rng.choice(style.date_labels),
        code_label=rng.choice(style.code_labels),
        to_label=rng.choice(["Kepada", "Kepada Yth.", "Pelanggan", "Customer"]),
        price_style=rng.choice(["dot", "dot", "comma", "rp"]),
        qty_style=rng.choice(["int", "int", "dec", "unit"]),
    )
    skus = rng.sample(sorted(PRINTED_NAMES), rng.randint(1, 5))
    for sku in skus:
        names = list(PRINTED_NAMES[sku])
        if style.extra_names:
            names += HELDOUT_NAMES[sku] * 2
        qty = rng.choice([rng.randint(1, 30), rng.randint(1, 60), rng.randint(100, 400)])
        unit = rng.choice(UNIT_SPELLINGS[UNITS[sku]])
        item_code = rng.choice(
            [sku, f"BRG{rng.randint(100, 9999):04d}", str(rng.randint(10000, 99999))]
        )
        inv.lines.append(Line(sku, rng.choice(names), qty, unit, PRICES[sku], item_code))
    if rng.random() < 0.15 and len(inv.lines) < 5:
        pos = rng.randint(0, len(inv.lines))
        inv.lines.insert(
            pos,
            Line(
                None,
                rng.choice(FOREIGN_GOODS),
                rng.randint(1, 40),
                "KRT",
                rng.choice([55000, 73500, 128000]),
                f"BRG{rng.randint(100, 9999):04d}",
            ),
        )
    return inv


# --- drawing ----------------------------------------------------------------------------


class Fonts:
    """Regular and bold faces of one family at one size."""

    def __init__(self, family: str, size: int) -> None:
        self.family, self.size = family, size
        self.regular = self._load(family, size, bold=False)
        self.bold = self._load(family, size, bold=True)
        self.big = self._load(family, int(size * 1.45), bold=True)

    @staticmethod
    def _load(family: str, size: int, bold: bool) -> ImageFont.FreeTypeFont:
        if family == "aileron":  # Pillow's built-in face: no bold, drawn with a stroke
            return ImageFont.load_default(size=size)  # type: ignore[return-value]
        files = {
            "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
            "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
            "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
            "serif_condensed": ("DejaVuSerifCondensed.ttf", "DejaVuSerifCondensed-Bold.ttf"),
        }[family]
        return ImageFont.truetype(str(DEJAVU / files[bold]), size)


class Page:
    def __init__(self, width: int, height: int, fonts: Fonts, rng: random.Random) -> None:
        tint = rng.randint(238, 255)
        self.image = Image.new(
            "RGB", (width, height), (tint, tint, max(225, tint - rng.randint(0, 14)))
        )
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = fonts
        ink = rng.randint(10, 60)
        self.ink = (ink, ink, ink + rng.randint(0, 40))
        self.width = width

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        bold: bool = False,
        big: bool = False,
        anchor: str = "la",
    ) -> None:
        font = self.fonts.big if big else self.fonts.bold if bold else self.fonts.regular
        stroke = 1 if (bold or big) and self.fonts.family == "aileron" else 0
        self.draw.text(
            (x, y),
            text,
            font=font,
            fill=self.ink,
            anchor=anchor,
            stroke_width=stroke,
            stroke_fill=self.ink,
        )

    def line(self, x0: float, y0: float, x1: float, y1: float, width: int = 2) -> None:
        self.draw.line((x0, y0, x1, y1), fill=self.ink, width=width)

    def dashes(self, x0: float, x1: float, y: float) -> None:
        x = x0
        while x < x1:
            self.line(x, y, min(x + 14, x1), y, 2)
            x += 22

    @property
    def lh(self) -> int:
        return int(self.fonts.size * 1.55)


def _columns(inv: Invoice, rng: random.Random, layout: str) -> list[tuple[str, str, str]]:
    """(header, key, align) for the item table."""
    if layout == "compact":  # the quantity after the price
        unit = [] if inv.qty_style == "unit" else [("Sat", "unit", "l")]
        return [
            ("No", "no", "l"),
            ("Nama Barang", "name", "l"),
            ("Harga", "price", "r"),
            ("Qty", "qty", "r"),
            *unit,
            ("Jumlah", "total", "r"),
        ]
    cols = [("No", "no", "l")]
    if rng.random() < 0.7:
        cols.append((rng.choice(["Kode", "Kode Brg", "Kd Brg"]), "code", "l"))
    cols.append(
        (rng.choice(["Nama Barang", "Nama Barang", "Deskripsi", "Keterangan"]), "name", "l")
    )
    if inv.qty_style == "unit":
        cols.append((rng.choice(["Qty", "Banyaknya"]), "qty", "r"))
    else:
        cols += [
            (rng.choice(["Qty", "Qty", "Kuantitas", "Banyak"]), "qty", "r"),
            (rng.choice(["Sat", "Satuan"]), "unit", "l"),
        ]
    cols.append((rng.choice(["Harga", "Harga Sat", "Harga Satuan"]), "price", "r"))
    if rng.random() < 0.3:
        cols.append(("Disc", "disc", "r"))
    cols.append((rng.choice(["Jumlah", "Total", "Subtotal"]), "total", "r"))
    return cols


def _cell(inv: Invoice, line: Line, index: int, key: str) -> str:
    return {
        "no": str(index),
        "code": line.item_code,
        "name": line.text,
        "qty": qty_text(line.quantity, line.unit, inv.qty_style),
        "unit": line.unit,
        "price": money(line.price, inv.price_style if inv.price_style != "rp" else "dot"),
        "disc": "0",
        "total": money(line.total, inv.price_style if inv.price_style != "rp" else "dot"),
    }[key]


def _table(page: Page, inv: Invoice, rng: random.Random, y: float, layout: str) -> float:
    cols = _columns(inv, rng, layout)
    pad = 14
    x_left, x_right = 60, page.width - 60
    widths = []
    for header, key, _ in cols:
        cells = [header] + [_cell(inv, ln, i + 1, key) for i, ln in enumerate(inv.lines)]
        widths.append(max(page.draw.textlength(c, font=page.fonts.bold) for c in cells) + 2 * pad)
    spare = (x_right - x_left) - sum(widths)
    name_i = [k for _, k, _ in cols].index("name")
    widths[name_i] += max(0, spare)
    xs = [x_left]
    for w in widths:
        xs.append(xs[-1] + w)
    lh = page.lh + 6
    grid = layout == "grid"
    top = y
    if grid:
        page.line(xs[0], y, xs[-1], y)
    else:
        page.dashes(xs[0], xs[-1], y)
    y += 8
    for (header, _, align), x0, x1 in zip(cols, xs, xs[1:], strict=False):
        if align == "r":
            page.text(x1 - pad, y, header, bold=True, anchor="ra")
        else:
            page.text(x0 + pad, y, header, bold=True)
    y += lh
    if grid:
        page.line(xs[0], y - 4, xs[-1], y - 4)
    else:
        page.dashes(xs[0], xs[-1], y - 4)
    y += 6
    for i, line in enumerate(inv.lines):
        for (_, key, align), x0, x1 in zip(cols, xs, xs[1:], strict=False):
            value = _cell(inv, line, i + 1, key)
            if align == "r":
                page.text(x1 - pad, y, value, anchor="ra")
            else:
                page.text(x0 + pad, y, value)
        y += lh
        if grid and rng.random() < 0.5:
            page.line(xs[0], y - 4, xs[-1], y - 4, 1)
    if grid:
        page.line(xs[0], y, xs[-1], y)
        for x in xs:
            page.line(x, top, x, y)
    else:
        page.dashes(xs[0], xs[-1], y)
    y += 14
    total = sum(ln.total for ln in inv.lines)
    page.text(xs[-1] - pad, y, f"TOTAL   {money(total, inv.price_style)}", bold=True, anchor="ra")
    return y + lh


def _footer(page: Page, y: float, rng: random.Random) -> None:
    y += page.lh
    page.text(80, y, rng.choice(["Hormat kami,", "Dibuat oleh,", "Gudang,"]))
    page.text(page.width - 420, y, rng.choice(["Penerima,", "Diterima oleh,"]))
    y += page.lh * 3
    page.text(80, y, "(..............)")
    page.text(page.width - 420, y, "(..............)")


def draw_full(inv: Invoice, fonts: Fonts, rng: random.Random, layout: str) -> Image.Image:
    width = rng.randint(1650, 1900)
    page = Page(width, 1500 + 90 * len(inv.lines), fonts, rng)
    lh = page.lh
    y = 60.0
    seller = inv.seller.upper() if rng.random() < 0.5 else inv.seller
    if layout == "side":
        page.text(60, y, seller, big=True)
        page.text(width - 60, y, inv.title, big=True, anchor="ra")
        y += lh * 1.5
        page.text(60, y, inv.seller_address)
        y += lh
        page.text(60, y, f"Telp. {inv.seller_phone}")
        y += lh * 1.6
        right = [
            (inv.date_label, inv.date_text),
            (inv.no_label, inv.invoice_no),
            ("Jatuh Tempo", inv.due_text),
        ]
        rng.shuffle(right)
        left = [(inv.to_label, inv.customer_name), (inv.code_label, inv.customer_code)]
        if rng.random() < 0.5:
            left.reverse()
        lx, rx = 60, width // 2 + 80
        label_w = max(page.draw.textlength(k, font=fonts.regular) for k, _ in right) + 20
        for i in range(max(len(left), len(right))):
            if i < len(left):
                page.text(lx, y, f"{left[i][0]} : {left[i][1]}")
            if i < len(right):
                page.text(rx, y, right[i][0])
                page.text(rx + label_w, y, f": {right[i][1]}")
            y += lh
        y += lh * 0.6
    elif layout == "compact":
        page.text(width // 2, y, seller, big=True, anchor="ma")
        y += lh * 1.5
        page.text(width // 2, y, f"{inv.seller_address}  Telp {inv.seller_phone}", anchor="ma")
        y += lh * 1.6
        page.text(60, y, inv.title, bold=True)
        y += lh * 1.3
        parts = [f"{inv.no_label}: {inv.invoice_no}", f"{inv.date_label}: {inv.date_text}"]
        page.text(60, y, "   |   ".join(parts))
        y += lh
        page.text(60, y, f"{inv.to_label}: {inv.customer_name} ({inv.customer_code})")
        y += lh * 1.5
    else:
        centred = rng.random() < 0.5
        if centred:
            page.text(width // 2, y, seller, big=True, anchor="ma")
            y += lh * 1.5
            page.text(width // 2, y, inv.seller_address, anchor="ma")
            y += lh
            page.text(width // 2, y, f"Telp. {inv.seller_phone}", anchor="ma")
        else:
            page.text(60, y, seller, big=True)
            y += lh * 1.5
            page.text(60, y, f"{inv.seller_address}  Telp. {inv.seller_phone}")
        y += lh * 1.8
        page.text(width // 2, y, inv.title, big=True, anchor="ma")
        y += lh * 1.8
        left = [(inv.no_label, inv.invoice_no), (inv.date_label, inv.date_text)]
        if rng.random() < 0.4:
            left.append(("Jatuh Tempo", inv.due_text))
        right = [(inv.to_label, inv.customer_name), (inv.code_label, inv.customer_code)]
        if rng.random() < 0.3:
            right.append(("Sales", rng.choice(["ANDI", "RUDI S", "MEGA"])))
        rng.shuffle(left)
        rng.shuffle(right)
        lw = max(page.draw.textlength(k, font=fonts.regular) for k, _ in left) + 20
        rw = max(page.draw.textlength(k, font=fonts.regular) for k, _ in right) + 20
        rx = width // 2 + 60
        for i in range(max(len(left), len(right))):
            if i < len(left):
                page.text(60, y, left[i][0])
                page.text(60 + lw, y, f": {left[i][1]}")
            if i < len(right):
                page.text(rx, y, right[i][0])
                page.text(rx + rw, y, f": {right[i][1]}")
            y += lh
        y += lh * 0.6
    y = _table(page, inv, rng, y, layout)
    _footer(page, y, rng)
    return page.image.crop((0, 0, width, int(min(page.image.height, y + lh * 6))))


def draw_receipt(inv: Invoice, fonts: Fonts, rng: random.Random) -> Image.Image:
    width = rng.randint(720, 820)
    page = Page(width, 1300 + 140 * len(inv.lines), fonts, rng)
    lh = page.lh
    y = 40.0
    mid = width // 2
    page.text(mid, y, inv.seller.upper(), bold=True, anchor="ma")
    y += lh
    for part in inv.seller_address.split(", "):
        page.text(mid, y, part, anchor="ma")
        y += lh
    page.text(mid, y, f"Telp {inv.seller_phone}", anchor="ma")
    y += lh * 1.4
    page.text(mid, y, inv.title, bold=True, anchor="ma")
    y += lh * 1.3
    fields = [
        (inv.no_label, inv.invoice_no),
        (inv.date_label, inv.date_text),
        (inv.code_label, inv.customer_code),
        (inv.to_label, inv.customer_name),
    ]
    rng.shuffle(fields)
    for k, v in fields:
        page.text(30, y, f"{k}: {v}")
        y += lh
    page.dashes(30, width - 30, y + 6)
    y += lh * 0.8
    for line in inv.lines:
        page.text(30, y, line.text)
        y += lh
        page.text(
            60,
            y,
            f"{qty_text(line.quantity, line.unit, 'int')} {line.unit} x {money(line.price, 'dot')}",
        )
        page.text(width - 30, y, money(line.total, "dot"), anchor="ra")
        y += lh
    page.dashes(30, width - 30, y + 6)
    y += lh * 0.8
    page.text(30, y, "TOTAL", bold=True)
    page.text(
        width - 30, y, money(sum(ln.total for ln in inv.lines), "dot"), bold=True, anchor="ra"
    )
    y += lh * 1.5
    page.text(mid, y, "Terima kasih", anchor="ma")
    return page.image.crop((0, 0, width, int(y + lh * 2)))


# --- the photo --------------------------------------------------------------------------


def photograph(
    paper: Image.Image,
    rng: random.Random,
    *,
    harsh: float = 1.0,
    background: tuple[int, int, int] | None = None,
) -> bytes:
    """A phone photo of ``paper`` on a table: tilt, perspective, light, blur, noise, JPEG."""
    nprng = np.random.default_rng(rng.randint(0, 2**31))
    src = np.asarray(paper.convert("RGB"))[:, :, ::-1].astype(np.float32)
    h, w = src.shape[:2]
    portrait = h > w * 1.3
    margin = rng.uniform(0.05, 0.14)
    cw = int(w * (1 + 2 * margin)) if not portrait else int(max(w * (1 + 2 * margin), h * 0.75))
    ch = int(h * (1 + 2 * margin))
    base = np.array(
        background or (rng.randint(60, 180), rng.randint(60, 170), rng.randint(50, 160)), np.float32
    )  # BGR
    bg = np.empty((ch, cw, 3), np.float32)
    bg[:] = base
    bg += nprng.normal(0, 10, (ch, cw, 1)).astype(np.float32)
    bg = cv2.GaussianBlur(bg, (0, 0), 3)
    angle = math.radians(rng.uniform(-4, 4) * harsh)
    cx, cy = cw / 2, ch / 2
    corners = []
    for px, py in ((0, 0), (w, 0), (w, h), (0, h)):
        dx, dy = px - w / 2, py - h / 2
        jx = rng.uniform(-0.025, 0.025) * w * harsh
        jy = rng.uniform(-0.02, 0.02) * h * harsh
        corners.append(
            (
                cx + dx * math.cos(angle) - dy * math.sin(angle) + jx,
                cy + dx * math.sin(angle) + dy * math.cos(angle) + jy,
            )
        )
    matrix = cv2.getPerspectiveTransform(
        np.float32([(0, 0), (w, 0), (w, h), (0, h)]), np.float32(corners)
    )
    warped = cv2.warpPerspective(src, matrix, (cw, ch), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, (cw, ch))[:, :, None]
    img = warped * mask + bg * (1 - mask)
    # uneven light: a gradient, sometimes a soft shadow
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    gx, gy = rng.uniform(-1, 1), rng.uniform(-1, 1)
    grad = (xx / cw - 0.5) * gx + (yy / ch - 0.5) * gy
    light = 1.0 - harsh * rng.uniform(0.05, 0.3) * (grad - grad.min()) / (np.ptp(grad) + 1e-6)
    img *= light[:, :, None]
    if rng.random() < 0.5 * harsh:
        shadow = np.zeros((ch, cw), np.float32)
        pts = np.int32(
            [
                [rng.randint(0, cw), 0],
                [rng.randint(0, cw), ch],
                [cw if rng.random() < 0.5 else 0, ch],
                [cw if rng.random() < 0.5 else 0, 0],
            ]
        )
        cv2.fillPoly(shadow, [pts], 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), cw * 0.03)
        img *= (1 - rng.uniform(0.15, 0.4) * shadow)[:, :, None]
    target_w = rng.randint(1000, 1600)
    if portrait:
        target_w = rng.randint(900, 1200)
    scale = target_w / cw
    img = cv2.resize(img, (target_w, int(ch * scale)), interpolation=cv2.INTER_AREA)
    sigma = rng.uniform(0.0, 1.3) * harsh
    if sigma > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img += nprng.normal(0, rng.uniform(1, 7) * harsh, img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    quality = rng.randint(40, 85) if harsh >= 1 else 88
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def render(inv: Invoice, layout: str, font: str, rng: random.Random) -> Image.Image:
    if layout == "receipt":
        return draw_receipt(inv, Fonts(font, rng.randint(24, 28)), rng)
    return draw_full(inv, Fonts(font, rng.randint(27, 33)), rng, layout)


def truth(inv: Invoice, layout: str, font: str, split: str, seed: int) -> dict:
    return {
        "invoice_no": inv.invoice_no,
        "invoice_date": inv.invoice_date.isoformat(),
        "customer_code": inv.customer_code,
        "seller": inv.seller,
        "lines": [
            {"sku": ln.sku, "quantity": ln.quantity, "text": ln.text} for ln in inv.lines if ln.sku
        ],
        "layout": layout,
        "font": font,
        "split": split,
        "seed": seed,
    }


def make_sample(split: str, index: int) -> tuple[bytes, dict]:
    style, base = SPLITS[split]
    seed = base + index
    rng = random.Random(seed)
    inv = make_invoice(rng, style)
    layout = rng.choice(style.layouts)
    font = rng.choice(style.fonts)
    if layout == "receipt" and font == "serif":
        font = "mono"
    paper = render(inv, layout, font, rng)
    return photograph(paper, rng), truth(inv, layout, font, split, seed)


def generate(out: Path, split: str, count: int) -> Path:
    folder = out / split
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        jpg, gt = make_sample(split, i)
        (folder / f"{i:04d}.jpg").write_bytes(jpg)
        (folder / f"{i:04d}.json").write_text(json.dumps(gt, indent=1) + "\n")
    (folder / "COMPLETE").write_text(f"{count}\n")
    return folder


def sample_invoice() -> bytes:
    """The web phone's sample: Budi's invoice INV/DN/2611/00123, as a mild phone photo."""
    rng = random.Random(26112026)
    inv = Invoice(
        seller="PT Distribusi Nusantara",
        seller_address="Jl. Gatot Subroto No. 12, Medan",
        seller_phone="061-4521 889",
        title="FAKTUR PENJUALAN",
        invoice_no="INV/DN/2611/00123",
        invoice_date=date(2026, 11, 26),
        date_text="26/11/2026",
        due_text="26/12/2026",
        customer_code="CUST-0001",
        customer_name="Toko Sinar Jaya",
        no_label="No. Faktur",
        date_label="Tanggal",
        code_label="Kode Plg",
        to_label="Kepada",
        lines=[
            Line("KSGA-24", "KOPI SUSU GULA AREN 24X200ML", 10, "KRT", 96000, "KSGA-24"),
            Line("TML-48", "TEH MELATI 48X250ML", 5, "KRT", 120000, "TML-48"),
        ],
        qty_style="int",
    )
    fonts = Fonts("sans", 30)
    page_rng = random.Random(7)
    paper = draw_full(inv, fonts, page_rng, "grid")
    return photograph(paper, rng, harsh=0.35, background=(70, 105, 140))  # a wooden table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("var/ocr_set"))
    parser.add_argument("--dev", type=int, default=120)
    parser.add_argument("--heldout", type=int, default=120)
    parser.add_argument("--sample", type=Path, help="write the web phone's sample invoice here")
    args = parser.parse_args()
    if args.sample:
        args.sample.write_bytes(sample_invoice())
        print(f"wrote {args.sample}")
        return
    for split, count in (("dev", args.dev), ("heldout", args.heldout)):
        print(f"wrote {count} photos to {generate(args.out, split, count)}")


if __name__ == "__main__":
    main()
