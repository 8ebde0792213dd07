"""The keyring: key files picked up without a restart, imported once, states moved on by an injected clock."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from app.security import keyring as keyring_module
from app.security import keys as keys_module
from app.security.keyring import KeyRing
from app.security.keys import (
    KeyFile,
    _write_private,
    add_next_key,
    create_key_file,
    ensure_signing_key,
    generate_signing_key,
    key_files,
)


class Clock:
    """A clock the test moves by hand; one serves a ring as its wall clock, another as its monotonic clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def published(ring: KeyRing) -> list[str]:
    return [k["kid"] for k in json.loads(ring.jwks_json)["keys"]]


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def ring(tmp_path: Path, clock: Clock) -> KeyRing:
    ensure_signing_key(tmp_path)
    return KeyRing(tmp_path, retention_seconds=60, rescan_seconds=0, clock=clock)


def test_a_rotation_publishes_then_signs_then_retires_then_unpublishes(tmp_path, clock, ring):
    first = ring.current.kid
    upcoming = add_next_key(tmp_path, publish_delay_seconds=30, now=clock.now)

    assert ring.current.kid == first  # next: published, not signing
    assert published(ring) == [first, upcoming.kid] and ring.find(upcoming.kid) is not None

    clock.now = upcoming.activates_at
    assert ring.current.kid == upcoming.kid
    assert published(ring) == [upcoming.kid, first]  # the signing key first, then the retired one

    clock.now = upcoming.activates_at + 59
    assert ring.find(first) is not None  # a token signed just before the hand-over is still valid
    clock.now = upcoming.activates_at + 60
    assert published(ring) == [upcoming.kid] and ring.find(first) is None
    assert len(key_files(tmp_path)) == 2  # unpublished by the clock; `ostiary keys prune` deletes the file


def test_the_publish_delay_is_rounded_up_never_down(tmp_path):
    key = add_next_key(tmp_path, publish_delay_seconds=30, now=1000.2)
    assert key.activates_at == 1031


def test_the_etag_changes_with_the_key_set_only(tmp_path, clock, ring):
    before = ring.view().etag
    assert ring.view().etag == before
    add_next_key(tmp_path, publish_delay_seconds=30, now=clock.now)
    assert ring.view().etag != before


def test_between_rescans_a_request_touches_no_file(tmp_path, clock, monkeypatch):
    ensure_signing_key(tmp_path)
    monotonic = Clock(0)
    ring = KeyRing(tmp_path, retention_seconds=60, rescan_seconds=3600, clock=clock, monotonic=monotonic)
    listings = []
    original = keyring_module.key_files
    monkeypatch.setattr(keyring_module, "key_files", lambda keys_dir: listings.append(keys_dir) or original(keys_dir))
    for _ in range(1000):
        ring.current, ring.jwks_json, ring.key_set  # noqa: B018
    monotonic.now = 3599.9
    ring.current  # noqa: B018
    assert listings == []
    monotonic.now = 3600
    ring.current  # noqa: B018
    assert listings == [tmp_path]  # the rescan is due: one listing, by the request that found it due


def test_a_new_key_file_is_picked_up_at_the_next_rescan_without_a_restart(tmp_path, clock):
    ensure_signing_key(tmp_path)
    monotonic = Clock(0)
    ring = KeyRing(tmp_path, retention_seconds=60, rescan_seconds=5, clock=clock, monotonic=monotonic)
    first = ring.current.kid
    upcoming = add_next_key(tmp_path, publish_delay_seconds=30, now=clock.now)

    monotonic.now = 4.9
    assert published(ring) == [first]
    monotonic.now = 5
    assert published(ring) == [first, upcoming.kid]


def test_each_key_file_is_imported_once(tmp_path, clock, ring, monkeypatch):
    imports = []
    original = KeyRing._import
    monkeypatch.setattr(KeyRing, "_import", lambda self, key_file: imports.append(key_file) or original(self, key_file))
    upcoming = add_next_key(tmp_path, publish_delay_seconds=30, now=clock.now)
    for _ in range(100):
        clock.now += 1  # states move on without a single new import
        ring.current  # noqa: B018
    assert imports == [upcoming]


