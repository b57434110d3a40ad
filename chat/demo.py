"""Demo data for live chat: a bilingual knowledge base, proactive rules, and a few chats waiting for the
morning's agents (called by tickets.demo.seed)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from chat import knowledge, services
from chat.models import ChatSession, KnowledgeArticle, ProactiveRule
from core.seeding import SeedContext
from crm.models import Consumer, CreditTier, Order
from merchants.models import Merchant, MerchantMembership
from tickets.models import AgentProfile

ARTICLES_ZH = [
    ("如何开具发票", "发票怎么开\n可以开增值税专用发票吗\n电子发票在哪里下载",
     "在“我的订单”中打开订单，点击“申请开票”，填写抬头和税号即可。"
     "电子发票 1 个工作日内发送到您的邮箱，也可在订单详情下载。"),
    ("修改收货地址", "地址填错了怎么办\n怎么改地址\n能换个收货地址吗",
     "订单发货前，可在订单详情页点击“修改地址”；已经发货的订单，请联系快递员或在物流详情中申请改派。"),
    ("退款多久到账", "退款什么时候到\n钱退到哪里\n退款到账时间",
     "退款审核通过后原路退回：余额即时到账，银行卡 1–3 个工作日，信用卡 3–7 个工作日。"),
    ("七天无理由退货", "可以无理由退货吗\n七天无理由怎么退\n不想要了能退吗",
     "签收后 7 天内、商品完好且不影响二次销售的，可在订单中申请“七天无理由退货”，按页面提示寄回即可。"),
    ("多久发货", "什么时候发货\n下单后几天发\n怎么还不发货",
     "大部分商品在付款后 48 小时内发货，预售商品以商品页写明的时间为准。超时未发货可以申请赔付。"),
    ("运费险怎么理赔", "运费险怎么用\n退货运费谁出\n运费险赔多少",
     "购买了运费险的订单，退货寄出并上传单号后，系统会在 72 小时内把运费理赔到您的账户。"),
    ("修改或取消订单", "怎么取消订单\n下错单了\n可以改订单吗",
     "未发货的订单可在订单详情点击“取消订单”，款项原路退回；已发货的订单请在收货后申请退货。"),
    ("商品保修", "保修多久\n坏了怎么保修\n售后维修",
     "电子产品一般享受一年保修，凭订单即可申请；请在订单中点击“申请售后”并选择“维修”。"),
    ("会员等级与权益", "88VIP有什么用\n会员等级怎么算\n信用分是什么",
     "会员等级由信用分决定。等级越高，极速退款额度越高；88VIP 会员享有专属客服优先接待。"),
    ("优惠券使用规则", "优惠券怎么用\n优惠券不能用\n券过期了",
     "优惠券在结算页自动抵扣，需满足使用门槛和有效期；过期的优惠券无法恢复。"),
    ("账号安全", "账号被盗\n修改密码\n怎么绑定手机",
     "请在“账号设置—安全中心”修改密码并开启登录保护；如发现异常登录，请立即联系人工客服冻结账号。"),
    ("价格保护", "买贵了能退差价吗\n降价了怎么办\n保价",
     "支持价格保护的商品在付款后 15 天内降价，可在订单中申请“价格保护”，差价原路退回。"),
]  # fmt: skip
ARTICLES_EN = [
    ("How do I get an invoice?", "invoice for my order\nVAT invoice\ndownload e-invoice",
     "Open the order in “My orders” and choose “Request invoice”; the e-invoice arrives by email within one "
     "working day and can be downloaded from the order page."),
    ("How long does a refund take?", "when will I get my money back\nrefund arrival time",
     "Approved refunds go back the way you paid: balance at once, bank cards in 1-3 working days, credit cards "
     "in 3-7."),
    ("Can I change my delivery address?", "wrong address\nchange shipping address",
     "Before the order ships, change the address on the order page; after it ships, ask the courier to "
     "redirect it."),
    ("Seven-day no-reason returns", "return without reason\ncan I return it\nI do not want it any more",
     "Within 7 days of delivery, goods in resalable condition can be returned without a reason from the "
     "order page."),
    ("When will my order ship?", "shipping time\nwhy has my order not shipped",
     "Most goods ship within 48 hours of payment; pre-orders ship on the date shown on the item page."),
    ("Warranty and repairs", "warranty period\nrepair a broken item",
     "Electronics carry a one-year warranty: choose “After-sales service” then “Repair” on the order page."),
]  # fmt: skip
RULES = [
    ("物流超时提醒", ProactiveRule.Condition.LATE_DELIVERY, 5, "zh-hans", 10,
     "{consumer}您好，看到您的订单 {order}（{item}）付款已超过 5 天还没送达，我们已经在催促物流。"
     "需要退款可以直接告诉我。"),
    ("退款审核中", ProactiveRule.Condition.REFUND_REVIEW, 0, "zh-hans", 20,
     "{consumer}您好，您订单 {order} 的退款正在人工审核中，结果出来会第一时间通知您。"),
    ("维权处理中", ProactiveRule.Condition.OPEN_DISPUTE, 0, "zh-hans", 30,
     "{consumer}您好，您订单 {order} 的维权正在处理中，有任何补充材料都可以在这里发给我们。"),
    ("Late delivery", ProactiveRule.Condition.LATE_DELIVERY, 5, "en", 10,
     "Hello {consumer}, your order {order} ({item}) was paid more than 5 days ago and has not arrived yet; we have "
     "chased the courier. Tell me if you would like a refund."),
    ("Refund under review", ProactiveRule.Condition.REFUND_REVIEW, 0, "en", 20,
     "Hello {consumer}, the refund for your order {order} is being reviewed; we will tell you as soon as it is "
     "decided."),
]  # fmt: skip
# Two shops' own knowledge bases (the demo's "merchant" login works for the first shop): their bot answers
# from these first, then from the platform's articles above.
SHOP_ARTICLES = [
    [("本店发货时间", "你们什么时候发货\n店里几点发货",
      "本店每天 16:00 前付款的订单当天发出，默认顺丰，偏远地区发邮政。"),
     ("本店保修政策", "保修多久\n坏了怎么办\n店铺保修",
      "本店所有数码产品整机保修两年，寄回本店售后即可，来回运费由本店承担。"),
     ("How fast does this shop ship?", "when do you ship\nshipping time of this shop",
      "Orders paid before 16:00 leave our warehouse the same day by SF Express.")],
    [("本店尺码怎么选", "尺码怎么选\n穿多大码\n尺码表",
      "本店尺码偏小一码，建议按平时尺码大一号购买；详细尺码表在商品详情页第二张图。"),
     ("本店退换货", "可以换货吗\n换尺码\n怎么换货",
      "本店支持 15 天内免费换尺码一次，在订单中申请“换货”并写明要换的尺码即可。")],
]  # fmt: skip
SHOP_RULE = ("本店物流提醒", "{consumer}您好，本店已看到您的订单 {order} 还没送达，正在联系快递加急处理。")
SHOP_CHATS = [["你们什么时候发货"], ["尺码怎么选", "转人工"]]
# A few consumers left messages overnight: the morning's agents find them first in the console.
CHATS = [
    ("88VIP", ["我的快递到哪了"]),
    ("普通会员", ["我的快递到哪了", "转人工"]),
    ("银牌会员", ["东西是坏的，太差了，我要投诉"]),
]


def seed(ctx: SeedContext) -> dict[str, int]:
    for title, questions, answer in ARTICLES_ZH:
        KnowledgeArticle.objects.get_or_create(title=title, language="zh-hans",
                                               defaults={"questions": questions, "answer": answer})  # fmt: skip
    for title, questions, answer in ARTICLES_EN:
        KnowledgeArticle.objects.get_or_create(title=title, language="en",
                                               defaults={"questions": questions, "answer": answer})  # fmt: skip
    for name, condition, days, language, priority, message in RULES:
        defaults = {"condition": condition, "days": days, "language": language, "priority": priority,
                    "message": message}  # fmt: skip
        ProactiveRule.objects.get_or_create(name=name, defaults=defaults)
    chats = 0
    if not ChatSession.objects.exists():
        for offset, (tier, lines) in enumerate(CHATS):
            consumer = _consumer_of(tier, ctx)
            if consumer is None:
                continue
            at = ctx.now - timedelta(hours=3) + timedelta(minutes=17 * offset)
            services.start_chat(consumer.pk, "zh-hans", now=at)
            for i, line in enumerate(lines):
                services.consumer_message(consumer.pk, "zh-hans", line, now=at + timedelta(minutes=i + 1))
            chats += 1
    chats += _seed_shops(ctx)
    # The index is built from what this transaction committed (the seed runs before any worker starts).
    transaction.on_commit(knowledge.rebuild_index)
    return {"knowledge articles": KnowledgeArticle.objects.count(), "proactive rules": ProactiveRule.objects.count(),
            "chats": chats}  # fmt: skip


def _consumer_of(tier_name: str, ctx: SeedContext) -> Consumer | None:
    """The tier's first consumer with an order (so "where is my order" has something to say)."""
    tier = CreditTier.objects.filter(name=tier_name).first()
    if tier is None:
        return None
    with_orders = Order.objects.filter(consumer__tier=tier).order_by("consumer_id").values("consumer_id")[:1]
    return Consumer.objects.filter(pk__in=with_orders).first()


