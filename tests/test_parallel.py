"""Work spread over forked processes: results in order, composer errors kept, bugs raised."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from composer.errors import Location, ValidationError
from composer.parallel import WorkerFailed, default_jobs, run_all


def _square_or_refuse(n: int) -> tuple[int, int]:
    if n % 4 == 3:
        raise ValidationError(f"{n} is refused", Location(Path("f.yml"), n, 1), f"item[{n}]")
    return n * n, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2, 3, 8])
def test_results_come_back_in_order(jobs: int) -> None:
    outcomes = run_all(_square_or_refuse, list(range(10)), jobs)
    for n, outcome in enumerate(outcomes):
        if n % 4 == 3:
            assert outcome.value is None
            assert isinstance(outcome.error, ValidationError)
            assert outcome.error.problems[0].location == Location(Path("f.yml"), n, 1)
            assert outcome.error.exit_code == 1
        else:
            assert outcome.error is None and outcome.value is not None
            assert outcome.value[0] == n * n


def test_several_processes_do_the_work_when_asked() -> None:
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    pids = {o.value[1] for o in run_all(_square_or_refuse, [0, 1, 2, 4, 5, 6], 3) if o.value}
    assert len(pids) == 3
    assert os.getpid() in pids  # this process takes its share too


def _buggy(n: int) -> int:
    if n == 3:
        raise KeyError("not a composer error")
    return n


def test_a_bug_in_a_worker_is_raised_with_its_traceback() -> None:
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    with pytest.raises(WorkerFailed, match="KeyError"):
        run_all(_buggy, [0, 1, 2, 3], 2)  # item 3 runs in the worker


def test_a_bug_in_this_process_is_raised_as_it_is() -> None:
    with pytest.raises(KeyError):
        run_all(_buggy, [3, 1], 2)


def test_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_JOBS", "3")
    assert default_jobs(10) == 3
    assert default_jobs(2) == 2
    monkeypatch.setenv("COMPOSER_JOBS", "0")
    assert default_jobs(10) >= 1
    monkeypatch.setenv("COMPOSER_JOBS", "x")
    assert default_jobs(1) == 1


def test_no_worker_while_other_threads_run() -> None:
    """A thread holding a lock at the fork could leave a worker waiting forever."""
    import threading

    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        pids = {o.value[1] for o in run_all(_square_or_refuse, [0, 1, 2, 4], 2) if o.value}
    finally:
        release.set()
        thread.join()
    assert pids == {os.getpid()}
