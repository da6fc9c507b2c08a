"""Backfill a sandbox's orders into a warehouse in a fresh process and report its peak RSS.

python -m bench.bench_pull_into API_URL TOKEN WAREHOUSE_URL
"""

from __future__ import annotations

import json
import sys

from bench.bench_pull import backfill, warm_up
from bench.common import peak_rss_mb


def main() -> int:
    api_url, token, url = sys.argv[1:4]
    warm_up()
    before = peak_rss_mb()
    result = backfill(api_url, token, url)
    result.update(peak_rss_mb=peak_rss_mb(), rss_before_mb=before)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
