"""`monitor watch`: the long-running loop, alert rules and their sinks."""
