"""Limits that the daemon and every process talking to it must agree on.

One definition, imported by both sides: the client sizes its requests against the same number
the daemon's gRPC server enforces (a copy on each side once drifted apart).
"""

# The largest gRPC message the daemon accepts or sends (~1.3 million packed scalars). A larger
# request gets RESOURCE_EXHAUSTED from grpc. It bounds what one batch costs the daemon's memory
# (its RSS budget is 80 MB); clients send far smaller requests.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
