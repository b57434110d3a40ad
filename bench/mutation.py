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
for _n in range(32, 37):
    EQUIVALENT[f"tickets.returns.x_request_return__mutmut_{_n}"] = "killed by test_concurrent_retries_..._one_return"
for _n in (12, 13):  # no lookup first: the insert hits the unique key and the race branch answers the same
    EQUIVALENT[f"tickets.returns.x_request_return__mutmut_{_n}"] = "a retry answered by the race branch"
_SWEEP = "tickets.returns.x_expire_unsent_returns__mutmut_"
EQUIVALENT |= {
    # Only a return locked by a scan at that moment tells these apart: the transactional race test.
    f"{_SWEEP}20": "killed by test_a_return_being_scanned_is_skipped_by_the_expiry_sweep",
    f"{_SWEEP}22": "killed by test_a_return_being_scanned_is_skipped_by_the_expiry_sweep",
    f"{_SWEEP}24": "killed by test_a_return_being_scanned_is_skipped_by_the_expiry_sweep",
    f"{_SWEEP}8": "values_list(flat=True) with no field lists the pk",
    f"{_SWEEP}17": "a batch of 501 instead of 500: the next run takes the rest",
    f"{_SWEEP}35": "an unsent return past its deadline always has a ship_by",
    f"{_SWEEP}41": "an unsent return past its deadline always has a ship_by",
    f"{_SWEEP}50": "saving every field of the locked row stores the same values",
}
# The timetable is a cache of BusinessHours: a mutant that makes it answer from the hours more often (a
# shorter span, a stricter inside test) gives the same answers, which the test compares one by one.
for _name, _numbers in {
    "__init__": (7, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32),
    "_inside": (2, 4, 5, 6),
    "add": (4, 6, 7),
}.items():
    for _n in _numbers:
        EQUIVALENT[f"tickets.sla.xǁTimetableǁ{_name}__mutmut_{_n}"] = "falls back to the hours: the same answer"
for _n in (10, 11, 12):
    EQUIVALENT[f"tickets.sla.xǁTimetableǁbusiness__mutmut_{_n}"] = "the text of an internal ValueError"
EQUIVALENT["tickets.sla.xǁTimetableǁinstant__mutmut_6"] = _ZONE
EQUIVALENT["tickets.sla.xǁBusinessHoursǁwindow__mutmut_27"] = _ZONE
EQUIVALENT["tickets.sla.xǁBusinessHoursǁwindow__mutmut_28"] = _ZONE
for _n in (15, 16, 17):
    EQUIVALENT[f"tickets.sla.x__parse_weekdays__mutmut_{_n}"] = "the placeholder of an item refused on the next line"
# policy_for: Django infers IntegerField from the Values; weights of 2 instead of 1 rank the same.
EQUIVALENT["tickets.clocks.x_policy_for__mutmut_2"] = "Q(tier_id=None) is the same IS NULL"
EQUIVALENT["tickets.returns.x__release__mutmut_49"] = "saving every field of the locked row stores the same values"
for _n in (13, 41, 44, 52, 55, 63, 66):
    EQUIVALENT[f"tickets.clocks.x_policy_for__mutmut_{_n}"] = "the same ranking (type inferred, weights scaled)"


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
