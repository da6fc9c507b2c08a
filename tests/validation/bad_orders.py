"""Fifty-odd kinds of bad orders, each with the one blocking rule it must be quarantined for, and
good orders that exercise the same rules' edges and must pass.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.validation.conftest import NOW

BR = {"country_code": "BR", "zipcode": "01310-100", "province": "SP", "phone_number": "+55 11 5555 0100"}
CN = {"country_code": "CN", "zipcode": "100000", "province": "Beijing", "phone_number": "+86 10 5555 0100"}

#: kind -> (changes to a good order, the rule it must fail)
BAD_KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown_state": ({"state": "SHIPPING"}, "state_known"),
    "zero_quantity": ({"quantity": 0}, "quantity_at_least_one"),
    "negative_quantity": ({"quantity": -2}, "quantity_at_least_one"),
    "missing_quantity": ({"quantity": None}, "quantity_at_least_one"),
    "missing_sku": ({"sku": None}, "sku_present"),
    "blank_sku": ({"sku": "   "}, "sku_present"),
    "missing_name": ({"recipient_name": None}, "recipient_name_present"),
    "empty_name": ({"recipient_name": ""}, "recipient_name_present"),
    "missing_street": ({"street_address1": None}, "street_address_present"),
    "blank_street": ({"street_address1": "\t "}, "street_address_present"),
    "missing_city": ({"city": None}, "city_present"),
    "missing_country": ({"country_code": None}, "country_code_valid"),
    "unknown_country": ({"country_code": "XX"}, "country_code_valid"),
    "lowercase_country": ({"country_code": "us"}, "country_code_valid"),
    "us_without_zipcode": ({"zipcode": None}, "zipcode_required"),
    "de_blank_zipcode": ({"country_code": "DE", "province": None, "zipcode": " "}, "zipcode_required"),
    "us_bad_zipcode": ({"zipcode": "ABCDE"}, "zipcode_format"),
    "ca_bad_zipcode": ({"country_code": "CA", "province": "ON", "zipcode": "12345"}, "zipcode_format"),
    "gb_bad_zipcode": ({"country_code": "GB", "province": None, "zipcode": "123"}, "zipcode_format"),
    "us_without_state": ({"province": None}, "province_required"),
    "br_without_state": ({**BR, "province": ""}, "province_required"),
    "br_without_phone": ({**BR, "phone_number": None}, "phone_required"),
    "cn_bad_phone": ({**CN, "phone_number": "call me"}, "phone_required"),
    "negative_price": ({"product_price": Decimal("-1.00")}, "product_price_valid"),
    "missing_price": ({"product_price": None}, "product_price_valid"),
    "negative_shipping": ({"shipping_price": Decimal("-0.01")}, "shipping_price_not_negative"),
    "negative_total": ({"payment_total": Decimal("-5")}, "payment_total_not_negative"),
    "missing_currency": ({"currency_code": None}, "currency_code_valid"),
    "unknown_currency": ({"currency_code": "XYZ"}, "currency_code_valid"),
    "released_in_future": (
        {"released_at": NOW + timedelta(hours=2), "expected_ship_time": NOW + timedelta(days=5)},
        "released_at_valid",
    ),
    "missing_release": ({"released_at": None}, "released_at_valid"),
    "deadline_before_release": ({"expected_ship_time": NOW - timedelta(days=2)}, "expected_ship_time_after_release"),
    "deadline_at_release": ({"expected_ship_time": NOW - timedelta(days=1)}, "expected_ship_time_after_release"),
    "missing_deadline": ({"expected_ship_time": None}, "expected_ship_time_after_release"),
    # types and magnitudes (issue 18): blocking, with defaults from wishflow/validation/bounds.py
    "wrongly_typed_field": (
        {"street_address2": None, "input_problems": 'street_address2: list ["Flat 2"] (expected text)'},
        "field_types_valid",
    ),
    "too_many_units": ({"quantity": 110}, "quantity_within_bound"),
    "absurd_unit_price": ({"product_price": Decimal("1000000000000")}, "product_price_within_bound"),
    "absurd_shipping_price": ({"shipping_price": Decimal("5000")}, "shipping_price_within_bound"),
    "absurd_total": ({"payment_total": Decimal("1000000000")}, "payment_total_within_bound"),
    "huge_name": ({"recipient_name": "A" * 100_000}, "recipient_name_length_within_bound"),
    "huge_street": ({"street_address1": "B" * 100_000}, "street_address1_length_within_bound"),
    "huge_street2": ({"street_address2": "C" * 300}, "street_address2_length_within_bound"),
    "huge_street3": ({"street_address3": "D" * 300}, "street_address3_length_within_bound"),
    "huge_city": ({"city": "E" * 100_000}, "city_length_within_bound"),
    "huge_province": ({"province": "F" * 300}, "province_length_within_bound"),
    "huge_zipcode": (
        {"country_code": "IE", "province": None, "phone_number": None, "zipcode": "G" * 40},
        "zipcode_length_within_bound",
    ),
    "huge_phone": ({"phone_number": "1" * 40}, "phone_number_length_within_bound"),
    "huge_sku": ({"sku": "S" * 101}, "sku_length_within_bound"),
    "parcel_too_heavy": ({"quantity": 30, "sku_weight_grams": 2000}, "parcel_fits_largest_package"),
    "item_too_long": (
        {"sku_weight_grams": 100, "sku_length_mm": 800, "sku_width_mm": 10, "sku_height_mm": 10},
        "parcel_fits_largest_package",
    ),
    "ancient_release": (
        {"released_at": NOW.replace(year=1990), "expected_ship_time": NOW.replace(year=1990) + timedelta(days=5)},
        "released_at_valid",
    ),
    "deadline_far_away": ({"expected_ship_time": NOW + timedelta(days=400)}, "ship_window_within_bound"),
}

#: kind -> changes to a good order that sit on a rule's edge and must pass every blocking rule.
GOOD_KINDS: dict[str, dict[str, Any]] = {
    "plain_us": {},
    "us_zip_plus_four": {"zipcode": "62701-1234"},
    "us_without_phone": {"phone_number": None},
    "ca_postcode": {"country_code": "CA", "province": "ON", "zipcode": "K1A 0B1"},
    "gb_postcode": {"country_code": "GB", "province": None, "zipcode": "SW1A 1AA"},
    "fr_without_province_or_phone": {"country_code": "FR", "province": None, "zipcode": "75001", "phone_number": None},
    "ie_without_zipcode": {"country_code": "IE", "province": None, "zipcode": None, "phone_number": None},
    "hk_without_zipcode": {"country_code": "HK", "province": None, "zipcode": None, "phone_number": "+852 5555 0100"},
    "brazil_complete": BR,
    "china_complete": CN,
    "free_item": {"product_price": Decimal("0")},
    "three_units": {"quantity": 3},
    "hundred_units": {"quantity": 100},
    "heavy_but_fits": {"quantity": 10, "sku_weight_grams": 2500},
    "long_address_line": {"street_address1": "X" * 200},
    "released_just_now": {"released_at": NOW},
    "euro_money": {"currency_code": "EUR", "country_code": "DE", "province": None, "zipcode": "10115"},
    "shipped_order": {"state": "SHIPPED", "tracking_number": "LX123456789CN", "processing_status": "SUCCEEDED"},
}
