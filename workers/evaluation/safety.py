"""Safety checks on a draft: personal data, unsafe links, profanity.

Profanity uses the word list shipped in the `better-profanity` package (MIT
licence, maintained at github.com/snguyenthanh/better_profanity, 900+ entries),
matched as whole words so "Scunthorpe" and "class" pass.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# +44 20 7946 0958, (555) 123-4567, 555-123-4567, 020 7946 0958: 9-15 digits with separators,
# international prefix or at least two groups, so that years, prices and ids do not match
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,5}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,5}){1,4}(?![\w-])"
)
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*):(?://)?[^\s<>\"')\]]+", re.IGNORECASE)
# Link shorteners hide where a reader lands; an editor should see the real address.
SHORTENERS = frozenset({"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly",
                        "rebrand.ly", "cutt.ly", "shorturl.at"})
UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
LINK_SCHEMES = frozenset({"http", "https", "ftp", *UNSAFE_SCHEMES})


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes (and ~90 % of random numbers fail)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card_number(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def card_numbers(text: str) -> list[str]:
    """13-19 digit runs (spaces or dashes allowed) that pass the Luhn check."""
    return [m.group() for m in CARD.finditer(text) if _is_card_number(m.group())]


def phone_numbers(text: str) -> list[str]:
    """9-15 digit numbers in phone layouts, card numbers excepted (they are reported as cards)."""
    return [m.group() for m in PHONE.finditer(text)
            if 9 <= len(re.sub(r"\D", "", m.group())) <= 15 and not _is_card_number(m.group())]


def unsafe_links(text: str) -> list[dict[str, str]]:
    """Links a reader should not be sent to unseen, each with the reason in plain words."""
    flagged = []
    for match in URL.finditer(text):
        url = match.group().rstrip(".,;:!?")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in LINK_SCHEMES:
            continue  # "note:" or "e.g:" is not a link
        host = (parts.hostname or "").lower()
        reason = _link_problem(scheme, host)
        if reason:
            flagged.append({"url": url, "reason": reason})
    return flagged


def _link_problem(scheme: str, host: str) -> str:
    if scheme in UNSAFE_SCHEMES:
        return f"{scheme}: links can run code or hide content"
    if scheme != "https":
        return "not encrypted (no https)"
    if host in SHORTENERS:
        return "a link shortener hides the destination"
    if host.startswith("xn--") or ".xn--" in host:
        return "a punycode host can imitate another domain"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ""
    return "a bare IP address instead of a domain"


@cache
def _profanity_pattern() -> re.Pattern[str]:
    listing = resources.files("better_profanity").joinpath("profanity_wordlist.txt")
    entries = {line.strip().lower() for line in listing.read_text().splitlines() if line.strip()}
    alternatives = sorted((r"\s+".join(map(re.escape, e.split())) for e in entries), key=len,
                          reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def profanity(text: str) -> list[str]:
    """Words and phrases of the word list found in the text, lower-cased, once each."""
    return list(dict.fromkeys(m.group().lower() for m in _profanity_pattern().finditer(text)))


def safety(text: str) -> dict[str, list[str]]:
    """Every finding, by kind; all lists empty means nothing was found."""
    return {
        "emails": EMAIL.findall(text),
        "phone_numbers": phone_numbers(text),
        "card_numbers": card_numbers(text),
        "unsafe_links": unsafe_links(text),
        "profanity": profanity(text),
    }
