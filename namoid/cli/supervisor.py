"""The worker processes of ``namoid serve --workers N``: forked, watched, replaced, stopped.

The supervisor binds the listening sockets itself, then forks N workers that all accept on
them (the kernel hands each new connection to one of them). It serves nothing and opens no
database connection: it waits for signals. A worker that dies is replaced (same index, so the
one that runs the embedded background jobs is replaced by one that runs them too); a worker
that could not start stops everything, since its replacement would fail the same way.
SIGTERM or SIGINT is passed on to every worker, each finishing its requests in flight (uvicorn's
graceful shutdown); the ones still alive after ``grace`` seconds are killed. Workers also get
SIGTERM if the supervisor itself dies (``PR_SET_PDEATHSIG``), so none is left orphaned.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable

log = logging.getLogger("namoid.serve")

#: A worker exits with this when one of its servers failed to start (uvicorn's own code for it).
EXIT_STARTUP_FAILED = 3
#: What the supervisor watches; blocked outside ``sigtimedwait`` so none is lost between two waits.
_WATCHED = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
_PR_SET_PDEATHSIG = 1


class WorkerFailed(Exception):
    """A worker could not start; every other worker has been stopped."""


def _die_with_parent(parent: int) -> None:
    """SIGTERM this process when the supervisor dies, whatever kills it (prctl(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


def _fork(index: int, work: Callable[[int], int]) -> int:
    """Start worker ``index``: a child process running ``work(index)``, which never returns here."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)
        _die_with_parent(parent)
        code = work(index)
    except BaseException:  # the child must never return into the supervisor's loop
        log.exception("worker %d failed", index)
    finally:
        logging.shutdown()
        os._exit(code)


def _exit_code(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class Supervisor:
    """N workers, each ``work(index)`` in its own process; ``on_exit(pid)`` after each one ends."""

    def __init__(self, count: int, work: Callable[[int], int], on_exit: Callable[[int], None]) -> None:
        self.count, self.work, self.on_exit = count, work, on_exit
        self.workers: dict[int, int] = {}  # pid -> index

    def run(self, grace: float = 30.0) -> None:
        """Serve until SIGTERM/SIGINT, replacing dead workers; raises WorkerFailed if one cannot start."""
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD is delivered, not dropped
        signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
        try:
            for index in range(self.count):
                self._start(index)
            log.info("%d workers serving: pids %s", self.count, sorted(self.workers))
            failed = self._watch()
        finally:
            self._stop_all(grace)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)
        if failed is not None:
            raise WorkerFailed(failed)

    def _start(self, index: int) -> None:
        self.workers[_fork(index, self.work)] = index

    def _watch(self) -> str | None:
        """Wait for a signal; replace every dead worker. Returns why it gave up, or None on a signal."""
        while True:
            received = signal.sigtimedwait(_WATCHED, 1.0)
            for pid, status in self._reap():
                index = self.workers.pop(pid)
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_STARTUP_FAILED:
                    return f"worker {index} (pid {pid}) could not start; see the log above"
                log.warning(
                    "worker %d (pid %d) ended (%s); starting a new one", index, pid, _exit_code(status)
                )
                self._start(index)
            if received is not None and received.si_signo != signal.SIGCHLD:
                log.info(
                    "%s received: stopping %d workers",
                    signal.Signals(received.si_signo).name,
                    len(self.workers),
                )
                return None

    def _reap(self) -> list[tuple[int, int]]:
        """The workers that ended since the last call (pid, wait status)."""
        ended = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # none left
                break
            if pid == 0:
                break
            if pid in self.workers:
                ended.append((pid, status))
                self.on_exit(pid)
        return ended

    def _stop_all(self, grace: float) -> None:
        for pid in self.workers:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.workers and time.monotonic() < deadline:
            for pid, _status in self._reap():
                del self.workers[pid]
            time.sleep(0.05)
        for pid in list(self.workers):
            log.warning("worker pid %d still running after %g s: killed", pid, grace)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.on_exit(pid)
            del self.workers[pid]
