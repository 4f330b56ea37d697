"""The sandbox in a real browser: Debian's Chromium, headless, driven by Playwright.

Skipped (with the reason) when /usr/bin/chromium is missing, unless MEND_REQUIRE_BROWSER
is set: then a missing browser or Playwright fails the run. Playwright is used only as a
driver; it never downloads a browser. The final page is saved as a screenshot under
$MEND_ARTIFACTS (default tests/artifacts/).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.runtime.config import ROOT
from bot.runtime.sandbox import TEAM2_NAME, TEAM_ID, start_sandbox

CHROMIUM = "/usr/bin/chromium"
REQUIRED = (os.environ.get("MEND_REQUIRE_BROWSER") or "").strip().lower() not in (
    "", "0", "false", "no")
HAVE_CHROMIUM = os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("MEND_ARTIFACTS") or ROOT / "tests" / "artifacts")
REPORT = "/recover for Dana Lee: charged twice for her order, she emailed us furious"
WAIT_MS = 10_000

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM and not REQUIRED,
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium), and MEND_REQUIRE_BROWSER "
           "is not set",
)

if REQUIRED or HAVE_CHROMIUM:
    if REQUIRED:  # CI: a missing driver is a failure, not a skip
        import playwright.async_api as pw
    else:
        pw = pytest.importorskip("playwright.async_api",
                                 reason="Playwright is not installed (pip install playwright)")


@pytest.fixture
async def sandbox(tmp_path):
    sb = await start_sandbox(0, tmp_path / "sandbox.db", run_scheduler=False)
    yield sb
    await sb.close()


@pytest.fixture
async def browser():
    assert HAVE_CHROMIUM, f"MEND_REQUIRE_BROWSER is set but there is no Chromium at {CHROMIUM}"
    assert shutil.which(CHROMIUM)
    async with pw.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser, sandbox):
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    page.problems = []  # console errors, page errors, dialogs (an alert = script ran)
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))

    async def dialog(d):
        page.problems.append(f"dialog: {d.message}")
        await d.dismiss()

    page.on("dialog", dialog)
    pw.expect.set_options(timeout=WAIT_MS)
    await page.goto(f"{sandbox.url}?user=U01MARIA&where=C01SUPPORT")
    yield page
    await context.close()


async def type_command(page, text: str) -> None:
    box = page.locator("#composer-input")
    await box.fill(text)
    await box.press("Enter")


def card_of(page, number: int = 1):
    """The case card in the channel (not an ephemeral), with its thread."""
    return page.locator("#messages > .message[data-ts]").filter(
        has=page.locator(".block.section").filter(has_text=f"Case #{number}"))


async def act_as(page, user_id: str) -> None:
    await page.locator("#user-switcher").select_option(user_id)
    await pw.expect(page.locator("#user-switcher")).to_have_value(user_id)


def to_wednesday_morning(sandbox, user: str) -> timedelta:
    """Skip to the next Wednesday 10:00 in the user's zone: a working morning, so the
    follow-up an hour later falls in working hours, whatever day the test runs."""
    zone = ZoneInfo(sandbox.standin.user(user)["tz"])
    now = sandbox.clock.now()
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=(2 - local.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, 10, tzinfo=zone) - now


async def test_recover_take_followup_nudge_done_in_a_browser(page, sandbox):
    expect = pw.expect
    sandbox.clock.skip(to_wednesday_morning(sandbox, "U02KOFI"))
    await expect(page.locator("#conversation-header")).to_have_text("#support")

    # Maria reports the case: the playbook privately, the card for everyone.
    await type_command(page, REPORT)
    playbook = page.locator(".message.ephemeral").filter(has_text="Case #1 opened")
    await expect(playbook).to_be_visible()
    await expect(playbook).to_contain_text("Only visible to you")
    await expect(playbook).to_contain_text("Dana Lee")
    card = card_of(page)
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Case #1 for Dana Lee")
    await expect(card.locator(".field").filter(has_text="Owner")).to_contain_text("@Maria")

    # She gives it back to the queue; Kofi takes it from the card.
    await type_command(page, "/recover release 1")
    take = card.get_by_role("button", name="Take ownership")
    await expect(take).to_be_visible()
    await act_as(page, "U02KOFI")
    await expect(page.locator(".message.ephemeral")).to_have_count(0)  # Maria's, not his
    await take.click()
    await expect(card.locator(".field").filter(has_text="Owner")).to_contain_text("@Kofi")
    await expect(take).to_have_count(0)

    # Kofi sets the follow-up with the card's modal: "In 1 hour".
    await card.get_by_role("button", name="Set follow-up").click()
    modal = page.get_by_role("dialog")
    await expect(modal).to_be_visible()
    await expect(modal.locator("#modal-title")).to_have_text("Follow-up · #1")
    await modal.get_by_label("In 1 hour").check()
    await modal.get_by_role("button", name="Set", exact=True).click()
    await expect(modal).to_have_count(0)
    case = await sandbox.mend.deps.store.case_by_number(TEAM_ID, 1)
    assert case.owner_id == "U02KOFI" and case.next_followup_at

    # Skip ahead past it (and on to Kofi's next working morning if it falls outside).
    nudge = card.locator(".thread .message").filter(
        has=page.get_by_role("button", name="Done"))
    for skip in ("1h", "morning", "morning", "morning", "morning"):
        async with page.expect_response("**/ui/skip"):
            await page.locator(f'[data-skip="{skip}"]').click()
        try:
            await expect(nudge).to_be_visible(timeout=2000)
            break
        except AssertionError:
            continue
    await expect(nudge).to_be_visible()
    await expect(nudge).to_contain_text("@Kofi")

    # Done: the thread shows the nudge answered.
    await nudge.get_by_role("button", name="Done").click()
    thread = card.locator(".thread")
    await expect(thread).to_contain_text("Follow-up recorded by @Kofi")
    await expect(thread.get_by_role("button", name="Done")).to_have_count(0)
    assert (await sandbox.mend.deps.store.case_by_number(TEAM_ID, 1)).next_followup_at is None

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-final.png"), full_page=True)
    assert page.problems == []


async def test_hostile_text_renders_as_text_in_the_browser(page, sandbox):
    expect = pw.expect
    hostile = ("for Eve <script>alert('x')</script>: <img src=x onerror=alert(1)> "
               "*charged* _twice_ & `refund` <@U02KOFI>")
    await type_command(page, f"/recover {hostile}")
    card = card_of(page)
    summary = card.locator(".block.section").first
    await expect(summary).to_contain_text("<img src=x onerror=alert(1)>")
    await expect(summary).to_contain_text("& ")
    await expect(summary.locator("strong").filter(has_text="charged")).to_have_count(1)
    await expect(summary.locator("code").filter(has_text="refund")).to_have_count(1)
    await expect(page.locator("#messages img")).to_have_count(0)
    await expect(page.locator("#messages script")).to_have_count(0)
    # The playbook's customer-facing wording quotes the name as typed, still as text.
    await expect(page.locator(".message.ephemeral")).to_contain_text("Eve")
    await page.wait_for_timeout(300)  # an injected handler would have fired by now
    assert page.problems == []


async def test_home_tab_and_dates_in_the_readers_zone(page, sandbox):
    expect = pw.expect
    await type_command(page, REPORT)
    opened = card_of(page).locator(".field").filter(has_text="Opened").locator("time")
    await expect(opened).to_be_visible()
    maria_time = await opened.text_content()
    await act_as(page, "U03ANA")  # Kolkata: 13.5 hours ahead of Los Angeles in November
    await expect(opened).not_to_have_text(maria_time)
    await act_as(page, "U09LEE")
    await page.locator("#app-list").get_by_role("button", name="Mend").click()
    await expect(page.locator("#home")).to_be_visible()
    await expect(page.locator("#home .block").first).to_be_visible()
    assert "U09LEE" in sandbox.standin.home
    assert page.problems == []


async def test_user_switch_wins_over_a_status_refresh_in_flight(page, sandbox):
    expect = pw.expect
    await expect(page.locator("#conversation-header")).to_have_text("#support")

    async def slow_for_maria(route):
        if "user=U01MARIA" in route.request.url:
            await asyncio.sleep(1.5)  # Maria's status answer arrives after the switch
        await route.continue_()

    await page.route("**/ui/state*", slow_for_maria)
    await page.wait_for_timeout(1200)  # a poll for Maria is under way by now
    await page.locator("#user-switcher").select_option("U02KOFI")
    await page.wait_for_timeout(2500)  # ... and has come back
    await expect(page.locator("#user-switcher")).to_have_value("U02KOFI")
    await expect(page.locator(".clock-zone")).to_contain_text("Kofi")
    assert "user=U02KOFI" in page.url
    assert page.problems == []


async def test_emoji_short_codes_render_as_emoji(page, sandbox):
    expect = pw.expect
    await type_command(page, "/recover check Our policy says no refunds, feel free to call "
                             "us back")
    review = page.locator(".message.ephemeral").filter(has_text="Reply check")
    await expect(review).to_be_visible()
    await expect(review).to_contain_text("\U0001f7e0 Change")  # :large_orange_circle:
    text = await review.text_content()
    assert not re.search(r":[a-z_]+_circle:|:white_check_mark:", text), text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-emoji.png"), full_page=True)
    assert page.problems == []


@pytest.fixture
async def two_sandbox(tmp_path):
    sb = await start_sandbox(0, tmp_path / "two.db", run_scheduler=False, two_workspaces=True)
    yield sb
    await sb.close()


async def test_two_workspaces_side_by_side_keep_their_cases_apart(browser, two_sandbox):
    """/split: Maria in the first workspace, Tomás in the second, each opens case #1;
    neither frame ever shows the other's case, whoever acts in it."""
    expect = pw.expect
    context = await browser.new_context(viewport={"width": 1800, "height": 900})
    page = await context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pw.expect.set_options(timeout=WAIT_MS)
    await page.goto(f"{two_sandbox.url}split")
    left = page.frame_locator("iframe.split-frame").nth(0)
    right = page.frame_locator("iframe.split-frame").nth(1)
    await expect(left.locator("#team-name")).to_have_text("Mend sandbox")
    await expect(right.locator("#team-name")).to_have_text(TEAM2_NAME)
    await expect(left.locator("#conversation-header")).to_have_text("#support")
    await expect(right.locator("#conversation-header")).to_have_text("#help")
    await expect(right.locator("#channel-list")).not_to_contain_text("support")
    await expect(right.locator("#split-link")).to_be_hidden()  # no frames within frames

    await type_command(left, REPORT)
    await type_command(right, "/recover customer: Globex, waited 50 minutes on hold and "
                              "got cut off")
    for frame, mine, theirs in ((left, "Dana Lee", "Globex"), (right, "Globex", "Dana Lee")):
        card = card_of(frame)
        await expect(card).to_contain_text(f"Case #1 for {mine}")
        await expect(frame.locator("#messages")).not_to_contain_text(theirs)

    # Aiko, Tomás's colleague, sees his card; Maria switched into the second workspace
    # lands in its #help and sees only its case.
    await right.locator("#user-switcher").select_option("U22AIKO")
    await expect(card_of(right)).to_contain_text("Case #1 for Globex")
    await left.locator("#user-switcher").select_option("U21TOMAS")
    await expect(left.locator("#team-name")).to_have_text(TEAM2_NAME)
    await expect(left.locator("#conversation-header")).to_have_text("#help")
    await expect(card_of(left)).to_contain_text("Case #1 for Globex")
    await expect(left.locator("#messages")).not_to_contain_text("Dana Lee")
    await left.locator("#user-switcher").select_option("U01MARIA")
    await expect(left.locator("#conversation-header")).to_have_text("#support")
    await expect(card_of(left)).to_contain_text("Case #1 for Dana Lee")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-split.png"))
    await context.close()
    assert problems == []
