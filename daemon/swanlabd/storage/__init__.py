"""Run folders, the runs being written, recovery and adoption, process watch, and the state DB.

Knows nothing of gRPC servers or the cloud.
"""
