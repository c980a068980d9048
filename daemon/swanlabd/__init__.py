"""swanlabd: the per-host logging daemon (see docs/architecture.md for the data path).

Kept import-free on purpose: the client imports light modules of this package (`paths`, and
`backup` for its no-daemon fallback), and must not pay for grpc, plyvel or pydantic here.
"""

__version__ = "0.1.0"
