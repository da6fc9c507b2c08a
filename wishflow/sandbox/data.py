"""Seeded, realistic reference data: products, destinations, carriers and tracking number formats."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------------------------------------
# Carriers
# ---------------------------------------------------------------------------------------------

#: carrier name -> tracking number pattern ('9' a digit, 'A' a capital letter, '*' either; other
#: characters literal). Every pattern yields letters and digits only.
TRACKING_FORMATS: dict[str, str] = {
    "USPS": "9400999999999999999999",
    "UPS": "1Z******9999999999",
    "FedEx": "999999999999",
    "DHL": "9999999999",
    "DHLeCommerce": "GM99999999999999999",
    "YunExpress": "YT9999999999999999",
    "4PX": "4PX999999999999999",
    "ChinaAirPost": "LX999999999CN",
    "Yanwen": "UG999999999YP",
    "WishPost": "WI999999999999999",
    "SFExpress": "SF9999999999999",
    "RoyalMail": "AA999999999GB",
    "LaPoste": "6A99999999999",
    "DeutschePost": "RR999999999DE",
    "PostNL": "3S****9999999",
    "CanadaPost": "9999999999999999",
    "AustraliaPost": "AA999999999AU",
    "Correios": "AA999999999BR",
    "CorreosDeMexico": "CM999999999MX",
    "Correos": "PQ9999999999999999999",
}

#: carriers that only deliver to some destinations (everything else ships worldwide)
CARRIER_DESTINATIONS: dict[str, frozenset[str]] = {
    "USPS": frozenset({"US", "PR"}),
    "RoyalMail": frozenset({"GB"}),
    "LaPoste": frozenset({"FR"}),
    "DeutschePost": frozenset({"DE", "AT"}),
    "PostNL": frozenset({"NL", "BE"}),
    "CanadaPost": frozenset({"CA"}),
    "AustraliaPost": frozenset({"AU"}),
    "Correios": frozenset({"BR"}),
    "CorreosDeMexico": frozenset({"MX"}),
    "Correos": frozenset({"ES"}),
}

#: carriers accepted for CONFIRMED_DELIVERY_POLICY orders (a subset of the general list)
CONFIRMED_DELIVERY_CARRIERS: frozenset[str] = frozenset(
    {
        "USPS",
        "UPS",
        "FedEx",
        "DHL",
        "YunExpress",
        "SFExpress",
        "RoyalMail",
        "LaPoste",
        "DeutschePost",
        "PostNL",
        "CanadaPost",
        "AustraliaPost",
        "Correios",
        "Correos",
    }
)

ALL_CARRIERS: tuple[str, ...] = tuple(TRACKING_FORMATS)
_CARRIER_BY_LOWER = {name.lower(): name for name in ALL_CARRIERS}


def canonical_carrier(name: str) -> str | None:
    """The carrier's canonical name (matching is case-insensitive), or None if Wish does not accept it."""
    return _CARRIER_BY_LOWER.get(name.strip().lower())


def carrier_serves(carrier: str, country_code: str) -> bool:
    """Whether ``carrier`` delivers to ``country_code``.

    Carriers absent from ``CARRIER_DESTINATIONS`` ship worldwide; the others only to their listed
    destinations, so a confirmed-delivery order is never given a carrier that cannot reach it.
    """
    allowed = CARRIER_DESTINATIONS.get(carrier)
    return allowed is None or country_code in allowed


def carriers_for(order_type: str, dest_country: str | None) -> list[str]:
    """Accepted carriers for ``GENERAL`` (all) or ``CONFIRMED_DELIVERY`` (to ``dest_country``)."""
    if order_type == "GENERAL":
        return list(ALL_CARRIERS)
    return [
        c
        for c in ALL_CARRIERS
        if c in CONFIRMED_DELIVERY_CARRIERS and (dest_country is None or carrier_serves(c, dest_country))
    ]


