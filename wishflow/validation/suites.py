"""The validation suites, defined in code: a blocking suite and a warning suite.

A *blocking* suite's failures quarantine an order; a *warning* suite's findings are recorded but do not
stop it.

Every expectation carries ``meta = {"rule": ..., "severity": ..., "column": ...}``. The rule is the
stable, readable name recorded in the warehouse (``order_validation_failures.expectation``); several
expectations may share a rule. Time-dependent checks read the suite parameter ``now`` so the suites
are built once per process and every run passes its own clock. Country-dependent checks read helper
columns that :func:`wishflow.validation.validate.prepare_frame` derives from
:mod:`wishflow.validation.reference`, and no expectation has a GX row condition: one over lists of
200 countries cost about half a second per expectation and batch, and even a condition on a helper
flag filters the whole batch again for each metric of its expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from wishflow.validation.bounds import EARLIEST_RELEASE, LENGTH_BOUNDS, MONEY_BOUNDS
from wishflow.validation.reference import ISO_COUNTRY_CODES, ISO_CURRENCY_CODES, zipcode_patterns

Severity = Literal["blocking", "warning"]
BLOCKING_SUITE = "wishflow_orders_blocking"
WARNING_SUITE = "wishflow_orders_warning"

#: Order states Wish documents (DESIGN.md §2).
KNOWN_STATES = ("APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED")
#: Longest address line most carriers print on a label.
LABEL_LINE_MAX = 35
#: Quantities above this are unusual enough to look at before shipping.
UNUSUAL_QUANTITY = 20
#: Unit prices outside this range (in the order's currency) are flagged as outliers.
PRICE_RANGE = (0.5, 1000.0)
#: A dialable phone number: optional +, digits with common separators, 6 to 24 characters.
PHONE_REGEX = r"^\s*\+?\d[\d\s().\-/]{4,22}\d\s*$"
_PRINTABLE_ASCII = r"^[\x20-\x7e]*$"

#: Helper columns derived from the destination country's rule (see the module docstring). A rule that
#: applies to some destinations only reads a column holding the order's value where it applies and,
#: where it does not, :data:`NOT_REQUIRED` (which every not-null check passes) or a null (which
#: every regex check skips).
ZIPCODE_WHERE_REQUIRED = "_zipcode_where_required"
PROVINCE_WHERE_REQUIRED = "_province_where_required"
PHONE_WHERE_REQUIRED = "_phone_where_required"
PHONE_TO_DIAL_WHERE_REQUIRED = "_phone_to_dial_where_required"
PHONE_TO_DIAL_WHERE_OPTIONAL = "_phone_to_dial_where_optional"
#: ``CC:zipcode`` for destinations with a known postal code format and a zipcode, else null
COUNTRY_ZIPCODE = "_country_zipcode"
ADDRESS_TEXT = "_address_text"
PARCEL_WEIGHT = "_parcel_weight_grams"
PARCEL_SIDE = "_parcel_side_mm"
PARCEL_VOLUME = "_parcel_volume_ml"
SHIP_WINDOW_HOURS = "_ship_window_hours"


def _param(name: str) -> dict[str, str]:
    """A suite parameter reference (each run passes its merchant's bounds, see bounds.py)."""
    return {"$PARAMETER": name}


def zipcode_regex() -> str:
    """One regex over ``CC:zipcode`` values covering every country with a known postal code format."""
    alternatives = [
        f"(?:{'|'.join(countries)}):\\s*(?:{pattern})\\s*" for pattern, countries in zipcode_patterns().items()
    ]
    return "^(?:" + "|".join(alternatives) + ")$"


@dataclass(frozen=True)
class RuleInfo:
    """A finding's stable name, the column it concerns, its severity and a sentence for people."""

    rule: str
    column: str
    severity: Severity
    description: str


#: Every rule the suites can report, by name (documentation and CLI output read this).
RULES: dict[str, RuleInfo] = {}


def _rule(rule: str, column: str, severity: Severity, description: str) -> dict[str, Any]:
    known = RULES.setdefault(rule, RuleInfo(rule, column, severity, description))
    if known.severity != severity:
        raise ValueError(f"rule {rule} has two severities")
    return {"rule": rule, "severity": severity, "column": column, "description": description}


def register_rule(rule: str, column: str, severity: Severity, description: str) -> str:
    """Register a rule found outside the suites; returns the name.

    E.g. found by planning (:mod:`wishflow.validation.holds`), so :data:`RULES` documents every
    finding's name.
    """
    _rule(rule, column, severity, description)
    EXTERNAL_RULES.add(rule)
    return rule


#: Rules registered by :func:`register_rule`: found by a later stage, not by the GX suites.
EXTERNAL_RULES: set[str] = set()


#: What a ``*_WHERE_REQUIRED`` column holds where the destination does not require the field.
NOT_REQUIRED = "(not required)"


def _blocking(gx: Any) -> Any:
    E = gx.expectations
    suite = gx.ExpectationSuite(name=BLOCKING_SUITE)
    add = suite.add_expectation

    def present(column: str, rule: str, description: str, read: str | None = None) -> None:
        # prepare_frame turns blank text into nulls, so "present" is one not-null check (of ``read``,
        # a *_WHERE_REQUIRED column, for a field some destinations only require).
        add(E.ExpectColumnValuesToNotBeNull(column=read or column, meta=_rule(rule, column, "blocking", description)))

    present("order_id", "order_id_present", "The order has an id.")
    add(
        E.ExpectColumnValuesToBeNull(
            column="input_problems",
            meta=_rule(
                "field_types_valid",
                "input_problems",
                "blocking",
                "Every field has the type Wish's API documents: text as text, numbers as numbers, times as "
                "ISO 8601 text (a wrongly typed value is never turned into text).",
            ),
        )
    )
    add(
        E.ExpectColumnValuesToBeUnique(
            column="order_id",
            meta=_rule("order_id_unique", "order_id", "blocking", "No other order in the batch has this id."),
        )
    )
    meta = _rule("state_known", "state", "blocking", "The state is one Wish documents.")
    add(E.ExpectColumnValuesToNotBeNull(column="state", meta=meta))
    add(E.ExpectColumnValuesToBeInSet(column="state", value_set=list(KNOWN_STATES), meta=meta))

    meta = _rule("quantity_at_least_one", "quantity", "blocking", "At least one unit is ordered.")
    add(E.ExpectColumnValuesToNotBeNull(column="quantity", meta=meta))
    add(E.ExpectColumnValuesToBeBetween(column="quantity", min_value=1, meta=meta))
    add(
        E.ExpectColumnValuesToBeBetween(
            column="quantity",
            max_value=_param("b_max_quantity"),
            meta=_rule("quantity_within_bound", "quantity", "blocking", "No more units than the bound max_quantity."),
        )
    )
    for column, bound in MONEY_BOUNDS.items():
        add(
            E.ExpectColumnValuesToBeBetween(
                column=column,
                max_value=_param(f"b_{bound}"),
                meta=_rule(
                    f"{column}_within_bound",
                    column,
                    "blocking",
                    f"The {column.replace('_', ' ')} is at most the bound {bound}.",
                ),
            )
        )
    for column, bound in LENGTH_BOUNDS.items():
        add(
            E.ExpectColumnValueLengthsToBeBetween(
                column=column,
                max_value=_param(f"b_{bound}"),
                meta=_rule(
                    f"{column}_length_within_bound",
                    column,
                    "blocking",
                    f"The {column.replace('_', ' ')} is at most {bound} characters.",
                ),
            )
        )
    meta = _rule(
        "parcel_fits_largest_package",
        "quantity",
        "blocking",
        "Quantity x the SKU's unit weight and size fit the largest package (bounds max_parcel_weight_grams, "
        "max_parcel_side_mm, max_parcel_volume_ml; 250 g a unit for SKUs missing from the SKU table).",
    )
    add(E.ExpectColumnValuesToBeBetween(column=PARCEL_WEIGHT, max_value=_param("b_max_parcel_weight_grams"), meta=meta))
    add(E.ExpectColumnValuesToBeBetween(column=PARCEL_SIDE, max_value=_param("b_max_parcel_side_mm"), meta=meta))
    add(E.ExpectColumnValuesToBeBetween(column=PARCEL_VOLUME, max_value=_param("b_max_parcel_volume_ml"), meta=meta))

    present("sku", "sku_present", "The order names the merchant's SKU.")
    present("recipient_name", "recipient_name_present", "The address has a recipient name.")
    present("street_address1", "street_address_present", "The address has a first street line.")
    present("city", "city_present", "The address has a city.")

    meta = _rule("country_code_valid", "country_code", "blocking", "The destination is an ISO 3166-1 alpha-2 code.")
    add(E.ExpectColumnValuesToNotBeNull(column="country_code", meta=meta))
    add(E.ExpectColumnValuesToBeInSet(column="country_code", value_set=sorted(ISO_COUNTRY_CODES), meta=meta))

    # Conditional rules read helper columns, not GX row conditions: a row condition filters the whole
    # batch again for each of its metrics (0.55 s of 1.6 s per 50,000 orders for these six).
    present("zipcode", "zipcode_required", "The destination country needs a postal code.", ZIPCODE_WHERE_REQUIRED)
    add(
        E.ExpectColumnValuesToMatchRegex(
            column=COUNTRY_ZIPCODE,
            regex=zipcode_regex(),
            meta=_rule(
                "zipcode_format",
                "zipcode",
                "blocking",
                "The postal code has the destination country's format (observed as 'CC:zipcode').",
            ),
        )
    )
    present(
        "province", "province_required", "The destination country needs a state or province.", PROVINCE_WHERE_REQUIRED
    )
    meta = _rule(
        "phone_required", "phone_number", "blocking", "Carriers to the destination need a dialable phone number."
    )
    add(E.ExpectColumnValuesToNotBeNull(column=PHONE_WHERE_REQUIRED, meta=meta))
    add(E.ExpectColumnValuesToMatchRegex(column=PHONE_TO_DIAL_WHERE_REQUIRED, regex=PHONE_REGEX, meta=meta))

    meta = _rule("product_price_valid", "product_price", "blocking", "The unit price is present and not negative.")
    add(E.ExpectColumnValuesToNotBeNull(column="product_price", meta=meta))
    add(E.ExpectColumnValuesToBeBetween(column="product_price", min_value=0, meta=meta))
    for column in ("shipping_price", "payment_total"):
        description = f"The {column.replace('_', ' ')} is not negative."
        add(
            E.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, meta=_rule(f"{column}_not_negative", column, "blocking", description)
            )
        )
    meta = _rule("currency_code_valid", "currency_code", "blocking", "Money carries an ISO 4217 currency code.")
    add(E.ExpectColumnValuesToNotBeNull(column="currency_code", meta=meta))
    add(E.ExpectColumnValuesToBeInSet(column="currency_code", value_set=sorted(ISO_CURRENCY_CODES), meta=meta))

    meta = _rule(
        "released_at_valid",
        "released_at",
        "blocking",
        f"The release time is known, not in the future and not before {EARLIEST_RELEASE.date()}.",
    )
    add(E.ExpectColumnValuesToNotBeNull(column="released_at", meta=meta))
    add(
        E.ExpectColumnValuesToBeBetween(
            column="released_at", min_value=_param("earliest_release"), max_value=_param("now"), meta=meta
        )
    )
    meta = _rule(
        "expected_ship_time_after_release",
        "expected_ship_time",
        "blocking",
        "The ship-by deadline is known and later than the release.",
    )
    add(E.ExpectColumnValuesToNotBeNull(column="expected_ship_time", meta=meta))
    add(
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="expected_ship_time",
            column_B="released_at",
            or_equal=False,
            ignore_row_if="either_value_is_missing",
            meta=meta,
        )
    )
    add(
        E.ExpectColumnValuesToBeBetween(
            column=SHIP_WINDOW_HOURS,
            max_value=_param("b_max_ship_window_hours"),
            meta=_rule(
                "ship_window_within_bound",
                "expected_ship_time",
                "blocking",
                "The ship-by deadline is at most max_ship_window_days after the release.",
            ),
        )
    )
    return suite


