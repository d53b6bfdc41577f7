"""What the OCR read from an invoice photo (POST /ocr/invoice)."""

from pydantic import BaseModel, Field


class OcrLineOut(BaseModel):
    sku: str = Field(description="catalogue SKU the printed product name matched")
    quantity: int | None = Field(description="the Qty column (null when unread)")
    text: str = Field(description="the product name as read from the invoice")
    confidence: float = Field(ge=0, le=1, description="0..1: how sure the reading of this line is")


class OcrInvoiceOut(BaseModel):
    image_id: str = Field(description="stored image (SHA-256 hex); a claim references it")
    invoice_no: str | None
    invoice_date: str | None = Field(description="ISO date (YYYY-MM-DD)")
    customer_code: str | None = Field(description="the buyer's ERP code as printed (Kode Plg)")
    seller: str | None
    lines: list[OcrLineOut]
    seconds: float = Field(description="time spent reading the image")
