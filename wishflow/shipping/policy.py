"""The shipping policy: ordered rules, first match wins, then a default.

A rule matches on destination country or region, parcel weight, order value, program (Wish Express,
confirmed delivery), SKU or product tag, and origin warehouse; its outcome names a carrier, a service,
a package preset and an origin country (what it leaves out comes from the default). Policies load
from YAML::

    default: {carrier: YunExpress, service: standard, origin_country: CN}
    rules:
      - name: us-express
        when: {countries: [US], wish_express: true}
        then: {carrier: USPS, service: priority, package: small_box}
      - name: heavy-eu
        when: {regions: [EU], min_weight_grams: 2000}
        then: {carrier: DHL, service: parcel}
    presets:
      small_box: {length_mm: 230, width_mm: 160, height_mm: 100, tare_grams: 120}

Every carrier a decision names is checked against the carriers Wish accepts for the destination and
program (``GET /orders/shipping_carriers``, cached per run) before anything is submitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from wishflow.errors import ConfigError
from wishflow.shipping.model import ShipOrder
from wishflow.shipping.packages import DEFAULT_PRESETS, PackagePreset
from wishflow.validation.bounds import BoundsError, ValidationBounds

EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
REGIONS: dict[str, frozenset[str]] = {
    "EU": EU,
    "EUROPE": EU | frozenset(["GB", "CH", "NO", "IS", "LI", "UA", "RS", "BA", "MK", "AL", "ME", "MD"]),
    "NORTH_AMERICA": frozenset(["US", "CA", "MX", "PR"]),
    "LATIN_AMERICA": frozenset(
        ["MX", "BR", "AR", "CL", "CO", "PE", "UY", "PY", "BO", "EC", "VE", "CR", "PA", "GT", "DO"]
    ),
    "OCEANIA": frozenset(["AU", "NZ"]),
    "ASIA": frozenset(["CN", "JP", "KR", "TW", "HK", "SG", "MY", "TH", "VN", "PH", "ID", "IN"]),
    "MIDDLE_EAST": frozenset(["AE", "SA", "IL", "TR", "QA", "KW", "BH", "OM"]),
}


class PolicyError(ConfigError, ValueError):
    """A policy that cannot be loaded, or that would submit something Wish will not accept.

    A configuration mistake: shown as one line, never retried.
    """

    hint = "fix the shipping policy (check it with `wishflow ship check-policy FILE.yaml` and `wishflow doctor`)"


def _upper_set(value: Any, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise PolicyError(f"{what} must be a list")
    return frozenset(str(v).strip().upper() for v in value)


def _str_set(value: Any, what: str, lower: bool = False) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise PolicyError(f"{what} must be a list")
    return frozenset(str(v).strip().lower() if lower else str(v).strip() for v in value)


@dataclass(frozen=True)
class Criteria:
    """What a rule matches; every criterion given must hold (an empty rule matches everything)."""

    countries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    min_weight_grams: int | None = None
    max_weight_grams: int | None = None
    min_order_value: Decimal | None = None
    max_order_value: Decimal | None = None
    wish_express: bool | None = None
    confirmed_delivery: bool | None = None
    skus: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    warehouses: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, where: str) -> Criteria:
        """Build criteria from a rule's ``when`` section; unknown keys are refused, so a typo never matches all."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise PolicyError(f"{where}: unknown criteria {sorted(unknown)} (known: {sorted(known)})")
        try:
            criteria = cls(
                countries=_upper_set(data.get("countries"), f"{where}.countries"),
                regions=_upper_set(data.get("regions"), f"{where}.regions"),
                min_weight_grams=int(data["min_weight_grams"]) if data.get("min_weight_grams") is not None else None,
                max_weight_grams=int(data["max_weight_grams"]) if data.get("max_weight_grams") is not None else None,
                min_order_value=Decimal(str(data["min_order_value"]))
                if data.get("min_order_value") is not None
                else None,
                max_order_value=Decimal(str(data["max_order_value"]))
                if data.get("max_order_value") is not None
                else None,
                wish_express=bool(data["wish_express"]) if data.get("wish_express") is not None else None,
                confirmed_delivery=bool(data["confirmed_delivery"])
                if data.get("confirmed_delivery") is not None
                else None,
                skus=_str_set(data.get("skus"), f"{where}.skus"),
                tags=_str_set(data.get("tags"), f"{where}.tags", lower=True),
                warehouses=_str_set(data.get("warehouses"), f"{where}.warehouses"),
            )
        except (TypeError, ValueError, ArithmeticError) as exc:
            if isinstance(exc, PolicyError):
                raise
            raise PolicyError(f"{where}: {exc}") from None
        return criteria

    def to_mapping(self) -> dict[str, Any]:
        """The criteria as written in a policy file (unset ones left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == frozenset():
                continue
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Decimal):
                value = str(value)
            out[f.name] = value
        return out

    def matches(
        self, order: ShipOrder, weight_grams: int, tags: frozenset[str], regions: Mapping[str, frozenset[str]]
    ) -> bool:
        """Whether the order, with its parcel weight and tags, meets every criterion set."""
        country = order.country_code
        if self.countries and country not in self.countries:
            return False
        if self.regions and not any(country in regions.get(r, frozenset()) for r in self.regions):
            return False
        if self.min_weight_grams is not None and weight_grams < self.min_weight_grams:
            return False
        if self.max_weight_grams is not None and weight_grams > self.max_weight_grams:
            return False
        value = order.order_value
        if self.min_order_value is not None and (value is None or value < self.min_order_value):
            return False
        if self.max_order_value is not None and (value is None or value > self.max_order_value):
            return False
        if self.wish_express is not None and order.is_wish_express != self.wish_express:
            return False
        if self.confirmed_delivery is not None and order.is_confirmed_delivery != self.confirmed_delivery:
            return False
        if self.skus and (order.sku or "") not in self.skus:
            return False
        if self.tags and not (self.tags & tags):
            return False
        return not (self.warehouses and (order.warehouse_id or "") not in self.warehouses)


@dataclass(frozen=True)
class Outcome:
    """What a rule decides; None fields are taken from the default."""

    carrier: str | None = None
    service: str | None = None
    package: str | None = None
    origin_country: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, where: str) -> Outcome:
        """Build an outcome from a rule's ``then`` section; unknown keys are refused."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise PolicyError(f"{where}: unknown outcome fields {sorted(unknown)} (known: {sorted(known)})")
        origin = data.get("origin_country")
        if origin is not None and (not isinstance(origin, str) or len(origin.strip()) != 2):
            raise PolicyError(f"{where}.origin_country must be an ISO 3166 alpha-2 code")
        return cls(
            carrier=str(data["carrier"]).strip() if data.get("carrier") else None,
            service=str(data["service"]).strip() if data.get("service") else None,
            package=str(data["package"]).strip() if data.get("package") else None,
            origin_country=origin.strip().upper() if origin else None,
        )

    def to_mapping(self) -> dict[str, Any]:
        """The outcome as written in a policy file (unset fields left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Rule:
    """A named rule: when the criteria match, ship as the outcome says."""

    name: str
    when: Criteria
    then: Outcome


@dataclass(frozen=True)
class Decision:
    """The resolved shipping choice for one order, and the rule that made it."""

    carrier: str
    service: str
    package: str | None
    origin_country: str
    rule: str


@dataclass
class ShippingPolicy:
    """Ordered rules (first match wins), a default, package presets and batching options."""

    default: Outcome
    rules: list[Rule] = field(default_factory=list)
    presets: dict[str, PackagePreset] = field(default_factory=lambda: dict(DEFAULT_PRESETS))
    regions: dict[str, frozenset[str]] = field(default_factory=lambda: dict(REGIONS))
    combine: bool = True
    max_batch_size: int = 500
    # -- validation bounds (issue 18): the merchant's blocking upper bounds, ``bounds:`` in YAML;
    # unset keys take the defaults, the parcel bounds those of the largest package preset.
    bounds_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def bounds(self) -> ValidationBounds:
        """The blocking upper bounds validation applies to this merchant's orders."""
        try:
            return ValidationBounds.from_mapping(self.bounds_overrides, ValidationBounds.for_presets(self.presets))
        except BoundsError as exc:
            raise PolicyError(str(exc)) from None

    def __post_init__(self) -> None:
        """Check the policy at load time: valid bounds, a complete default, unique rule names, known presets."""
        self.bounds  # noqa: B018 - fail at load time on a bad bounds section
        if not self.default.carrier or not self.default.origin_country:
            raise PolicyError("the default must name a carrier and an origin_country")
        names = set()
        for rule in self.rules:
            if rule.name in names:
                raise PolicyError(f"two rules are named {rule.name!r}")
            names.add(rule.name)
            for region in rule.when.regions:
                if region not in self.regions:
                    raise PolicyError(f"rule {rule.name!r}: unknown region {region!r} (known: {sorted(self.regions)})")
            if rule.then.package and rule.then.package not in self.presets:
                raise PolicyError(f"rule {rule.name!r}: unknown package preset {rule.then.package!r}")
        if self.default.package and self.default.package not in self.presets:
            raise PolicyError(f"default: unknown package preset {self.default.package!r}")
        if self.max_batch_size < 1:
            raise PolicyError("max_batch_size must be at least 1")

    def resolve(self, order: ShipOrder, weight_grams: int, tags: frozenset[str] = frozenset()) -> Decision:
        """The first matching rule's decision for the order, else the default's."""
        for rule in self.rules:
            if rule.when.matches(order, weight_grams, tags, self.regions):
                return self._decide(rule.then, rule.name)
        return self._decide(Outcome(), "default")

    def _decide(self, outcome: Outcome, name: str) -> Decision:
        d = self.default
        return Decision(
            carrier=outcome.carrier or d.carrier or "",
            service=outcome.service or d.service or "standard",
            package=outcome.package or d.package,
            origin_country=outcome.origin_country or d.origin_country or "",
            rule=name,
        )

    def carriers(self) -> set[str]:
        """Every carrier the policy may choose."""
        return {c for c in [self.default.carrier, *(r.then.carrier for r in self.rules)] if c}

    # -- (de)serialisation ----------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ShippingPolicy:
        """Build and check a policy from its YAML mapping; every mistake is a :class:`PolicyError`."""
        if not isinstance(data, Mapping):
            raise PolicyError("a shipping policy must be a mapping")
        known = {"default", "rules", "presets", "regions", "combine", "max_batch_size", "bounds"}
        unknown = set(data) - known
        if unknown:
            raise PolicyError(f"unknown policy keys {sorted(unknown)} (known: {sorted(known)})")
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            raise PolicyError("rules must be a list")
        rules = []
        for i, raw in enumerate(raw_rules, start=1):
            if not isinstance(raw, Mapping):
                raise PolicyError(f"rule {i} must be a mapping with when/then")
            name = str(raw.get("name") or f"rule-{i}")
            extra = set(raw) - {"name", "when", "then"}
            if extra:
                raise PolicyError(f"rule {name!r}: unknown keys {sorted(extra)}")
            rules.append(
                Rule(
                    name,
                    Criteria.from_mapping(raw.get("when"), f"rule {name!r}.when"),
                    Outcome.from_mapping(raw.get("then"), f"rule {name!r}.then"),
                )
            )
        presets = dict(DEFAULT_PRESETS)
        for name, preset in (data.get("presets") or {}).items():
            presets[str(name)] = PackagePreset.from_mapping(str(name), preset)
        regions = dict(REGIONS)
        for name, members in (data.get("regions") or {}).items():
            regions[str(name).upper()] = _upper_set(members, f"regions.{name}")
        return cls(
            default=Outcome.from_mapping(data.get("default"), "default"),
            rules=rules,
            presets=presets,
            regions=regions,
            combine=bool(data.get("combine", True)),
            max_batch_size=int(data.get("max_batch_size", 500)),
            bounds_overrides=_bounds_mapping(data.get("bounds")),
        )

    @classmethod
    def from_yaml(cls, source: str | Path) -> ShippingPolicy:
        """From a YAML file path or YAML text."""
        text = source.read_text() if isinstance(source, Path) else source
        if isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml")):
            text = Path(source).read_text()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"shipping policy YAML does not parse: {exc}") from None
        return cls.from_mapping(data or {})

    def to_mapping(self) -> dict[str, Any]:
        """The policy as written in a policy file (built-in presets left out)."""
        return {
            "default": self.default.to_mapping(),
            "rules": [{"name": r.name, "when": r.when.to_mapping(), "then": r.then.to_mapping()} for r in self.rules],
            "presets": {n: p.to_mapping() for n, p in self.presets.items() if DEFAULT_PRESETS.get(n) != p},
            "regions": {n: sorted(m) for n, m in self.regions.items() if REGIONS.get(n) != m},
            "combine": self.combine,
            "max_batch_size": self.max_batch_size,
            **({"bounds": dict(self.bounds_overrides)} if self.bounds_overrides else {}),
        }

    def to_yaml(self) -> str:
        """The policy as YAML, in the file's key order."""
        # safe_dump is typed Any (it writes to a stream when given one); with no stream it returns the str.
        return str(yaml.safe_dump(self.to_mapping(), sort_keys=False))


