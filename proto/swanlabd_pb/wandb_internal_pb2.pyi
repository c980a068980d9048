from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Time(_message.Message):
    __slots__ = ("seconds", "nanos")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NANOS_FIELD_NUMBER: _ClassVar[int]
    seconds: int
    nanos: int
    def __init__(self, seconds: _Optional[int] = ..., nanos: _Optional[int] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("num", "history", "summary", "output", "config", "files", "stats", "artifact", "tbrecord", "alert", "telemetry", "metric", "output_raw", "run", "exit", "final", "header", "footer", "preempting", "noop_link_artifact", "use_artifact", "environment", "output_logger", "request")
    NUM_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TBRECORD_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_RAW_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FOOTER_FIELD_NUMBER: _ClassVar[int]
    PREEMPTING_FIELD_NUMBER: _ClassVar[int]
    NOOP_LINK_ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    USE_ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LOGGER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    num: int
    history: HistoryRecord
    summary: SummaryRecord
    output: OutputRecord
    config: ConfigRecord
    files: FilesRecord
    stats: Empty
    artifact: Empty
    tbrecord: Empty
    alert: Empty
    telemetry: Empty
    metric: Empty
    output_raw: OutputRawRecord
    run: RunRecord
    exit: RunExitRecord
    final: Empty
    header: Empty
    footer: Empty
    preempting: Empty
    noop_link_artifact: Empty
    use_artifact: Empty
    environment: Empty
    output_logger: Empty
    request: Empty
    def __init__(self, num: _Optional[int] = ..., history: _Optional[_Union[HistoryRecord, _Mapping]] = ..., summary: _Optional[_Union[SummaryRecord, _Mapping]] = ..., output: _Optional[_Union[OutputRecord, _Mapping]] = ..., config: _Optional[_Union[ConfigRecord, _Mapping]] = ..., files: _Optional[_Union[FilesRecord, _Mapping]] = ..., stats: _Optional[_Union[Empty, _Mapping]] = ..., artifact: _Optional[_Union[Empty, _Mapping]] = ..., tbrecord: _Optional[_Union[Empty, _Mapping]] = ..., alert: _Optional[_Union[Empty, _Mapping]] = ..., telemetry: _Optional[_Union[Empty, _Mapping]] = ..., metric: _Optional[_Union[Empty, _Mapping]] = ..., output_raw: _Optional[_Union[OutputRawRecord, _Mapping]] = ..., run: _Optional[_Union[RunRecord, _Mapping]] = ..., exit: _Optional[_Union[RunExitRecord, _Mapping]] = ..., final: _Optional[_Union[Empty, _Mapping]] = ..., header: _Optional[_Union[Empty, _Mapping]] = ..., footer: _Optional[_Union[Empty, _Mapping]] = ..., preempting: _Optional[_Union[Empty, _Mapping]] = ..., noop_link_artifact: _Optional[_Union[Empty, _Mapping]] = ..., use_artifact: _Optional[_Union[Empty, _Mapping]] = ..., environment: _Optional[_Union[Empty, _Mapping]] = ..., output_logger: _Optional[_Union[Empty, _Mapping]] = ..., request: _Optional[_Union[Empty, _Mapping]] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunRecord(_message.Message):
    __slots__ = ("run_id", "entity", "project", "config", "run_group", "job_type", "display_name", "notes", "tags", "host", "start_time")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RUN_GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    entity: str
    project: str
    config: ConfigRecord
    run_group: str
    job_type: str
    display_name: str
    notes: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    host: str
    start_time: Time
    def __init__(self, run_id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., config: _Optional[_Union[ConfigRecord, _Mapping]] = ..., run_group: _Optional[str] = ..., job_type: _Optional[str] = ..., display_name: _Optional[str] = ..., notes: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., host: _Optional[str] = ..., start_time: _Optional[_Union[Time, _Mapping]] = ...) -> None: ...

class HistoryRecord(_message.Message):
    __slots__ = ("item", "step")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    item: _containers.RepeatedCompositeFieldContainer[HistoryItem]
    step: HistoryStep
    def __init__(self, item: _Optional[_Iterable[_Union[HistoryItem, _Mapping]]] = ..., step: _Optional[_Union[HistoryStep, _Mapping]] = ...) -> None: ...

class HistoryItem(_message.Message):
    __slots__ = ("key", "nested_key", "boolean", "integer", "number", "text", "json", "value_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NESTED_KEY_FIELD_NUMBER: _ClassVar[int]
    BOOLEAN_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    nested_key: _containers.RepeatedScalarFieldContainer[str]
    boolean: bool
    integer: int
    number: float
    text: str
    json: str
    value_json: str
    def __init__(self, key: _Optional[str] = ..., nested_key: _Optional[_Iterable[str]] = ..., boolean: _Optional[bool] = ..., integer: _Optional[int] = ..., number: _Optional[float] = ..., text: _Optional[str] = ..., json: _Optional[str] = ..., value_json: _Optional[str] = ...) -> None: ...

class HistoryStep(_message.Message):
    __slots__ = ("num",)
    NUM_FIELD_NUMBER: _ClassVar[int]
    num: int
    def __init__(self, num: _Optional[int] = ...) -> None: ...

class SummaryRecord(_message.Message):
    __slots__ = ("update", "remove")
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    update: _containers.RepeatedCompositeFieldContainer[SummaryItem]
    remove: _containers.RepeatedCompositeFieldContainer[SummaryItem]
    def __init__(self, update: _Optional[_Iterable[_Union[SummaryItem, _Mapping]]] = ..., remove: _Optional[_Iterable[_Union[SummaryItem, _Mapping]]] = ...) -> None: ...

class SummaryItem(_message.Message):
    __slots__ = ("key", "nested_key", "value_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NESTED_KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    nested_key: _containers.RepeatedScalarFieldContainer[str]
    value_json: str
    def __init__(self, key: _Optional[str] = ..., nested_key: _Optional[_Iterable[str]] = ..., value_json: _Optional[str] = ...) -> None: ...

class ConfigRecord(_message.Message):
    __slots__ = ("update", "remove")
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    update: _containers.RepeatedCompositeFieldContainer[ConfigItem]
    remove: _containers.RepeatedCompositeFieldContainer[ConfigItem]
    def __init__(self, update: _Optional[_Iterable[_Union[ConfigItem, _Mapping]]] = ..., remove: _Optional[_Iterable[_Union[ConfigItem, _Mapping]]] = ...) -> None: ...

class ConfigItem(_message.Message):
    __slots__ = ("key", "nested_key", "value_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NESTED_KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    nested_key: _containers.RepeatedScalarFieldContainer[str]
    value_json: str
    def __init__(self, key: _Optional[str] = ..., nested_key: _Optional[_Iterable[str]] = ..., value_json: _Optional[str] = ...) -> None: ...

class FilesRecord(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FilesItem]
    def __init__(self, files: _Optional[_Iterable[_Union[FilesItem, _Mapping]]] = ...) -> None: ...

class FilesItem(_message.Message):
    __slots__ = ("path", "policy", "type")
    class PolicyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NOW: _ClassVar[FilesItem.PolicyType]
        END: _ClassVar[FilesItem.PolicyType]
        LIVE: _ClassVar[FilesItem.PolicyType]
    NOW: FilesItem.PolicyType
    END: FilesItem.PolicyType
    LIVE: FilesItem.PolicyType
    class FileType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OTHER: _ClassVar[FilesItem.FileType]
        WANDB: _ClassVar[FilesItem.FileType]
        MEDIA: _ClassVar[FilesItem.FileType]
        ARTIFACT: _ClassVar[FilesItem.FileType]
    OTHER: FilesItem.FileType
    WANDB: FilesItem.FileType
    MEDIA: FilesItem.FileType
    ARTIFACT: FilesItem.FileType
    PATH_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    path: str
    policy: FilesItem.PolicyType
    type: FilesItem.FileType
    def __init__(self, path: _Optional[str] = ..., policy: _Optional[_Union[FilesItem.PolicyType, str]] = ..., type: _Optional[_Union[FilesItem.FileType, str]] = ...) -> None: ...

class OutputRecord(_message.Message):
    __slots__ = ("output_type", "timestamp", "line")
    class OutputType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STDERR: _ClassVar[OutputRecord.OutputType]
        STDOUT: _ClassVar[OutputRecord.OutputType]
    STDERR: OutputRecord.OutputType
    STDOUT: OutputRecord.OutputType
    OUTPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    output_type: OutputRecord.OutputType
    timestamp: Time
    line: str
    def __init__(self, output_type: _Optional[_Union[OutputRecord.OutputType, str]] = ..., timestamp: _Optional[_Union[Time, _Mapping]] = ..., line: _Optional[str] = ...) -> None: ...

class OutputRawRecord(_message.Message):
    __slots__ = ("output_type", "timestamp", "line")
    class OutputType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STDERR: _ClassVar[OutputRawRecord.OutputType]
        STDOUT: _ClassVar[OutputRawRecord.OutputType]
    STDERR: OutputRawRecord.OutputType
    STDOUT: OutputRawRecord.OutputType
    OUTPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    output_type: OutputRawRecord.OutputType
    timestamp: Time
    line: str
    def __init__(self, output_type: _Optional[_Union[OutputRawRecord.OutputType, str]] = ..., timestamp: _Optional[_Union[Time, _Mapping]] = ..., line: _Optional[str] = ...) -> None: ...

class RunExitRecord(_message.Message):
    __slots__ = ("exit_code", "runtime")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    runtime: int
    def __init__(self, exit_code: _Optional[int] = ..., runtime: _Optional[int] = ...) -> None: ...
