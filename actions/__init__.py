"""Custom actions: thin, they read slots, ask `knowledge` and render domain responses."""
from .answer import ActionAnswer
from .hall_help import ActionComplaintInfo, ActionHumanHelp

__all__ = ["ActionAnswer", "ActionComplaintInfo", "ActionHumanHelp"]
