"""Which Web API methods exist, and which arguments each one requires.

The stand-in refuses calls the way Slack does: a method Slack doesn't have gets
``unknown_method``, a call missing a required argument gets ``invalid_arguments``.
The list of methods comes from Slack's published OpenAPI (Swagger 2.0) description
of the Web API, kept at ``<repo>/../shared/slack-api-specs/slack_web_openapi_v2.json``.
That file dates from October 2020, so methods added since then live in a small
built-in supplement below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SPEC_FILENAME = "slack_web_openapi_v2.json"
SPEC_ENV = "SLACK_API_SPEC"

#: Methods newer than the 2020 spec that Mend uses, with their required arguments.
#: Always added (they are missing from the spec file).
SUPPLEMENT: dict[str, tuple[str, ...]] = {
    "apps.connections.open": (),
    "files.getUploadURLExternal": ("filename", "length"),
    "files.completeUploadExternal": ("files",),
}

#: Methods Mend uses that the 2020 spec does have. These are used only for a method the
#: loaded spec lacks (or when no spec file is found), so the spec's own idea of what is
#: required wins. Note the spec marks e.g. ``users.info``'s ``user`` and
#: ``conversations.replies``' ``channel``/``ts`` as optional; the stand-in's handlers then
#: answer the way Slack does for an absent value (``user_not_found``,
#: ``channel_not_found``...).
FALLBACK: dict[str, tuple[str, ...]] = {
    "views.publish": ("user_id", "view"),
    "views.open": ("trigger_id", "view"),
    "views.push": ("trigger_id", "view"),
    "views.update": ("view",),
    "chat.postMessage": ("channel",),
    "chat.update": ("channel", "ts"),
    "chat.delete": ("channel", "ts"),
    "chat.postEphemeral": ("channel", "user"),
    "chat.getPermalink": ("channel", "message_ts"),
    "users.info": ("user",),
    "auth.test": (),
    "conversations.replies": ("channel", "ts"),
    "conversations.history": ("channel",),
    "conversations.info": ("channel",),
}


@dataclass(frozen=True)
class ApiSpec:
    """The set of known Web API methods and the required arguments of each.

    ``methods`` maps a method name (``"chat.postMessage"``) to the names of its required
    arguments, not counting ``token`` (the token travels in the Authorization header).
    ``source`` is the spec file used, or ``None`` when none was found; ``complete`` says
    whether the method list is authoritative (a spec file was loaded), i.e. whether a
    method not listed should be refused as ``unknown_method``.
    """

    methods: Mapping[str, frozenset[str]]
    source: Path | None = None
    complete: bool = True
    from_spec: frozenset[str] = field(default_factory=frozenset)

    def knows(self, method: str) -> bool:
        """True if ``method`` exists (always True when no spec file was loaded)."""
        return method in self.methods or not self.complete

    def required(self, method: str) -> frozenset[str]:
        """Required argument names for ``method`` (empty if unknown or unchecked)."""
        return self.methods.get(method, frozenset())

    def missing(self, method: str, args: Mapping[str, object]) -> list[str]:
        """Required arguments of ``method`` absent from ``args`` (None or "" count as absent)."""
        return sorted(
            name for name in self.required(method) if args.get(name) is None or args.get(name) == ""
        )


def find_spec_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """Locate the OpenAPI file: ``explicit`` if given, else ``$SLACK_API_SPEC``, else the
    first ``<dir>/shared/slack-api-specs/slack_web_openapi_v2.json`` walking up from this
    package (so ``<repo>/../shared/...`` for a checkout at ``<repo>``), else a copy named
    ``slack_web_openapi_v2.json`` inside this package.

    An explicit path or the environment variable must name an existing file
    (FileNotFoundError otherwise); the walk returns None when nothing is found.
    """
    for given in (explicit, os.environ.get(SPEC_ENV) or None):
        if given is not None:
            path = Path(given).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"Slack API spec not found: {path}")
            return path
    here = Path(__file__).resolve().parent
    for directory in (here, *here.parents):
        candidate = directory / "shared" / "slack-api-specs" / SPEC_FILENAME
        if candidate.is_file():
            return candidate
    bundled = here / SPEC_FILENAME  # a copy kept next to this package, if any
    return bundled if bundled.is_file() else None


@lru_cache(maxsize=8)
def _parse_spec_file(path: Path) -> dict[str, frozenset[str]]:
    """Read a Swagger 2.0 file into {method: required args}; cached per path."""
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    methods: dict[str, frozenset[str]] = {}
    for route, operations in doc.get("paths", {}).items():
        name = route.lstrip("/")
        required: set[str] = set()
        for verb in ("get", "post"):
            op = operations.get(verb)
            if not op:
                continue
            for param in op.get("parameters", []):
                if (
                    param.get("required")
                    and param.get("name") != "token"
                    and param.get("in") in ("query", "formData", "body")
                ):
                    required.add(param["name"])
        methods[name] = frozenset(required)
    return methods


def load_spec(
    path: str | os.PathLike | None | bool = None,
    extra_methods: Mapping[str, Iterable[str]] | None = None,
) -> ApiSpec:
    """Build the method table: spec file + SUPPLEMENT + FALLBACK (for methods the file lacks)
    + ``extra_methods`` (a test's own additions, which override everything).

    ``path=False`` skips the spec file altogether. Without a spec file the table is
    incomplete: any method name is accepted and only the built-in methods have their
    required arguments checked.
    """
    source = None if path is False else find_spec_path(path)  # type: ignore[arg-type]
    from_spec = _parse_spec_file(source) if source is not None else {}
    methods: dict[str, frozenset[str]] = dict(from_spec)
    for table in (SUPPLEMENT, FALLBACK):
        for name, required in table.items():
            methods.setdefault(name, frozenset(required))
    for name, required in (extra_methods or {}).items():
        methods[name] = frozenset(required)
    return ApiSpec(
        methods=methods,
        source=source,
        complete=source is not None,
        from_spec=frozenset(from_spec),
    )
