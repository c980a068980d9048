"""`python -m swanlabd ...` is the `swanlabd` command (the client starts the daemon this way)."""

import sys

from swanlabd.cli import main

sys.exit(main())
