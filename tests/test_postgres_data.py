"""DATABASE_URL=postgresql://…: the catalog (loaded by its command, searched and read as the bot does), ratings
and complaints (references unique per day, also when written at the same moment) on a real PostgreSQL server."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.handoff.config import HandoffConfig
from bot.handoff.service import HandoffService
from knowledge import Catalog, MatterSearch, make_engine
from support.engines import fresh_database
from support.handoff import HANDOFF_CONFIG
from support.stack import load_catalog


@pytest.fixture(scope="module")
def database_url(postgres_url) -> str:
    url = fresh_database(postgres_url, "data")
    load_catalog(url)  # `python -m knowledge load`, as `make catalog` runs it
    return url


def test_the_catalog_loads_and_answers_from_postgres(database_url):
    engine = make_engine(database_url)
    catalog = Catalog(engine)
    search = MatterSearch.from_catalog(catalog)
    assert search.search("公积金怎么取", top=3)[0].code == "GJJ-TQ"
    assert search.search("开饭店要办啥证", top=3)[0].code == "YJS-QYZY-CY"
    matter = catalog.matter("GJJ-TQ")
    assert matter is not None and "公积金" in matter.name
    engine.dispose()


def test_ratings_and_complaints_are_stored_in_postgres(database_url):
    engine = make_engine(database_url)
    service = HandoffService(engine, HandoffConfig.load(HANDOFF_CONFIG, "Asia/Shanghai"))
    service.setup()
    rating = service.rate("bot", "web", "pg-person-1", 4, matter_code="GJJ-TQ")
    assert rating.id and rating.score == 4
    with ThreadPoolExecutor(max_workers=8) as pool:  # the day's sequence numbers under a race
        complaints = list(pool.map(lambda i: service.feedback.add_complaint(
            "web", f"pg-person-{i}", "跑了三趟都没办成", "13800000000", matter_code="GJJ-TQ"), range(16)))
    references = [c.reference for c in complaints]
    assert len(set(references)) == 16
    assert sorted(int(r.rsplit("-", 1)[1]) for r in references) == list(range(1, 17))
    engine.dispose()
