"""Packages.

Presets (box or envelope with dimensions and tare weight), the SKU table (unit weight, dimensions, tags; loaded from
CSV) and the parcel derived from them for one order, a multi-quantity order or a combined shipment of several orders.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

#: Weight assumed for a SKU missing from the table (the parcel is then marked as estimated).
DEFAULT_UNIT_WEIGHT_GRAMS = 250
#: A package is filled to at most this share of its volume.
FILL_FACTOR = 0.85


class PackageError(ValueError):
    """A package preset or SKU row that cannot be used."""


class NoPackageFits(PackageError):
    """No package preset holds these items.

    The order must not be planned (validation should have held it; see the ``parcel_fits_largest_package`` rule).
    """


@dataclass(frozen=True)
class PackagePreset:
    """A box, bag or envelope: inner dimensions (mm), its own (tare) weight and its weight limit."""

    name: str
    length_mm: int
    width_mm: int
    height_mm: int
    tare_grams: int = 0
    max_weight_grams: int | None = None

    @property
    def volume_mm3(self) -> int:
        """Inner volume in cubic millimetres, for the fill check."""
        return self.length_mm * self.width_mm * self.height_mm

    def fits(self, items: Sequence[tuple[SkuInfo, int]]) -> bool:
        """Do these items (SKU, quantity) fit: longest side, filled volume and weight limit."""
        inner = sorted((self.length_mm, self.width_mm, self.height_mm), reverse=True)
        volume = 0
        weight = 0
        for sku, qty in items:
            dims = sku.dims()
            if dims is not None:
                sides = sorted(dims, reverse=True)
                if any(s > box for s, box in zip(sides, inner, strict=True)):
                    return False
                volume += sides[0] * sides[1] * sides[2] * qty
            weight += sku.weight_grams * qty
        if volume > self.volume_mm3 * FILL_FACTOR:
            return False
        return self.max_weight_grams is None or weight + self.tare_grams <= self.max_weight_grams

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> PackagePreset:
        """Build a preset from a policy's ``presets`` section; a missing or bad field is a policy error."""
        try:
            preset = cls(
                name=name,
                length_mm=int(data["length_mm"]),
                width_mm=int(data["width_mm"]),
                height_mm=int(data["height_mm"]),
                tare_grams=int(data.get("tare_grams", 0) or 0),
                max_weight_grams=int(data["max_weight_grams"]) if data.get("max_weight_grams") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PackageError(f"package preset {name!r}: {exc}") from None
        if min(preset.length_mm, preset.width_mm, preset.height_mm) <= 0 or preset.tare_grams < 0:
            raise PackageError(f"package preset {name!r}: dimensions must be positive and tare non-negative")
        return preset

    def to_mapping(self) -> dict[str, Any]:
        """The preset as written in a policy file."""
        return {
            "length_mm": self.length_mm,
            "width_mm": self.width_mm,
            "height_mm": self.height_mm,
            "tare_grams": self.tare_grams,
            "max_weight_grams": self.max_weight_grams,
        }


#: Presets used when a policy names none (smallest first).
DEFAULT_PRESETS: dict[str, PackagePreset] = {
    p.name: p
    for p in (
        PackagePreset("envelope", 250, 180, 20, 15, 500),
        PackagePreset("small_box", 230, 160, 100, 120, 2000),
        PackagePreset("medium_box", 350, 250, 150, 250, 10000),
        PackagePreset("large_box", 500, 400, 300, 450, 30000),
    )
}


@dataclass(frozen=True)
class SkuInfo:
    """Unit weight (g), dimensions (mm) and tags of one SKU."""

    sku: str
    weight_grams: int
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    estimated: bool = False

    def dims(self) -> tuple[int, int, int] | None:
        """The SKU's dimensions, or None unless all three are known (a partial size cannot be packed)."""
        if self.length_mm and self.width_mm and self.height_mm:
            return (self.length_mm, self.width_mm, self.height_mm)
        return None


def _opt_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return int(float(value))


def parse_tags(value: Any) -> frozenset[str]:
    """Tags from ``"a, b;c|d"`` or a list, lower-cased."""
    if not value:
        return frozenset()
    if isinstance(value, str):
        for sep in (";", "|"):
            value = value.replace(sep, ",")
        parts: Iterable[str] = value.split(",")
    else:
        parts = (str(v) for v in value)
    return frozenset(p.strip().lower() for p in parts if p and p.strip())


class SkuTable:
    """SKU -> :class:`SkuInfo`; unknown SKUs get :data:`DEFAULT_UNIT_WEIGHT_GRAMS`, marked estimated."""

    def __init__(self, rows: Iterable[SkuInfo] = ()) -> None:
        """Index the rows by SKU."""
        self._rows = {r.sku: r for r in rows}

    def __len__(self) -> int:
        """Number of SKUs known."""
        return len(self._rows)

    def __iter__(self) -> Any:
        """The known SKUs."""
        return iter(self._rows.values())

    def get(self, sku: str | None) -> SkuInfo:
        """The SKU's row, or an estimated default weight for an unknown SKU so planning still proceeds."""
        if sku is not None and sku in self._rows:
            return self._rows[sku]
        return SkuInfo(sku or "", DEFAULT_UNIT_WEIGHT_GRAMS, estimated=True)

    @classmethod
    def from_csv(cls, source: str | Path | io.TextIOBase) -> SkuTable:
        """Columns ``sku, weight_grams`` (required), ``length_mm, width_mm, height_mm, tags`` (optional)."""
        if isinstance(source, (str, Path)):
            with open(source, newline="", encoding="utf-8") as fh:
                return cls.from_csv(io.StringIO(fh.read()))
        reader = csv.DictReader(source)
        missing = {"sku", "weight_grams"} - set(reader.fieldnames or ())
        if missing:
            raise PackageError(f"SKU CSV lacks columns {sorted(missing)}")
        rows = []
        for line, raw in enumerate(reader, start=2):
            sku = (raw.get("sku") or "").strip()
            if not sku:
                raise PackageError(f"SKU CSV line {line}: empty sku")
            try:
                info = SkuInfo(
                    sku=sku,
                    weight_grams=int(float(raw["weight_grams"])),
                    length_mm=_opt_int(raw.get("length_mm")),
                    width_mm=_opt_int(raw.get("width_mm")),
                    height_mm=_opt_int(raw.get("height_mm")),
                    tags=parse_tags(raw.get("tags")),
                )
            except (TypeError, ValueError) as exc:
                raise PackageError(f"SKU CSV line {line} ({sku}): {exc}") from None
            if info.weight_grams <= 0:
                raise PackageError(f"SKU CSV line {line} ({sku}): weight_grams must be positive")
            rows.append(info)
        return cls(rows)

    # -- warehouse -------------------------------------------------------------------------------

    def save(self, engine: Engine, store: str) -> int:
        """Upsert the table into ``shipping_skus`` for ``store`` (idempotent)."""
        from wishflow.warehouse.bulk import dialect_insert
        from wishflow.warehouse.shipping_schema import shipping_skus

        now = datetime.now(UTC)
        rows = [
            {
                "store": store,
                "sku": r.sku,
                "weight_grams": r.weight_grams,
                "length_mm": r.length_mm,
                "width_mm": r.width_mm,
                "height_mm": r.height_mm,
                "tags": ",".join(sorted(r.tags)) or None,
                "_loaded_at": now,
            }
            for r in self._rows.values()
        ]
        if not rows:
            return 0
        with engine.begin() as conn:
            stmt = dialect_insert(conn, shipping_skus)
            stmt = stmt.on_conflict_do_update(
                index_elements=["store", "sku"],
                set_={k: stmt.excluded[k] for k in rows[0] if k not in ("store", "sku")},
            )
            conn.execute(stmt, rows)
        return len(rows)

    @classmethod
    def load(cls, engine: Engine, store: str) -> SkuTable:
        """The SKU table of ``store`` from the warehouse."""
        from wishflow.warehouse.shipping_schema import shipping_skus as t

        with engine.connect() as conn:
            result = conn.execute(select(t).where(t.c.store == store))
            return cls(
                SkuInfo(
                    sku=r.sku,
                    weight_grams=r.weight_grams,
                    length_mm=r.length_mm,
                    width_mm=r.width_mm,
                    height_mm=r.height_mm,
                    tags=parse_tags(r.tags),
                )
                for r in result
            )


@dataclass(frozen=True)
class Parcel:
    """The package chosen for a shipment and its total weight (items plus tare)."""

    package: str
    weight_grams: int
    estimated: bool


def items_weight(items: Sequence[tuple[SkuInfo, int]]) -> int:
    """Total weight in grams of the items; a quantity below one counts as one."""
    return sum(sku.weight_grams * max(qty, 1) for sku, qty in items)


def choose_parcel(
    items: Sequence[tuple[SkuInfo, int]],
    presets: Mapping[str, PackagePreset],
    preferred: str | None = None,
    *,
    preferred_must_fit: bool = True,
) -> Parcel:
    """The parcel for these items.

    ``preferred`` if named (it must exist), else the smallest preset by volume that fits. When no preset fits,
    :class:`NoPackageFits` is raised: planning a parcel into a box it does not fit (a million units in a large box)
    would ship nonsense. A ``preferred`` package (a policy rule's) must fit too, unless ``preferred_must_fit`` is False:
    an operator's explicit ``--package`` is obeyed as given.
    """
    estimated = any(sku.estimated for sku, _ in items)
    weight = items_weight(items)
    if preferred:
        preset = presets.get(preferred)
        if preset is None:
            raise PackageError(f"unknown package preset {preferred!r} (known: {sorted(presets)})")
        if preferred_must_fit and not preset.fits(items):
            raise NoPackageFits(f"{needs(items)} do not fit the package {_describe(preset)} the policy names")
        return Parcel(preset.name, weight + preset.tare_grams, estimated)
    if not presets:
        return Parcel("none", weight, estimated)
    ordered = sorted(presets.values(), key=lambda p: (p.volume_mm3, p.tare_grams))
    for preset in ordered:
        if preset.fits(items):
            return Parcel(preset.name, weight + preset.tare_grams, estimated)
    raise NoPackageFits(f"no package fits {needs(items)} (largest preset {_describe(ordered[-1])})")


def needs(items: Sequence[tuple[SkuInfo, int]]) -> str:
    """What the items need, as the quarantine shows it.

    Units, weight, the largest item's sides and the items' volume (a SKU without dimensions counts by weight only).
    """
    units = sum(max(q, 1) for _, q in items)
    sized = [(sorted(d, reverse=True), max(q, 1)) for sku, q in items if (d := sku.dims()) is not None]
    text = f"{units} unit(s) weighing {items_weight(items)} g"
    if sized:
        sides = max((s for s, _ in sized), key=lambda s: tuple(s))
        volume_ml = sum(s[0] * s[1] * s[2] * q for s, q in sized) / 1000
        text += f", largest item {sides[0]}x{sides[1]}x{sides[2]} mm, {volume_ml:,.0f} ml in all"
    return text


def _describe(preset: PackagePreset) -> str:
    return (
        f"{preset.name!r}: {preset.length_mm}x{preset.width_mm}x{preset.height_mm} mm, "
        f"up to {preset.max_weight_grams or '?'} g"
    )
