"""async_log(): run a function in the background and log the dict it returns, as the official SDK does.

Modes: "threading" (a small thread pool), "spawn" (a process pool with the spawn start method:
the function, its arguments and its result must pickle), "asyncio" (a coroutine function,
scheduled on the caller's running event loop). finish() waits for the thread and process tasks
first (bounded by its `async_log_timeout`); an asyncio task still pending then is not logged.
A task that raises is logged as a warning, with its traceback, and logs nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swanlab_client._run import Run

_logger = logging.getLogger("swanlab_client")
MODES = ("threading", "spawn", "asyncio", "fork")


class AsyncTasks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._processes: concurrent.futures.ProcessPoolExecutor | None = None
        self._pending: set[concurrent.futures.Future[Any]] = set()

    def submit(
        self,
        run: Run,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        step: int | None,
        mode: str,
    ) -> Any:
        if not callable(func):
            raise TypeError(f"async_log() takes a callable, not {type(func).__name__}")
        if mode == "fork":
            raise NotImplementedError("async_log(mode='fork') is reserved, as in the official SDK: use 'spawn'")
        if mode not in MODES:
            raise ValueError(f"async_log() mode must be one of {MODES}, not {mode!r}")

        def done(future: Any) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            if exc is not None:
                _logger.warning("swanlab_client: async_log(%s) raised", getattr(func, "__name__", func), exc_info=exc)
                return
            if not run._finished:
                run.log(future.result(), step)

        if mode == "asyncio":
            task = asyncio.get_running_loop().create_task(func(*args, **kwargs))  # RuntimeError without a loop
            task.add_done_callback(done)
            return task
        with self._lock:
            if mode == "threading":
                if self._threads is None:
                    self._threads = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="swanlab-async-log")
                future = self._threads.submit(func, *args, **kwargs)
            else:
                if self._processes is None:
                    import multiprocessing

                    self._processes = concurrent.futures.ProcessPoolExecutor(
                        mp_context=multiprocessing.get_context("spawn")
                    )
                future = self._processes.submit(func, *args, **kwargs)
            self._pending.add(future)
        future.add_done_callback(done)
        future.add_done_callback(self._pending.discard)
        return future

    def wait(self, timeout: float | None) -> None:
        """finish(): wait for the thread and process tasks, then stop the pools."""
        with self._lock:
            pending = list(self._pending)
        _, late = concurrent.futures.wait(pending, timeout=timeout)
        if late:
            _logger.warning("swanlab_client: finish() did not wait for %d async_log() tasks still running", len(late))
        for pool in (self._threads, self._processes):
            if pool is not None:
                pool.shutdown(wait=not late, cancel_futures=True)
