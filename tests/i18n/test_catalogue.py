"""The English catalogue (locale/en) is complete, compiled, faithful to its placeholders and in step with the code.

When one of these fails, update the catalogue as README "Languages" says: makemessages, translate, compilemessages.
"""

import ast
import gettext
import re
import unicodedata
from pathlib import Path

import polib
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# The same folders makemessages is told to skip (README "Languages"), plus migrations (no translatable calls).
SKIPPED = {".venv", "tests", "bench", "test-artifacts", "migrations", "staticfiles", "node_modules"}
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}|</?\w+[^>]*>")


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(PO))


def entries(catalogue):
    return [entry for entry in catalogue if not entry.obsolete]


def source_msgids() -> dict[str, str]:
    """msgid -> first place it is used, for every gettext call on a string literal in the project's Python."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED & set(relative.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            first = node.args[0]
            if name in GETTEXT_NAMES and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, f"{relative}:{node.lineno}")
    return found


def key(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid


def test_every_message_has_an_english_translation_and_none_is_fuzzy(catalogue):
    untranslated = [e.msgid for e in entries(catalogue) if not (all(e.msgstr_plural.values()) if e.msgid_plural
                                                                 else e.msgstr)]
    assert untranslated == []
    assert [e.msgid for e in entries(catalogue) if "fuzzy" in e.flags] == []
    assert not catalogue.metadata_is_fuzzy
    assert len(entries(catalogue)) > 400


def test_the_compiled_catalogue_matches_the_po_file(catalogue):
    with MO.open("rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)
    compiled.pop("", None)  # the header
    expected = {}
    for entry in entries(catalogue):
        if entry.msgid_plural:
            expected.update({(key(entry), int(n)): text for n, text in entry.msgstr_plural.items()})
        else:
            expected[key(entry)] = entry.msgstr
    stale = {k: (compiled.get(k), v) for k, v in expected.items() if compiled.get(k) != v}
    assert stale == {}, "run: manage.py compilemessages -l en --ignore=.venv"
    assert set(compiled) == set(expected)


def test_translations_keep_placeholders_tags_emoji_and_surrounding_whitespace(catalogue):
    def shape(text: str):
        symbols = sorted(ch for ch in text if unicodedata.category(ch) == "So")
        return sorted(PLACEHOLDER.findall(text)), symbols, text[: len(text) - len(text.lstrip())], \
            text[len(text.rstrip()):]

    broken = [e.msgid for e in entries(catalogue) if not e.msgid_plural and shape(e.msgid) != shape(e.msgstr)]
    assert broken == []


def test_every_translatable_string_in_the_code_is_in_the_catalogue(catalogue):
    known = {e.msgid for e in entries(catalogue)} | {e.msgid_plural for e in entries(catalogue) if e.msgid_plural}
    used = source_msgids()
    assert len(used) > 400  # the scan really finds the bot's and the admin's texts
    missing = {msgid: where for msgid, where in used.items() if msgid not in known}
    assert missing == {}, "run: manage.py makemessages -l en (see README), then translate"


def test_the_catalogue_has_no_leftovers_from_removed_code(catalogue):
    used = source_msgids()
    python_only = [e for e in entries(catalogue) if all(path.endswith(".py") for path, _line in e.occurrences)]
    assert [e.msgid for e in python_only if e.msgid not in used] == []
    assert [e.msgid for e in catalogue if e.obsolete] == []


def test_russian_stays_the_default_language():
    from django.utils import translation
    from django.utils.translation import gettext as _

    assert settings.LANGUAGE_CODE == "ru"
    with translation.override(settings.LANGUAGE_CODE):
        assert _("🏠 Главное меню") == "🏠 Главное меню"
    with translation.override("en"):
        assert _("🏠 Главное меню") == "🏠 Main menu"
