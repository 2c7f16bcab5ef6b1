"""`pmon ui`: the analyst's workspace in the browser (Starlette + Jinja2 over the warehouse)."""

from pmon.ui.app import UiSettings, create_app, requires_token

__all__ = ["UiSettings", "create_app", "requires_token"]
