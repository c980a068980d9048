from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_RUNNING: _ClassVar[RunState]
    RUN_STATE_FINISHED: _ClassVar[RunState]
    RUN_STATE_CRASHED: _ClassVar[RunState]
    RUN_STATE_ABORTED: _ClassVar[RunState]

class ColumnType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLUMN_TYPE_UNSPECIFIED: _ClassVar[ColumnType]
    COLUMN_TYPE_SCALAR: _ClassVar[ColumnType]
    COLUMN_TYPE_IMAGE: _ClassVar[ColumnType]
    COLUMN_TYPE_AUDIO: _ClassVar[ColumnType]
    COLUMN_TYPE_TEXT: _ClassVar[ColumnType]
    COLUMN_TYPE_VIDEO: _ClassVar[ColumnType]
    COLUMN_TYPE_ECHARTS: _ClassVar[ColumnType]
    COLUMN_TYPE_OBJECT3D: _ClassVar[ColumnType]
    COLUMN_TYPE_MOLECULE: _ClassVar[ColumnType]
    COLUMN_TYPE_HTML: _ClassVar[ColumnType]

class ColumnClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLUMN_CLASS_UNSPECIFIED: _ClassVar[ColumnClass]
    COLUMN_CLASS_CUSTOM: _ClassVar[ColumnClass]
    COLUMN_CLASS_SYSTEM: _ClassVar[ColumnClass]

class LogLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_LEVEL_INFO: _ClassVar[LogLevel]
    LOG_LEVEL_ERROR: _ClassVar[LogLevel]

class SaveType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAVE_TYPE_CUSTOM: _ClassVar[SaveType]
    SAVE_TYPE_CONFIG: _ClassVar[SaveType]
    SAVE_TYPE_METADATA: _ClassVar[SaveType]
    SAVE_TYPE_REQUIREMENTS: _ClassVar[SaveType]
    SAVE_TYPE_CONDA: _ClassVar[SaveType]
RUN_STATE_RUNNING: RunState
RUN_STATE_FINISHED: RunState
RUN_STATE_CRASHED: RunState
RUN_STATE_ABORTED: RunState
COLUMN_TYPE_UNSPECIFIED: ColumnType
COLUMN_TYPE_SCALAR: ColumnType
COLUMN_TYPE_IMAGE: ColumnType
COLUMN_TYPE_AUDIO: ColumnType
COLUMN_TYPE_TEXT: ColumnType
COLUMN_TYPE_VIDEO: ColumnType
COLUMN_TYPE_ECHARTS: ColumnType
COLUMN_TYPE_OBJECT3D: ColumnType
COLUMN_TYPE_MOLECULE: ColumnType
COLUMN_TYPE_HTML: ColumnType
COLUMN_CLASS_UNSPECIFIED: ColumnClass
COLUMN_CLASS_CUSTOM: ColumnClass
COLUMN_CLASS_SYSTEM: ColumnClass
LOG_LEVEL_INFO: LogLevel
LOG_LEVEL_ERROR: LogLevel
SAVE_TYPE_CUSTOM: SaveType
SAVE_TYPE_CONFIG: SaveType
SAVE_TYPE_METADATA: SaveType
SAVE_TYPE_REQUIREMENTS: SaveType
SAVE_TYPE_CONDA: SaveType

