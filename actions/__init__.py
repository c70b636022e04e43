"""Custom actions: thin, they read slots, ask `knowledge` and render domain responses."""
from .answer import ActionAnswer
from .guide import (ActionAskSituationAnswer, ActionChangeSituation, ActionChecklist, ActionSituationList,
                    ValidateSituationForm)
from .hall_help import ActionComplaintInfo, ActionHumanHelp
from .handoff import (ActionHandoff, ActionHandoffLeaveMessage, ActionHandoffReturned, ActionNotUnderstood,
                      ValidateHandoffMessageForm)

__all__ = ["ActionAnswer", "ActionComplaintInfo", "ActionHumanHelp", "ActionHandoff", "ActionHandoffLeaveMessage",
           "ActionHandoffReturned", "ActionNotUnderstood", "ValidateHandoffMessageForm",
           "ActionAskSituationAnswer", "ActionChangeSituation", "ActionChecklist", "ActionSituationList",
           "ValidateSituationForm"]
