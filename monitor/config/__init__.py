"""Configuration: the typed settings table and where files live."""
