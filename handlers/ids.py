"""Every action id, callback id and block id Mend uses, named once."""

from enum import StrEnum

COMMAND = "/recover"


class Callback(StrEnum):
    INTAKE = "mend_intake"


class Block(StrEnum):
    CUSTOMER = "intake_customer"
    CONTACT = "intake_contact"
    WHAT = "intake_what"
    SEVERITY = "intake_severity"
    CARD_SUMMARY = "card_summary"
    CARD_FIELDS = "card_fields"
    CARD_FOOTER = "card_footer"


class Action(StrEnum):
    CUSTOMER = "customer"
    CONTACT = "contact"
    WHAT = "what"
    SEVERITY = "severity"


class Event(StrEnum):
    APP_HOME_OPENED = "app_home_opened"


# Message metadata type on case cards, so a card can be found again by case.
CARD_METADATA_TYPE = "mend_case_card"
