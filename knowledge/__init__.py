"""The matter catalog: files under catalog/ loaded into SQL, queried and searched. Knows nothing of Rasa."""
from .db import default_database_url, make_engine
from .repository import Catalog
from .schema import CatalogError
from .search import Candidate, MatterSearch

__all__ = ["Catalog", "CatalogError", "Candidate", "MatterSearch", "default_database_url", "make_engine"]
