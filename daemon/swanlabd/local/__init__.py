"""What any process on the host uses to find, start and talk to a daemon, and to write what it
would write: paths, limits, spawn, control (its Sync RPC), credentials and cloudlogin (the key
check), redaction, runfolder (run ids and run folders).

The client may import this package and `format`, nothing else of swanlabd.
"""
