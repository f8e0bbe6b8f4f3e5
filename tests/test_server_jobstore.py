"""The persistent job table: claim order, one running job per project, compare-and-swap ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from opendream.storage.db import Database
from opendream.storage.jobs import INTERRUPTED, JobStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    db = Database.open(tmp_path / "opendream.db")
    yield JobStore(db)
    db.close()


def test_claims_oldest_first_and_one_running_job_per_project(store: JobStore) -> None:
    a1 = store.enqueue("a", "L1", "op")
    a2 = store.enqueue("a", "L2", "op")
    b1 = store.enqueue("b", "L1", "op")
    assert store.claim_next()["id"] == a1["id"]
    assert store.claim_next()["id"] == b1["id"]  # a2 waits for a1: same project
    assert store.claim_next() is None
    assert store.finish(a1["id"], "completed", outcome="computed")
    assert store.claim_next()["id"] == a2["id"]


def test_projects_take_turns_so_a_long_batch_holds_no_one_back(store: JobStore) -> None:
    batch = [store.enqueue("a", f"L{i}", "op") for i in range(5)]
    ran = []

    def run_next() -> str:
        job = store.claim_next()
        assert job is not None
        store.finish(job["id"], "completed", outcome="computed")
        ran.append(job["project_id"])
        return job["id"]

    assert run_next() == batch[0]["id"]
    late = [store.enqueue("b", "L1", "op"), store.enqueue("c", "L1", "op"), store.enqueue("b", "L2", "op")]
    while len(ran) < 8:
        run_next()
    # b and c, queued after a's whole batch, run between a's jobs; each project in its order.
    assert ran == ["a", "b", "c", "a", "b", "a", "a", "a"]
    assert [store.get(j["id"])["state"] for j in batch + late] == ["completed"] * 8


def test_a_job_ends_in_exactly_one_terminal_state(store: JobStore) -> None:
    job = store.enqueue("p", "L1", "op")
    assert store.claim_next()["id"] == job["id"]
    assert not store.cancel_queued(job["id"])  # already running
    assert store.finish(job["id"], "cancelled", error="cancelled")
    assert not store.finish(job["id"], "completed")
    assert store.get(job["id"])["state"] == "cancelled"
    with pytest.raises(ValueError, match="terminal"):
        store.finish(job["id"], "running")  # type: ignore[arg-type]


def test_interrupt_running_marks_only_running_jobs(store: JobStore) -> None:
    running = store.enqueue("p", "L1", "op")
    queued = store.enqueue("q", "L1", "op")
    store.claim_next()
    store.cancel_queued(queued["id"])
    waiting = store.enqueue("q", "L2", "op")
    assert [j["id"] for j in store.interrupt_running()] == [running["id"]]
    assert (store.get(running["id"])["state"], store.get(running["id"])["error"]) == ("failed", INTERRUPTED)
    assert store.get(waiting["id"])["state"] == "queued"


def test_concurrent_claimers_never_share_a_job(store: JobStore) -> None:
    ids = {store.enqueue(f"p{i}", "L1", "op")["id"] for i in range(40)}
    claimed: list[str] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        while (job := store.claim_next()) is not None:
            claimed.append(job["id"])

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_recent_filters_and_expected_results(store: JobStore) -> None:
    store.enqueue("p", "L1", "op")
    store.enqueue("q", "L1", "op")
    assert [j["project_id"] for j in store.recent()] == ["q", "p"]
    assert [j["project_id"] for j in store.recent(project_id="p", state="queued")] == ["p"]
    assert store.get_expected("p") == ({}, None)
    store.set_expected("p", {"L1": "ab" * 32, "L2": None})
    assert store.get_expected("p") == ({"L1": "ab" * 32, "L2": None}, None)
    store.set_expected("p", {"L1": None}, {"backend": "openvino"})
    assert store.get_expected("p") == ({"L1": None}, {"backend": "openvino"})
    with pytest.raises(KeyError):
        store.get("nope")