def _bounds_mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PolicyError("bounds must be a mapping of bound name to number (e.g. max_quantity: 50)")
    return {str(k): v for k, v in value.items()}


def default_policy() -> ShippingPolicy:
    """The embedded policy: YunExpress from China, standard service, package chosen by size."""
    return ShippingPolicy(default=Outcome(carrier="YunExpress", service="standard", origin_country="CN"))


class CarrierCheck:
    """Wish's accepted carriers per order type and destination, fetched once per run.

    ``fetch(order_type, dest_country_code)`` is typically ``WishClient.shipping_carriers``.
    """

    def __init__(self, fetch: Callable[[str, str | None], Sequence[str]]) -> None:
        """``fetch(order_type, dest_country)`` asks Wish for the accepted carriers; answers are cached."""
        self._fetch = fetch
        self._cache: dict[tuple[str, str | None], dict[str, str]] = {}

    def accepted(self, order_type: str, dest_country: str | None) -> dict[str, str]:
        """Lower-cased name -> Wish's spelling."""
        key = (order_type, dest_country if order_type == "CONFIRMED_DELIVERY" else None)
        if key not in self._cache:
            names = self._fetch(order_type, key[1])
            self._cache[key] = {n.lower(): n for n in names}
        return self._cache[key]

    def canonical(self, carrier: str, order: ShipOrder) -> str | None:
        """Wish's spelling of ``carrier`` if Wish accepts it for this order, else None."""
        name = self.accepted("GENERAL", order.country_code or None).get(carrier.strip().lower())
        if name is None:
            return None
        if order.is_confirmed_delivery:
            return self.accepted("CONFIRMED_DELIVERY", order.country_code or None).get(carrier.strip().lower())
        return name

    @property
    def lookups(self) -> int:
        """How many distinct questions were asked of Wish (the cache's size)."""
        return len(self._cache)


@dataclass(frozen=True)
class CarrierProblem:
    """A rule whose carrier Wish does not accept for some orders' destination and program."""

    rule: str
    carrier: str
    country_code: str
    program: str
    order_ids: tuple[str, ...]

    def describe(self) -> str:
        """One line for the error message, with up to five of the order ids."""
        shown = ", ".join(self.order_ids[:5]) + (" ..." if len(self.order_ids) > 5 else "")
        return (
            f"rule {self.rule!r} names carrier {self.carrier!r}, which Wish does not accept for "
            f"{self.program} orders to {self.country_code or '?'} ({len(self.order_ids)} orders: {shown})"
        )


class CarrierNotAccepted(PolicyError):
    """Raised before anything is submitted when a decision names a carrier Wish will not accept."""

    def __init__(self, problems: Iterable[CarrierProblem]) -> None:
        """Keep the problems and describe them all in the message."""
        self.problems = list(problems)
        super().__init__(
            "shipping policy names carriers Wish does not accept; nothing was submitted: "
            + "; ".join(p.describe() for p in self.problems)
        )
