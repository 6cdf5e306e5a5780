"""The catalogues (locale/en and locale/ru) are complete, compiled, faithful to their placeholders and in step with
the code.

The msgids are Russian for the bot and English for the admin. "Complete" therefore means, for English, every
entry translated, and for Russian, every English msgid translated: a Russian msgid may stay empty in locale/ru,
where gettext shows the msgid itself. When one of these fails, update the catalogues as README "Languages" says:
makemessages, translate, compilemessages.
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
LANGUAGES = ("en", "ru")
# The same folders makemessages is told to skip (README "Languages"), plus migrations (no translatable calls).
SKIPPED = {".venv", "tests", "bench", "test-artifacts", "migrations", "staticfiles", "node_modules"}
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
PGETTEXT_NAMES = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}|</?\w+[^>]*>")
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# Latin words a Russian text may keep as they are: names, codes and abbreviations.
LATIN_KEPT = {"Telegram", "Premium", "LoRA", "FAL", "HTML", "CSV", "URL", "UTC", "id", "ADMIN_IDS", "Aisha", "N"}


def po_path(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module", params=LANGUAGES)
def catalogue(request) -> polib.POFile:
    po = polib.pofile(str(po_path(request.param)))
    po.language = request.param
    return po


def entries(catalogue):
    return [entry for entry in catalogue if not entry.obsolete]


def is_russian(text: str) -> bool:
    return bool(CYRILLIC.search(text))


def translated(entry: polib.POEntry) -> bool:
    return all(entry.msgstr_plural.values()) if entry.msgid_plural else bool(entry.msgstr)


def must_translate(catalogue, entry: polib.POEntry) -> bool:
    """Every entry in English; in Russian, the English msgids (a Russian msgid shows as it is)."""
    return catalogue.language != "ru" or not is_russian(entry.msgid)


def source_msgids() -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> first place it is used, for every gettext call on a string literal in our Python."""
    found: dict[tuple[str | None, str], str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED & set(relative.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            literals = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
                        for a in node.args[:2]]
            if name in GETTEXT_NAMES and literals[0] is not None:
                found.setdefault((None, literals[0]), f"{relative}:{node.lineno}")
            elif name in PGETTEXT_NAMES and len(literals) == 2 and None not in literals:
                found.setdefault((literals[0], literals[1]), f"{relative}:{node.lineno}")
    return found


def key(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid


def test_every_message_that_needs_a_translation_has_one_and_none_is_fuzzy(catalogue):
    untranslated = [e.msgid for e in entries(catalogue) if must_translate(catalogue, e) and not translated(e)]
    assert untranslated == []
    assert [e.msgid for e in entries(catalogue) if "fuzzy" in e.flags] == []
    assert not catalogue.metadata_is_fuzzy
    assert catalogue.metadata["Language"] == catalogue.language
    assert len(entries(catalogue)) > 400


def test_the_russian_catalogue_translates_the_admin_and_leaves_the_bots_russian_msgids_alone():
    ru = polib.pofile(str(po_path("ru")))
    english = [e for e in entries(ru) if not is_russian(e.msgid)]
    assert len(english) > 300  # the admin's texts, all of them translated (test above)
    copied = [e.msgid for e in english if not e.msgid_plural and e.msgstr == e.msgid
              and set(re.findall(r"[A-Za-z_]+", PLACEHOLDER.sub("", e.msgid))) - LATIN_KEPT]
    assert copied == [], "English copied into the Russian catalogue instead of translated"
    assert [e.msgid for e in entries(ru) if is_russian(e.msgid) and e.msgstr not in ("", e.msgid)] == []


def test_the_compiled_catalogue_matches_the_po_file(catalogue):
    with po_path(catalogue.language).with_suffix(".mo").open("rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)
    compiled.pop("", None)  # the header
    expected = {}
    for entry in entries(catalogue):
        if not translated(entry):
            continue  # msgfmt leaves untranslated entries out; gettext falls back to the msgid
        if entry.msgid_plural:
            expected.update({(key(entry), int(n)): text for n, text in entry.msgstr_plural.items()})
        else:
            expected[key(entry)] = entry.msgstr
    stale = {k: (compiled.get(k), v) for k, v in expected.items() if compiled.get(k) != v}
    assert stale == {}, f"run: manage.py compilemessages -l {catalogue.language} --ignore=.venv"
    assert set(compiled) == set(expected)


def test_translations_keep_placeholders_tags_emoji_and_surrounding_whitespace(catalogue):
    def shape(text: str):
        symbols = sorted(ch for ch in text if unicodedata.category(ch) == "So")
        return sorted(PLACEHOLDER.findall(text)), symbols, text[: len(text) - len(text.lstrip())], \
            text[len(text.rstrip()):]

    broken = []
    for e in entries(catalogue):
        if not translated(e):
            continue
        if e.msgid_plural:
            # Every plural form keeps the plural msgid's placeholders (a Russian "one" form serves 21, 31, ...).
            broken += [e.msgid for text in e.msgstr_plural.values() if shape(text) != shape(e.msgid_plural)]
        elif shape(e.msgid) != shape(e.msgstr):
            broken.append(e.msgid)
    assert broken == []


def test_every_translatable_string_in_the_code_is_in_the_catalogue(catalogue):
    known = {(e.msgctxt, e.msgid) for e in entries(catalogue)}
    known |= {(e.msgctxt, e.msgid_plural) for e in entries(catalogue) if e.msgid_plural}
    used = source_msgids()
    assert len(used) > 400  # the scan really finds the bot's and the admin's texts
    missing = {msgid: where for msgid, where in used.items() if msgid not in known}
    assert missing == {}, f"run: manage.py makemessages -l {catalogue.language} (see README), then translate"


def test_the_catalogue_has_no_leftovers_from_removed_code(catalogue):
    used = source_msgids()
    python_only = [e for e in entries(catalogue) if all(path.endswith(".py") for path, _line in e.occurrences)]
    assert [e.msgid for e in python_only if (e.msgctxt, e.msgid) not in used] == []
    assert [e.msgid for e in catalogue if e.obsolete] == []


def test_russian_stays_the_default_language():
    from django.utils import translation
    from django.utils.translation import gettext as _

    assert settings.LANGUAGE_CODE == "ru"
    with translation.override(settings.LANGUAGE_CODE):
        assert _("🏠 Главное меню") == "🏠 Главное меню"
        assert _("Adjust balance") == "Изменить баланс"
    with translation.override("en"):
        assert _("🏠 Главное меню") == "🏠 Main menu"
        assert _("Adjust balance") == "Adjust balance"
