"""Framework integrations: `swanlab_client.integration.<framework>` (`swanlab.integration.<framework>`
under `swanlabctl exec`), each written against the framework's public callback or logger API and
logging the keys, steps and config the official SDK 0.10.3's integration of the same name logs.

Each module imports its framework when it is imported, as the official ones do, so importing
this package alone costs nothing. docs/integrations.md lists them, with what differs and why.
"""
