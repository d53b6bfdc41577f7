"""From uploaded bytes to a clean, upright, grey page for Tesseract.

Phone photos of invoices are tilted, seen at an angle, unevenly lit and small. In order:
decode (JPEG/PNG, or page 1 of a PDF), find the paper and straighten it (perspective),
straighten what remains from the text lines, flatten the light, and scale so that
letters are about as tall as Tesseract reads best.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np

# Capitals this tall (px): measured on the dev set, 22-30 read alike and smaller is faster.
TARGET_TEXT_HEIGHT = 26
MAX_SIDE = 3200  # px: beyond this Tesseract only gets slower


class UnreadableImage(ValueError):
    """The bytes are not an image (or PDF page) this reader can decode."""


def decode(data: bytes, mime_type: str) -> np.ndarray:
    """Grey image (uint8) from JPEG/PNG bytes or the first page of a PDF."""
    if mime_type == "application/pdf" or data[:5] == b"%PDF-":
        return render_pdf(data)
    pixels = _check_dimensions(data)
    array = np.frombuffer(data, np.uint8)
    flag = cv2.IMREAD_GRAYSCALE
    if pixels > 60_000_000:
        flag = cv2.IMREAD_REDUCED_GRAYSCALE_4
    elif pixels > 16_000_000:
        flag = cv2.IMREAD_REDUCED_GRAYSCALE_2
    image = cv2.imdecode(array, flag)
    if image is None or image.size == 0 or min(image.shape) < 32:
        raise UnreadableImage("not a readable JPEG or PNG image")
    return image


# A 10 MB PNG can declare a gigapixel canvas: refuse rather than decode it. Phone
# cameras sent as documents reach ~100 MP: decoded at half or quarter size.
MAX_PIXELS = 120_000_000


def _check_dimensions(data: bytes) -> int:
    """Pixels the image declares (UnreadableImage beyond MAX_PIXELS)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UnreadableImage("not a readable JPEG or PNG image") from exc
    if width * height > MAX_PIXELS:
        raise UnreadableImage(f"image too large: {width}x{height} pixels")
    return width * height


def render_pdf(data: bytes, dpi: int = 200) -> np.ndarray:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnreadableImage("not a readable PDF") from exc
    try:
        if len(pdf) == 0:
            raise UnreadableImage("the PDF has no page")
        page = pdf[0]
        width, height = page.get_size()  # points
        # ~200 dpi for a paper-sized page; a huge page is rendered no bigger than 30 MP
        scale = min(dpi / 72, math.sqrt(30_000_000 / max(1.0, width * height)))
        bitmap = page.render(scale=scale, grayscale=True)
        image = np.array(bitmap.to_numpy(), copy=True)
    finally:
        pdf.close()
    if image.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(image, code)
    return image


