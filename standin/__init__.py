"""A local stand-in for Slack, for Mend's tests and sandbox.

- SlackStandIn: an aiohttp server on 127.0.0.1 answering like Slack's Web API (and Socket
  Mode, response URLs, file uploads), recording what the app sent.
- MendDriver: sends signed, Slack-shaped requests (commands, actions, view submissions,
  events) to the app's HTTP endpoint.
- sign_request: Slack's v0 request signature headers.

See standin/README.md.
"""

from .blockkit import BlockError, check_blocks, check_view
from .driver import MendDriver, Reply
from .server import Call, Fault, SlackStandIn
from .signing import sign_request
from .spec import ApiSpec, load_spec

__all__ = [
    "ApiSpec",
    "BlockError",
    "Call",
    "Fault",
    "MendDriver",
    "Reply",
    "SlackStandIn",
    "check_blocks",
    "check_view",
    "load_spec",
    "sign_request",
]
