"""`python -m swanlab_testcloud --port 0 --db PATH --api-key KEY`: serve until killed.

Prints the base URL (one line, flushed) once it listens, so a parent process can read it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from swanlab_testcloud.server import DEFAULT_SESSION_TTL_S, CloudServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swanlab_testcloud", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--db", required=True, help="sqlite file holding the cloud's state")
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY[=USER]",
        help="accept this API key (repeatable); its user is USER, default 'testuser'",
    )
    parser.add_argument("--session-ttl", type=float, default=DEFAULT_SESSION_TTL_S, help="sid lifetime, seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    keys = dict(item.partition("=")[::2] for item in args.api_key)
    cloud = CloudServer(
        args.db,
        {key: user or "testuser" for key, user in keys.items()},
        host=args.host,
        port=args.port,
        session_ttl_s=args.session_ttl,
    )
    cloud.start()
    print(cloud.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
