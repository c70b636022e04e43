"""The test harness's PostgreSQL and Redis are real servers that answer."""
import redis
from sqlalchemy import create_engine, text


def test_postgres_answers(postgres_url):
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("select current_database()")).scalar_one() == "assistant"
        assert connection.execute(text("show server_version_num")).scalar_one().isdigit()
    engine.dispose()


def test_redis_answers(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.set("probe", "值")
    assert client.get("probe").decode("utf-8") == "值"
    client.close()
