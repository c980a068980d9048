from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_CLOUD: _ClassVar[Mode]
    MODE_OFFLINE: _ClassVar[Mode]
    MODE_DISABLED: _ClassVar[Mode]

class KeyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_TYPE_UNSPECIFIED: _ClassVar[KeyType]
    FLOAT: _ClassVar[KeyType]
    IMAGE: _ClassVar[KeyType]
    AUDIO: _ClassVar[KeyType]
    TEXT: _ClassVar[KeyType]
    VIDEO: _ClassVar[KeyType]
    ECHARTS: _ClassVar[KeyType]
    OBJECT3D: _ClassVar[KeyType]
    MOLECULE: _ClassVar[KeyType]
    HTML: _ClassVar[KeyType]
    SYSTEM: _ClassVar[KeyType]

class Stream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_UNSPECIFIED: _ClassVar[Stream]
    STDOUT: _ClassVar[Stream]
    STDERR: _ClassVar[Stream]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUNNING: _ClassVar[RunState]
    FINISHED: _ClassVar[RunState]
    CRASHED: _ClassVar[RunState]
    ABORTED: _ClassVar[RunState]
MODE_UNSPECIFIED: Mode
MODE_CLOUD: Mode
MODE_OFFLINE: Mode
MODE_DISABLED: Mode
KEY_TYPE_UNSPECIFIED: KeyType
FLOAT: KeyType
IMAGE: KeyType
AUDIO: KeyType
TEXT: KeyType
VIDEO: KeyType
ECHARTS: KeyType
OBJECT3D: KeyType
MOLECULE: KeyType
HTML: KeyType
SYSTEM: KeyType
STREAM_UNSPECIFIED: Stream
STDOUT: Stream
STDERR: Stream
RUN_STATE_UNSPECIFIED: RunState
RUNNING: RunState
FINISHED: RunState
CRASHED: RunState
ABORTED: RunState

class Record(_message.Message):
    __slots__ = ("seq", "time_ms", "writer", "client_seq", "part", "more_parts", "header", "run_start", "keys", "scalars", "console", "system", "media", "config", "metadata", "requirements", "file", "finish", "source", "journal", "journal_end")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    MORE_PARTS_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    RUN_START_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SCALARS_FIELD_NUMBER: _ClassVar[int]
    CONSOLE_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_END_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time_ms: int
    writer: int
    client_seq: int
    part: int
    more_parts: bool
    header: FileHeader
    run_start: RunStart
    keys: KeyDefs
    scalars: ScalarRows
    console: ConsoleLines
    system: ScalarRows
    media: MediaRefs
    config: Config
    metadata: Metadata
    requirements: Requirements
    file: SavedFile
    finish: Finish
    source: SourceCursor
    journal: JournalChunk
    journal_end: int
    def __init__(self, seq: _Optional[int] = ..., time_ms: _Optional[int] = ..., writer: _Optional[int] = ..., client_seq: _Optional[int] = ..., part: _Optional[int] = ..., more_parts: _Optional[bool] = ..., header: _Optional[_Union[FileHeader, _Mapping]] = ..., run_start: _Optional[_Union[RunStart, _Mapping]] = ..., keys: _Optional[_Union[KeyDefs, _Mapping]] = ..., scalars: _Optional[_Union[ScalarRows, _Mapping]] = ..., console: _Optional[_Union[ConsoleLines, _Mapping]] = ..., system: _Optional[_Union[ScalarRows, _Mapping]] = ..., media: _Optional[_Union[MediaRefs, _Mapping]] = ..., config: _Optional[_Union[Config, _Mapping]] = ..., metadata: _Optional[_Union[Metadata, _Mapping]] = ..., requirements: _Optional[_Union[Requirements, _Mapping]] = ..., file: _Optional[_Union[SavedFile, _Mapping]] = ..., finish: _Optional[_Union[Finish, _Mapping]] = ..., source: _Optional[_Union[SourceCursor, _Mapping]] = ..., journal: _Optional[_Union[JournalChunk, _Mapping]] = ..., journal_end: _Optional[int] = ...) -> None: ...

class FileHeader(_message.Message):
    __slots__ = ("magic", "format_version", "run_id", "created_by")
    MAGIC_FIELD_NUMBER: _ClassVar[int]
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    magic: str
    format_version: int
    run_id: str
    created_by: str
    def __init__(self, magic: _Optional[str] = ..., format_version: _Optional[int] = ..., run_id: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class RunStart(_message.Message):
    __slots__ = ("run_id", "project", "workspace", "experiment_name", "description", "tags", "group", "mode", "resume", "start_time_ms", "pid", "hostname", "job_type", "colors", "visibility", "journal", "primary_writer")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLORS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_WRITER_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    project: str
    workspace: str
    experiment_name: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    group: str
    mode: Mode
    resume: str
    start_time_ms: int
    pid: int
    hostname: str
    job_type: str
    colors: _containers.RepeatedScalarFieldContainer[str]
    visibility: str
    journal: str
    primary_writer: int
    def __init__(self, run_id: _Optional[str] = ..., project: _Optional[str] = ..., workspace: _Optional[str] = ..., experiment_name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., group: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., resume: _Optional[str] = ..., start_time_ms: _Optional[int] = ..., pid: _Optional[int] = ..., hostname: _Optional[str] = ..., job_type: _Optional[str] = ..., colors: _Optional[_Iterable[str]] = ..., visibility: _Optional[str] = ..., journal: _Optional[str] = ..., primary_writer: _Optional[int] = ...) -> None: ...

class KeyDef(_message.Message):
    __slots__ = ("id", "name", "type", "section", "x_axis", "hidden")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SECTION_FIELD_NUMBER: _ClassVar[int]
    X_AXIS_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    type: KeyType
    section: str
    x_axis: str
    hidden: bool
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., type: _Optional[_Union[KeyType, str]] = ..., section: _Optional[str] = ..., x_axis: _Optional[str] = ..., hidden: _Optional[bool] = ...) -> None: ...

