"""Group commit: many concurrent requests made durable by one transaction and one fsync.

Requests hand their ``Job`` to ``submit`` and await the returned future; one thread takes
every job waiting (up to ``max_jobs``), commits them together, then wakes the event loop once to
resolve all their futures (one wake-up per commit, not one per request). Under
load the batch grows by itself (the jobs that arrived during the previous fsync), so the cost of
an fsync is shared; when idle a job is committed alone at once, with no timer to wait for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable

from provisioner.serve.queue import CommitOutcome, GuardPolicy, Job, Queue

log = logging.getLogger("provisioner.serve")


class Committer:
    def __init__(self, open_queue: Callable[[], Queue], policy: GuardPolicy,
                 on_commit: Callable[[CommitOutcome], None], *, max_jobs: int = 512) -> None:
        self._open_queue = open_queue
        self._policy = policy
        self._on_commit = on_commit
        self._max_jobs = max_jobs
        self._jobs: deque[tuple[Job, asyncio.Future]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="committer", daemon=True)
        self.commits = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def backlog(self) -> int:
        return len(self._jobs)

    def submit(self, job: Job) -> asyncio.Future:
        """From the event loop: a future that holds the job once it is durable."""
        self._loop = loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._cond:
            if self._stopping:
                future.set_exception(RuntimeError("the service is stopping"))
                return future
            self._jobs.append((job, future))
            self._cond.notify()
        return future

    def stop(self, timeout: float) -> None:
        """Commit what was submitted, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        queue = self._open_queue()
        try:
            while True:
                with self._cond:
                    while not self._jobs and not self._stopping:
                        self._cond.wait()
                    if not self._jobs:
                        return
                    batch = [self._jobs.popleft() for _ in range(min(len(self._jobs), self._max_jobs))]
                jobs = [job for job, _future in batch]
                try:
                    outcome = queue.commit(jobs, self._policy)
                except Exception as exc:  # the store failed: every request of the batch gets a 503
                    log.error("Could not commit %d request(s) to the store: %s", len(jobs), exc)
                    self._settle(batch, exc)
                    continue
                self.commits += 1
                self._settle(batch, None)
                try:
                    self._on_commit(outcome)
                except Exception:  # noqa: BLE001 - a metrics or wake-up failure never loses a commit
                    log.exception("After a commit")
        finally:
            queue.close()

    def _settle(self, batch: list[tuple[Job, asyncio.Future]], error: Exception | None) -> None:
        def settle() -> None:
            for job, future in batch:
                if not future.done():  # a request that timed out has given up on its future
                    if error is None:
                        future.set_result(job)
                    else:
                        future.set_exception(error)

        try:
            self._loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass
