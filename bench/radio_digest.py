"""Benchmark: the Nine O'Clock Radio's morning build and digest page at scale.

    .venv/bin/python bench/radio_digest.py                       # 100 channels, 50,000 approved nominations
    .venv/bin/python bench/radio_digest.py --channels 100 --nominations 50000 --requests 100

In a scratch database (bench_radio, dropped at the end unless --keep): 100 channels over 10
departments and 50,000 nominations approved yesterday (a tenth of them into two channels), loaded with
COPY; a business user who follows five channels. Then:

1. the morning build (radio.building.build_digests) of every channel's digest: target <= 30 s;
   then a second run of the same day, which must add nothing;
2. the digest page /radio/ (and one channel's full digest) over HTTP from daphne with DEBUG=0, logged in
   as that user: N GETs after warm-ups, p50/p95 (target p95 <= 200 ms), queries per page counted with
   Django's test Client;
3. recording one digest's audio (espeak-ng), when the machine has it.

The build queues one recording per digest on a Redis prefix of its own; the bench removes those
messages at the end (no worker runs here).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from typing import Any

import _harness as h

DB = "bench_radio"
PREFIX = "bench-radio"
BUILD_TARGET_S = 30
PAGE_TARGET_P95_MS = 200
PASSWORD = "bench-radio-pass"

SUBJECTS = ["快递", "退款", "耳机", "冰箱", "洗衣机", "手机", "尺码", "发票", "驿站", "客服", "优惠券", "会员"]
COMPLAINTS = [
    "已经{n}天了还没有任何进展，订单{order}，到底什么时候能处理？",
    "{subject}的问题我反映了{n}次，每次都说会回电，结果没人联系我。",
    "页面上写的是{n}天内发货，现在都过去一周了，{subject}还没动。",
    "收到的{subject}和描述完全不一样，申请退货又被拒绝，太不合理了。",
    "The {subject} arrived broken and the refund has been pending for {n} days.",
    "App 里找不到{subject}的入口，只能打电话，排队{n}分钟。",
]


def load(channels: int, nominations: int, day: date) -> dict[str, Any]:
    """Departments, channels, users and a day of approved nominations, with COPY."""
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from core import roles
    from core.demo import ensure_demo_logins
    from core.seeding import copy_rows, max_id
    from radio.models import Channel, Nomination, Placement, Subscription
    from tickets.models import Department

    roles.sync_roles(apps, roles.ROLE_PERMISSIONS)
    ensure_demo_logins()
    rnd = random.Random(7)
    started = time.monotonic()
    with transaction.atomic():
        departments = [Department.objects.get_or_create(code=f"bench-{i}", defaults={"name": f"部门{i}"})[0]
                       for i in range(10)]  # fmt: skip
        made = [
            Channel(code=f"bench-{i:03d}", name=f"频道{i:03d}", department=departments[i % 10],
                    description="Benchmark channel")
            for i in range(channels)
        ]  # fmt: skip
        made = Channel.objects.bulk_create(made)
        reader = get_user_model().objects.create_user("bench-business", password=PASSWORD, first_name="业务方")
        reader.groups.add(Group.objects.get(name=roles.BUSINESS))
        for channel in made[:5]:
            Subscription.objects.create(user=reader, channel=channel)
        curator = get_user_model().objects.get(username="supervisor")
        agent = get_user_model().objects.get(username="agent")
        evening = timezone.make_aware(datetime.combine(day - timedelta(days=1), datetime.min.time())) + timedelta(
            hours=9
        )
        first = max_id(Nomination) + 1

        def nomination_rows() -> Any:
            for i in range(nominations):
                at = evening + timedelta(seconds=rnd.randrange(0, 12 * 3600))
                quote = rnd.choice(COMPLAINTS).format(
                    n=rnd.randint(2, 9), order=rnd.randint(10**11, 10**12 - 1), subject=rnd.choice(SUBJECTS)
                )
                yield ("ticket", 10_000_000 + i, quote, "批量测试备注", "", rnd.choice((1, 2, 2, 2, 3, 3, 4)),
                       "approved", rnd.choice((1, 1, 1, 2, 3, 5, 8, 13)), "", agent.pk, at, curator.pk, at)  # fmt: skip

        copy_rows(
            Nomination,
            ["source_kind", "source_id", "quote", "note", "headline", "severity", "status", "customers",
             "rejection_reason", "nominated_by", "nominated_at", "screened_by", "screened_at"],
            nomination_rows(),
        )  # fmt: skip
        ids = list(Nomination.objects.filter(pk__gte=first).order_by("pk").values_list("pk", "screened_at"))
        channel_ids = [c.pk for c in made]

        def placement_rows() -> Any:
            for pk, at in ids:
                assert at is not None  # every nomination above was screened
                picked = rnd.sample(channel_ids, 2 if rnd.random() < 0.1 else 1)
                for channel_id in picked:
                    yield (pk, channel_id, at + timedelta(minutes=30), curator.pk)

        placed = copy_rows(Placement, ["nomination", "channel", "approved_at", "approved_by"], placement_rows())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE radio_nomination; ANALYZE radio_placement")
    print(f"loaded {channels} channels, {nominations:,} approved nominations, {placed:,} placements "
          f"in {time.monotonic() - started:.1f} s")  # fmt: skip
    return {"placements": placed, "reader": reader.username}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--nominations", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    args = parser.parse_args()

    import redis

    h.refuse_database_url()
    database = h.ScratchDatabase(DB)
    database.create()
    static = tempfile.TemporaryDirectory(prefix="bench-static-")
    media = tempfile.TemporaryDirectory(prefix="bench-radio-media-")
    redis_url = h.redis_url(0)
    server_env = h.server_env(database, static_dir=static.name, secret="bench-radio-not-secret", REDIS_URL=redis_url,
                              REDIS_KEY_PREFIX=PREFIX, MEDIA_ROOT=media.name)  # fmt: skip
    daphne = None
    try:
        database.migrate(server_env)
        h.setup_django(**{**server_env, "ALLOWED_HOSTS": "127.0.0.1,testserver", "VAR_DIR": h.var_dir()})
        from django.utils import timezone

        from radio import building
        from radio.models import Digest, DigestItem

        today = timezone.localdate()
        loaded = load(args.channels, args.nominations, today)

        created, build_s = h.timed(lambda: building.build_digests(today, now=building.digest_cutoff(today)))
        items = DigestItem.objects.count()
        again, again_s = h.timed(lambda: building.build_digests(today, now=building.digest_cutoff(today)))
        assert len(created) == args.channels and again == [], (len(created), again)
        assert items == loaded["placements"], (items, loaded["placements"])
        assert Digest.objects.filter(day=today).count() == args.channels
        print(f"\nmorning build: {len(created)} digests, {items:,} items in {build_s:.2f} s "
              f"(target <= {BUILD_TARGET_S} s); a second run: {len(again)} new in {again_s:.2f} s")  # fmt: skip

        first = Digest.objects.filter(day=today).select_related("channel").order_by("channel__code").first()
        assert first is not None
        paths = ["/radio/", f"/radio/{today.isoformat()}/{first.channel.code}/"]
        queries = h.count_queries(loaded["reader"], paths)

        h.manage("collectstatic", "--noinput", "-v0", "--skip-checks", env=server_env)
        daphne, port = h.start_daphne(server_env)
        base = f"http://127.0.0.1:{port}"
        h.wait_for_http(base + "/radio/login/", daphne)
        browser = h.Browser(base)
        browser.login(loaded["reader"], PASSWORD, form="/radio/login/", lands_on="/radio/")
        print(f"\n{args.requests} GETs per page after {args.warmup} warm-ups, daphne DEBUG=0")
        table, worst = [], 0.0
        for path in paths:
            times, body = browser.timed_gets(path, requests=args.requests, warmup=args.warmup)
            worst = max(worst, h.percentile(times, 0.95)) if path == "/radio/" else worst
            table.append((path, *h.latency_cells(times), f"{queries[path][0]}", f"{len(body) / 1024:.0f}"))
        h.print_table(("page", "p50 ms", "p95 ms", "max ms", "queries", "KiB"), table)

        from radio import audio, speech

        if speech.engine():
            status, seconds = h.timed(lambda: audio.render_digest_audio(first.pk))
            first.refresh_from_db()
            print(f"\nrecording one digest ({first.items_count} items, the top {min(first.items_count, 8)} read): "
                  f"{status}, {first.audio_seconds} s of audio in {seconds:.1f} s")  # fmt: skip
        verdict = "OK" if build_s <= BUILD_TARGET_S and worst <= PAGE_TARGET_P95_MS else "MISSED"
        print(f"\n{verdict}: build {build_s:.2f} s (<= {BUILD_TARGET_S}), /radio/ p95 {worst:.1f} ms "
              f"(<= {PAGE_TARGET_P95_MS})")  # fmt: skip
    finally:
        if daphne is not None:
            daphne.terminate()
            daphne.wait(timeout=20)
        queued = redis.Redis.from_url(redis_url)
        stale = list(queued.scan_iter(match=f"{PREFIX}:*"))
        if stale:
            queued.delete(*stale)
        h.close_connections()
        if not args.keep:
            database.drop()
        static.cleanup()
        media.cleanup()


if __name__ == "__main__":
    main()