class Time(_message.Message):
    __slots__ = ("seconds", "nanos")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    nanos: int
    def __init__(self, seconds: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("num", "timestamp", "start", "finish", "column", "scalar", "media", "log", "save")
    NUM_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    SCALAR_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    SAVE_FIELD_NUMBER: _ClassVar[int]
    num: int
    timestamp: Time
    start: StartRecord
    finish: FinishRecord
    column: ColumnRecord
    scalar: ScalarRecord
    media: MediaRecord
    log: LogRecord
    save: SaveRecord
    def __init__(self, num: _Optional[int] = ..., timestamp: _Optional[_Union[Time, _Mapping]] = ..., start: _Optional[_Union[StartRecord, _Mapping]] = ..., finish: _Optional[_Union[FinishRecord, _Mapping]] = ..., column: _Optional[_Union[ColumnRecord, _Mapping]] = ..., scalar: _Optional[_Union[ScalarRecord, _Mapping]] = ..., media: _Optional[_Union[MediaRecord, _Mapping]] = ..., log: _Optional[_Union[LogRecord, _Mapping]] = ..., save: _Optional[_Union[SaveRecord, _Mapping]] = ...) -> None: ...

class StartRecord(_message.Message):
    __slots__ = ("project", "workspace", "public", "name", "description", "tags", "group", "job_type", "color", "id", "started_at")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    project: str
    workspace: str
    public: bool
    name: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    group: str
    job_type: str
    color: str
    id: str
    started_at: Time
    def __init__(self, project: _Optional[str] = ..., workspace: _Optional[str] = ..., public: _Optional[bool] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., color: _Optional[str] = ..., id: _Optional[str] = ..., started_at: _Optional[_Union[Time, _Mapping]] = ...) -> None: ...

class FinishRecord(_message.Message):
    __slots__ = ("state", "error", "finished_at")
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    state: RunState
    error: str
    finished_at: Time
    def __init__(self, state: _Optional[_Union[RunState, str]] = ..., error: _Optional[str] = ..., finished_at: _Optional[_Union[Time, _Mapping]] = ...) -> None: ...

class ColumnRecord(_message.Message):
    __slots__ = ("column_class", "column_type", "column_key", "column_name", "section_name")
    COLUMN_CLASS_FIELD_NUMBER: _ClassVar[int]
    COLUMN_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_KEY_FIELD_NUMBER: _ClassVar[int]
    COLUMN_NAME_FIELD_NUMBER: _ClassVar[int]
    SECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    column_class: ColumnClass
    column_type: ColumnType
    column_key: str
    column_name: str
    section_name: str
    def __init__(self, column_class: _Optional[_Union[ColumnClass, str]] = ..., column_type: _Optional[_Union[ColumnType, str]] = ..., column_key: _Optional[str] = ..., column_name: _Optional[str] = ..., section_name: _Optional[str] = ...) -> None: ...

class ScalarValue(_message.Message):
    __slots__ = ("number",)
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    number: float
    def __init__(self, number: _Optional[float] = ...) -> None: ...

class ScalarRecord(_message.Message):
    __slots__ = ("key", "step", "type", "timestamp", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    step: int
    type: ColumnType
    timestamp: Time
    value: ScalarValue
    def __init__(self, key: _Optional[str] = ..., step: _Optional[int] = ..., type: _Optional[_Union[ColumnType, str]] = ..., timestamp: _Optional[_Union[Time, _Mapping]] = ..., value: _Optional[_Union[ScalarValue, _Mapping]] = ...) -> None: ...

class MediaItem(_message.Message):
    __slots__ = ("filename", "sha256", "size", "caption")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    filename: str
    sha256: str
    size: int
    caption: str
    def __init__(self, filename: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., caption: _Optional[str] = ...) -> None: ...

class MediaValue(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[MediaItem]
    def __init__(self, items: _Optional[_Iterable[_Union[MediaItem, _Mapping]]] = ...) -> None: ...

class MediaRecord(_message.Message):
    __slots__ = ("key", "step", "type", "timestamp", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    step: int
    type: ColumnType
    timestamp: Time
    value: MediaValue
    def __init__(self, key: _Optional[str] = ..., step: _Optional[int] = ..., type: _Optional[_Union[ColumnType, str]] = ..., timestamp: _Optional[_Union[Time, _Mapping]] = ..., value: _Optional[_Union[MediaValue, _Mapping]] = ...) -> None: ...

class LogRecord(_message.Message):
    __slots__ = ("line", "level", "timestamp", "epoch")
    LINE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    line: str
    level: LogLevel
    timestamp: Time
    epoch: int
    def __init__(self, line: _Optional[str] = ..., level: _Optional[_Union[LogLevel, str]] = ..., timestamp: _Optional[_Union[Time, _Mapping]] = ..., epoch: _Optional[int] = ...) -> None: ...

class SaveRecord(_message.Message):
    __slots__ = ("name", "source_path", "target_path", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    TARGET_PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    source_path: str
    target_path: str
    type: SaveType
    def __init__(self, name: _Optional[str] = ..., source_path: _Optional[str] = ..., target_path: _Optional[str] = ..., type: _Optional[_Union[SaveType, str]] = ...) -> None: ...
