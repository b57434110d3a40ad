"""Demo service desk: departments, SLA policies, canned replies and the demo agents' desks; then its tickets
(``tickets.demo_tickets``). Live chats are the chat app's own demo (``chat.demo``)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from core.seeding import SeedContext
from crm.models import CreditTier
from tickets.demo_tickets import TICKETS_PER_SCALE, seed_tickets
from tickets.models import AgentProfile, CannedReply, Department, SLAPolicy, Ticket

__all__ = ["TICKETS_PER_SCALE", "seed", "seed_desk", "seed_tickets"]

Kind, Priority = Ticket.Kind, Ticket.Priority

DEPARTMENTS = (
    ("after-sales", "售后"),
    ("refunds", "退款"),
    ("logistics", "物流"),
    ("product", "商品"),
    ("complaints", "投诉"),
    ("disputes", "维权"),
)
AGENT_DEPARTMENT = "after-sales"

# (title, department code or None for every department, language, text): each reply in both languages, so a
# chat in English is offered the English ones (CannedReply.objects.offered).
CANNED_REPLIES = (
    ("问候", None, "zh-hans", "{consumer}您好，我是客服{agent}，很高兴为您服务。请问有什么可以帮您？"),
    ("结束语", None, "zh-hans", "感谢您的耐心等待，工单{ticket}已处理完毕。祝您购物愉快！"),
    ("催促物流", "logistics", "zh-hans", "{consumer}您好，已为您联系快递催促订单{order}，预计24小时内更新物流信息。"),
    ("退款已受理", "refunds", "zh-hans", "您好，订单{order}的退款已受理，款项将在1-3个工作日内原路退回。"),
    ("请提供照片", "after-sales", "zh-hans", "{consumer}您好，麻烦上传一下商品问题的照片，我们会尽快为您处理。"),
    ("退货地址", "after-sales", "zh-hans", "请将商品寄回{merchant}，寄出后在订单{order}中填写快递单号即可。"),
    ("投诉已受理", "complaints", "zh-hans",
     "您的投诉已受理（工单{ticket}），我们会在24小时内联系{merchant}核实并回复您。"),
    ("平台介入", "disputes", "zh-hans", "平台已介入订单{order}的维权，请在3天内上传凭证，{agent}会全程跟进。"),
    ("Greeting", None, "en", "Hello {consumer}, this is {agent}. How can I help you today?"),
    ("Closing", None, "en", "Thank you for your patience: ticket {ticket} is done. Enjoy your shopping!"),
    ("Chase the carrier", "logistics", "en",
     "Hello {consumer}, we have asked the carrier to hurry order {order}; its tracking updates within 24 hours."),
    ("Refund accepted", "refunds", "en",
     "Your refund for order {order} has been accepted; it reaches your account in 1-3 working days."),
    ("Ask for photos", "after-sales", "en",
     "Hello {consumer}, could you upload a photo of the problem with the item? We will handle it right away."),
    ("Return address", "after-sales", "en",
     "Please send the item back to {merchant}, then enter the tracking number in order {order}."),
    ("Complaint received", "complaints", "en",
     "Your complaint is received (ticket {ticket}); we will check with {merchant} and answer within 24 hours."),
    ("Platform steps in", "disputes", "en",
     "The platform has stepped in on order {order}: please upload your evidence within 3 days; {agent} follows it."),
)  # fmt: skip


def seed(ctx: SeedContext) -> dict[str, int]:
    counts = seed_desk(ctx)
    counts.update(seed_tickets(ctx))
    return counts


def seed_desk(ctx: SeedContext) -> dict[str, int]:
    """Departments, SLA policies, canned replies and the demo agents' desks; rerunning changes nothing."""
    departments = {
        code: Department.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in DEPARTMENTS
    }
    if not SLAPolicy.objects.exists():
        _sla_policies()
    for title, department, language, body in CANNED_REPLIES:
        CannedReply.objects.get_or_create(
            title=title,
            defaults={
                "body": body,
                "language": language,
                "department": departments[department] if department else None,
            },
        )
    users = get_user_model().objects.filter(username__in=("agent", "supervisor"))
    for user in users:
        AgentProfile.objects.update_or_create(
            user=user, defaults={"department": departments[AGENT_DEPARTMENT], "available": True, "capacity": 20}
        )
    return {
        "departments": len(departments),
        "SLA policies": SLAPolicy.objects.count(),
        "canned replies": CannedReply.objects.count(),
    }


def _sla_policies() -> None:
    # Equally specific policies are decided by the lowest id (tickets.sla.policy_for), so the faster
    # ones come first: an 88VIP's refund, or an urgent refund, beats the refund default.
    top = CreditTier.objects.filter(priority_routing=True).order_by("-min_score").first()
    rows: list[SLAPolicy] = []
    if top is not None:
        rows.append(SLAPolicy(name=f"{top.name}专属", tier=top, first_response_minutes=15, resolution_minutes=240))
    rows += [
        SLAPolicy(name="紧急", priority=Priority.URGENT, first_response_minutes=15, resolution_minutes=240),
        SLAPolicy(name="高优先级", priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=480),
        SLAPolicy(name="咨询默认", kind=Kind.CONSULTATION, first_response_minutes=60, resolution_minutes=720),
        SLAPolicy(name="退款默认", kind=Kind.REFUND, first_response_minutes=60, resolution_minutes=1440),
        SLAPolicy(name="退货默认", kind=Kind.RETURN, first_response_minutes=60, resolution_minutes=2880),
        SLAPolicy(name="维权默认", kind=Kind.DISPUTE, first_response_minutes=60, resolution_minutes=2880),
        SLAPolicy(name="投诉默认", kind=Kind.COMPLAINT, first_response_minutes=60, resolution_minutes=1440),
        SLAPolicy(name="默认", first_response_minutes=60, resolution_minutes=1440),
    ]
    for policy in rows:  # one by one: the ids must follow this order
        policy.save()
