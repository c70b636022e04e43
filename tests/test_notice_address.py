import pytest

from knowledge.notice import notice_path, parse_notice_query


def test_round_trip():
    path = notice_path("SCJG-GT-SL", {"form": "individual", "agent": "agent"}, [3, 1, 3])
    assert path == "/notice/SCJG-GT-SL?s=agent:agent,form:individual&have=1,3"
    query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
    assert parse_notice_query(query) == ({"agent": "agent", "form": "individual"}, {1, 3})


def test_no_answers_no_query():
    assert notice_path("GJJ-TQ", {}) == "/notice/GJJ-TQ"
    assert parse_notice_query({}) == ({}, set())


@pytest.mark.parametrize("query", [
    {"s": "agent"}, {"s": "Agent:self"}, {"s": "a:b';drop table x"}, {"have": "0"}, {"have": "1,x"},
    {"have": "-1"}, {"have": ",".join(["1"] * 201)}, {"s": "<script>:x"},
])
def test_forged_queries_are_refused(query):
    with pytest.raises(ValueError):
        parse_notice_query(query)


@pytest.mark.parametrize("code", ["", "../etc", "scjg", "A" * 80, "X<Y"])
def test_bad_codes_are_refused(code):
    with pytest.raises(ValueError):
        notice_path(code, {})
