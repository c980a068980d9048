"""The `swanlabd` and `swanlabctl` commands: argument parsing and display only."""
