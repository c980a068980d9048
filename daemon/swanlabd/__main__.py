"""`python -m swanlabd ...` is the `swanlabd` command (the client starts the daemon this way)."""

import sys

from swanlabd.cli.swanlabd import main

sys.exit(main())
