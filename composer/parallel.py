"""Several environments rendered at once, in worker processes forked from this one.

Rendering an environment is pure CPU work on trees this process has already loaded (the base
file is parsed once, before the fork), so forked workers start with everything they need and
only send back small results. Where fork is not the platform's way (Windows, macOS) or only
one core is free, the work runs in a plain loop, with the same results in the same order.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from composer.errors import ComposerError

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")
B = TypeVar("B")

_in_worker = False  # a worker does its share itself: no workers of its own


class Outcome(Generic[R]):
    """What one call gave: its value, or the composer error it raised."""

    __slots__ = ("error", "value")

    def __init__(self, value: R | None = None, error: ComposerError | None = None) -> None:
        self.value = value
        self.error = error


class WorkerFailed(RuntimeError):
    """A worker died or hit a bug; its traceback is in the message."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs(count: int) -> int:
    """As many processes as free cores (or COMPOSER_JOBS), never more than there is work."""
    chosen = os.environ.get("COMPOSER_JOBS", "")
    wanted = int(chosen) if chosen.isdigit() and int(chosen) > 0 else available_cores()
    return max(1, min(wanted, count))


def run_all(fn: Callable[[T], R], items: Sequence[T], jobs: int | None = None) -> list[Outcome[R]]:
    """fn over items, in order; up to `jobs` processes at once (this one included)."""
    jobs = default_jobs(len(items)) if jobs is None else max(1, min(jobs, len(items)))
    if jobs == 1 or _in_worker or not _can_fork():
        return [_call(fn, item) for item in items]
    groups = [list(range(i, len(items), jobs)) for i in range(jobs)]
    workers: list[tuple[int, int, list[int]]] = []
    try:
        for group in groups[1:]:
            pid, reader = _fork(fn, items, group)
            workers.append((pid, reader, group))
        outcomes: dict[int, Outcome[R]] = {i: _call(fn, items[i]) for i in groups[0]}
        while workers:
            pid, reader, group = workers.pop(0)
            outcomes.update(zip(group, _collect(pid, reader, len(group)), strict=True))
    finally:
        for pid, reader, _ in workers:  # only after a bug here: stop the others, no zombies
            _abandon(pid, reader)
    return [outcomes[i] for i in range(len(items))]


def side_by_side(
    foreground: Callable[[], A], background: Callable[[], B], fork: bool = True
) -> tuple[Outcome[A], Outcome[B]]:
    """background in a forked worker while this process runs foreground (one after the
    other when forking is not possible or not asked for). background's value must pickle."""
    tasks: list[Callable[[], object]] = [foreground, background]
    jobs = 2 if fork and default_jobs(2) == 2 else 1
    first, second = run_all(lambda task: task(), tasks, jobs)
    return first, second  # type: ignore[return-value]


def _can_fork() -> bool:
    """Linux, and no other thread: a thread holding a lock at the fork would leave the worker
    waiting on it forever (a library caller may run threads; the command never does)."""
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and threading.active_count() == 1)


def _call(fn: Callable[[T], R], item: T) -> Outcome[R]:
    try:
        return Outcome(value=fn(item))
    except ComposerError as exc:
        return Outcome(error=exc)


def _fork(fn: Callable[[T], R], items: Sequence[T], group: list[int]) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writer)
        return pid, reader
    # The worker: compute, send, and leave at once (no cleanup of the parent's state).
    global _in_worker
    _in_worker = True
    code = 0
    try:
        os.close(reader)
        try:
            payload = pickle.dumps([_call(fn, items[i]) for i in group])
        except BaseException:  # a bug: the parent raises it with this traceback
            payload = pickle.dumps(traceback.format_exc())
        with os.fdopen(writer, "wb") as out:
            out.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _abandon(pid: int, reader: int) -> None:
    with contextlib.suppress(OSError):
        os.close(reader)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def _collect(pid: int, reader: int, count: int) -> list[Outcome[R]]:
    with os.fdopen(reader, "rb") as stream:
        data = stream.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise WorkerFailed(f"a worker process ended without a result (status {status})")
    result = pickle.loads(data)
    if isinstance(result, str):
        raise WorkerFailed(f"a worker process failed:\n{result}")
    if not isinstance(result, list) or len(result) != count:
        raise WorkerFailed("a worker process sent an unexpected result")
    return result
