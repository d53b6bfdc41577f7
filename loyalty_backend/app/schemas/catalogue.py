from pydantic import BaseModel, Field

from app.services.catalogue import ProductMatch, ProductView


class ProductOut(BaseModel):
    sku: str
    name: str
    unit: str
    points_per_unit: int
    is_new: bool
    synonyms: list[str]

    @classmethod
    def from_view(cls, view: ProductView) -> "ProductOut":
        return cls(
            sku=view.sku,
            name=view.name,
            unit=view.unit,
            points_per_unit=view.points_per_unit,
            is_new=view.is_new,
            synonyms=list(view.synonyms),
        )


class ProductsOut(BaseModel):
    items: list[ProductOut]


class MatchOut(BaseModel):
    sku: str
    name: str
    score: float = Field(description="0-100; 100 is an exact name or synonym")

    @classmethod
    def from_match(cls, match: ProductMatch) -> "MatchOut":
        return cls(sku=match.sku, name=match.name, score=match.score)


class MatchesOut(BaseModel):
    items: list[MatchOut] = Field(description="Best first; empty when nothing is close")
    ambiguous: bool = Field(
        description="More than one candidate and no clear winner: ask the partner to pick"
    )
