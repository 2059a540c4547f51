"""Names that look like other names: mixed scripts and invisible characters.

``pаypal.test`` with a Cyrillic ``а`` reads as ``paypal.test`` on every terminal. A
name is marked when one of its labels mixes scripts (UTS #39's "mixed-script": no
single script covers every letter, after the Common and Inherited characters and the
usual Han + Hiragana/Katakana/Hangul/Bopomofo mixes are allowed for) or holds an
invisible character (Unicode's Default_Ignorable_Code_Point). ``xn--`` labels are
decoded first: the A-label of a look-alike is a look-alike.

The script data is Unicode's Script_Extensions property as the ``regex`` module
ships it (the standard library has none). Pure Python, no Textual.
"""

from __future__ import annotations

from functools import lru_cache

import regex

#: Unicode's scripts (Script_Extensions values), as the regex module names them; one
#: the installed regex does not know yet is skipped (its letters count as "Unknown").
SCRIPT_NAMES = [
    "Latin",
    "Bopomofo",
    "Greek",
    "Coptic",
    "Cyrillic",
    "Armenian",
    "Hebrew",
    "Arabic",
    "Syriac",
    "Thaana",
    "Nko",
    "Samaritan",
    "Mandaic",
    "Devanagari",
    "Bengali",
    "Gurmukhi",
    "Gujarati",
    "Oriya",
    "Tamil",
    "Telugu",
    "Kannada",
    "Malayalam",
    "Sinhala",
    "Thai",
    "Lao",
    "Tibetan",
    "Myanmar",
    "Georgian",
    "Hangul",
    "Ethiopic",
    "Cherokee",
    "Canadian_Aboriginal",
    "Ogham",
    "Runic",
    "Tagalog",
    "Hanunoo",
    "Buhid",
    "Tagbanwa",
    "Khmer",
    "Mongolian",
    "Limbu",
    "Tai_Le",
    "New_Tai_Lue",
    "Buginese",
    "Tai_Tham",
    "Balinese",
    "Sundanese",
    "Batak",
    "Lepcha",
    "Ol_Chiki",
    "Braille",
    "Glagolitic",
    "Tifinagh",
    "Han",
    "Hiragana",
    "Katakana",
    "Yi",
    "Lisu",
    "Vai",
    "Bamum",
    "Syloti_Nagri",
    "Phags_Pa",
    "Saurashtra",
    "Kayah_Li",
    "Rejang",
    "Javanese",
    "Cham",
    "Tai_Viet",
    "Meetei_Mayek",
    "Linear_B",
    "Lycian",
    "Carian",
    "Old_Italic",
    "Gothic",
    "Old_Permic",
    "Ugaritic",
    "Old_Persian",
    "Deseret",
    "Shavian",
    "Osmanya",
    "Osage",
    "Elbasan",
    "Caucasian_Albanian",
    "Vithkuqi",
    "Todhri",
    "Linear_A",
    "Cypriot",
    "Imperial_Aramaic",
    "Palmyrene",
    "Nabataean",
    "Hatran",
    "Phoenician",
    "Lydian",
    "Sidetic",
    "Meroitic_Hieroglyphs",
    "Meroitic_Cursive",
    "Kharoshthi",
    "Old_South_Arabian",
    "Old_North_Arabian",
    "Manichaean",
    "Avestan",
    "Inscriptional_Parthian",
    "Inscriptional_Pahlavi",
    "Psalter_Pahlavi",
    "Old_Turkic",
    "Old_Hungarian",
    "Hanifi_Rohingya",
    "Garay",
    "Yezidi",
    "Old_Sogdian",
    "Sogdian",
    "Old_Uyghur",
    "Chorasmian",
    "Elymaic",
    "Brahmi",
    "Kaithi",
    "Sora_Sompeng",
    "Chakma",
    "Mahajani",
    "Sharada",
    "Khojki",
    "Multani",
    "Khudawadi",
    "Grantha",
    "Tulu_Tigalari",
    "Newa",
    "Tirhuta",
    "Siddham",
    "Modi",
    "Takri",
    "Ahom",
    "Dogra",
    "Warang_Citi",
    "Dives_Akuru",
    "Nandinagari",
    "Zanabazar_Square",
    "Soyombo",
    "Pau_Cin_Hau",
    "Sunuwar",
    "Bhaiksuki",
    "Marchen",
    "Masaram_Gondi",
    "Gunjala_Gondi",
    "Tolong_Siki",
    "Makasar",
    "Kawi",
    "Cuneiform",
    "Cypro_Minoan",
    "Egyptian_Hieroglyphs",
    "Anatolian_Hieroglyphs",
    "Gurung_Khema",
    "Mro",
    "Tangsa",
    "Bassa_Vah",
    "Pahawh_Hmong",
    "Kirat_Rai",
    "Medefaidrin",
    "Miao",
    "Tangut",
    "Nushu",
    "Khitan_Small_Script",
    "Duployan",
    "SignWriting",
    "Nyiakeng_Puachue_Hmong",
    "Toto",
    "Wancho",
    "Nag_Mundari",
    "Ol_Onal",
    "Mende_Kikakui",
    "Adlam",
]


