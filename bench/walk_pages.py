"""A walk of every page of the desk: each demo role, in Chinese and English, on a desktop and a phone, screenshotted.

    .venv/bin/python bench/walk_pages.py                       # every role, both languages, both sizes
    .venv/bin/python bench/walk_pages.py --roles agent,merchant --languages zh-hans --only ticket
    .venv/bin/python bench/walk_pages.py --keep --jobs 2        # keep bench_walk; two browsers and servers at once

Not a test (make test does not run it): a tool for a person who then LOOKS at the pictures. Seeds a scratch
database (bench_walk, dropped at the end unless --keep; a kept one is reused) with ``seed_demo --scale 1``,
starts daphne on it (DEBUG=0, static files collected into a temporary directory), signs in as each demo
role in Debian's Chromium (Playwright) and visits every page the role uses: its home, every admin changelist
and one change form the role may view (read from the admin registry, so none is forgotten), the queue's
filters and saved views, a chat, a refund and a dispute ticket, the pages the admin adds (refund review,
consumer reveal, risk-flag review, console, reports, QA search, rule backtest, merchant scores, missed
questions), the radio, /api/docs/, a 404 and, for merchant staff, pages they may not open (403). The
consumer walks the chat widget (one message sent), a survey link, /api/docs/ signed out and a 404.

Each page is loaded at 1440×900 and screenshotted (full page), then the window is narrowed to 390×844 (the
page's media queries apply as on a turned phone) and screenshotted again, into
``var/screenshots/walk/<role>/<lang>-<viewport>-<page>.png``. Beside the pictures, ``report.json`` and a
printed summary list what a script can see: the HTTP status, a page wider than the window, broken images,
English words in the chrome of a Chinese page (headings, labels, buttons, table heads, the menu) and Chinese
in the chrome of an English one, ISO timestamps or "UTC" in the text, snake_case codes, and a whole mobile
number or ID number on the page of someone who should see it masked.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _harness as h
from _walk_plan import ROLES, Page, plan

LANGUAGES = {"zh-hans": "zh-CN,zh;q=0.9", "en": "en-US,en;q=0.9"}
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
MASKED_FOR = {"agent", "merchant", "business"}  # roles that should never see a whole phone or ID number
# Whatever the page, the words a script reads as "the chrome": what the desk says, not what the data says.
CHROME = "h1, h2, h3, th, label, legend, caption, button, .button, summary, .breadcrumbs, #nav-sidebar, #user-tools, .help, .object-tools, #changelist-filter h3, .paginator, .empty, .quiet"  # noqa: E501
PROBE = """(chrome) => {
  const text = document.body ? document.body.innerText : "";
  const bits = [];
  for (const node of document.querySelectorAll(chrome)) {
    if (node.offsetParent === null && getComputedStyle(node).position !== "fixed") continue;
    const own = (node.innerText || node.value || "").trim();
    if (own) bits.push(own.slice(0, 200));
  }
  const broken = [...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.src);
  const wide = document.documentElement.scrollWidth - window.innerWidth;
  // A list that scrolls sideways inside its own box hides its last columns as surely as a wide page.
  const clipped = [...document.querySelectorAll(".results, .table-wrap, .module")]
    .map(n => n.scrollWidth - n.clientWidth).filter(d => d > 1);
  // A badge or a column head broken over more than two lines.
  const wrapped = [...document.querySelectorAll(".badge, #result_list th")].filter(n => {
    const line = parseFloat(getComputedStyle(n).lineHeight) || 16;
    return n.offsetParent !== null && n.getBoundingClientRect().height > 2.6 * line;
  }).map(n => n.innerText.trim()).filter(Boolean);
  return {text, chrome: bits, broken, wide, clipped, wrapped, title: document.title};
}"""
ENGLISH_WORD = re.compile(r"\b[A-Za-z][a-z]{2,}(?:\s+[A-Za-z][a-z]+)*\b")
CJK = re.compile(r"[\u4e00-\u9fff]+")
# Words of the chrome that are right in a Chinese page: product names, units, codes people type.
ENGLISH_OK = {"Django", "API", "CSV", "SLA", "QA", "WebSocket", "Opus", "Swagger", "JSON", "Chromium", "Celery",
              "Redis", "PostgreSQL", "OpenAPI", "Schemas", "Schema", "Authorize", "Servers", "English"}  # fmt: skip
ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\bUTC\b|\+00:00")
SNAKE = re.compile(r"(?<![\w/.-])[a-z]+_[a-z_]+(?![\w/.-])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")


@dataclass
class Shot:
    role: str
    language: str
    viewport: str
    page: str
    path: str
    status: int
    file: str
    problems: list[str] = field(default_factory=list)


# --- The browser ----------------------------------------------------------------------------------------


def problems_of(probe: dict[str, Any], role: str, language: str, viewport: str) -> list[str]:
    """What a script can tell is wrong with the page as it stands."""
    found = []
    if probe["wide"] > 1:
        found.append(f"wider than the window by {probe['wide']} px")
    if probe["clipped"]:
        found.append(f"a box scrolls sideways by {max(probe['clipped'])} px (columns out of view)")
    if probe["wrapped"]:
        found.append(f"wrapped over 3+ lines: {sorted(set(probe['wrapped']))[:6]}")
    if probe["broken"]:
        found.append(f"broken images: {probe['broken'][:3]}")
    chrome = "\n".join(probe["chrome"])
    if language == "zh-hans":
        words = {w for w in ENGLISH_WORD.findall(chrome) if w not in ENGLISH_OK}
        if words:
            found.append(f"English in the chrome: {sorted(words)[:12]}")
    else:
        words = set(CJK.findall(chrome.replace("简体中文", "")))
        if words:
            found.append(f"Chinese in the chrome: {sorted(words)[:12]}")
    text = probe["text"]
    for name, pattern in (("timestamp", ISO), ("code", SNAKE)):
        hits = sorted(set(pattern.findall(text)))
        if hits:
            found.append(f"{name}s in the text: {hits[:8]}")
    if role in MASKED_FOR:
        for name, pattern in (("mobile number", MOBILE), ("ID number", ID_NUMBER)):
            hits = sorted(set(pattern.findall(text)))
            if hits:
                found.append(f"whole {name}s: {hits[:3]}")
    return found


def sign_in(page: Any, base: str, role: str) -> None:
    from core.demo import DEMO_LOGINS

    login = next(login for login in DEMO_LOGINS if login.username == role)
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", login.username)
    page.fill("#id_password", login.password)
    page.press("#id_password", "Enter")
    page.wait_for_load_state("networkidle")
    if "/login/" in page.url:
        raise SystemExit(f"login as {role} failed")


def act(page: Any, then: str) -> None:
    if then == "reveal":
        button = page.locator("button.reveal").first
        if button.count():
            button.click()
            page.wait_for_timeout(600)
    elif then == "chat":
        page.wait_for_timeout(1500)  # the socket opens, the bot greets
        box = page.locator("textarea, input[type=text]").first
        if box.count():
            box.fill("我要退款")
            box.press("Enter")
            page.wait_for_timeout(2500)


def walk(browser: Any, base: str, role: str, language: str, pages: list[Page], viewports: list[str],
         out: Path) -> list[Shot]:  # fmt: skip
    """One role in one language: every page at each viewport."""
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": LANGUAGES[language]},
                                  viewport=VIEWPORTS[viewports[0]], timezone_id="Asia/Shanghai")  # fmt: skip
    page = context.new_page()
    if role != "consumer":
        sign_in(page, base, role)
    shots = []
    (out / role).mkdir(parents=True, exist_ok=True)
    for visit in pages:
        page.set_viewport_size(VIEWPORTS[viewports[0]])
        try:
            response = page.goto(base + visit.path, wait_until="networkidle", timeout=60_000)
            status = response.status if response is not None else 0
            act(page, visit.then)
        except Exception as error:  # a page that never settles is a finding, not the end of the walk
            status, error_text = -1, str(error).splitlines()[0]
        else:
            error_text = ""
        for viewport in viewports:
            page.set_viewport_size(VIEWPORTS[viewport])
            page.wait_for_timeout(150)
            file = out / role / f"{language}-{viewport}-{visit.name}.png"
            page.screenshot(path=str(file), full_page=True)
            probe = page.evaluate(PROBE, CHROME)
            shot = Shot(role, language, viewport, visit.name, visit.path, status, str(file.relative_to(out)),
                        problems_of(probe, role, language, viewport))  # fmt: skip
            if status != visit.expect:
                shot.problems.insert(0, f"HTTP {status}, expected {visit.expect} {error_text}".strip())
            if "/login/" in page.url and "login" not in visit.name and "signed-out" not in visit.name:
                shot.problems.insert(0, f"sent to the login page ({page.url})")
            shots.append(shot)
    context.close()
    return shots


def run_jobs(jobs: list[tuple[str, str]], bases: list[str], pages: dict[str, list[Page]], viewports: list[str],
             out: Path) -> list[Shot]:  # fmt: skip
    """Each worker thread has its own Playwright, its own Chromium and its own daphne, and takes jobs in turn."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    todo: queue.Queue[tuple[str, str]] = queue.Queue()
    for job in jobs:
        todo.put(job)
    shots: list[Shot] = []
    failures: list[BaseException] = []

    def worker(base: str) -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                while True:
                    try:
                        role, language = todo.get_nowait()
                    except queue.Empty:
                        break
                    started = time.monotonic()
                    done = walk(browser, base, role, language, pages[role], viewports, out)
                    shots.extend(done)
                    seconds = time.monotonic() - started
                    print(f"{role:10} {language:7} {len(done):4} shots in {seconds:5.0f} s", flush=True)
                browser.close()
        except BaseException as error:  # handed to the main thread
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(base,)) for base in bases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return shots