def test_a_broken_key_file_is_left_out_and_retried(tmp_path, clock, ring, caplog):
    first = ring.current.kid
    pem = next(tmp_path.glob("*.pem")).read_bytes()
    broken = tmp_path / KeyFile(int(clock.now) + 1, "b" * 43).name
    broken.write_bytes(pem[:100])  # truncated
    impostor = tmp_path / KeyFile(int(clock.now) + 2, "i" * 43).name
    impostor.write_bytes(pem)  # a valid key under a kid that is not its thumbprint
    clock.now += 10

    with caplog.at_level(logging.ERROR, logger="app.security.keyring"):
        assert ring.current.kid == first and published(ring) == [first]
    assert {r.file for r in caplog.records} == {broken.name, impostor.name}

    impostor.unlink()
    broken.unlink()
    fixed = create_key_file(tmp_path, int(clock.now) - 1)  # a good file is picked up at the next rescan
    assert ring.current.kid == fixed.kid


def test_a_missing_directory_keeps_the_loaded_keys(tmp_path, clock, caplog):
    keys_dir = tmp_path / "keys"
    ensure_signing_key(keys_dir)
    ring = KeyRing(keys_dir, retention_seconds=60, rescan_seconds=0, clock=clock)
    kid = ring.current.kid
    keys_dir.rename(tmp_path / "elsewhere")  # e.g. a secret volume being remounted
    with caplog.at_level(logging.ERROR, logger="app.security.keyring"):
        assert ring.current.kid == kid
    assert "cannot list the keys directory" in caplog.text


def test_key_files_are_written_whole_and_never_twice(tmp_path):
    target = tmp_path / "secret"
    _write_private(target, b"one")
    with pytest.raises(FileExistsError):
        _write_private(target, b"two")
    assert target.read_bytes() == b"one"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temporary file left behind


def test_a_start_with_keys_writes_nothing_so_keys_may_be_read_only(tmp_path, monkeypatch):
    ensure_signing_key(tmp_path)
    monkeypatch.setattr(keys_module, "keys_lock", None)  # any attempt to lock (and so write) would fail
    ensure_signing_key(tmp_path)
    assert KeyRing(tmp_path, retention_seconds=60).current


def test_concurrent_first_starts_make_one_key(tmp_path):
    threads = [threading.Thread(target=ensure_signing_key, args=(tmp_path,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(key_files(tmp_path)) == 1


def test_readers_see_a_consistent_ring_while_keys_change(tmp_path, clock, ring):
    failures: list[BaseException] = []
    stop = threading.Event()
    reads = threading.Condition()
    count = [0]

    def read() -> None:
        while not stop.is_set():
            try:
                view = ring.view()
                assert view.signing is not None and view.signing.kid in view.published
                assert [k["kid"] for k in json.loads(view.jwks_json)["keys"]] == list(view.published)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)
            with reads:
                count[0] += 1
                reads.notify_all()

    def after_reads(more: int) -> None:
        """Until the readers have read `more` times since now: every change is read while the next is made."""
        with reads:
            target = count[0] + more
            assert reads.wait_for(lambda: count[0] >= target, timeout=30)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(3):
            newest = generate_signing_key(tmp_path, activates_at=int(clock.now))
            clock.now += 1
            after_reads(40)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert len(published(ring)) == 4 and newest.name.endswith(f"-{ring.current.kid}.pem")


@pytest.mark.parametrize(
    "overrides",
    [
        {"JWKS_MAX_AGE_SECONDS": 600, "KEY_RESCAN_SECONDS": 5, "KEY_PUBLISH_DELAY_SECONDS": 604},
        {"JWKS_MAX_AGE_SECONDS": 3600, "KEY_PUBLISH_DELAY_SECONDS": 3600},
    ],
)
def test_a_publish_delay_shorter_than_a_cache_lifetime_is_refused(overrides):
    with pytest.raises(ConfigError, match="OSTIARY_KEY_PUBLISH_DELAY_SECONDS must be at least"):
        load_settings({}, overrides)


def test_the_smallest_safe_publish_delay_is_accepted():
    settings = load_settings({}, {"JWKS_MAX_AGE_SECONDS": 2, "KEY_RESCAN_SECONDS": 1, "KEY_PUBLISH_DELAY_SECONDS": 3})
    assert settings["KEY_PUBLISH_DELAY_SECONDS"] == 3