class KeyDefs(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyDef]
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyDef, _Mapping]]] = ...) -> None: ...

class ScalarRows(_message.Message):
    __slots__ = ("steps", "row_sizes", "key_ids", "values", "time_deltas_ms", "blocks")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ROW_SIZES_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TIME_DELTAS_MS_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[int]
    row_sizes: _containers.RepeatedScalarFieldContainer[int]
    key_ids: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    time_deltas_ms: _containers.RepeatedScalarFieldContainer[int]
    blocks: _containers.RepeatedCompositeFieldContainer[ScalarBlock]
    def __init__(self, steps: _Optional[_Iterable[int]] = ..., row_sizes: _Optional[_Iterable[int]] = ..., key_ids: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ..., time_deltas_ms: _Optional[_Iterable[int]] = ..., blocks: _Optional[_Iterable[_Union[ScalarBlock, _Mapping]]] = ...) -> None: ...

class ScalarBlock(_message.Message):
    __slots__ = ("steps", "times_ms", "shape_sizes", "shape_keys", "row_shapes", "wide", "values")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TIMES_MS_FIELD_NUMBER: _ClassVar[int]
    SHAPE_SIZES_FIELD_NUMBER: _ClassVar[int]
    SHAPE_KEYS_FIELD_NUMBER: _ClassVar[int]
    ROW_SHAPES_FIELD_NUMBER: _ClassVar[int]
    WIDE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[int]
    times_ms: _containers.RepeatedScalarFieldContainer[int]
    shape_sizes: _containers.RepeatedScalarFieldContainer[int]
    shape_keys: _containers.RepeatedScalarFieldContainer[int]
    row_shapes: _containers.RepeatedScalarFieldContainer[int]
    wide: bytes
    values: bytes
    def __init__(self, steps: _Optional[_Iterable[int]] = ..., times_ms: _Optional[_Iterable[int]] = ..., shape_sizes: _Optional[_Iterable[int]] = ..., shape_keys: _Optional[_Iterable[int]] = ..., row_shapes: _Optional[_Iterable[int]] = ..., wide: _Optional[bytes] = ..., values: _Optional[bytes] = ...) -> None: ...

class ConsoleLine(_message.Message):
    __slots__ = ("line_no", "text", "stream", "time_ms")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    text: str
    stream: Stream
    time_ms: int
    def __init__(self, line_no: _Optional[int] = ..., text: _Optional[str] = ..., stream: _Optional[_Union[Stream, str]] = ..., time_ms: _Optional[int] = ...) -> None: ...

class ConsoleLines(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[ConsoleLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[ConsoleLine, _Mapping]]] = ...) -> None: ...

class MediaRef(_message.Message):
    __slots__ = ("key_id", "step", "path", "caption", "sha256", "size")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    step: int
    path: str
    caption: str
    sha256: str
    size: int
    def __init__(self, key_id: _Optional[int] = ..., step: _Optional[int] = ..., path: _Optional[str] = ..., caption: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class MediaRefs(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[MediaRef]
    def __init__(self, items: _Optional[_Iterable[_Union[MediaRef, _Mapping]]] = ...) -> None: ...

class Config(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class Metadata(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class Requirements(_message.Message):
    __slots__ = ("pip", "conda", "sys_path")
    PIP_FIELD_NUMBER: _ClassVar[int]
    CONDA_FIELD_NUMBER: _ClassVar[int]
    SYS_PATH_FIELD_NUMBER: _ClassVar[int]
    pip: str
    conda: str
    sys_path: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pip: _Optional[str] = ..., conda: _Optional[str] = ..., sys_path: _Optional[_Iterable[str]] = ...) -> None: ...

class SavedFile(_message.Message):
    __slots__ = ("path", "size", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class Finish(_message.Message):
    __slots__ = ("state", "exit_code", "error", "finish_time_ms")
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    state: RunState
    exit_code: int
    error: str
    finish_time_ms: int
    def __init__(self, state: _Optional[_Union[RunState, str]] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ..., finish_time_ms: _Optional[int] = ...) -> None: ...

class JournalChunk(_message.Message):
    __slots__ = ("start", "entries")
    START_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    start: int
    entries: bytes
    def __init__(self, start: _Optional[int] = ..., entries: _Optional[bytes] = ...) -> None: ...

class SourceCursor(_message.Message):
    __slots__ = ("kind", "path", "cursor", "lost_records", "unknown_records")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LOST_RECORDS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_RECORDS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    path: str
    cursor: str
    lost_records: int
    unknown_records: int
    def __init__(self, kind: _Optional[str] = ..., path: _Optional[str] = ..., cursor: _Optional[str] = ..., lost_records: _Optional[int] = ..., unknown_records: _Optional[int] = ...) -> None: ...