# --- Main -----------------------------------------------------------------------------------------------


def prepare(database: h.ScratchDatabase, keep: bool) -> None:
    if keep and database.exists():
        database.migrate()
        print(f"reusing {database.name}")
        return
    database.create()
    database.migrate()
    _done, seconds = h.timed(lambda: h.manage("seed_demo", "--scale", "1", "--quiet", env=database.env()))
    print(f"seed_demo --scale 1 into {database.name}: {seconds:.0f} s")


def report(shots: list[Shot], out: Path) -> None:
    (out / "report.json").write_text(json.dumps([asdict(s) for s in shots], ensure_ascii=False, indent=1))
    rows = []
    for role in ROLES:
        mine = [s for s in shots if s.role == role]
        if mine:
            bad = [s for s in mine if s.problems]
            rows.append((role, str(len({s.page for s in mine})), str(len(mine)), str(len(bad))))
    h.print_table(("role", "pages", "screenshots", "with a problem"), rows)
    print()
    for shot in shots:
        for problem in shot.problems:
            print(f"{shot.role}/{shot.language}-{shot.viewport}-{shot.page} ({shot.path}): {problem}")


def contact_sheets(shots: list[Shot], out: Path, *, per_sheet: int = 3) -> int:
    """The first screen of each shot, ``per_sheet`` side by side with the page's name above: a role's walk in a
    language and a size, to look through quickly (``sheets/<role>-<lang>-<viewport>-<n>.png``)."""
    from PIL import Image, ImageDraw

    (out / "sheets").mkdir(exist_ok=True)
    made = 0
    groups: dict[tuple[str, str, str], list[Shot]] = {}
    for shot in shots:
        groups.setdefault((shot.role, shot.language, shot.viewport), []).append(shot)
    for (role, language, viewport), group in groups.items():
        width, height = VIEWPORTS[viewport]["width"], VIEWPORTS[viewport]["height"]
        for start in range(0, len(group), per_sheet):
            tiles = group[start : start + per_sheet]
            sheet = Image.new("RGB", (per_sheet * (width + 10), height + 24), "white")
            draw = ImageDraw.Draw(sheet)
            for k, shot in enumerate(tiles):
                with Image.open(out / shot.file) as image:
                    sheet.paste(image.crop((0, 0, width, min(height, image.height))), (k * (width + 10), 24))
                draw.text((k * (width + 10) + 4, 4), f"{shot.page} [{shot.status}]", fill="black")
            sheet.save(out / "sheets" / f"{role}-{language}-{viewport}-{start // per_sheet:02d}.png")
            made += 1
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--viewports", default=",".join(VIEWPORTS))
    parser.add_argument("--only", default="", help="Only the pages whose name holds one of these (comma-separated).")
    parser.add_argument("--jobs", type=int, default=1, help="Browsers (each with its own daphne) at once.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database (and reuse a kept one).")
    args = parser.parse_args()
    roles = [r for r in args.roles.split(",") if r]
    languages = [lang for lang in args.languages.split(",") if lang]
    viewports = [v for v in args.viewports.split(",") if v]

    h.refuse_database_url()
    database = h.ScratchDatabase("bench_walk")
    static = tempfile.TemporaryDirectory(prefix="bench-static-")
    server_env = h.server_env(database, static_dir=static.name, secret="bench-walk-not-secret",
                              REDIS_URL=h.redis_url(0), REDIS_KEY_PREFIX="bench-walk")  # fmt: skip
    daphnes: list[Any] = []
    try:
        prepare(database, args.keep)
        h.setup_django(**{**server_env, "ALLOWED_HOSTS": "127.0.0.1,testserver", "VAR_DIR": h.var_dir()})
        only = [part for part in args.only.split(",") if part] or [""]
        pages = {role: [p for p in listed if any(part in p.name for part in only)]
                 for role, listed in plan().items() if role in roles}  # fmt: skip
        h.manage("collectstatic", "--noinput", "-v0", "--skip-checks", env=server_env)
        bases = []
        for _job in range(max(1, args.jobs)):
            daphne, port = h.start_daphne(server_env)
            daphnes.append(daphne)
            bases.append(f"http://127.0.0.1:{port}")
            h.wait_for_http(bases[-1] + "/admin/login/", daphne)
        h.close_connections()
        out = Path(h.var_dir()) / "screenshots" / "walk"
        out.mkdir(parents=True, exist_ok=True)
        jobs = [(role, language) for role in roles for language in languages]
        started = time.monotonic()
        shots = run_jobs(jobs, bases, pages, viewports, out)
        print(f"\n{len(shots)} screenshots in {h.duration(time.monotonic() - started)} into {out}\n")
        report(shots, out)
        print(f"\n{contact_sheets(shots, out)} contact sheets in {out / 'sheets'}")
    finally:
        for daphne in daphnes:
            daphne.terminate()
            daphne.wait(timeout=30)
        h.close_connections()
        if not args.keep:
            database.drop()
        static.cleanup()


if __name__ == "__main__":
    main()
