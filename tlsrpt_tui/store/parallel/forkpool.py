"""A small process pool for the command line: workers forked from this process, fed
through pipes with :mod:`marshal`.

Only where forking is safe (Linux, no other thread running): the explorer uses
``concurrent.futures`` with a fork server. Here a pool costs nothing to import and
no thread to run: importing ``concurrent.futures.process`` (multiprocessing, logging,
pickle, sockets) takes about 20 ms, a twentieth of a cold ``summary`` of 10,000 files.

Each worker has a pipe for its jobs and one for its results; a frame is an 8-byte
length and a marshalled value. The parent writes jobs without blocking and reads
results as they come (:func:`select.poll` on both), so a worker busy writing a big
result and a parent busy writing the next job never wait for each other.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import sys
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

_HEADER = 8
#: Jobs a worker holds at most: one running, the others waiting in its pipe.
_GIVEN = 3


class WorkerFailed(ChildProcessError):
    """A worker raised an exception the caller does not know, or died (an OSError:
    the commands report it, and ``summary`` answers without the index)."""


class _Worker:
    def __init__(self, pid: int, jobs_fd: int, results_fd: int) -> None:
        self.pid = pid
        self.jobs_fd = jobs_fd
        self.results_fd = results_fd
        #: Bytes of jobs not written yet
        self.outgoing = bytearray()
        #: Bytes of results read, not yet a whole frame
        self.incoming = bytearray()
        #: Numbers of the jobs given to it, oldest first
        self.given: deque[int] = deque()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


#: fcntl's F_SETPIPE_SZ (Linux): a pipe's buffer size
_F_SETPIPE_SZ = 1031
#: A batch's jobs fit at once (a pipe holds 64 KiB unless told otherwise).
_PIPE_BYTES = 1 << 20


def _widen(fd: int) -> None:
    """Let a pipe hold a whole batch, so that a worker starts on it at once (Linux
    allows 1 MiB by default; elsewhere or if refused, the pipe stays as it is)."""
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, OSError):
        pass


def _frame(value: Any) -> bytes:
    body = marshal.dumps(value)
    return len(body).to_bytes(_HEADER, "little") + body


def _serve(worker: Callable[..., Any], jobs_fd: int, results_fd: int) -> None:
    """A worker's life: run jobs until the parent closes the pipe."""
    while True:
        header = _read_exactly(jobs_fd, _HEADER)
        if header is None:
            return
        body = _read_exactly(jobs_fd, int.from_bytes(header, "little"))
        if body is None:
            return
        try:
            frame = _frame(("ok", worker(*marshal.loads(body))))
        except Exception as exc:  # handed to the parent, which raises it there
            import traceback

            frame = _frame(("error", type(exc).__name__, str(exc), traceback.format_exc()))
        _write_all(results_fd, frame)


class ForkPool:
    """``jobs`` forked workers running ``worker(*args)`` for each submitted ``args``
    (marshallable both ways). Results are collected by job number, in any order."""

    def __init__(
        self,
        jobs: int,
        worker: Callable[..., Any],
        known_errors: dict[str, Callable[[str], BaseException]] | None = None,
    ) -> None:
        self.known_errors = known_errors or {}
        self.workers: list[_Worker] = []
        self.done: dict[int, Any] = {}
        #: Jobs not given to a worker yet: (number, frame)
        self.waiting: deque[tuple[int, bytes]] = deque()
        try:
            for _ in range(jobs):
                self.workers.append(self._fork(worker))
        except BaseException:
            self.close(kill=True)
            raise

    def _fork(self, worker: Callable[..., Any]) -> _Worker:
        jobs_read, jobs_write = os.pipe()
        results_read, results_write = os.pipe()
        for fd in (jobs_write, results_write):
            _widen(fd)
        pid = os.fork()
        if pid == 0:  # the worker
            status = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's
                os.close(jobs_write)
                os.close(results_read)
                for other in self.workers:
                    os.close(other.jobs_fd)
                    os.close(other.results_fd)
                _serve(worker, jobs_read, results_write)
            except BrokenPipeError:
                pass  # the parent went away: nobody wants the result
            except BaseException:
                import traceback

                status = 1
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(status)  # never back into the parent's code (nor its atexit)
        os.close(jobs_read)
        os.close(results_write)
        os.set_blocking(jobs_write, False)
        return _Worker(pid, jobs_write, results_read)

    def submit(self, number: int, *args: Any) -> None:
        """Queue job ``number``: it goes to a worker as soon as one has room."""
        self.waiting.append((number, _frame(args)))
        self._dispatch()
        self._pump(0)

    def _dispatch(self) -> None:
        # Each worker has one job running and at most two waiting (written to its pipe,
        # so it goes on while this process is busy): the rest wait here, for whichever
        # worker is free first. Workers that get through their jobs faster get more.
        while self.waiting:
            target = min(self.workers, key=lambda w: len(w.given))
            if len(target.given) >= _GIVEN:
                return
            number, frame = self.waiting.popleft()
            target.given.append(number)
            target.outgoing += frame

    def result(self, number: int, timeout: float) -> tuple[bool, Any]:
        """(True, job ``number``'s result), or (False, None) if it is not done within
        ``timeout`` seconds. Raises what the job raised (known errors as themselves)."""
        if number not in self.done:
            self._pump(timeout)
            if number not in self.done:
                return False, None
        reply = self.done.pop(number)
        if reply[0] == "ok":
            return True, reply[1]
        _, name, message, text = reply
        make = self.known_errors.get(name)
        if make is not None:
            raise make(message)
        raise WorkerFailed(f"a worker failed: {name}: {message}\n{text}")

    def _pump(self, timeout: float) -> None:
        """Write what waits to be written and read what came, for up to ``timeout``
        seconds or until at least one result came."""
        poller = select.poll()  # (not select(): no limit on descriptor numbers)
        for worker in self.workers:
            if worker.given:
                poller.register(worker.results_fd, select.POLLIN)
            if worker.outgoing:
                poller.register(worker.jobs_fd, select.POLLOUT)
        ready = {fd for fd, _event in poller.poll(int(timeout * 1000))}
        for worker in self.workers:
            if worker.jobs_fd in ready:
                try:
                    written = os.write(worker.jobs_fd, worker.outgoing)
                except BlockingIOError:
                    written = 0
                except BrokenPipeError:
                    raise WorkerFailed(f"a worker (pid {worker.pid}) died") from None
                del worker.outgoing[:written]
            if worker.results_fd in ready:
                chunk = os.read(worker.results_fd, 1 << 20)
                if not chunk:
                    raise WorkerFailed(f"a worker (pid {worker.pid}) died")
                worker.incoming += chunk
                self._collect(worker)
        self._dispatch()

    def _collect(self, worker: _Worker) -> None:
        data = worker.incoming
        while len(data) >= _HEADER:
            size = int.from_bytes(data[:_HEADER], "little")
            if len(data) < _HEADER + size:
                break
            self.done[worker.given.popleft()] = marshal.loads(data[_HEADER : _HEADER + size])
            del data[: _HEADER + size]

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers (at once with ``kill``; otherwise when their jobs are done)
        and wait for them."""
        for worker in self.workers:
            if kill:
                with suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
            for fd in (worker.jobs_fd, worker.results_fd):
                with suppress(OSError):
                    os.close(fd)
        for worker in self.workers:
            with suppress(ChildProcessError):
                os.waitpid(worker.pid, 0)
        self.workers = []


__all__ = ["ForkPool", "WorkerFailed"]
