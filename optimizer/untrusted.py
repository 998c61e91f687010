"""Detectors for what must not reach a public field from untrusted text:
markup, links, email addresses, phone numbers and instructions addressed
to a model. ``optimizer.screening`` decides what to do with what they find.

Every detector looks at each of ``readings(text)``: NFKC (full-width
letters become ASCII) with zero-width and other invisible format characters
removed, and that again with the Cyrillic and Greek letters that look like
Latin ones read as Latin, so "ｉｇｎｏｒｅ", "ig\u200bnore" and "іgnоrе"
(Cyrillic) all read as "ignore".

Why regular expressions of our own: the job is narrow and must be
deterministic and fast (it runs on every field of every suggestion); a
classifier would need a model and still need these rules for links and
addresses. The instruction patterns cover English and, for the one phrase
every injection starts with ("ignore the previous instructions"), French,
German, Spanish, Italian, Portuguese, Russian, Chinese and Japanese.
"""

from __future__ import annotations

import re
import unicodedata

# Cyrillic and Greek letters drawn like Latin ones (the usual homoglyphs).
_LOOKALIKES = str.maketrans(
    "аеорсуxхіјѕԁɡӏАВЕКМНОРСТХІЈЅαβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxxijsdglABEKMHOPCTXIJSabeiknoptuxABEZHIKMNOPTYX",
)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width, joiners, BOM


def readings(text: str) -> tuple[str, ...]:
    """The normalised text, and the same with look-alike letters read as
    Latin when it has any (checking only the second would break Russian
    words apart; only the first would miss "іgnоrе" spelt in Cyrillic)."""
    plain = normalise(text)
    latin = plain.translate(_LOOKALIKES)
    return (plain,) if latin == plain else (plain, latin)


MARKUP = re.compile(
    r"</?[a-z!][^>]*>?|&#?[a-z0-9]+;|\b(?:java|vb)script\s*:|\bdata\s*:\s*\w+/[\w.+-]+"
    r"|\b(?:on[a-z]{3,}|src|href|style|srcdoc|formaction|http-equiv|content)\s*=|\{\{|\}\}|\$\{|`",
    re.IGNORECASE,
)