def _seed_shops(ctx: SeedContext) -> int:
    """Two shops' own articles and rule, and a chat with each (the first waits for the shop's own staff)."""
    demo_shop = MerchantMembership.objects.filter(user__username="merchant").values_list("merchant_id", flat=True)
    shops = list(Merchant.objects.filter(pk__in=demo_shop)) + list(
        Merchant.objects.exclude(pk__in=demo_shop).order_by("code")[:1]
    )
    for shop, articles in zip(shops, SHOP_ARTICLES, strict=False):
        for title, questions, answer in articles:
            language = "en" if title.isascii() else "zh-hans"
            KnowledgeArticle.objects.get_or_create(shop=shop, title=title, language=language,
                                                   defaults={"questions": questions, "answer": answer})  # fmt: skip
        name, message = SHOP_RULE
        rule = {"condition": ProactiveRule.Condition.LATE_DELIVERY, "days": 3, "priority": 5, "message": message}
        ProactiveRule.objects.get_or_create(shop=shop, name=name, defaults=rule)
    if ChatSession.objects.filter(shop__isnull=False).exists() or not shops:
        return 0
    staff = MerchantMembership.objects.filter(merchant=shops[0]).values_list("user_id", flat=True)
    AgentProfile.objects.filter(user_id__in=staff).update(available=True)  # the shop's desk is open in the demo
    chats = 0
    for shop, lines in zip(shops, SHOP_CHATS, strict=False):
        consumer = (
            Consumer.objects.filter(orders__merchant=shop)
            .exclude(pk__in=ChatSession.objects.exclude(state=ChatSession.State.ENDED).values("consumer_id"))
            .order_by("pk")
            .first()
        )
        if consumer is None:
            continue
        services.start_chat(consumer.pk, "zh-hans", shop_id=shop.pk, now=ctx.now)
        for i, line in enumerate(lines):
            services.consumer_message(consumer.pk, "zh-hans", line, shop_id=shop.pk,
                                      now=ctx.now + timedelta(seconds=i + 1))  # fmt: skip
        chats += 1
    return chats
