"""US–Mexico news monitor: bilingual feed monitoring, offline translation and framing analysis."""

__version__ = "0.1.0"
