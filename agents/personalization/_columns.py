"""Which customer columns may never be features: contact details, consent, ids.

A column is recognised by its name, under any spelling (``First Name``, ``first name``,
``FirstName`` and ``first_name`` are one name once normalised), and text columns also by
a sample of their values (values that look like email addresses, phone numbers,
postcodes, street addresses, IP addresses, UUIDs or first names). Integer columns whose
every value is different are identifiers. What a column is recognised as is its
:class:`ColumnRole`; the features step leaves it out with the role's reason.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal

from conductor.data import quote_ident

__all__ = ["ColumnRole", "classify_columns", "normalise", "role_by_name"]

_SAMPLE = 500
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
_INTEGER_U = ("UINTEGER", "UBIGINT")


@dataclass(frozen=True)
class ColumnRole:
    """What a column is, when it must never be a feature.

    Attributes:
        kind: contact (identifies a person), consent, suppression (opt-out flags) or
            identifier.
        reason: Why it is left out, for the output (``contact detail (name)``).
        by: Recognised by its ``name`` or by its ``content``.
    """

    kind: Literal["contact", "consent", "suppression", "identifier"]
    reason: str
    by: Literal["name", "content"] = "name"


def normalise(name: str) -> str:
    """``First Name``, ``FirstName``, ``first-name`` -> ``first_name``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


_PERSON = {
    *("first", "last", "full", "given", "family", "middle", "sur", "display", "customer"),
    *("contact", "user", "nick", "maiden", "person", "client", "member", "recipient", "fore"),
}
_NAME_WORDS = {
    *("firstname", "lastname", "fullname", "surname", "forename", "givenname", "familyname"),
    *("middlename", "nickname", "username", "vorname", "nachname", "prenom", "apellido"),
    *("apellidos", "cognome", "nombre", "surnames", "forenames"),
}
_PHONE = {"phone", "telephone", "msisdn", "phonenumber", "mobilephone", "cellphone", "whatsapp"}
_PHONE_WHOLE = {
    *("mobile", "cell", "tel", "mobile_number", "mobile_no", "cell_number", "tel_no"),
    *("tel_number", "sms_number", "mobile_num", "fax"),
}
_ADDRESS = {"address", "addr", "street", "addressline", "streetaddress", "housenumber", "apt"}
_POSTCODE = {"zip", "zipcode", "postcode", "postal", "postalcode", "plz", "postleitzahl", "eircode"}
_DOB = {"dob", "birthdate", "birthday", "dateofbirth", "birth"}
_EMAIL_QUALIFIERS = {
    *("primary", "secondary", "work", "personal", "home", "contact", "customer", "user"),
    *("billing", "alt", "alternate", "private", "business"),
}
_CONSENT = {"consent", "consents", "optin", "gdpr", "permission", "permissions", "subscribed"}
_SUPPRESSION = {
    *("optout", "unsubscribed", "unsubscribe", "unsub", "dnc", "donotcontact", "suppressed"),
    *("suppression", "suppress", "blacklist", "blacklisted", "blocklist", "blocklisted"),
    *("bounced", "hardbounce", "complaint", "spam"),
}
_ID_LAST = {"id", "ids", "uuid", "guid"}
_ID_NUMBER = {"number", "no", "num", "nr"}
_ID_OWNER = {
    *("customer", "account", "member", "client", "contact", "card", "loyalty", "user", "crm"),
    *("membership", "order", "external", "person", "visitor", "device", "cookie", "shopper"),
    *("profile", "subscriber", "household"),
}


def _joined_pairs(tokens: list[str]) -> set[str]:
    """Every token, and every two neighbouring tokens written as one (``opt_in`` -> optin)."""
    return {*tokens, *(a + b for a, b in itertools.pairwise(tokens))}


def _consent_role(tokens: list[str], words: set[str]) -> ColumnRole | None:
    if words & _SUPPRESSION or ("opted" in tokens and "out" in tokens):
        return ColumnRole("suppression", "opt-out / suppression column")
    if tokens[:2] == ["do", "not"]:
        return ColumnRole("suppression", "opt-out / suppression column")
    if words & _CONSENT or ("opted" in tokens and "in" in tokens):
        return ColumnRole("consent", "consent column")
    return None


