"""The citizen web page and its small JSON API in front of Rasa's REST channel."""
from .app import create_app

__all__ = ["create_app"]
