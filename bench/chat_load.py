"""Benchmark: live chat under load — N concurrent consumer sessions against daphne, with scripted agents.

    .venv/bin/python bench/chat_load.py --sessions 1000 --processes 1
    .venv/bin/python bench/chat_load.py --sessions 1000 --processes 2   # consumers on one, agents on the other

Sets up a scratch database (``bench_chat``: migrate, ``seed_demo``, N bench consumers, the demo knowledge
base, scripted agents with session cookies) on the embedded PostgreSQL, a Redis database of its own
(number 9 of the embedded Redis) and a scratch search index, then starts one or two daphne processes
(``config.asgi:application``, DEBUG=0, staffed around the clock) sharing that Redis channel layer.
With two, consumers connect to the first and agents to the second, so every relayed message crosses
processes through Redis.

Load: each consumer opens /ws/chat/ with a signed token and sends a message every ``--interval``
seconds on average (exponential gaps: 1,000 sessions ≈ 100 messages/s), questions the knowledge base
answers, greetings, "where is my order" and the odd question it cannot answer. A ``--handoff-share``
of the sessions asks for a person at a random moment; scripted agents (``--agents``) accept from the
queue, answer, exchange a few messages and resolve. Reported: sessions held, bot reply latency (send
→ the bot's answer arrives) and relay latency (agent → consumer and consumer → agent) p50/p95/p99,
and errors. Targets: 1,000 sessions held with no errors, bot reply p95 ≤ 100 ms, relay p99 ≤ 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import tempfile
import time
from collections import Counter, defaultdict, deque

import _harness as h

ROOT = h.ROOT
DB_NAME = "bench_chat"
REDIS_DB = 9
QUESTIONS = ["发票怎么开", "地址填错了怎么办", "退款什么时候到", "可以无理由退货吗", "什么时候发货", "运费险怎么用",
             "怎么取消订单", "保修多久", "优惠券不能用", "降价了怎么办", "你好", "我的订单到哪了", "谢谢",
             "这个颜色有货吗"]  # fmt: skip


# --- setup (synchronous, Django in this process) ---------------------------------------------------


def environment(database: h.ScratchDatabase, index_dir: str) -> dict[str, str]:
    return database.env(
        REDIS_URL=h.redis_url(REDIS_DB), SEARCH_INDEX_DIR=index_dir, DEBUG="0", SECURE_SSL_REDIRECT="0",
        SUPPORT_HOURS="00:00-24:00", SUPPORT_WEEKDAYS="0-6", LOG_LEVEL="WARNING", CHAT_RATE_FRAMES="100",
    )  # fmt: skip


def prepare(args: argparse.Namespace, database: h.ScratchDatabase, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """The scratch database (kept between runs) with N bench consumers and the agents: their tokens and session
    cookies."""
    if args.fresh:
        database.create()
    database.ensure()
    database.migrate(env)
    h.manage("seed_demo", "--quiet", "--skip-checks", env={**env, "DEBUG": "1"}, stdout=subprocess.DEVNULL)
    h.setup_django(**{k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SEARCH_INDEX_DIR", "SUPPORT_HOURS",
                                          "SUPPORT_WEEKDAYS")})  # fmt: skip
    from django.apps import apps
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.utils import timezone

    from chat import knowledge
    from chat.models import ChatSession
    from chat.tokens import issue_token
    from core import roles
    from crm.models import Consumer, CreditTier
    from tickets.models import AgentProfile, Ticket

    # The role table as it stands (the frozen-copy migration may lag behind it during development).
    roles.sync_roles(apps, roles.ROLE_PERMISSIONS)
    tier = CreditTier.objects.get(name="普通会员")  # no priority routing: the bot answers first
    have = set(Consumer.objects.filter(external_id__startswith="BENCH-").values_list("external_id", flat=True))
    now = timezone.now()
    Consumer.objects.bulk_create([
        Consumer(external_id=f"BENCH-{i:05d}", display_name=f"压测顾客{i}", registered_at=now, tier=tier)
        for i in range(args.sessions) if f"BENCH-{i:05d}" not in have
    ])  # fmt: skip
    # Earlier runs' conversations are over: every session starts a fresh chat with the bot.
    live = ChatSession.objects.filter(consumer__external_id__startswith="BENCH-").exclude(state="ended")
    Ticket.objects.filter(chat__in=live).update(status="resolved", resolved_at=now)
    live.update(state="ended", ended_at=now)
    ids = list(Consumer.objects.filter(external_id__startswith="BENCH-").order_by("external_id")
               .values_list("pk", flat=True)[: args.sessions])  # fmt: skip
    tokens = [issue_token(pk) for pk in ids]
    count = knowledge.rebuild_index()
    cookies = []
    group = Group.objects.get(name="agent")
    for i in range(args.agents):
        user, _ = User.objects.get_or_create(username=f"bench-agent-{i:02d}", defaults={"is_staff": True})
        user.groups.add(group)
        AgentProfile.objects.update_or_create(user=user, defaults={"available": True, "chat_capacity": 50})
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies["sessionid"].value)
    print(f"prepared {len(tokens)} consumers, {len(cookies)} agents, {count} knowledge articles")
    return tokens, cookies


def server_cpu(processes: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds (user + system) the daphne processes have used so far."""
    import psutil

    total = 0.0
    for process in processes:
        times = psutil.Process(process.pid).cpu_times()
        total += times.user + times.system
    return total


def start_servers(n: int, env: dict[str, str]) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    processes, ports = [], []
    for i in range(n):
        process, port = h.start_daphne(env, stderr=(ROOT / "var" / f"bench-chat-daphne-{i}.log").open("wb"))
        processes.append(process)
        ports.append(port)
    for port in ports:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("daphne did not start") from None
                time.sleep(0.2)
    return processes, ports


# --- the load (asyncio, websockets) ----------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.bot: list[float] = []
        self.bot_at: list[float] = []  # when each bot answer arrived (to tell the ramp from the steady state)
        self.to_consumer: list[float] = []
        self.to_agent: list[float] = []
        self.cross: list[float] = []  # relays between a consumer and an agent on different processes
        self.errors: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.held = 0
        self.peak = 0
        self.relay_sent: dict[str, float] = {}


async def consumer(i: int, url: str, token: str, args: argparse.Namespace, stats: Stats, stop: float) -> None:
    import websockets
    from websockets.typing import Origin

    rnd = random.Random(i)
    handoff_at = (
        stop - rnd.uniform(args.duration * 0.3, args.duration * 0.9) if rnd.random() < args.handoff_share else 0
    )
    await asyncio.sleep(rnd.uniform(0, args.ramp))
    try:
        async with websockets.connect(f"{url}/ws/chat/?token={token}&lang=zh-hans", origin=Origin("http://127.0.0.1"),
                                      open_timeout=30, max_queue=None) as ws:  # fmt: skip
            stats.held += 1
            stats.peak = max(stats.peak, stats.held)
            pending: deque[float] = deque()  # send times of questions the bot has yet to answer, oldest first
            state = "bot"
            loop = asyncio.get_running_loop()
            next_send = loop.time() + rnd.expovariate(1 / args.interval)

            async def reader() -> None:
                nonlocal state
                async for raw in ws:
                    frame = json.loads(raw)
                    kind = frame["type"]
                    if kind == "message":
                        message = frame["message"]
                        if message["from"] == "bot" and pending:
                            stats.bot.append((time.perf_counter() - pending.popleft()) * 1000)
                            stats.bot_at.append(time.perf_counter())
                        elif message["from"] == "agent" and "relay-" in message["text"]:
                            sent = stats.relay_sent.pop(message["text"].split("relay-")[1], None)
                            if sent is not None:
                                stats.to_consumer.append((time.perf_counter() - sent) * 1000)
                                if args.processes == 2 and i % 2 == 0:
                                    stats.cross.append(stats.to_consumer[-1])
                    elif kind == "state":
                        state = frame["state"]
                        stats.events[f"state:{state}"] += 1
                    elif kind == "error":
                        stats.errors[f"consumer:{frame['code']}"] += 1

            task = asyncio.create_task(reader())
            while loop.time() < stop and not task.done():
                await asyncio.sleep(max(0.0, min(next_send, stop) - loop.time()))
                if loop.time() >= stop:
                    break
                if handoff_at and loop.time() >= handoff_at and state == "bot":
                    await ws.send(json.dumps({"type": "message", "text": "转人工"}))
                    stats.events["handoff asked"] += 1
                    handoff_at = 0
                elif state == "active":
                    key = f"{i}-{rnd.random():.9f}"
                    stats.relay_sent[key] = time.perf_counter()
                    await ws.send(json.dumps({"type": "message", "text": f"还有个问题 relay-{key}"}))
                elif state == "bot":
                    pending.append(time.perf_counter())
                    await ws.send(json.dumps({"type": "message", "text": rnd.choice(QUESTIONS)}))
                if state in ("bot", "active"):
                    stats.events["consumer messages"] += 1
                next_send = loop.time() + rnd.expovariate(1 / args.interval)
            await asyncio.sleep(2)  # answers still on their way
            if pending and state == "bot":
                stats.errors["consumer:question never answered"] += len(pending)
            if task.done():
                problem = task.exception()
                stats.errors[f"consumer:closed early ({type(problem).__name__ if problem else 'by the server'})"] += 1
            task.cancel()
            stats.held -= 1
    except Exception as problem:  # counted, never fatal for the run
        stats.errors[f"consumer:{type(problem).__name__}"] += 1


