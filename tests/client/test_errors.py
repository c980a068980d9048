"""gRPC errors become ours in one place, for every status code grpc has."""

from __future__ import annotations

import re

import grpc
import pytest

from swanlab_client import _errors
from swanlab_client._errors import (
    _STATUS_ERRORS,
    DaemonError,
    DaemonInternalError,
    DaemonRejectedError,
    DaemonTimeoutError,
    DaemonUnavailableError,
    RPCStatusCode,
    map_rpc_errors,
)


def test_every_grpc_status_code_is_mirrored_and_mapped():
    for code in grpc.StatusCode:
        ours = RPCStatusCode[code.name]
        assert ours.value == code.value[0]
        assert ours in _STATUS_ERRORS
    assert len(RPCStatusCode) == len(grpc.StatusCode)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.UNAVAILABLE, DaemonUnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, DaemonTimeoutError),
        (grpc.StatusCode.INVALID_ARGUMENT, DaemonRejectedError),
        (grpc.StatusCode.FAILED_PRECONDITION, DaemonRejectedError),
        (grpc.StatusCode.NOT_FOUND, DaemonRejectedError),
        (grpc.StatusCode.INTERNAL, DaemonInternalError),
    ],
)
def test_map_rpc_errors_translates_and_chains(code, cls):
    with pytest.raises(cls) as info:
        with map_rpc_errors("Stream"):
            raise FakeRpcError(code, "the details")
    err = info.value
    assert isinstance(err, DaemonError) and err.code == RPCStatusCode[code.name]
    assert "Stream" in str(err) and "the details" in str(err)
    assert isinstance(err.__cause__, grpc.RpcError)


def test_other_exceptions_pass_through():
    with pytest.raises(KeyError):
        with map_rpc_errors("x"):
            raise KeyError("k")


def test_the_tree_at_the_top_of_errors_names_every_exception():
    classes = {name for name, obj in vars(_errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}
    assert _errors.__doc__ is not None
    drawn = set(re.findall(r"^ {4}(\w+)|[├└]── (\w+)", _errors.__doc__, re.MULTILINE))
    assert {a or b for a, b in drawn} == classes
