"""Every action id, callback id and block id Mend uses, named once."""

from enum import StrEnum

COMMAND = "/recover"


class Callback(StrEnum):
    INTAKE = "mend_intake"
    FOLLOWUP = "mend_followup"
    NOTE = "mend_note"
    RESOLVE = "mend_resolve"
    CLOSE = "mend_close"
    SNOOZE = "mend_snooze"
    WITHDRAW = "mend_withdraw"


class Block(StrEnum):
    CUSTOMER = "intake_customer"
    CONTACT = "intake_contact"
    WHAT = "intake_what"
    SEVERITY = "intake_severity"
    CARD_SUMMARY = "card_summary"
    CARD_FIELDS = "card_fields"
    CARD_CHECKLIST = "card_checklist"
    CARD_ACTIONS = "card_actions"
    CARD_FOOTER = "card_footer"
    CARD_NEXT = "card_next"  # when the next reminder comes, and why then
    LIST_ROW = "row"  # a case's buttons in a list: "row_<list>_<case>~<team>"
    FOLLOWUP_QUICK = "followup_quick"
    FOLLOWUP_DATE = "followup_date"
    FOLLOWUP_TIME = "followup_time"
    NOTE_TEXT = "note_text"
    RESOLVE_WHAT = "resolve_what"
    RESOLVE_COMPENSATION = "resolve_compensation"
    RESOLVE_ACCEPTED = "resolve_accepted"
    CLOSE_REASON = "close_reason"
    SNOOZE_REASON = "snooze_reason"
    WITHDRAW_REASON = "withdraw_reason"
    NUDGE_TEXT = "nudge_text"
    NUDGE_ACTIONS = "nudge_actions"
    OFFERS = "offers"


class Action(StrEnum):
    # intake modal inputs
    CUSTOMER = "customer"
    CONTACT = "contact"
    WHAT = "what"
    SEVERITY = "severity"
    # case card
    TAKE = "case_take"
    ASSIGN = "case_assign"
    FOLLOWUP = "case_followup"
    NOTE = "case_note"
    RESOLVE = "case_resolve"
    CLOSE = "case_close"
    REOPEN = "case_reopen"
    CHECKLIST = "case_checklist"
    WITHDRAW = "case_withdraw"
    # follow-up nudges in the case thread
    NUDGE_DONE = "nudge_done"
    NUDGE_SNOOZE = "nudge_snooze"  # value "N:<quick choice>"
    NUDGE_SNOOZE_MORNING = "nudge_snooze_morning"  # the same, second button
    NUDGE_ASSIGN = "nudge_assign"
    NUDGE_UPDATED = "nudge_customer_updated"
    # after *Done* on a reminder: the next follow-up (value: the case number)
    NEXT_TOMORROW = "next_tomorrow"
    NEXT_IN_2_DAYS = "next_in_2_days"
    NEXT_WEEK = "next_week"
    # answers to the acting user
    ANOTHER_WORDING = "another_wording"  # value: "<case>:<variant index>"
    OPEN_PREV = "open_prev"  # value: {"q": filters, "o": offset}
    OPEN_NEXT = "open_next"
    # a case's row in /recover open and the Home (its block id names the case)
    LIST_TAKE = "list_take"  # value: the case number
    LIST_ASSIGN = "list_assign"
    ASSIGN_CONFIRM = "assign_confirm"
    MERGE = "merge_into"
    # modal inputs
    QUICK = "quick"
    DATE = "date"
    TIME = "time"
    TEXT = "text"
    ACCEPTED = "accepted"


class Event(StrEnum):
    APP_HOME_OPENED = "app_home_opened"
    REACTION_ADDED = "reaction_added"


class Shortcut(StrEnum):
    CHECK_REPLY = "mend_check_reply"
    OPEN_CASE = "mend_open_case"


# Message metadata types, so Mend can find its own messages again in a thread.
CARD_METADATA_TYPE = "mend_case_card"
NUDGE_METADATA_TYPE = "mend_nudge"