def _compile(name: str) -> regex.Pattern[str] | None:
    try:
        return regex.compile(rf"\p{{Script_Extensions={name}}}")
    except regex.error:
        return None


_SCRIPTS = [(name, p) for name in SCRIPT_NAMES if (p := _compile(name)) is not None]
_NEUTRAL = regex.compile(r"[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]")
_INVISIBLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
#: UTS #39's augmented script sets: these mixes are how Japanese, Korean and Chinese
#: are written, not a disguise.
_AUGMENT = {
    "Han": {"Han", "Jpan", "Kore", "Hanb"},
    "Hiragana": {"Hiragana", "Jpan"},
    "Katakana": {"Katakana", "Jpan"},
    "Hangul": {"Hangul", "Kore"},
    "Bopomofo": {"Bopomofo", "Hanb"},
}


@lru_cache(maxsize=4096)
def scripts_of(char: str) -> frozenset[str]:
    """The scripts ``char`` is used with (empty for Common and Inherited characters,
    such as digits, ``-`` and combining marks; ``{"Unknown"}`` for the unassigned)."""
    if char.isascii():
        return frozenset({"Latin"}) if char.isalpha() else frozenset()
    if _NEUTRAL.match(char):
        return frozenset()
    found = frozenset(name for name, pattern in _SCRIPTS if pattern.match(char))
    return found or frozenset({"Unknown"})


def mixed_scripts(label: str) -> list[str]:
    """The scripts a label mixes (sorted, Latin first), or [] when one script covers it."""
    resolved: set[str] | None = None
    seen: set[str] = set()
    for char in label:
        scripts = scripts_of(char)
        if not scripts:
            continue
        seen.update(scripts if len(scripts) == 1 else ())
        augmented = set().union(*(_AUGMENT.get(s, {s}) for s in scripts))
        resolved = augmented if resolved is None else resolved & augmented
    if resolved is None or resolved:
        return []
    if len(seen) < 2:  # (only characters of several scripts each: name what they share not)
        seen = set().union(*(scripts_of(c) for c in label))
    return sorted(seen, key=lambda s: (s != "Latin", s))


def _unicode_label(label: str) -> str:
    """An ``xn--`` label as the Unicode it stands for (itself when it is not one)."""
    if label[:4].lower() != "xn--" or not label.isascii():
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label


@lru_cache(maxsize=8192)
def lookalike(name: str | None) -> str | None:
    """Why ``name`` (a domain, an MX host, a reporter) may pass for another, or None.

    ``"mixes Latin and Cyrillic in 'pаypal'"``, ``"holds an invisible character
    (U+200B)"``; an A-label is named with its Unicode form.
    """
    if not name or (name.isascii() and "xn--" not in name.lower()):
        return None
    reasons: list[str] = []
    for word in regex.split(r"[.\s]+", name):
        if not word:
            continue
        label = _unicode_label(word)
        hidden = sorted({f"U+{ord(c):04X}" for c in _INVISIBLE.findall(label)})
        if hidden:
            reasons.append(f"holds an invisible character ({', '.join(hidden)})")
        mixed = mixed_scripts(label)
        if mixed:
            shown = label.encode("unicode_escape").decode("ascii") if hidden else label
            what = f"{word} = {shown}" if label != word else shown
            reasons.append(f"mixes {' and '.join(mixed)} in {what!r}")
    return "; ".join(reasons) or None
