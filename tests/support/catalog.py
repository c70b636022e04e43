"""Catalog look-ups only tests need."""
from typing import List

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import Catalog, models


def matter_codes(catalog: Catalog) -> List[str]:
    """Every matter code in the catalog's database, sorted."""
    with Session(catalog.engine) as session:
        return list(session.scalars(select(models.Matter.code).order_by(models.Matter.code)))
