# swanlabd in a container: a sidecar that training containers reach through a shared socket
# volume (docs/service.md has the two-container example).
#
#   docker build -t swanlabd .
#   docker run -d --name swanlabd -v swanlabd-socket:/run/swanlabd -v swanlabd-data:/var/lib/swanlabd swanlabd
#
# The socket directory is 0700 and owned by uid 10001: containers that log through it must run
# as that uid (docker run --user 10001:10001).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY daemon ./daemon
COPY client ./client
# Every dependency ships manylinux wheels (grpcio, plyvel, google-crc32c, psutil): no compiler.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 swanlabd \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/swanlabd --no-create-home swanlabd \
 && install -d -o swanlabd -g swanlabd -m 0700 /run/swanlabd /var/lib/swanlabd
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels swanlabd && rm -rf /wheels

ENV SWANLABD_SOCKET=/run/swanlabd/swanlabd.sock \
    SWANLABD_DATA_ROOT=/var/lib/swanlabd \
    PYTHONUNBUFFERED=1
USER swanlabd:swanlabd
# New named volumes copy these directories' owner and 0700 mode from the image.
VOLUME ["/run/swanlabd", "/var/lib/swanlabd"]

# swanlabctl status: exit 0 when the daemon answers on the socket, 1 when not (3 s RPC timeout).
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["swanlabctl", "status"]
# SIGTERM: stop accepting, ack what arrived, fsync, save cursors, exit 0 within
# shutdown_timeout_s (10 s); give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["swanlabd", "run"]
