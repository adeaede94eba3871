"""The `monitor` command: the click group, terminal output and one module per command group."""
