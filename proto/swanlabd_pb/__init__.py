"""Generated protobuf and gRPC code for swanlabd (package `swanlabd.v1`).

Do not edit the *_pb2* modules by hand: change the .proto beside them and run
`python proto/generate.py` (see proto/README.md). Import them qualified:
`from swanlabd_pb import records_pb2 as pb`.
"""
