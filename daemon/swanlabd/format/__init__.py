"""The backup file: LevelDB log framing (logformat, logwriter, logreader) and the record layer (backup).

Pure: no asyncio, grpc or plyvel. Imports nothing else of swanlabd.
"""
