"""Products and how partners name them (service token: read)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import PartnerReader, SessionDep
from app.schemas.catalogue import MatchesOut, MatchOut, ProductOut, ProductsOut
from app.services import catalogue

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


@router.get("/products", response_model=ProductsOut)
def list_products(session: SessionDep, _caller: PartnerReader) -> ProductsOut:
    return ProductsOut(items=[ProductOut.from_view(p) for p in catalogue.list_products(session)])


@router.get("/match", response_model=MatchesOut)
def match(
    session: SessionDep,
    _caller: PartnerReader,
    q: Annotated[str, Query(min_length=1, max_length=200, description="What the partner wrote")],
) -> MatchesOut:
    resolved = catalogue.resolve_product(session, q)
    if resolved is None:
        return MatchesOut(items=[], ambiguous=False)
    if isinstance(resolved, list):
        return MatchesOut(items=[MatchOut.from_match(m) for m in resolved], ambiguous=True)
    # A sure match leads; the other candidates follow, for a "did you mean" list.
    others = [m for m in catalogue.match_products(session, q) if m.sku != resolved.sku]
    return MatchesOut(items=[MatchOut.from_match(m) for m in [resolved, *others]], ambiguous=False)
