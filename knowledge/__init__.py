"""The matter catalog: files under catalog/ loaded into SQL, queried and searched. Knows nothing of Rasa."""
from typing import Optional

from sqlalchemy.exc import OperationalError

from .db import EMBEDDED_DATABASE_URL, make_engine
from .repository import Catalog
from .schema import CatalogError
from .search import Candidate, MatterSearch


def open_catalog(url: str, cache: bool = False, city: Optional[str] = None) -> Catalog:
    """The catalog in the database at `url`; when that database has not been loaded, an in-memory copy read
    from the catalog files (with this city, else hall.yml's), so tools and tests work without a load step."""
    catalog = Catalog(make_engine(url), cache=cache)
    try:
        catalog.hall()
        return catalog
    except (LookupError, OperationalError):
        from .loader import load

        engine = make_engine("sqlite://")
        load(engine, city=city)
        return Catalog(engine, cache=cache)


__all__ = ["Catalog", "CatalogError", "Candidate", "MatterSearch", "EMBEDDED_DATABASE_URL", "make_engine",
           "open_catalog"]
