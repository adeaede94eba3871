"""The newsroom web page (`monitor serve`): a Starlette app reading the database read-only."""

from monitor.web.app import create_app

__all__ = ["create_app"]
