"""The daemon's gRPC face (the servicer on the Unix socket) and the host monitor that feeds runs."""
