"""CloudServer: start, stop, take down and bring back the test cloud; switch faults; query state."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swanlab_testcloud.api import CloudApi
from swanlab_testcloud.faults import Fault, FaultBoard, FaultKind
from swanlab_testcloud.store import Store
from swanlab_testcloud.transport import HttpServer

DEFAULT_SESSION_TTL_S = 30 * 24 * 3600


class CloudServer:
    """A loopback SwanLab-compatible cloud backed by an sqlite file.

    `api_keys` maps API key -> username (each becomes a user whose default workspace is its
    username). Not usable across fork. `start()` binds `host:port` (0: any free port) and
    serves from a background thread; `url` is the base URL to use as SWANLAB_API_HOST.
    """

    def __init__(
        self,
        db_path: str | Path,
        api_keys: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        session_ttl_s: float = DEFAULT_SESSION_TTL_S,
    ) -> None:
        self.store = Store(db_path)
        for key, username in (api_keys or {}).items():
            self.store.add_user(key, username)
        self.api = CloudApi(self.store, session_ttl_s=session_ttl_s)
        self.faults = FaultBoard()
        self._host, self._port = host, port
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._up_timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def is_up(self) -> bool:
        return self._httpd is not None

    def start(self) -> CloudServer:
        with self._lock:
            if self._httpd is None:
                self._listen()
        return self

    def stop(self) -> None:
        """Stop serving and close the database. Idempotent."""
        self.go_down()
        self.store.close()

    def __enter__(self) -> CloudServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listen(self) -> None:
        self._httpd = HttpServer((self._host, self._port), self.api, self.faults)
        # Pin the port so that coming back up after go_down() reuses it.
        self._port = self._httpd.server_address[1]
        self._httpd.base_url = self.url
        # A short poll interval keeps go_down()/stop() prompt (shutdown() waits for one poll).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="testcloud-http", daemon=True
        )
        self._thread.start()

    # ---- outages ----

    def go_down(self, duration_s: float | None = None) -> None:
        """Refuse connections: close the listening socket and reset open connections.

        With `duration_s`, come back up on the same port after that long.
        """
        with self._lock:
            if self._up_timer is not None:
                self._up_timer.cancel()
                self._up_timer = None
            httpd, self._httpd = self._httpd, None
            if httpd is not None:
                httpd.shutdown()
                httpd.server_close()
                httpd.cut_connections()
            if duration_s is not None:
                self._up_timer = threading.Timer(duration_s, self.come_up)
                self._up_timer.daemon = True
                self._up_timer.start()

    def come_up(self) -> None:
        """Listen again on the same port (after go_down)."""
        with self._lock:
            self._up_timer = None
            if self._httpd is None:
                self._listen()

    # ---- faults ----

    def add_fault(self, kind: FaultKind | str, path_prefix: str = "/api", **options: Any) -> Fault:
        """Switch a fault on; see faults.py for kinds and options. Returns it (`.fired` counts hits)."""
        return self.faults.add(Fault(FaultKind(kind), path_prefix, **options))

    def remove_fault(self, fault: Fault) -> None:
        self.faults.remove(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def expire_sessions(self) -> int:
        """Expire every live sid now, so the next call with it gets 401. Returns how many."""
        return self.store.expire_sessions()

    # ---- queries for tests ----

    def add_user(self, api_key: str, username: str) -> None:
        self.store.add_user(api_key, username)

    def errors(self) -> list[dict[str, Any]]:
        return self.store.errors()

    def requests(self) -> list[dict[str, Any]]:
        return self.store.requests()

    def duplicate_count(self) -> int:
        return self.store.duplicate_count()

    def project(self, username: str, name: str) -> dict[str, Any] | None:
        return self.store.project(username, name)

    def experiments(self, username: str | None = None, project: str | None = None) -> list[dict[str, Any]]:
        if username is None or project is None:
            return self.store.experiments()
        found = self.store.project(username, project)
        return self.store.experiments(found["cuid"]) if found else []

    def snapshot(self, experiment_cuid: str) -> dict[str, Any]:
        """Everything the cloud holds for one experiment, in plain data (for comparing two runs)."""
        experiment = self.store.experiment(experiment_cuid)
        if experiment is None:
            raise KeyError(experiment_cuid)
        return {
            "experiment": experiment,
            "profile": self.store.profile(experiment_cuid),
            "columns": self.store.columns(experiment["project_cuid"]),
            "scalar": self.store.metrics(experiment_cuid, "scalar"),
            "media": self.store.metrics(experiment_cuid, "media"),
            "log": self.store.metrics(experiment_cuid, "log").get("", {}),
            "objects": self.store.objects(experiment_cuid),
        }
