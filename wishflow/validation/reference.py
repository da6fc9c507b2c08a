"""Static reference data the suites check against: countries, currencies and per-country address rules.

Shipped with the code rather than fetched, because validation must work offline and give the same
verdict on every run; a change to these tables is a reviewed code change.
"""

from __future__ import annotations

from dataclasses import dataclass

_COUNTRIES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
    HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
    LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
    NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
    SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
#: ISO 3166-1 alpha-2 codes (all 249 officially assigned).
ISO_COUNTRY_CODES: frozenset[str] = frozenset(_COUNTRIES.split())

_CURRENCIES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
#: ISO 4217 currency codes in current use (money columns must carry one of these).
ISO_CURRENCY_CODES: frozenset[str] = frozenset(_CURRENCIES.split())


@dataclass(frozen=True)
class CountryRule:
    """What a carrier needs in an address to this country beyond name, street, city and country.

    ``zipcode_pattern`` is a full-match regex; it is only checked where a postal code is required.
    """

    zipcode_required: bool = False
    province_required: bool = False
    phone_required: bool = True
    zipcode_pattern: str | None = None


#: Countries not listed get :data:`DEFAULT_RULE`: no postal code or province demanded (many countries
#: have none), but a phone number, which international carriers need for customs and delivery.
DEFAULT_RULE = CountryRule()

_5_DIGITS = r"\d{5}"
_4_DIGITS = r"\d{4}"

COUNTRY_RULES: dict[str, CountryRule] = {
    "US": CountryRule(True, True, False, r"\d{5}(?:-\d{4})?"),
    "CA": CountryRule(True, True, False, r"[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d"),
    "GB": CountryRule(True, False, False, r"[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}"),
    "DE": CountryRule(True, False, False, _5_DIGITS),
    "FR": CountryRule(True, False, False, _5_DIGITS),
    "IT": CountryRule(True, True, False, _5_DIGITS),
    "ES": CountryRule(True, True, False, _5_DIGITS),
    "NL": CountryRule(True, False, False, r"\d{4} ?[A-Za-z]{2}"),
    "BE": CountryRule(True, False, False, _4_DIGITS),
    "AT": CountryRule(True, False, False, _4_DIGITS),
    "CH": CountryRule(True, False, False, _4_DIGITS),
    "SE": CountryRule(True, False, False, r"\d{3} ?\d{2}"),
    "NO": CountryRule(True, False, False, _4_DIGITS),
    "DK": CountryRule(True, False, False, _4_DIGITS),
    "FI": CountryRule(True, False, False, _5_DIGITS),
    "PL": CountryRule(True, False, False, r"\d{2}-\d{3}"),
    "PT": CountryRule(True, False, False, r"\d{4}-\d{3}"),
    "IE": CountryRule(False, False, False),
    "AU": CountryRule(True, True, True, _4_DIGITS),
    "NZ": CountryRule(True, False, True, _4_DIGITS),
    "JP": CountryRule(True, True, True, r"\d{3}-?\d{4}"),
    "KR": CountryRule(True, False, True, _5_DIGITS),
    "CN": CountryRule(True, True, True, r"\d{6}"),
    "IN": CountryRule(True, True, True, r"\d{6}"),
    "BR": CountryRule(True, True, True, r"\d{5}-?\d{3}"),
    "MX": CountryRule(True, True, True, _5_DIGITS),
    "RU": CountryRule(True, False, True, r"\d{6}"),
    "SA": CountryRule(True, False, True, _5_DIGITS),
    "AE": CountryRule(False, False, True),
    "HK": CountryRule(False, False, True),
    "IL": CountryRule(True, False, True, r"\d{7}"),
    "TR": CountryRule(True, True, True, _5_DIGITS),
    "ZA": CountryRule(True, False, True, _4_DIGITS),
}


def rule_for(country_code: str) -> CountryRule:
    """The address rule for a destination (the default for countries without a specific one)."""
    return COUNTRY_RULES.get(country_code, DEFAULT_RULE)


def countries_where(attribute: str) -> list[str]:
    """Valid country codes whose rule sets ``attribute`` (e.g. ``"zipcode_required"``), sorted."""
    return sorted(c for c in ISO_COUNTRY_CODES if getattr(rule_for(c), attribute))


def zipcode_patterns() -> dict[str, list[str]]:
    """Countries grouped by postal code pattern, so each pattern becomes one expectation."""
    grouped: dict[str, list[str]] = {}
    for country, rule in sorted(COUNTRY_RULES.items()):
        if rule.zipcode_required and rule.zipcode_pattern:
            grouped.setdefault(rule.zipcode_pattern, []).append(country)
    return grouped
