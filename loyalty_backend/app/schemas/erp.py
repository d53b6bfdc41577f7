from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.erp import MAX_LINES_PER_CALL


class SalesLinesIn(BaseModel):
    """The envelope. Each line is checked on its own (a bad line is reported in
    ``rejected``, never a 422 for the whole push): ``invoice_no``, ``invoice_date``
    (YYYY-MM-DD), ``customer_code``, ``sku``, ``quantity`` (whole, > 0), ``unit_price``
    (rupiah), optional ``seller``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lines": [
                        {
                            "invoice_no": "INV/DN/2611/00123",
                            "invoice_date": "2026-11-26",
                            "customer_code": "CUST-0001",
                            "sku": "KSGA-24",
                            "quantity": 10,
                            "unit_price": 125000,
                            "seller": "PT Distribusi Nusantara",
                        }
                    ]
                }
            ]
        }
    )

    lines: list[dict[str, Any]] = Field(
        description=f"At most {MAX_LINES_PER_CALL} lines per call (413 beyond)"
    )


class RejectedOut(BaseModel):
    index: int = Field(description="Position of the line in the request, from 0")
    reason: str


class IngestOut(BaseModel):
    accepted: int
    duplicates: int = Field(description="Lines already recorded (same invoice, SKU, values)")
    rejected: list[RejectedOut]
