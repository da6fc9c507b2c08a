"""Time (and optionally profile) one ``validate_frame`` call: GX's fixed cost per batch and its share per order.

    python -m bench.profile_gx [rows ...] [--profile]

For each size: three timed calls after a warm one, on ``bench.bench_validation.synthetic_orders``
(about 2% defective). The smallest size shows the fixed cost a batch pays whatever its length;
``--profile`` prints ``cProfile``'s top functions of one more call at the last size.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from datetime import UTC, datetime

from bench.bench_validation import synthetic_orders


def main(argv: list[str]) -> int:
    """Print the seconds of three ``validate_frame`` calls per size given (1,000 and 50,000 by default)."""
    from wishflow.validation.validate import validate_frame

    profile = "--profile" in argv
    sizes = [int(a) for a in argv if a != "--profile"] or [1_000, 50_000]
    now = datetime.now(UTC)
    for rows in sizes:
        frame = synthetic_orders(rows, now)
        validate_frame(frame, now)  # GX's import and context, once
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            validate_frame(frame, now)
            seconds.append(time.perf_counter() - started)
        print(f"{rows:>7,} orders: validate_frame {', '.join(f'{s:.3f}' for s in seconds)} s (min {min(seconds):.3f})")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        validate_frame(frame, now)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
