"""Custom actions: thin, they read slots, ask `knowledge` and render domain responses."""
from .answer import ActionAnswer
from .hall_help import ActionComplaintInfo, ActionHumanHelp
from .handoff import (ActionHandoff, ActionHandoffLeaveMessage, ActionHandoffReturned, ActionNotUnderstood,
                      ValidateHandoffMessageForm)

__all__ = ["ActionAnswer", "ActionComplaintInfo", "ActionHumanHelp", "ActionHandoff", "ActionHandoffLeaveMessage",
           "ActionHandoffReturned", "ActionNotUnderstood", "ValidateHandoffMessageForm"]
