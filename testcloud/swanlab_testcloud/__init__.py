"""A loopback SwanLab-compatible cloud for tests and developers (docs/testcloud.md).

    with CloudServer(db_path, api_keys={"key": "alice"}) as cloud:
        os.environ["SWANLAB_API_HOST"] = cloud.url
        ...
        assert cloud.errors() == [] and cloud.duplicate_count() == 0

Modules: store.py (sqlite state), api.py (routes and protocol checks), transport.py (HTTP and
fault application), faults.py (the fault switches), server.py (lifecycle and queries).
"""

from swanlab_testcloud.faults import Fault, FaultKind
from swanlab_testcloud.server import CloudServer

__all__ = ["CloudServer", "Fault", "FaultKind"]