def _warning(gx: Any) -> Any:
    E = gx.expectations
    suite = gx.ExpectationSuite(name=WARNING_SUITE)
    add = suite.add_expectation
    add(
        E.ExpectColumnValuesToBeBetween(
            column="quantity",
            max_value=UNUSUAL_QUANTITY,
            meta=_rule("quantity_unusual", "quantity", "warning", f"More than {UNUSUAL_QUANTITY} units: check first."),
        )
    )
    add(
        E.ExpectColumnValuesToBeBetween(
            column="product_price",
            min_value=PRICE_RANGE[0],
            max_value=PRICE_RANGE[1],
            meta=_rule(
                "price_outlier",
                "product_price",
                "warning",
                f"Unit price outside {PRICE_RANGE[0]}-{PRICE_RANGE[1]}: possibly a pricing error.",
            ),
        )
    )
    for column in ("recipient_name", "street_address1", "street_address2", "street_address3", "city"):
        add(
            E.ExpectColumnValueLengthsToBeBetween(
                column=column,
                max_value=LABEL_LINE_MAX,
                meta=_rule(
                    f"{column}_too_long_for_label",
                    column,
                    "warning",
                    f"Longer than {LABEL_LINE_MAX} characters: the carrier label may cut it.",
                ),
            )
        )
    add(
        E.ExpectColumnValuesToMatchRegex(
            column=ADDRESS_TEXT,
            regex=_PRINTABLE_ASCII,
            meta=_rule(
                "address_not_printable_ascii",
                "street_address1",
                "warning",
                "Name or address has characters outside printable ASCII: some carriers cannot print them.",
            ),
        )
    )
    add(
        E.ExpectColumnValuesToMatchRegex(
            column=PHONE_TO_DIAL_WHERE_OPTIONAL,
            regex=PHONE_REGEX,
            meta=_rule("phone_format", "phone_number", "warning", "The phone number does not look dialable."),
        )
    )
    add(
        E.ExpectCompoundColumnsToBeUnique(
            column_list=["recipient_name", "street_address1", "zipcode", "sku"],
            ignore_row_if="any_value_is_missing",
            meta=_rule(
                "possible_duplicate_order",
                "recipient_name",
                "warning",
                "Another order in the batch has the same recipient, address and SKU.",
            ),
        )
    )
    return suite


def build_suites(gx: Any) -> list[Any]:
    """The blocking and warning suites (GX ``ExpectationSuite`` objects, not yet in a context)."""
    return [_blocking(gx), _warning(gx)]