# A bare "name.tld" reads as a link when the TLD is a generic one people
# link to, or any two-letter country code except file extensions that name
# topics ("node.js", "main.py").
_GENERIC_TLDS = (
    "com|net|org|info|biz|app|dev|xyz|link|site|online|shop|store|click|top|live|page|vip|club|pro|blog|news|"
    "tech|io|ai|example|test|invalid|local|onion|zip|mov|icu|fun|art|wiki|one|win|bet|casino|money|lol|gdn"
)
_NOT_TLDS = "js|ts|py|rb|md|cs|rs|kt|go|h|c|mm|sh|pl|pm|ps|db|gz|xz|bz|tf|ex|hs|ml|sc|vb"
URL = re.compile(
    r"(?:[a-z][a-z0-9+.-]*:)?//[^\s<>\"']+"  # with a scheme, or protocol-relative
    r"|\bwww\.[^\s<>\"']+"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:/[^\s<>\"']*)?"  # an IP address
    rf"|\b(?:[a-z0-9-]+\.)+(?:(?:{_GENERIC_TLDS})\b|(?!(?:{_NOT_TLDS})\b)[a-z]{{2}}\b)(?:[:/][^\s<>\"']*)?"
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,}/[^\s<>\"']+",  # any dotted name followed by a path
    re.IGNORECASE,
)
EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# Digits with the separators numbers are written with; 9 to 15 digits
# (E.164), shaped like a phone number (a +, a bracketed area code, two or
# more groups, or 10-11 digits in one run), and not a list of years or a
# decimal. Two groups count (a "+49 30 1234567" cut after its country code
# is still a Berlin number); one run of 9 digits does not (a view count).
_PHONE_CANDIDATE = re.compile(r"(?<![\w/.:-])\+?\(?\d[\d\s().\-]{6,}\d(?![\w/])")
_YEAR = re.compile(r"(?:19|20)\d\d")
_DECIMAL = re.compile(r"\d+\.\d+")


def phones(text: str) -> list[str]:
    """Phone numbers in ``text``; a list of years, a decimal or a count is not one.
    This is the one definition: screening, and the scrubbing of what is sent
    to Claude and SerpAPI (optimizer/privacy.py), both use it."""
    found = []
    for match in _PHONE_CANDIDATE.finditer(text):
        digits = "".join(ch for ch in match.group(0) if ch.isdigit())
        groups = re.findall(r"\d+", match.group(0))
        text_of = match.group(0)
        shaped = (
            text_of.startswith(("+", "("))
            or len(groups) >= 3
            or (len(groups) == 1 and 10 <= len(digits) <= 11)
            or (len(groups) == 2 and not _DECIMAL.fullmatch(text_of))
        )
        if 9 <= len(digits) <= 15 and shaped and not all(_YEAR.fullmatch(group) for group in groups):
            found.append(text_of)
    return found


_AI = (
    r"(?:an?\s+)?(?:helpful\s+|unrestricted\s+|uncensored\s+|unfiltered\s+)?(?:ai(?:\s+(?:assistant|model))?|"
    r"a\.i\.|artificial intelligence|(?:large\s+)?language model|llm|chat\s*bot|gpt(?:-?\d[\w.]*)?|chatgpt|claude)"
)
_EARLIER = r"(?:previous|prior|above|earlier|preceding|original|initial|foregoing)"
_INSTRUCTIONS_NOUN = r"(?:instructions?|prompts?|directives|directions|guidelines|rules|commands|context|messages?)"
_ENGLISH = [
    r"\b(?:ignore|disregard|forget|override|bypass|discard|skip)\b[\w\s,'’-]{0,40}?\b"
    rf"(?:instructions?|prompts?|directives|guidelines|your\s+programming|{_EARLIER}\s+{_INSTRUCTIONS_NOUN})\b",
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?"
    r"(?:above|previous|prior|preceding|foregoing)\b",
    r"\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)\b",
    r"\b(?:previous|prior|above|earlier|preceding)\s+(?:instructions?|prompts?|directives)\b",
    r"\bnew\s+(?:instructions?|directives|system\s+prompt|rules\s*:)",
    r"\bsystem\s*(?:prompt|message|instructions?|override)\b",
    r"\b(?:hidden|secret|confidential|initial)\s+(?:prompt|instructions)\b",
    r"\bas\s+an?\s+" + _AI + r"\b",
    r"\b(?:you\s+are|you're|act\s+as|pretend\s+(?:to\s+be|you\s+are)|role-?play\s+as|behave\s+like)\s+(?:now\s+)?"
    r"(?:" + _AI + r"|an?\s+(?:helpful\s+|unfiltered\s+)?assistant|dan)\b",
    r"\b(?:hey|dear|attention|note\s+to(?:\s+the)?|if\s+you\s+are|calling\s+all)\s+" + _AI + r"\b",
    r"\b(?:reveal|print|repeat|output|show|leak|disclose)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+|hidden\s+)?"
    r"(?:prompt|instructions|rules|configuration)\b",
    r"\b(?:jailbreak|prompt\s+injection|developer\s+mode|dan\s+mode|do\s+anything\s+now)\b",
    r"(?:^|[.!?]\s)\s*(?:system|assistant|user|human)\s*:",
    r"\[/?inst\]|\|?\bim_(?:start|end)\b\|?|<\|[a-z_]+\|>|\|(?:endoftext|system|assistant)\||"
    r"#{2,}\s*(?:instruction|system|response)",
    r"\b(?:respond|reply|answer)\s+only\s+with\b",
]
_OTHER_LANGUAGES = [
    r"\bignor\w*\b.{0,30}\b(?:instructions?|consignes|anweisungen|befehle|instrucciones|istruzioni|instruções)\b",
    r"\b(?:oubliez|oublie|vergiss|olvida|dimentica|esqueça)\b.{0,30}\b(?:instructions?|anweisungen|instrucciones|"
    r"istruzioni|instruções)\b",
    r"игнорир\w*.{0,30}инструкци|забудь.{0,30}инструкци",
    r"(?:忽略|无视|無視|忘记|忘れ).{0,12}(?:指令|指示|提示|说明|命令|プロンプト)",
]
INSTRUCTION = re.compile("|".join(_ENGLISH + _OTHER_LANGUAGES), re.IGNORECASE | re.MULTILINE)

# The same instructions split by punctuation ("Developer – Mode",
# "System/Prompt", "ignore_previous_instructions"), looked for in the text
# with whatever stands between words read as one space. Only the phrases
# that mean nothing else: a colon, a dash or a bar also ends a part of a
# title, and "Solar System: Message from Voyager", "Brand New! Instructions
# for LEGO" or "Hey! AI is changing music" must stay titles.
SPLIT_INSTRUCTION = re.compile(
    r"\b(?:developer mode|dan mode|do anything now|prompt injection|system prompt|"
    r"(?:hidden|secret|confidential) (?:prompt|instructions)|"
    r"(?:ignore|disregard|forget|override) (?:all )?(?:the |your )?"
    r"(?:previous|prior|above|earlier|preceding)(?: (?:instructions?|prompts?|directives|rules))?|"
    r"(?:ignore|override|forget) your (?:instructions|guidelines|rules|programming)|"
    r"(?:previous|prior|preceding) (?:instructions?|prompts?|directives))\b",
    re.IGNORECASE,
)
