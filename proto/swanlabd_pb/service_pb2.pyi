from swanlabd_pb import records_pb2 as _records_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Cloud(_message.Message):
    __slots__ = ("api_host", "web_host", "api_key")
    API_HOST_FIELD_NUMBER: _ClassVar[int]
    WEB_HOST_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_host: str
    web_host: str
    api_key: str
    def __init__(self, api_host: _Optional[str] = ..., web_host: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class StartRunRequest(_message.Message):
    __slots__ = ("start", "cloud", "config", "metadata", "requirements", "attach", "pid", "writer", "log_dir", "journal")
    START_FIELD_NUMBER: _ClassVar[int]
    CLOUD_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    ATTACH_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    LOG_DIR_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_FIELD_NUMBER: _ClassVar[int]
    start: _records_pb2.RunStart
    cloud: Cloud
    config: _records_pb2.Config
    metadata: _records_pb2.Metadata
    requirements: _records_pb2.Requirements
    attach: bool
    pid: int
    writer: int
    log_dir: str
    journal: str
    def __init__(self, start: _Optional[_Union[_records_pb2.RunStart, _Mapping]] = ..., cloud: _Optional[_Union[Cloud, _Mapping]] = ..., config: _Optional[_Union[_records_pb2.Config, _Mapping]] = ..., metadata: _Optional[_Union[_records_pb2.Metadata, _Mapping]] = ..., requirements: _Optional[_Union[_records_pb2.Requirements, _Mapping]] = ..., attach: _Optional[bool] = ..., pid: _Optional[int] = ..., writer: _Optional[int] = ..., log_dir: _Optional[str] = ..., journal: _Optional[str] = ...) -> None: ...

class StartRunReply(_message.Message):
    __slots__ = ("run_id", "run_dir", "writer", "durable_client_seq", "next_step")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    DURABLE_CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    run_dir: str
    writer: int
    durable_client_seq: int
    next_step: int
    def __init__(self, run_id: _Optional[str] = ..., run_dir: _Optional[str] = ..., writer: _Optional[int] = ..., durable_client_seq: _Optional[int] = ..., next_step: _Optional[int] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("run_id", "writer", "records")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    writer: int
    records: _containers.RepeatedCompositeFieldContainer[_records_pb2.Record]
    def __init__(self, run_id: _Optional[str] = ..., writer: _Optional[int] = ..., records: _Optional[_Iterable[_Union[_records_pb2.Record, _Mapping]]] = ...) -> None: ...

class StreamReply(_message.Message):
    __slots__ = ("durable_client_seq",)
    DURABLE_CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    durable_client_seq: int
    def __init__(self, durable_client_seq: _Optional[int] = ...) -> None: ...

class FinishRunRequest(_message.Message):
    __slots__ = ("run_id", "writer", "last_client_seq", "finish")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    LAST_CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    writer: int
    last_client_seq: int
    finish: _records_pb2.Finish
    def __init__(self, run_id: _Optional[str] = ..., writer: _Optional[int] = ..., last_client_seq: _Optional[int] = ..., finish: _Optional[_Union[_records_pb2.Finish, _Mapping]] = ...) -> None: ...

class FinishRunReply(_message.Message):
    __slots__ = ("durable_client_seq",)
    DURABLE_CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    durable_client_seq: int
    def __init__(self, durable_client_seq: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunSummary(_message.Message):
    __slots__ = ("run_id", "run_dir", "project", "experiment_name", "mode", "state", "records", "backup_bytes", "bytes_not_uploaded", "last_error", "uploading", "cloud_url", "source_kind")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    BACKUP_BYTES_FIELD_NUMBER: _ClassVar[int]
    BYTES_NOT_UPLOADED_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    UPLOADING_FIELD_NUMBER: _ClassVar[int]
    CLOUD_URL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    run_dir: str
    project: str
    experiment_name: str
    mode: _records_pb2.Mode
    state: _records_pb2.RunState
    records: int
    backup_bytes: int
    bytes_not_uploaded: int
    last_error: str
    uploading: bool
    cloud_url: str
    source_kind: str
    def __init__(self, run_id: _Optional[str] = ..., run_dir: _Optional[str] = ..., project: _Optional[str] = ..., experiment_name: _Optional[str] = ..., mode: _Optional[_Union[_records_pb2.Mode, str]] = ..., state: _Optional[_Union[_records_pb2.RunState, str]] = ..., records: _Optional[int] = ..., backup_bytes: _Optional[int] = ..., bytes_not_uploaded: _Optional[int] = ..., last_error: _Optional[str] = ..., uploading: _Optional[bool] = ..., cloud_url: _Optional[str] = ..., source_kind: _Optional[str] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("version", "pid", "socket", "data_root", "started_ms", "active_runs", "queued_bytes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SOCKET_FIELD_NUMBER: _ClassVar[int]
    DATA_ROOT_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_RUNS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_BYTES_FIELD_NUMBER: _ClassVar[int]
    version: str
    pid: int
    socket: str
    data_root: str
    started_ms: int
    active_runs: _containers.RepeatedCompositeFieldContainer[RunSummary]
    queued_bytes: int
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., socket: _Optional[str] = ..., data_root: _Optional[str] = ..., started_ms: _Optional[int] = ..., active_runs: _Optional[_Iterable[_Union[RunSummary, _Mapping]]] = ..., queued_bytes: _Optional[int] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRunsReply(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunSummary]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunSummary, _Mapping]]] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("run_ids", "paths", "cloud", "project", "workspace", "wait")
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    CLOUD_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    paths: _containers.RepeatedScalarFieldContainer[str]
    cloud: Cloud
    project: str
    workspace: str
    wait: bool
    def __init__(self, run_ids: _Optional[_Iterable[str]] = ..., paths: _Optional[_Iterable[str]] = ..., cloud: _Optional[_Union[Cloud, _Mapping]] = ..., project: _Optional[str] = ..., workspace: _Optional[str] = ..., wait: _Optional[bool] = ...) -> None: ...

class SyncProgress(_message.Message):
    __slots__ = ("run_id", "records_done", "records_total", "bytes_done", "bytes_total", "done", "error", "conversion")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_DONE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BYTES_DONE_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    records_done: int
    records_total: int
    bytes_done: int
    bytes_total: int
    done: bool
    error: str
    conversion: Conversion
    def __init__(self, run_id: _Optional[str] = ..., records_done: _Optional[int] = ..., records_total: _Optional[int] = ..., bytes_done: _Optional[int] = ..., bytes_total: _Optional[int] = ..., done: _Optional[bool] = ..., error: _Optional[str] = ..., conversion: _Optional[_Union[Conversion, _Mapping]] = ...) -> None: ...

class Conversion(_message.Message):
    __slots__ = ("source_kind", "source_path", "records_converted", "points", "losses", "unknown")
    class UnknownEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    RECORDS_CONVERTED_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    source_kind: str
    source_path: str
    records_converted: int
    points: int
    losses: _containers.RepeatedScalarFieldContainer[str]
    unknown: _containers.ScalarMap[str, int]
    def __init__(self, source_kind: _Optional[str] = ..., source_path: _Optional[str] = ..., records_converted: _Optional[int] = ..., points: _Optional[int] = ..., losses: _Optional[_Iterable[str]] = ..., unknown: _Optional[_Mapping[str, int]] = ...) -> None: ...
