"""The web pages (``serve --web PORT``): the live view of every device, and a phone's browser as a sensor."""
from .server import WebFront

__all__ = ["WebFront"]
