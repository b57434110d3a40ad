"""The zh-hans catalogue is complete: every string marked for translation has a Chinese one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

ROOT = Path(settings.BASE_DIR)
APPS = ("config", "core", "crm", "merchants", "tickets", "chat", "qa", "radio", "home")
PO_PATH = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
PGETTEXT_NAMES = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}
TEMPLATE_TAG = re.compile(r"""{%\s*(?:trans|translate)\s+(?:"([^"]+)"|'([^']+)')""")
TEMPLATE_UNDERSCORE = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")
BLOCK_TAG = re.compile(r"{%\s*blocktrans(?:late)?(?P<args>[^%]*)%}(?P<body>.*?){%\s*endblocktrans(?:late)?\s*%}", re.S)


def _python_msgids(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        index = 0 if name in GETTEXT_NAMES else 1 if name in PGETTEXT_NAMES else None
        if index is None or len(node.args) <= index:
            continue
        arg = node.args[index]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.add(arg.value)
    return found


def _template_msgids(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = {a or b for a, b in TEMPLATE_TAG.findall(text)} | {a or b for a, b in TEMPLATE_UNDERSCORE.findall(text)}
    for match in BLOCK_TAG.finditer(text):
        body = match.group("body").split("{% plural %}")[0]
        if "trimmed" in match.group("args"):
            body = " ".join(body.split())
        found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    return found


def marked_strings() -> set[str]:
    found: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                found |= _python_msgids(path)
        for path in (ROOT / app).rglob("templates/**/*.html"):
            found |= _template_msgids(path)
    return found


def test_extractor_sees_strings_from_code_and_templates() -> None:
    strings = marked_strings()
    assert "Service Desk" in strings  # core/admin.py
    assert "Language" in strings  # core/templates/admin/base_site.html
    assert "Paid" in strings  # a TextChoices label in crm/models.py


def test_every_marked_string_has_a_chinese_translation() -> None:
    catalogue = polib.pofile(str(PO_PATH))
    translated = {e.msgid for e in catalogue if e.translated() and "fuzzy" not in e.flags}
    missing = sorted(marked_strings() - translated)
    assert missing == [], f"Strings without a zh-hans translation in {PO_PATH.name}: {missing}"


def test_compiled_catalogue_matches_the_po_file() -> None:
    catalogue = polib.pofile(str(PO_PATH))
    with translation.override("zh-hans"):
        stale = [
            e.msgid
            for e in catalogue.translated_entries()
            if not e.msgid_plural and not e.msgctxt and translation.gettext(e.msgid) != e.msgstr
        ]
    assert stale == [], "The .mo file is older than the .po file: run `make catalogues`."


@pytest.mark.django_db
def test_admin_login_page_speaks_chinese_by_default_and_english_on_request() -> None:
    client = Client()
    chinese = client.get("/admin/login/").content.decode()
    assert "客服工作台" in chinese and 'lang="zh-hans"' in chinese
    english = client.get("/admin/login/", headers={"accept-language": "en"}).content.decode()
    # Accept-Language is honoured; LANGUAGE_CODE is only the default.
    assert "Service Desk" in english and 'lang="en"' in english


@pytest.mark.django_db
def test_language_switch_sets_the_language_cookie() -> None:
    client = Client()
    page = client.get("/admin/login/").content.decode()
    assert 'action="/i18n/setlang/"' in page  # the switch is on the login page too
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Service Desk" in client.get("/admin/login/").content.decode()


@pytest.mark.django_db
def test_language_switch_refuses_an_unknown_language() -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "xx", "next": "/admin/login/"})
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