async def agent(i: int, url: str, cookie: str, args: argparse.Namespace, stats: Stats, stop: float) -> None:
    import websockets
    from websockets.typing import Origin

    rnd = random.Random(10_000 + i)
    exchanges: dict[int, int] = defaultdict(int)
    tried: set[int] = set()
    mine: set[int] = set()
    try:
        async with websockets.connect(f"{url}/ws/chat/agent/?lang=zh-hans", origin=Origin("http://127.0.0.1"),
                                      additional_headers={"Cookie": f"sessionid={cookie}"},
                                      open_timeout=30, max_queue=None) as ws:  # fmt: skip
            loop = asyncio.get_running_loop()

            clicks: set[asyncio.Task[None]] = set()

            async def click(chat: int, after: float) -> None:
                await asyncio.sleep(after)
                await ws.send(json.dumps({"type": "accept", "chat": chat}))

            async def relay(chat: int, text: str) -> None:
                key = f"a{i}-{rnd.random():.9f}"
                stats.relay_sent[key] = time.perf_counter()
                await ws.send(json.dumps({"type": "reply", "chat": chat, "text": f"{text} relay-{key}"}))

            while loop.time() < stop:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, stop - loop.time()))
                except TimeoutError:
                    break
                frame = json.loads(raw)
                kind = frame["type"]
                if kind == "queue" and frame["items"]:
                    # Like a person: a moment to react, then a click on the first chat not tried yet. Several
                    # agents often click the same one; exactly one wins it.
                    fresh = [item["chat"] for item in frame["items"] if item["chat"] not in tried]
                    if fresh and len(mine) < 20:
                        tried.add(fresh[0])
                        # The click comes later; this console keeps reading its frames meanwhile.
                        clicks.add(asyncio.create_task(click(fresh[0], rnd.uniform(0.2, 1.0))))
                elif kind == "chat" and frame["state"] == "active":
                    stats.events["accepted"] += 1
                    mine.add(frame["chat"])
                    await relay(frame["chat"], "您好，我是客服")
                elif kind == "message" and frame["message"]["from"] == "consumer":
                    text = frame["message"]["text"]
                    if "relay-" in text:
                        sent = stats.relay_sent.pop(text.split("relay-")[1], None)
                        if sent is not None:
                            stats.to_agent.append((time.perf_counter() - sent) * 1000)
                            if args.processes == 2 and int(text.split("relay-")[1].split("-")[0]) % 2 == 0:
                                stats.cross.append(stats.to_agent[-1])
                    chat = frame["chat"]
                    exchanges[chat] += 1
                    if exchanges[chat] == args.exchanges:
                        await ws.send(json.dumps({"type": "resolve", "chat": chat}))
                        mine.discard(chat)
                        stats.events["resolved"] += 1
                    else:
                        await relay(chat, "好的，我来处理")
                elif kind == "error":
                    if frame["code"] in ("taken", "not_yours"):  # lost a race for a chat: expected
                        stats.events[f"agent:{frame['code']}"] += 1
                    else:
                        stats.errors[f"agent:{frame['code']}"] += 1
    except Exception as problem:
        stats.errors[f"agent:{type(problem).__name__}"] += 1


