"""Forwarding runs to the SwanLab cloud: the forwarder, per-run uploaders, upload state, the cloud API client."""