def _contact_role(norm: str, tokens: list[str], words: set[str]) -> ColumnRole | None:
    if "ip" in tokens or words & {"ipaddress", "ipv4", "ipv6"}:
        return ColumnRole("contact", "contact detail (ip address)")
    email = {"email", "e_mail", "mail", "email_address", "e_mail_address", "mail_address"}
    if norm in email or words & {"emailaddress"}:
        return ColumnRole("contact", "contact detail (email)")
    ends_email = tokens[-1:] == ["email"] or tokens[-2:] in (["e", "mail"], ["email", "address"])
    if ends_email and (len(tokens) == 1 or set(tokens[:-1]) & (_EMAIL_QUALIFIERS | {"e"})):
        return ColumnRole("contact", "contact detail (email)")
    if norm == "name" or words & _NAME_WORDS or ("name" in tokens and set(tokens) & _PERSON):
        return ColumnRole("contact", "contact detail (name)")
    if words & _PHONE or norm in _PHONE_WHOLE:
        return ColumnRole("contact", "contact detail (phone)")
    if words & _POSTCODE:
        return ColumnRole("contact", "contact detail (postcode)")
    if words & _ADDRESS:
        return ColumnRole("contact", "contact detail (address)")
    if words & _DOB:
        return ColumnRole("contact", "personal detail (date of birth)")
    return None


def _id_role(norm: str, tokens: list[str]) -> ColumnRole | None:
    joined = "".join(tokens)
    if tokens[-1] in _ID_LAST or norm in {"key", "uuid", "guid"} or {"uuid", "guid"} & set(tokens):
        return ColumnRole("identifier", "identifier")
    if len(tokens) >= 2 and tokens[-1] in _ID_NUMBER and tokens[-2] in _ID_OWNER:
        return ColumnRole("identifier", "identifier")
    if joined.endswith("id") and joined[:-2] in _ID_OWNER:
        return ColumnRole("identifier", "identifier")
    return None


def role_by_name(column: str) -> ColumnRole | None:
    """The role of a column from its name alone (None: it may be a feature)."""
    norm = normalise(column)
    if not norm:
        return None
    tokens = norm.split("_")
    words = _joined_pairs(tokens)
    return (
        _consent_role(tokens, words) or _contact_role(norm, tokens, words) or _id_role(norm, tokens)
    )


# ----------------------------------------------------------------------------- content

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_IP_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f]{1,4}(:[0-9a-f]{0,4}){4,7}$", re.I)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{7,22}$")
_NOT_PHONE = re.compile(
    r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$|^-?\d+\.\d+$"
)
_POSTCODE_RE = re.compile(
    r"^([A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{4}\s?[A-Z]{2}|"
    r"\d{5}(-\d{4})?|\d{2}-\d{3}|[A-Z]\d{2}\s?[A-Z\d]{4})$",
    re.I,
)
_STREET_RE = re.compile(
    r"^\d+[A-Za-z]?,?\s+\S.*\b(st|street|rd|road|ave|avenue|blvd|boulevard|lane|ln|dr|drive|"
    r"way|ct|court|pl|place|sq|square|terrace|close|crescent)\b\.?|"
    r"\S+(stra(ss|ß)e|str\.|weg|gasse|platz|allee|ring)\s+\d+|"
    r"^\d+,?\s+(rue|avenue|boulevard|chemin|calle|via|viale|piazza)\b",
    re.I,
)
_FIRST_NAMES = frozenset(
    [
        "aaron",
        "abigail",
        "adam",
        "adrian",
        "ahmed",
        "aiden",
        "alan",
        "albert",
        "alex",
        "alexander",
        "alexandra",
        "alice",
        "alicia",
        "amanda",
        "amelia",
        "amir",
        "amy",
        "ana",
        "andrea",
        "andreas",
        "andrew",
        "angela",
        "anna",
        "anne",
        "anthony",
        "antonio",
        "arjun",
        "arthur",
        "ava",
        "barbara",
        "ben",
        "benjamin",
        "bernard",
        "beth",
        "betty",
        "brian",
        "bruno",
        "camila",
        "carl",
        "carla",
        "carlos",
        "carmen",
        "caroline",
        "catherine",
        "charles",
        "charlie",
        "charlotte",
        "chen",
        "chloe",
        "chris",
        "christian",
        "christina",
        "christopher",
        "claire",
        "clara",
        "daniel",
        "david",
        "deborah",
        "dennis",
        "diana",
        "diego",
        "dmitri",
        "donald",
        "dorothy",
        "edward",
        "elena",
        "elias",
        "elizabeth",
        "ella",
        "emily",
        "emma",
        "eric",
        "erik",
        "ethan",
        "eva",
        "fatima",
        "felix",
        "finn",
        "florian",
        "francesca",
        "francesco",
        "frank",
        "fred",
        "gabriel",
        "george",
        "giulia",
        "giuseppe",
        "grace",
        "hannah",
        "hans",
        "harry",
        "helen",
        "henry",
        "hugo",
        "ian",
        "ines",
        "isabel",
        "isabella",
        "ivan",
        "jack",
        "jacob",
        "james",
        "jan",
        "jane",
        "jason",
        "javier",
        "jennifer",
        "jessica",
        "jin",
        "joan",
        "joe",
        "john",
        "jonas",
        "jonathan",
        "jorge",
        "jose",
        "joseph",
        "joshua",
        "juan",
        "julia",
        "julian",
        "karen",
        "karim",
        "kate",
        "katherine",
        "kevin",
        "laura",
        "lea",
        "leo",
        "leon",
        "liam",
        "lily",
        "linda",
        "lisa",
        "louis",
        "lucas",
        "lucia",
        "luca",
        "luis",
        "lukas",
        "maria",
        "mark",
        "martin",
        "mary",
        "matteo",
        "matthew",
        "max",
        "maya",
        "mehmet",
        "mia",
        "michael",
        "michelle",
        "mohammed",
        "muhammad",
        "nadia",
        "nancy",
        "natalia",
        "nathan",
        "nicholas",
        "nicole",
        "noah",
        "nora",
        "olga",
        "oliver",
        "olivia",
        "omar",
        "oscar",
        "patricia",
        "paul",
        "paula",
        "pedro",
        "peter",
        "philip",
        "pierre",
        "priya",
        "rachel",
        "rahul",
        "raj",
        "rebecca",
        "richard",
        "robert",
        "ruben",
        "ryan",
        "samuel",
        "sam",
        "sandra",
        "sara",
        "sarah",
        "scott",
        "sean",
        "sebastian",
        "sergio",
        "simon",
        "sofia",
        "sophia",
        "sophie",
        "stefan",
        "stephanie",
        "steven",
        "susan",
        "thomas",
        "tim",
        "tom",
        "tomas",
        "valentina",
        "victor",
        "victoria",
        "wei",
        "william",
        "xavier",
        "yusuf",
        "zoe",
    ]
)
_CONTENT_RULES: tuple[tuple[re.Pattern[str], float, str, str], ...] = (
    (_EMAIL_RE, 0.5, "contact", "contact detail (email; its values look like email addresses)"),
    (_UUID_RE, 0.8, "identifier", "identifier (its values look like UUIDs)"),
    (_IP_RE, 0.8, "contact", "contact detail (ip address; by its values)"),
    (_POSTCODE_RE, 0.8, "contact", "contact detail (postcode; its values look like postcodes)"),
    (_STREET_RE, 0.5, "contact", "contact detail (address; its values look like addresses)"),
)


