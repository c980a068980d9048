"""The daemon's gRPC face: the servicer on the Unix socket (server.py), the protocol checks of a
batch (validate.py), the `RunService` seam it calls (ports.py), and the host monitor that feeds runs."""
