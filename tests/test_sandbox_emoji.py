"""Every emoji short code Mend writes has an emoji in the sandbox page's table."""

from __future__ import annotations

import re

from bot.runtime.config import ROOT

CODE = re.compile(r":([a-z][a-z0-9_+-]+[a-z0-9]):")


def test_every_emoji_mend_writes_renders_in_the_sandbox_page():
    table = (ROOT / "standin" / "static" / "app.js").read_text()
    known = {a or b for a, b in re.findall(r'(?:"([^"]+)"|([a-z0-9_]+)): "\\u', table)}
    used = set()
    domain = [p for p in (ROOT / "bot" / "domain").rglob("*.py") if "reading" not in p.parts]
    for path in [*(ROOT / "handlers").glob("*.py"), *domain,
                 ROOT / "data" / "playbook.yaml", ROOT / "data" / "coach.yaml"]:
        used |= set(CODE.findall(path.read_text()))
    used -= {"choice"}  # a format placeholder, not an emoji
    assert used and used <= known, sorted(used - known)
