"""`import swanlab` is swanlab_client: the corpus runs its scripts unchanged through our client.

Put this folder first on PYTHONPATH. The module replaces itself in sys.modules, so `swanlab.run`
stays the live attribute. No submodule is aliased: the official SDK (0.10.3) has none a script
can import either (`from swanlab.echarts import Table` fails there). Kept until `swanlabctl exec`
(which does this properly) is merged.
"""

import sys

import swanlab_client

sys.modules[__name__] = swanlab_client
