"""QA's part of the demo: a realistic rule set, Chinese and English call transcripts with real
violations, the demo's chats as transcripts, findings (older ones reviewed), scorecards and the index."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone

from core import roles
from core.seeding import SeedContext, foreign_keys_checked_after, indexes_built_after
from crm.models import Consumer
from qa import chats, evaluation, loading, recordings, scorecards, services
from qa.loading import NewTranscript
from qa.models import Finding, Recording, Rule, Segment, SegmentSearch, Transcript
from qa.segments import SegmentIn
from tickets.models import Department

CALLS_PER_SCALE = 160
CHARS_PER_SECOND = 3.3  # about 200 spoken characters a minute

RULES: list[dict[str, Any]] = [
    {"name": "服务禁语", "name_en": "Forbidden phrases",
     "kind": "phrase", "category": "courtesy", "severity": 3, "speaker": "agent",
     "terms": ["爱买不买", "说了多少遍", "你自己看", "听不懂吗", "我也没办法", "不归我管"],
     "description": "客服不得使用的服务禁语。"},
    {"name": "开场问候", "name_en": "Opening greeting",
     "kind": "required", "category": "courtesy", "severity": 2, "speaker": "agent",
     "terms": ["您好", "你好", "hello", "good morning", "good afternoon"], "description": "客服必须先问候。"},
    {"name": "结束前确认", "name_en": "Closing check",
     "kind": "required", "category": "compliance", "severity": 1, "speaker": "agent",
     "terms": ["还有什么可以帮您", "还有其他问题", "anything else"], "description": "结束前询问是否还有其他问题。"},
    {"name": "投诉升级风险", "name_en": "Complaint escalation risk",
     "kind": "keyword", "category": "risk", "severity": 3, "speaker": "consumer",
     "terms": ["投诉", "12315", "曝光", "媒体", "律师", "起诉", "complaint", "lawyer", "sue"],
     "description": "顾客提到投诉、监管或媒体：可能升级。"},
    {"name": "违规承诺赔付", "name_en": "Promised a refund or compensation",
     "kind": "proximity", "category": "compliance", "severity": 3, "speaker": "agent",
     "terms": ["保证", "一定", "肯定", "guarantee"], "near_terms": ["退款", "赔偿", "refund"], "distance": 4,
     "negations": ["没法", "不能", "无法", "不敢", "can't", "cannot"], "negation_window": 2,
     "description": "客服在审核前承诺退款或赔偿（“没法保证退款”不算）。"},
    {"name": "引导站外交易", "name_en": "Payment outside the platform",
     "kind": "regex", "category": "risk", "severity": 4, "speaker": "agent",
     "pattern": r"(微信|vx|weixin|支付宝).{0,6}(转账|付款|加我|联系)", "description": "把顾客引到平台外付款。"},
    {"name": "读出个人信息", "name_en": "Personal data read out",
     "kind": "pii", "category": "privacy", "severity": 4, "speaker": "agent",
     "description": "客服念出手机号、身份证号或银行卡号。"},
    {"name": "辱骂", "name_en": "Abuse",
     "kind": "keyword", "category": "courtesy", "severity": 4, "speaker": "agent",
     "terms": ["滚", "闭嘴", "神经病", "shut up"], "description": "客服辱骂顾客。"},
    {"name": "英文通话：指责顾客", "name_en": "English calls: blaming the customer",
     "kind": "phrase", "category": "courtesy", "severity": 2,
     "speaker": "agent", "terms": ["not my problem", "calm down", "your own fault", "read the policy yourself"],
     "description": "Phrases agents must not use in English calls."},
    {"name": "丢件（草稿）", "name_en": "Lost parcel (draft)",
     "kind": "keyword", "category": "risk", "severity": 2, "speaker": "consumer",
     "terms": ["丢件", "丢了", "没收到", "never arrived"], "active": False,
     "description": "草稿：顾客反映包裹丢失。激活前先回测。"},
]  # fmt: skip

# Conversation building blocks: (speaker, text). {order} and {phone} are filled in.
OPENINGS = [("agent", "您好，这里是平台客服，请问有什么可以帮您？"), ("agent", "你好，我是客服小王，请讲。"),
            ("agent", "请讲。")]  # fmt: skip
CONCERNS = [
    [("consumer", "我的订单{order}已经五天了还没发货，到底怎么回事？"), ("agent", "我帮您查一下物流信息，请稍等。"),
     ("agent", "商家显示今天下午发出，您明天可以查到物流。")],
    [("consumer", "我收到的耳机是坏的，我要申请退款。"), ("agent", "很抱歉给您带来不便，我这边帮您提交退款申请。"),
     ("consumer", "要多久能到账？"), ("agent", "审核通过后一到三个工作日原路退回。")],
    [("consumer", "快递显示签收了，可是我根本没收到，丢件了吧？"), ("agent", "我马上联系快递核实，核实后给您回电。")],
    [("consumer", "你们这个客服怎么回事，我说了三遍了，再不处理我就去12315投诉！"),
     ("agent", "非常抱歉，我现在就给您加急处理。")],
    [("consumer", "商品和描述完全不一样，我要退货。"), ("agent", "爱买不买，图片仅供参考。"),
     ("consumer", "你这是什么态度？我要投诉你！")],
    [("consumer", "退款什么时候能到？"), ("agent", "我都说了多少遍了，三个工作日，你自己看短信。")],
    [("consumer", "能不能直接赔我钱？"), ("agent", "您放心，我保证给您全额退款，今天一定到账。")],
    [("consumer", "这次能退款吗？"), ("agent", "审核之前我没法保证退款，结果出来马上通知您。")],
    [("consumer", "平台上付款太麻烦了。"), ("agent", "那你加我微信转账也行，我给你便宜点。")],
    [("consumer", "帮我核对一下收货信息。"), ("agent", "您的手机号是{phone}，地址是杭州市余杭区，对吗？"),
     ("consumer", "对的。")],
    [("consumer", "我要找你们领导，再这样我就找媒体曝光。"), ("agent", "这个不归我管，我也没办法。")],
]  # fmt: skip
CLOSINGS = [[("agent", "请问还有其他问题吗？"), ("consumer", "没有了，谢谢。"), ("agent", "感谢来电，再见。")],
            [("consumer", "好吧。"), ("agent", "再见。")]]  # fmt: skip
ENGLISH = [
    [("agent", "Hello, thank you for calling, how can I help you today?"),
     ("consumer", "My parcel never arrived and the tracking says delivered."),
     ("agent", "I'm sorry to hear that, I will open a claim with the courier for order {order}."),
     ("agent", "Is there anything else I can help you with?"), ("consumer", "No, thanks.")],
    [("agent", "Yes?"), ("consumer", "I have asked three times for my refund, I will file a complaint."),
     ("agent", "Calm down, it is not my problem, read the policy yourself."),
     ("consumer", "Then I will talk to my lawyer.")],
    [("agent", "Good morning, customer service."), ("consumer", "Can you confirm my phone number?"),
     ("agent", "Sure, it is {phone}. I guarantee a full refund today."), ("consumer", "Great.")],
]  # fmt: skip
# English calls that get a recording, spoken by espeak-ng (when installed), so that the players play something.
RECORDED_CALLS = 6
VOICES = {"agent": ("-v", "en-us", "-s", "150"), "consumer": ("-v", "en-gb", "-s", "160", "-p", "70")}
PAUSE_MS = 600
EXTRA_AGENTS = [("qa-agent-1", "小李"), ("qa-agent-2", "小赵"), ("qa-agent-3", "小陈")]


def seed(ctx: SeedContext) -> dict[str, int]:
    if Rule.objects.exists():
        return {"QA rules": 0}
    for rule in RULES:
        services.create_rule(**{"active": True, **rule})
    agents = _agents()
    loaded = (Transcript, Segment, SegmentSearch)  # evaluation reads segments by their unique (transcript, seq)
    with indexes_built_after(*loaded), foreign_keys_checked_after(*loaded):
        made = _calls(ctx, agents)
        chat_ids = chats.stale_chat_ids(limit=100_000)
        chats.add_chats(chat_ids)
    ids = list(Transcript.objects.values_list("id", flat=True))
    with indexes_built_after(Finding), foreign_keys_checked_after(Finding):  # ON CONFLICT's unique index stays
        evaluation.evaluate_transcripts(ids, reviewed=_older_findings_reviewed(ctx))
    reviewed = Finding.objects.exclude(status=Finding.Status.OPEN).count()
    for weeks_ago in range(6):
        scorecards.compute_week((ctx.now - timedelta(weeks=weeks_ago)).date())
    return {
        "QA rules": len(RULES),
        "call transcripts": made,
        "chat transcripts": len(chat_ids),
        "reviewed findings": reviewed,
        "recorded calls": Recording.objects.count(),
    }


def _agents() -> list[Any]:
    User = get_user_model()
    agents = list(User.objects.filter(username="agent"))
    group = Group.objects.get(name=roles.AGENT)
    for username, first_name in EXTRA_AGENTS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first_name, "is_staff": True}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.groups.add(group)
        agents.append(user)
    return agents


def _calls(ctx: SeedContext, agents: list[Any]) -> int:
    consumer_ids = list(Consumer.objects.order_by("id").values_list("id", flat=True)[:2000])
    if not consumer_ids or not agents:
        return 0
    recorded: list[tuple[Recording, float | None]] = []

    def stream() -> Iterator[NewTranscript]:  # streamed into COPY; the few recorded calls are noted on the way
        for call, recording in _call_transcripts(ctx, agents, consumer_ids):
            if recording is not None:
                recorded.append((recording, call.duration_seconds))
            yield call

    ids = loading.add_transcripts(stream())
    for recording, seconds in recorded:  # the players' calls: done once their transcript is stored
        recordings.mark_transcribed(recording, duration_seconds=seconds)
    return len(ids)


def _call_transcripts(
    ctx: SeedContext, agents: list[Any], consumer_ids: list[int]
) -> Iterator[tuple[NewTranscript, Recording | None]]:
    rnd = ctx.random
    callers = sorted(rnd.sample(consumer_ids, min(len(consumer_ids), 200)))
    departments = list(Department.objects.values_list("pk", flat=True))
    recorded = 0
    for n in ctx.progress(range(CALLS_PER_SCALE * ctx.scale), total=CALLS_PER_SCALE * ctx.scale, desc="calls"):
        english = n % 8 == 7
        lines = list(rnd.choice(ENGLISH)) if english else _chinese_call(rnd)
        fill = {
            "order": f"{rnd.randint(10**11, 10**12 - 1)}",
            "phone": f"13{rnd.randint(0, 9)}{rnd.randint(10**7, 10**8 - 1)}",
        }
        segments, clock = [], 0
        for speaker, text in lines:
            text = text.format(**fill)
            length = int(len(text) / CHARS_PER_SECOND * 1000) + 400
            segments.append(SegmentIn(speaker, text, clock, clock + length))
            clock += length + rnd.randint(300, 1500)
        started = ctx.now - timedelta(days=rnd.randint(1, 28)) + timedelta(minutes=rnd.randint(540, 1260))
        # The demo agent gets more of the calls, so their scorecard has something to show.
        agent = agents[0] if rnd.random() < 0.4 else rnd.choice(agents)
        consumer_id = rnd.choice(callers)
        recording = None
        if english and recorded < RECORDED_CALLS and (spoken := _spoken(segments)) is not None:
            audio, segments = spoken
            clock = segments[-1].end_ms or clock
            recording = Recording.objects.create(
                audio=ContentFile(audio, name=f"demo-call-{ctx.seed}-{n}.wav"), language="en", agent=agent,
                consumer_id=consumer_id, called_at=started, status=Recording.Status.TRANSCRIBING,
            )  # fmt: skip
            recorded += 1
        yield (
            NewTranscript(
                kind=Transcript.Kind.CALL,
                source=Transcript.Source.IMPORT,
                segments=segments,
                started_at=started,
                agent_id=agent.pk,
                consumer_id=consumer_id,
                department_id=rnd.choice(departments) if departments else None,
                language="en" if english else "zh",
                external_id=f"demo-call-{ctx.seed}-{n}",
                duration_seconds=clock / 1000,
                recording_id=recording.pk if recording is not None else None,
            ),
            recording,
        )


def _spoken(lines: list[SegmentIn]) -> tuple[bytes, list[SegmentIn]] | None:
    """The call read out by espeak-ng (agent and consumer in two voices) as a WAV, and its segments timed
    by the audio; None where espeak-ng is not installed."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return None
    frames, timed, at, rate = [], [], 0, 22050
    for line in lines:
        voice = VOICES.get(line.speaker, VOICES["agent"])
        raw = subprocess.run([espeak, *voice, "--stdout", line.text], capture_output=True, check=True, timeout=30)
        with wave.open(io.BytesIO(raw.stdout)) as spoken:
            rate = spoken.getframerate()
            pcm = spoken.readframes(spoken.getnframes())
        length = len(pcm) // 2 * 1000 // rate
        timed.append(SegmentIn(line.speaker, line.text, at, at + length))
        frames.append(pcm + b"\0\0" * (rate * PAUSE_MS // 1000))
        at += length + PAUSE_MS
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"".join(frames))
    return out.getvalue(), timed


def _chinese_call(rnd: Any) -> list[tuple[str, str]]:
    lines = [rnd.choice(OPENINGS)] if rnd.random() < 0.85 else []
    lines += rnd.choice(CONCERNS)
    if rnd.random() < 0.3:
        lines += rnd.choice(CONCERNS)
    return lines + rnd.choice(CLOSINGS)


def _older_findings_reviewed(ctx: SeedContext) -> evaluation.Reviewed:
    """Findings older than three days have been reviewed (most confirmed); recent ones wait in the queue.

    The verdicts are written with the findings (one random draw a finding, in the order they are stored):
    reviewing a quarter of a million findings afterwards was one UPDATE of them all (20 s at --scale 500).
    """
    rnd = ctx.random
    supervisor = get_user_model().objects.filter(username="supervisor").first()
    by_id = supervisor.pk if supervisor is not None else None
    reviewed_at, before = timezone.now(), ctx.now - timedelta(days=3)
    confirmed = evaluation.Verdict(Finding.Status.CONFIRMED, by_id, "已核实，已与客服沟通。", reviewed_at)
    dismissed = evaluation.Verdict(Finding.Status.DISMISSED, by_id, "误报：语境正常。", reviewed_at)

    def verdict(occurred_at: datetime) -> evaluation.Verdict | None:
        if occurred_at >= before:
            return None
        return confirmed if rnd.random() < 0.7 else dismissed

    return verdict
