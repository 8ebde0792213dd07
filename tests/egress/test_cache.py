"""The document cache: Cache-Control honoured within bounds, failures kept briefly, a bounded number of entries."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.egress import DocumentCache, Egress, UnexpectedStatus, freshness_seconds
from tests.egress.conftest import LocalServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(egress: Egress, clock: Clock) -> DocumentCache:
    return DocumentCache(egress, max_entries=4, max_age_seconds=3600, default_age_seconds=300, failure_seconds=15,
                         clock=clock)


_keys = iter(range(1_000_000))


def counted(server: LocalServer, cache_control: str | None = None, **query: str) -> str:
    """A URL whose body counts the server's hits for it (a fresh key per call, so tests do not share counts)."""
    params = {"key": str(next(_keys)), **query}
    if cache_control is not None:
        params["cc"] = cache_control
    return server.url("/counted?" + "&".join(f"{k}={quote(v)}" for k, v in params.items()))


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, 300),
        ({"cache-control": "max-age=60"}, 60),
        ({"cache-control": "public, max-age=60"}, 60),
        ({"cache-control": "MAX-AGE=60"}, 60),
        ({"cache-control": 'max-age="60"'}, 60),
        ({"cache-control": "max-age=0"}, 0),
        ({"cache-control": "max-age=86400"}, 3600),  # never longer than the maximum
        ({"cache-control": "max-age=999999999999999999999"}, 3600),
        ({"cache-control": "max-age=60", "age": "50"}, 10),
        ({"cache-control": "max-age=60", "age": "90"}, 0),
        ({"cache-control": "max-age=60, no-store"}, 0),
        ({"cache-control": "no-store"}, 0),
        ({"cache-control": "no-cache"}, 0),
        ({"cache-control": "max-age=-1"}, 0),
        ({"cache-control": "max-age=abc"}, 0),
        ({"cache-control": "max-age=60, max-age=120"}, 0),
        ({"cache-control": "private"}, 300),
    ],
)
def test_freshness_follows_cache_control_within_bounds(headers: dict[str, str], seconds: float) -> None:
    assert freshness_seconds(headers, default=300, maximum=3600) == seconds


def test_a_fresh_document_is_served_from_the_cache(cache: DocumentCache, clock: Clock, https: LocalServer) -> None:
    url = counted(https, "max-age=60")
    assert cache.fetch_json(url) == {"n": 1}
    clock.now += 59
    assert cache.fetch_json(url) == {"n": 1}
    clock.now += 1
    assert cache.fetch_json(url) == {"n": 2}


def test_max_age_is_capped(cache: DocumentCache, clock: Clock, https: LocalServer) -> None:
    url = counted(https, "max-age=31536000")
    cache.fetch_json(url)
    clock.now += 3599
    assert cache.fetch_json(url) == {"n": 1}
    clock.now += 1
    assert cache.fetch_json(url) == {"n": 2}


def test_without_cache_control_the_default_applies(cache: DocumentCache, clock: Clock, https: LocalServer) -> None:
    url = counted(https)
    cache.fetch_json(url)
    clock.now += 299
    assert cache.fetch_json(url) == {"n": 1}
    clock.now += 1
    assert cache.fetch_json(url) == {"n": 2}


@pytest.mark.parametrize("cache_control", ["no-store", "no-cache", "max-age=0"])
def test_no_store_is_never_kept(cache: DocumentCache, https: LocalServer, cache_control: str) -> None:
    url = counted(https, cache_control)
    assert [cache.fetch_json(url)["n"] for _ in range(3)] == [1, 2, 3]
    assert len(cache) == 0


def test_a_failure_is_remembered_briefly(cache: DocumentCache, clock: Clock, https: LocalServer) -> None:
    url = counted(https, status="503")
    with pytest.raises(UnexpectedStatus) as first:
        cache.fetch_json(url)
    hits = https.hits.copy()
    clock.now += 14
    with pytest.raises(UnexpectedStatus) as second:
        cache.fetch_json(url)
    assert https.hits == hits  # no request: the failure came from the cache
    assert second.value is not first.value and second.value.description == first.value.description
    assert second.value.status == 503
    clock.now += 1
    with pytest.raises(UnexpectedStatus):
        cache.fetch_json(url)
    assert sum(https.hits.values()) == sum(hits.values()) + 1


def test_the_number_of_entries_is_bounded(cache: DocumentCache, https: LocalServer) -> None:
    """An attacker choosing URLs (client_ids) can churn the cache but never grow it."""
    urls = [counted(https, "max-age=600") for _ in range(20)]
    for url in urls:
        cache.fetch_json(url)
    assert len(cache) == 4
    assert cache.fetch_json(urls[-1]) == {"n": 1}  # the most recent are kept
    assert cache.fetch_json(urls[0]) == {"n": 2}  # the oldest left first


def test_failures_count_against_the_same_bound(cache: DocumentCache, https: LocalServer) -> None:
    for _ in range(10):
        with pytest.raises(UnexpectedStatus):
            cache.fetch_json(counted(https, status="404"))
    assert len(cache) == 4


def test_a_caller_may_change_what_it_gets_without_changing_the_cache(cache: DocumentCache,
                                                                      https: LocalServer) -> None:
    url = counted(https, "max-age=60")
    cache.fetch_json(url)["n"] = "changed"
    assert cache.fetch_json(url) == {"n": 1}


def test_a_forced_refresh_happens_at_most_once_per_interval(cache: DocumentCache, clock: Clock,
                                                            https: LocalServer) -> None:
    """A JWKS without the token's kid may be fetched again, but no more often than the caller's interval."""
    url = counted(https, "max-age=3600")
    cache.fetch_json(url)
    clock.now += 30
    assert cache.fetch_json(url, refresh_if_older_than=60) == {"n": 1}
    clock.now += 30
    assert cache.fetch_json(url, refresh_if_older_than=60) == {"n": 2}
    assert cache.fetch_json(url, refresh_if_older_than=60) == {"n": 2}
