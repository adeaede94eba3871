"""`monitor demo`: the whole pipeline on bundled sample feeds served from loopback."""