def _order_corners(pts: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left (clockwise from the top-left)."""
    pts = pts.reshape(4, 2).astype(np.float32)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen (y grows downwards)
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _plausible_sheet(quad: np.ndarray) -> bool:
    """Four corners that look like a sheet seen by a phone: angles near 90 degrees."""
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        v1, v2 = a - b, c - b
        cos = float(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-6))
        if abs(cos) > 0.35:  # outside ~70-110 degrees
            return False
    return True


def _holds_the_text(small: np.ndarray, quad: np.ndarray) -> bool:
    """Whether (nearly) all letter-sized dark specks lie inside ``quad``: a shadow can
    split the sheet in two, and half a sheet is not the sheet."""
    ink = cv2.adaptiveThreshold(
        small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 15, 12
    )
    n, _, stats, centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
    contour = quad.reshape(-1, 1, 2)
    total = inside = 0
    for i in range(1, n):
        h, area = stats[i, cv2.CC_STAT_HEIGHT], stats[i, cv2.CC_STAT_AREA]
        if 2 <= area <= 150 and h <= 14:
            total += 1
            x, y = centroids[i]
            inside += cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0
    return total == 0 or inside >= 0.9 * total


def find_paper(gray: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The four corners of the sheet when it stands out from a darker background, and
    the outline of the sheet (its part in the photo) even when its corners are not."""
    h, w = gray.shape
    scale = 500 / max(h, w)
    small = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    total = small.shape[0] * small.shape[1]
    otsu, _ = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper in a shadow can fall below Otsu's level: try lower levels too, keep the
    # largest sheet-shaped region.
    best: tuple[float, np.ndarray] | None = None
    region: tuple[float, np.ndarray] | None = None
    for level in (otsu, otsu * 0.85, otsu * 0.7, otsu * 0.55):
        _, mask = cv2.threshold(small, level, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            continue
        contour = max(contours, key=cv2.contourArea)
        area = cv2.contourArea(contour)
        if area < 0.25 * total or area > 0.97 * total:
            continue  # no sheet on a background: a scan, a screenshot or a close-up
        hull = cv2.convexHull(contour)
        if (region is None or area > region[0]) and _holds_the_text(small, np.float32(hull)):
            region = (area, np.float32(hull) / scale)
        for eps in (0.01, 0.02, 0.03, 0.05):
            approx = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
            if len(approx) != 4:
                continue
            quad = _order_corners(np.float32(approx))
            quad_area = cv2.contourArea(quad.reshape(-1, 1, 2))
            sh, sw = small.shape
            inside = all(2 < x < sw - 3 and 2 < y < sh - 3 for x, y in quad)
            # a sheet cut by the photo's edge: its corners are not the sheet's corners
            if (
                inside
                and quad_area >= 0.9 * cv2.contourArea(hull)
                and _plausible_sheet(quad)
                and _holds_the_text(small, quad)
            ) and (best is None or quad_area > best[0]):
                best = (quad_area, quad / scale)
            break
    return (best[1] if best else None), (region[1] if region else None)


def whiten_outside(gray: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Paint the table or hand around the sheet the colour of the sheet: once the light
    is flattened, their texture would read as letters."""
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillPoly(mask, [np.int32(outline.reshape(-1, 2))], 255)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    if mask.mean() < 255 * 0.2:
        return gray
    paper = float(np.percentile(gray[mask > 0], 75))
    out = gray.copy()
    out[mask == 0] = int(paper)
    return out


def unwarp(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    tl, tr, br, bl = corners
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    target = np.float32([(0, 0), (width - 1, 0), (width - 1, height - 1), (0, height - 1)])
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(
        gray, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def flatten_light(gray: np.ndarray, text_height: float) -> np.ndarray:
    """Divide by the background (a closing wider than a letter): shadows and gradients go."""
    k = max(15, int(text_height * 2.5) | 1)
    background = cv2.morphologyEx(
        gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    )
    flat = cv2.divide(gray, background, scale=255)
    return flat


def remove_rules(flat: np.ndarray, text_h: float) -> np.ndarray:
    """Paint table rules (long straight lines) white: Tesseract reads them as | l I 1."""
    # thin rules blur to light grey in a phone photo: a lenient level; noise never
    # makes runs this long
    ink = (flat < 215).astype(np.uint8) * 255
    # longer than any run inside a line of text; a rule left tilted by <0.3 degree by
    # the deskew still holds a straight run this long
    length = int(max(60, 5 * text_h))
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    rules = cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((3, 3), np.uint8))
    out = flat.copy()
    out[rules > 0] = 255
    return out


def _ink(gray: np.ndarray) -> np.ndarray:
    return cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV, 31, 15
    )


def text_height(gray: np.ndarray) -> float:
    """Median height of letter-sized blobs (px), or 0 when there are too few."""
    ink = _ink(gray)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    keep = (heights >= 6) & (heights <= gray.shape[0] / 8) & (widths <= heights * 3) & (widths >= 2)
    if keep.sum() < 20:
        return 0.0
    return float(np.percentile(heights[keep], 60))


def skew_angle(gray: np.ndarray, text_h: float) -> float:
    """Degrees the text lines are turned, from the long blobs the dilated text makes."""
    ink = _ink(gray)
    kw = max(9, int(text_h * 1.6))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (kw, max(1, int(text_h / 5))))
    blobs = cv2.dilate(ink, kernel)
    contours, _ = cv2.findContours(blobs, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles, weights = [], []
    for c in contours:
        (_, _), (rw, rh), angle = cv2.minAreaRect(c)
        if rw < rh:
            rw, rh = rh, rw
            angle -= 90
        if rw < 6 * rh or rh < text_h * 0.5 or rh > text_h * 2.5:
            continue
        while angle > 45:
            angle -= 90
        while angle < -45:
            angle += 90
        angles.append(angle)
        weights.append(rw)
    if len(angles) < 3:
        return 0.0
    order = np.argsort(angles)
    cum = np.cumsum(np.array(weights)[order])
    median = float(np.array(angles)[order][np.searchsorted(cum, cum[-1] / 2)])
    return median if abs(median) <= 15 else 0.0


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    paper = int(np.percentile(gray, 90))
    return cv2.warpAffine(
        gray,
        matrix,
        (nw, nh),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=paper,
    )


def prepare(gray: np.ndarray) -> np.ndarray:
    """Upright, evenly lit grey page with letters ~TARGET_TEXT_HEIGHT px tall."""
    corners, outline = find_paper(gray)
    if corners is not None:
        gray = unwarp(gray, corners)
    elif outline is not None:
        gray = whiten_outside(gray, outline)
    th = text_height(gray) or 20.0
    scale = TARGET_TEXT_HEIGHT / th
    scale = min(max(scale, 0.5), 3.0)
    scale = min(scale, MAX_SIDE / max(gray.shape))
    if abs(scale - 1) > 0.1:
        gray = cv2.resize(
            gray,
            None,
            fx=scale,
            fy=scale,
            interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA,
        )
        th *= scale
    angle = skew_angle(gray, th)
    if abs(angle) > 0.3:
        gray = rotate(gray, angle)
    flat = flatten_light(gray, th)
    return remove_rules(flat, th)


def describe(gray: np.ndarray) -> dict[str, float]:
    """Diagnostics for logs and the bench."""
    th = text_height(gray)
    return {
        "width": gray.shape[1],
        "height": gray.shape[0],
        "text_height": th,
        "angle": skew_angle(gray, th or 20.0) if th else math.nan,
    }
