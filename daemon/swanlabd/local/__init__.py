"""What any process on the host uses to find, start and talk to a daemon: paths, limits, spawn,
credentials, redaction.

The client may import this package and `format`, nothing else of swanlabd.
"""