async def run(args: argparse.Namespace, consumer_urls: list[str], agent_url: str, tokens: list[str],
              cookies: list[str]) -> Stats:  # fmt: skip
    stats = Stats()
    loop = asyncio.get_running_loop()
    stop = loop.time() + args.ramp + args.duration
    agents = [asyncio.create_task(agent(i, agent_url, c, args, stats, stop)) for i, c in enumerate(cookies)]
    # Consumers alternate between the processes; agents all sit on the last one. With two processes, the
    # consumers on the first talk to their agents only through the shared Redis channel layer.
    consumers = [
        asyncio.create_task(consumer(i, consumer_urls[i % len(consumer_urls)], t, args, stats, stop))
        for i, t in enumerate(tokens)
    ]

    async def report() -> None:
        while loop.time() < stop:
            await asyncio.sleep(10)
            print(f"  t={loop.time() - stop + args.ramp + args.duration:5.0f}s held {stats.held}"
                  f" bot {len(stats.bot)} relays {len(stats.to_consumer) + len(stats.to_agent)}"
                  f" errors {sum(stats.errors.values())}", flush=True)  # fmt: skip

    reporter = asyncio.create_task(report())
    await asyncio.gather(*consumers, *agents)
    reporter.cancel()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    parser.add_argument("--duration", type=float, default=120, help="seconds of steady load after the ramp")
    parser.add_argument("--ramp", type=float, default=60, help="seconds over which sessions connect")
    parser.add_argument("--interval", type=float, default=10, help="mean seconds between a consumer's messages")
    parser.add_argument("--handoff-share", type=float, default=0.1)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--exchanges", type=int, default=3, help="consumer messages an agent answers before resolving")
    parser.add_argument("--fresh", action="store_true", help="drop and re-create the scratch database")
    args = parser.parse_args()

    index_dir = tempfile.mkdtemp(prefix="bench-chat-index-")
    database = h.ScratchDatabase(DB_NAME)
    env = environment(database, index_dir)
    tokens, cookies = prepare(args, database, env)
    processes, ports = start_servers(args.processes, env)
    consumer_urls = [f"ws://127.0.0.1:{port}" for port in ports]
    agent_url = f"ws://127.0.0.1:{ports[-1]}"
    print(f"daphne x{args.processes}: consumers -> {ports}, agents -> {ports[-1]}; {args.sessions} sessions,"
          f" ramp {args.ramp:.0f}s + {args.duration:.0f}s, one message per {args.interval:.0f}s each")  # fmt: skip
    try:
        started = time.perf_counter()
        stats = asyncio.run(run(args, consumer_urls, agent_url, tokens, cookies))
        elapsed = time.perf_counter() - started
        cpu = server_cpu(processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
    sent = stats.events["consumer messages"]
    print(f"\nsessions held at peak: {stats.peak} of {args.sessions}")
    print(f"consumer messages: {sent} ({sent / elapsed:.0f}/s over {elapsed:.0f}s)")
    steady_from = started + args.ramp + 5
    steady = [ms for ms, at in zip(stats.bot, stats.bot_at, strict=True) if at >= steady_from]
    print(f"bot reply latency:        {h.spread(stats.bot)}")
    print(f"  after the ramp:         {h.spread(steady)}")
    print(f"relay agent -> consumer:  {h.spread(stats.to_consumer)}")
    print(f"relay consumer -> agent:  {h.spread(stats.to_agent)}")
    print(f"relay (both ways):        {h.spread(stats.to_consumer + stats.to_agent)}")
    if args.processes == 2:
        print(f"  across processes:       {h.spread(stats.cross)}")
    print(f"handoffs asked {stats.events['handoff asked']}, accepted {stats.events['accepted']},"  # chat frames
          f" resolved {stats.events['resolved']}; lost accept races {stats.events['agent:taken']}")  # fmt: skip
    print(f"daphne CPU: {cpu:.1f} s ({cpu / elapsed * 100:.0f}% of one core; {cpu / max(sent, 1) * 1000:.1f} ms"
          " per consumer message, everything included)")  # fmt: skip
    print(f"errors: {sum(stats.errors.values())} {dict(stats.errors) if stats.errors else ''}")


if __name__ == "__main__":
    main()