def label_cost(weight_grams: int) -> str:
    """The sandbox carrier's price of a label, in USD as decimal text.

    2.50 plus 0.35 per started 100 g (our assumption: Wish sells no labels, so no Wish rule applies;
    see STATUS.md).
    """
    cents = 250 + 35 * max(1, -(-int(weight_grams) // 100))
    return f"{cents // 100}.{cents % 100:02d}"


def make_tracking_number(carrier: str, rng: random.Random) -> str:
    """A tracking number in ``carrier``'s format, drawn from ``rng``.

    The pattern comes from ``TRACKING_FORMATS``: ``9`` is a digit, ``A`` an upper-case letter, ``*``
    either, anything else is literal; so generated numbers look like the carrier's real ones.
    """
    pattern = TRACKING_FORMATS[carrier]
    out = []
    for ch in pattern:
        if ch == "9":
            out.append(rng.choice(string.digits))
        elif ch == "A":
            out.append(rng.choice(string.ascii_uppercase))
        elif ch == "*":
            out.append(rng.choice(string.ascii_uppercase + string.digits))
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Destinations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    """A destination country: its share of orders and how its addresses and phone numbers look."""

    code: str
    name: str
    weight: float  # share of orders
    phone_cc: str
    phone_digits: int
    zip_pattern: str  # '9' digit, 'A' letter, others literal
    cities: tuple[tuple[str, str], ...]  # (city, state/region)
    streets: tuple[str, ...]
    street_first: bool  # "12 Main St" (False) vs "Rue de Rivoli 12" / "Hauptstraße 12" (True)
    neighborhoods: tuple[str, ...] = ()


COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        "United States",
        0.34,
        "1",
        10,
        "99999",
        (
            ("Springfield", "IL"),
            ("Austin", "TX"),
            ("Portland", "OR"),
            ("Columbus", "OH"),
            ("Miami", "FL"),
            ("Denver", "CO"),
            ("Albany", "NY"),
            ("Fresno", "CA"),
        ),
        ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Washington Blvd"),
        False,
    ),
    Country(
        "CA",
        "Canada",
        0.06,
        "1",
        10,
        "A9A 9A9",
        (("Toronto", "ON"), ("Calgary", "AB"), ("Halifax", "NS"), ("Montréal", "QC")),
        ("King St W", "Rue Sainte-Catherine", "Jasper Ave", "Barrington St"),
        False,
    ),
    Country(
        "GB",
        "United Kingdom",
        0.08,
        "44",
        10,
        "AA9 9AA",
        (("London", "Greater London"), ("Leeds", "West Yorkshire"), ("Bristol", "Bristol"), ("York", "")),
        ("High Street", "Station Road", "Church Lane", "Victoria Road"),
        False,
    ),
    Country(
        "FR",
        "France",
        0.09,
        "33",
        9,
        "99999",
        (("Paris", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes"), ("Lille", "Hauts-de-France")),
        ("Rue de Rivoli", "Avenue Jean Jaurès", "Boulevard Voltaire", "Rue Victor Hugo"),
        False,
    ),
    Country(
        "DE",
        "Germany",
        0.09,
        "49",
        11,
        "99999",
        (("Berlin", "Berlin"), ("München", "Bayern"), ("Köln", "Nordrhein-Westfalen"), ("Leipzig", "Sachsen")),
        ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße"),
        True,
    ),
    Country(
        "BR",
        "Brazil",
        0.08,
        "55",
        11,
        "99999-999",
        (("São Paulo", "SP"), ("Rio de Janeiro", "RJ"), ("Belo Horizonte", "MG"), ("Curitiba", "PR")),
        ("Rua das Flores", "Avenida Paulista", "Rua XV de Novembro", "Rua Augusta"),
        True,
        ("Centro", "Jardim América", "Vila Mariana", "Copacabana", "Savassi"),
    ),
    Country(
        "ES",
        "Spain",
        0.05,
        "34",
        9,
        "99999",
        (("Madrid", "Madrid"), ("Barcelona", "Barcelona"), ("Sevilla", "Sevilla"), ("Valencia", "Valencia")),
        ("Calle Mayor", "Gran Vía", "Calle de Alcalá", "Avenida Diagonal"),
        True,
        ("Centro", "Eixample", "Triana", "Ruzafa", "Salamanca"),
    ),
    Country(
        "MX",
        "Mexico",
        0.06,
        "52",
        10,
        "99999",
        (("Ciudad de México", "CDMX"), ("Guadalajara", "Jalisco"), ("Monterrey", "Nuevo León")),
        ("Avenida Reforma", "Calle Hidalgo", "Avenida Juárez", "Calle Morelos"),
        True,
    ),
    Country(
        "AU",
        "Australia",
        0.04,
        "61",
        9,
        "9999",
        (("Sydney", "NSW"), ("Melbourne", "VIC"), ("Brisbane", "QLD"), ("Perth", "WA")),
        ("George St", "Collins St", "Queen St", "Hay St"),
        False,
    ),
    Country(
        "IT",
        "Italy",
        0.04,
        "39",
        10,
        "99999",
        (("Roma", "RM"), ("Milano", "MI"), ("Napoli", "NA"), ("Torino", "TO")),
        ("Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante"),
        True,
    ),
    Country(
        "NL",
        "Netherlands",
        0.03,
        "31",
        9,
        "9999 AA",
        (("Amsterdam", "Noord-Holland"), ("Utrecht", "Utrecht"), ("Rotterdam", "Zuid-Holland")),
        ("Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg"),
        True,
    ),
    Country(
        "SE",
        "Sweden",
        0.02,
        "46",
        9,
        "999 99",
        (("Stockholm", "Stockholm"), ("Göteborg", "Västra Götaland"), ("Malmö", "Skåne")),
        ("Storgatan", "Drottninggatan", "Kungsgatan"),
        True,
    ),
    Country(
        "PL",
        "Poland",
        0.02,
        "48",
        9,
        "99-999",
        (("Warszawa", "Mazowieckie"), ("Kraków", "Małopolskie"), ("Gdańsk", "Pomorskie")),
        ("ulica Długa", "ulica Polna", "ulica Lipowa"),
        True,
    ),
)
COUNTRY_BY_CODE = {c.code: c for c in COUNTRIES}

FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Léa",
    "Hugo",
    "Sofia",
    "Mateo",
    "Lena",
    "Jonas",
    "Ana",
    "Pedro",
    "Chloé",
    "Jack",
    "Isla",
    "Wei",
    "Yuki",
    "Priya",
    "Omar",
    "Fatima",
    "Lars",
    "Ingrid",
    "Marta",
    "Giulia",
    "Luca",
    "Sven",
    "Zoe",
    "Kai",
    "Nora",
    "Diego",
    "Camila",
    "Ethan",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Martin",
    "Bernard",
    "Müller",
    "Schmidt",
    "Silva",
    "Santos",
    "García",
    "López",
    "Rossi",
    "Bianchi",
    "Jansen",
    "de",
    "Vries",
    "Andersson",
    "Kowalski",
    "Nowak",
    "Brown",
    "Taylor",
    "Wilson",
    "Tremblay",
    "Roy",
    "Nguyen",
    "Dubois",
    "Moreau",
    "Costa",
]

# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------

#: (name, category, base price USD, weight grams, colors, sizes)
PRODUCT_BASES: tuple[tuple[str, str, float, int, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Cotton Crew T-Shirt", "CLOTHING", 9.0, 180, ("black", "white", "navy"), ("S", "M", "L", "XL")),
    ("Hooded Sweatshirt", "CLOTHING", 24.0, 550, ("grey", "black", "green"), ("S", "M", "L", "XL")),
    ("Running Shoes", "SHOES", 39.0, 800, ("black", "blue"), ("38", "40", "42", "44")),
    ("Canvas Sneakers", "SHOES", 19.0, 700, ("white", "red"), ("37", "39", "41", "43")),
    ("Stainless Steel Watch", "WATCH", 29.0, 120, ("silver", "gold"), ("One Size",)),
    ("Smart Fitness Band", "ELECTRONICS", 22.0, 60, ("black", "pink"), ("One Size",)),
    ("Wireless Earbuds", "ELECTRONICS", 18.0, 90, ("white", "black"), ("One Size",)),
    ("USB-C Charging Cable 2m", "ELECTRONICS", 4.0, 50, ("black", "white"), ("One Size",)),
    ("Phone Case", "ELECTRONICS", 5.0, 40, ("clear", "black", "purple"), ("iPhone 15", "Galaxy S24")),
    ("Bluetooth Speaker", "ELECTRONICS", 35.0, 450, ("black", "blue"), ("One Size",)),
    ("Drone with 4K Camera", "ELECTRONICS", 129.0, 900, ("grey",), ("One Size",)),
    ("Sterling Silver Necklace", "JEWELRY_AND_ACCESSORY", 15.0, 30, ("silver",), ("45cm", "50cm")),
    ("Hoop Earrings", "JEWELRY_AND_ACCESSORY", 7.0, 20, ("gold", "silver"), ("One Size",)),
    ("Leather Wallet", "APPAREL_ACCESSORY", 14.0, 150, ("brown", "black"), ("One Size",)),
    ("Polarized Sunglasses", "APPAREL_ACCESSORY", 11.0, 60, ("black", "tortoise"), ("One Size",)),
    ("Knit Beanie", "APPAREL_ACCESSORY", 6.0, 80, ("grey", "red", "black"), ("One Size",)),
    ("LED Desk Lamp", "HOUSEHOLD", 21.0, 900, ("white", "black"), ("One Size",)),
    ("Silicone Baking Mat Set", "HOUSEHOLD", 9.0, 300, ("red", "grey"), ("One Size",)),
    ("Memory Foam Pillow", "HOUSEHOLD", 27.0, 1200, ("white",), ("Standard", "King")),
    ("Cordless Vacuum Cleaner", "HOUSEHOLD", 149.0, 2600, ("grey",), ("One Size",)),
    ("Yoga Mat", "HOUSEHOLD", 16.0, 1100, ("purple", "blue", "green"), ("One Size",)),
    ("Summer Dress", "CLOTHING", 17.0, 250, ("floral", "blue", "yellow"), ("S", "M", "L")),
    ("Denim Jeans", "CLOTHING", 26.0, 650, ("blue", "black"), ("28", "30", "32", "34")),
    ("Hiking Backpack 30L", "APPAREL_ACCESSORY", 33.0, 950, ("green", "black"), ("One Size",)),
)

MANUFACTURED_COUNTRIES = ("CN", "CN", "CN", "VN", "IN", "TR", "BD", "US")


@dataclass(frozen=True)
class Variation:
    """One product variation of the sandbox catalogue (a colour and size of a product), as orders cite it."""

    product_id: str
    variation_id: str
    sku: str
    name: str
    category: str
    color: str
    size: str
    price: float
    shipping_price: float
    weight_grams: int
    manufactured_country: str
    image_url: str


def object_id(rng: random.Random, ts_ms: int) -> str:
    """A 24-hex object id: 4 bytes of seconds (as in MongoDB ids), then 8 random bytes."""
    return f"{(ts_ms // 1000) & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


def build_catalog(rng: random.Random, epoch_ms: int) -> list[Variation]:
    """The seeded catalogue: every colour and size of every product in ``PRODUCT_BASES``.

    Ids are object ids stamped from ``epoch_ms``, so the same seed and epoch give the same catalogue.
    """
    variations: list[Variation] = []
    for index, (name, category, price, weight, colors, sizes) in enumerate(PRODUCT_BASES):
        product_id = object_id(rng, epoch_ms + index * 1000)
        made_in = rng.choice(MANUFACTURED_COUNTRIES)
        shipping = round(rng.choice((0.0, 1.99, 2.99, 3.99, 4.99)), 2)
        for color in colors:
            for size in sizes:
                vid = object_id(rng, epoch_ms + index * 1000)
                sku = f"WF-{index + 1:03d}-{color[:3].upper()}-{size.replace(' ', '').upper()[:6]}"
                bump = 0.0 if size in ("S", "M", "One Size") else rng.choice((0.0, 1.0, 2.0))
                variations.append(
                    Variation(
                        product_id=product_id,
                        variation_id=vid,
                        sku=sku,
                        name=name,
                        category=category,
                        color=color,
                        size=size,
                        price=round(price + bump, 2),
                        shipping_price=shipping,
                        weight_grams=weight,
                        manufactured_country=made_in,
                        image_url=f"https://canary.contestimg.wish.com/api/webimage/{vid}-normal.jpg",
                    )
                )
    return variations


def fill_pattern(pattern: str, rng: random.Random) -> str:
    """Fill a format pattern (``9`` a digit, ``A`` an upper-case letter, anything else literal), e.g. a zip code."""
    out = []
    for ch in pattern:
        if ch == "9":
            out.append(str(rng.randrange(10)))
        elif ch == "A":
            out.append(rng.choice(string.ascii_uppercase))
        else:
            out.append(ch)
    return "".join(out)


def make_recipient(rng: random.Random) -> dict[str, object]:
    """A shipping_detail (name, address in the country's format, phone)."""
    country = rng.choices(COUNTRIES, weights=[c.weight for c in COUNTRIES])[0]
    city, state = rng.choice(country.cities)
    street = rng.choice(country.streets)
    number = rng.randint(1, 240)
    street1 = f"{street} {number}" if country.street_first else f"{number} {street}"
    detail: dict[str, object] = {
        "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "street_address1": street1,
        "city": city,
        "state": state,
        "zipcode": fill_pattern(country.zip_pattern, rng),
        "country_code": country.code,
        "country": country.name,
        "phone_number": {
            "number": str(rng.randrange(10 ** (country.phone_digits - 1), 10**country.phone_digits)),
            "country_code": country.phone_cc,
        },
    }
    if rng.random() < 0.25:
        detail["street_address2"] = rng.choice(("Apt 4B", "Suite 210", "Floor 3", "Unit 12", "Bloco B"))
    if country.neighborhoods:
        detail["neighborhood"] = rng.choice(country.neighborhoods)
    return detail


#: kinds of defect put in a share of generated orders (all keep the spec's shapes)
BAD_DATA_KINDS = (
    "missing_street",
    "missing_city",
    "missing_zipcode",
    "missing_name",
    "invalid_country_code",
    "zero_quantity",
    "malformed_phone",
    "empty_sku",
)


def apply_defect(order: dict[str, Any], kind: str) -> None:
    """Put the defect ``kind`` (one of ``BAD_DATA_KINDS``) into ``order``, in place.

    Each defect keeps the spec's shapes (an empty string, a wrong code, a zero), so a client sees
    data it must validate rather than a document it cannot parse.
    """
    detail = order["full_address"]["shipping_detail"]
    if kind == "missing_street":
        detail["street_address1"] = ""
    elif kind == "missing_city":
        detail["city"] = ""
    elif kind == "missing_zipcode":
        detail["zipcode"] = ""
    elif kind == "missing_name":
        detail["name"] = ""
    elif kind == "invalid_country_code":
        detail["country_code"] = {"GB": "UK", "US": "USA"}.get(detail["country_code"], "XX")
    elif kind == "zero_quantity":
        order["order_payment"]["general_payment_details"]["product_quantity"] = 0
    elif kind == "malformed_phone":
        detail["phone_number"] = {"number": "12-ab-??", "country_code": "+"}
    elif kind == "empty_sku":
        order["product_information"]["sku"] = ""
