"""What /readyz and /metrics cost as settings accumulate (in-process, through Flask's client).

/readyz reads the revision of every setting's schema; /metrics counts job runs and reads
the backups. This prints the median time of each at 10, 100 and 500 settings (or
``--settings`` steps), so an operator can choose a probe interval.

    .venv/bin/python bench/ops.py                    # 10, 100, 500 settings (~1 min)
    .venv/bin/python bench/ops.py --settings 10 1000
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from bench.tenancy import bench_app, slug_for

REQUESTS = 20


def median_ms(client, path: str) -> float:
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        answer = client.get(path, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        timings.append((time.perf_counter() - started) * 1000)
        assert answer.status_code in (200, 503), answer.status_code
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=int, nargs="+", default=[10, 100, 500])
    steps = sorted(parser.parse_args().settings)
    from tenants.provisioning import provision_setting

    with bench_app() as bench:
        logging.getLogger().setLevel(logging.WARNING)  # a line per request and provisioning
        client = bench.app.test_client()
        made = 0
        print(f"{'settings':>8} {'/readyz ms':>11} {'/metrics ms':>12}")
        for target in steps:
            with bench.app.app_context():
                while made < target:
                    made += 1
                    slug = slug_for(made)
                    provision_setting(slug, f"Bench {made}", f"manager@{slug}.example.org")
            readyz, metrics = median_ms(client, "/readyz"), median_ms(client, "/metrics")
            print(f"{made:>8} {readyz:>11.1f} {metrics:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
