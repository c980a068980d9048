"""A raw gRPC client of service.proto for daemon tests: build records, stream batches, read backups.

No swanlab_client involved: these helpers speak the wire protocol directly, so a test can send
exactly the (possibly malformed) batch it means to.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from swanlabd_pb import records_pb2 as pb
from swanlabd_pb import service_pb2 as svc


def start_run(stub, *, project: str = "proj", name: str = "exp", pid: int | None = None, **kw) -> svc.StartRunReply:
    """StartRun for a new offline run, watched on `pid` (default: this test process, which stays alive)."""
    req = svc.StartRunRequest(
        start=pb.RunStart(project=project, experiment_name=name, mode=kw.pop("mode", pb.MODE_OFFLINE)),
        pid=os.getpid() if pid is None else pid,
        **kw,
    )
    return stub.StartRun(req, timeout=10)


def keys(cs: int, names: dict[int, str]) -> pb.Record:
    return pb.Record(
        client_seq=cs, keys=pb.KeyDefs(keys=[pb.KeyDef(id=i, name=n, type=pb.FLOAT) for i, n in names.items()])
    )


def scalars(cs: int, step: int, values: dict[int, float]) -> pb.Record:
    """One row: {key_id: value} at `step`."""
    return pb.Record(
        client_seq=cs,
        scalars=pb.ScalarRows(
            steps=[step], row_sizes=[len(values)], key_ids=list(values), values=list(values.values())
        ),
    )


def rows(first_cs: int, count: int, key_id: int = 1) -> list[pb.Record]:
    """`count` one-scalar rows with client_seq first_cs.. and step == value == client_seq."""
    return [scalars(cs, cs, {key_id: float(cs)}) for cs in range(first_cs, first_cs + count)]


def stream(stub, run_id: str, writer: int, batches: Iterable[Sequence[pb.Record]], timeout: float = 20) -> list[int]:
    """Send each batch as one StreamRequest on one stream; return the acks (durable_client_seq)."""

    def requests():
        for i, batch in enumerate(batches):
            if i == 0:
                yield svc.StreamRequest(run_id=run_id, writer=writer, records=batch)
            else:
                yield svc.StreamRequest(records=batch)

    return [reply.durable_client_seq for reply in stub.Stream(requests(), timeout=timeout)]


def finish(stub, run_id: str, writer: int, last_client_seq: int, state: int = pb.FINISHED) -> svc.FinishRunReply:
    return stub.FinishRun(
        svc.FinishRunRequest(
            run_id=run_id, writer=writer, last_client_seq=last_client_seq, finish=pb.Finish(state=state)
        ),
        timeout=40,
    )


def read_backup(run_dir: str | Path) -> list[pb.Record]:
    from swanlabd.format import backup

    return [r for r, _ in backup.read_records(Path(run_dir) / backup.BACKUP_FILENAME)]


def client_seqs(records: Iterable[pb.Record], writer: int = 1) -> list[int]:
    return [r.client_seq for r in records if r.writer == writer and r.client_seq]


def kinds(records: Iterable[pb.Record]) -> list[str]:
    return [r.WhichOneof("kind") for r in records]


def run_summary(stub, run_id: str) -> svc.RunSummary:
    for run in stub.ListRuns(svc.ListRunsRequest(), timeout=10).runs:
        if run.run_id == run_id:
            return run
    raise KeyError(run_id)
