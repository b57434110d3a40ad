"""Mutation testing of the money and clock rules: mutmut over the refund policy (tickets/refunds.py), the SLA
arithmetic (tickets/sla.py) and the credit tiering (crm/tiering.py), with their own tests only.

    .venv/bin/python bench/mutation.py          # or: make mutation (never part of make test)

What is mutated and which tests run is ``[tool.mutmut]`` in pyproject.toml. mutmut copies the project into
``mutants/`` and runs pytest there (one process, forked per mutant); the copy is pointed at this checkout's
embedded PostgreSQL and Redis (VAR_DIR, EMBEDDED_REDIS_PORT), which ``manage.py services exec`` brings up,
and the test database is kept between mutants (--reuse-db). One worker: the tests share that database.

Prints every mutant that survived or timed out, and the score. Exits non-zero when a survivor is not one
of EQUIVALENT below (each is explained in the README, "Mutation testing").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import embedded  # noqa: E402

# Survivors that change no decision, due time or amount, or that only the race tests kill (README,
# "Mutation testing", says why for each).
_ZONE = "the same instants, only compared"
EQUIVALENT: dict[str, str] = {
    "tickets.refunds.x_valid_amount__mutmut_23": 'Decimal("1E10") is Decimal("1e10")',
    "tickets.sla.xǁBusinessHoursǁbetween__mutmut_6": "for a == b the loop adds nothing",
    "tickets.sla.xǁBusinessHoursǁbetween__mutmut_8": _ZONE,
    "tickets.sla.xǁBusinessHoursǁbetween__mutmut_9": _ZONE,
    "tickets.sla.xǁBusinessHoursǁbetween__mutmut_28": "adds an empty interval",
    "tickets.sla.xǁBusinessHoursǁadd__mutmut_10": _ZONE,
    "tickets.sla.xǁBusinessHoursǁadd__mutmut_24": "subtracts an empty interval",
    "tickets.sla.xǁBusinessHoursǁwindow__mutmut_13": "naive midnight is TIME_ZONE's: Django sets the process zone",
    "tickets.sla.xǁBusinessHoursǁwindow__mutmut_16": "naive midnight is TIME_ZONE's: Django sets the process zone",
    "tickets.sla.x_at_risk_within__mutmut_8": "a fifth of a minute never beats the 30-minute floor",
    "tickets.sla.x_horizon__mutmut_8": "reads a minute more of candidates; states come from each row",
}

# The answer to a retry that lost the race for its key: killed by the race tests, which the run leaves out.
for _n in range(27, 39):
    EQUIVALENT[f"tickets.refunds.x_request_refund__mutmut_{_n}"] = "killed by test_concurrent_retries_with_one_key_..."


def main() -> int:
    env = {**os.environ, "VAR_DIR": str(embedded.VAR_DIR), "EMBEDDED_REDIS_PORT": str(embedded.redis_port())}
    mutmut = str(Path(sys.executable).parent / "mutmut")
    started = time.monotonic()
    run = [sys.executable, "manage.py", "services", "exec", "--", mutmut, "run", "--max-children", "1"]
    subprocess.run(run, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    listing = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    results = dict(re.findall(r"^\s*(\S+): (.+?)\s*$", listing, flags=re.MULTILINE))
    counts = Counter(results.values())
    lasting = sorted(name for name, status in results.items() if status not in ("killed", "timeout"))
    for name in lasting:
        print(f"{results[name]:>12}  {name}  {EQUIVALENT.get(name, 'NOT EXPLAINED')}")
    total = len(results)
    caught = counts["killed"] + counts["timeout"]
    print(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())))
    print(f"score: {caught}/{total} = {caught / max(total, 1):.1%} of mutants caught, in {seconds / 60:.0f} min")
    return 1 if any(name not in EQUIVALENT for name in lasting) else 0


if __name__ == "__main__":
    raise SystemExit(main())
