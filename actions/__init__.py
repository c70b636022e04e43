"""Custom actions: thin, they read slots, ask `knowledge` and render domain responses."""
from .answer import ActionAnswer
from .feedback import (ActionAskRating, ActionAskRatingComment, ActionComplaintCancel, ActionComplaintStart,
                       ActionComplaintSubmit, ActionRate, ActionRatingComment, ActionRatingDone,
                       ValidateComplaintForm, ValidateRatingCommentForm)
from .guide import (ActionAskSituationAnswer, ActionChangeSituation, ActionChecklist, ActionSituationList,
                    ValidateSituationForm)
from .hall_help import ActionComplaintInfo, ActionHumanHelp
from .handoff import (ActionHandoff, ActionHandoffLeaveMessage, ActionHandoffReturned, ActionNotUnderstood,
                      ValidateHandoffMessageForm)

__all__ = ["ActionAnswer", "ActionComplaintInfo", "ActionHumanHelp", "ActionHandoff", "ActionHandoffLeaveMessage",
           "ActionHandoffReturned", "ActionNotUnderstood", "ValidateHandoffMessageForm",
           # ---- 好差评 and 办不成事 ----
           "ActionAskRating", "ActionRate", "ActionAskRatingComment", "ValidateRatingCommentForm",
           "ActionRatingComment", "ActionRatingDone", "ActionComplaintStart", "ValidateComplaintForm",
           "ActionComplaintSubmit", "ActionComplaintCancel",
           # ---- guide (情形引导 and 一次性告知单) ----
           "ActionAskSituationAnswer", "ActionChangeSituation", "ActionChecklist", "ActionSituationList",
           "ValidateSituationForm"]