def _looks_like_phone(v: str) -> bool:
    return (
        bool(_PHONE_RE.match(v))
        and not _NOT_PHONE.match(v)
        and 7 <= sum(ch.isdigit() for ch in v) <= 15
    )


def role_by_content(values: list[str]) -> ColumnRole | None:
    """The role of a text column from a sample of its (non-empty) values."""
    vals = [v.strip() for v in values if v is not None and v.strip()]
    if not vals:
        return None
    n = len(vals)
    for pattern, share, kind, reason in _CONTENT_RULES:
        if sum(1 for v in vals if pattern.match(v)) >= share * n:
            return ColumnRole(kind, reason, "content")  # type: ignore[arg-type]
    if sum(1 for v in vals if _looks_like_phone(v)) >= 0.6 * n:
        return ColumnRole(
            "contact", "contact detail (phone; its values look like phone numbers)", "content"
        )
    first = [v.split()[0].strip(",.").lower() for v in vals]
    if sum(1 for f in first if f in _FIRST_NAMES) >= 0.5 * n and len(set(first)) >= 3:
        return ColumnRole(
            "contact", "contact detail (name; its values look like first names)", "content"
        )
    return None


def classify_columns(
    con: Any, columns: dict[str, str], n: int, *, skip: frozenset[str] | set[str] = frozenset()
) -> dict[str, ColumnRole]:
    """Every customer column that must never be a feature, with its role.

    Args:
        con: DuckDB cursor with a ``customers`` view.
        columns: Column -> DuckDB type.
        n: Customers in the table.
        skip: Columns (lower case) not to look at (already decided elsewhere).
    """
    out: dict[str, ColumnRole] = {}
    for col, duck_type in columns.items():
        if col.lower() in skip:
            continue
        role = role_by_name(col)
        if role is None:
            role = _by_values(con, col, duck_type.upper(), n)
        if role is not None:
            out[col] = role
    return out


def _by_values(con: Any, col: str, duck_type: str, n: int) -> ColumnRole | None:
    q = quote_ident(col)
    if duck_type.startswith("VARCHAR"):
        rows = con.execute(
            f"SELECT {q}::VARCHAR FROM customers WHERE {q} IS NOT NULL LIMIT {_SAMPLE}"
        ).fetchall()
        return role_by_content([str(r[0]) for r in rows])
    if duck_type.startswith(_INTEGER + _INTEGER_U) and n >= 50:
        (distinct,) = con.execute(f"SELECT count(DISTINCT {q}) FROM customers").fetchone()
        if distinct == n:
            return ColumnRole("identifier", "identifier (every value is different)", "content")
    return None
