"""Uploading runs to the SwanLab cloud: the `Uploader` (registry.py), per-run uploaders, upload
state, the cloud API client.
"""
