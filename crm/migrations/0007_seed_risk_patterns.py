from __future__ import annotations

from django.db import migrations

# Terms are matched in normalised text without spaces, punctuation or symbols (crm/patterns.py).
MONEY = "退款 退钱 钱退 退了 还钱 还我钱 钱还 说法 赔 退货 退我 退给我 全额退 退一半 赔偿 赔钱 赔我 补偿 返现 红包 给钱 打钱 打款 给个说法 给说法 处理好"
BAD_REVIEW = (
    "差评 差p 差坪 叉评 一星 1星 零分 投诉 曝光 举报 12315 315 消协 消费者协会 工商 市场监管 媒体 记者 微博 抖音 "
    "小红书 黑猫 朋友圈 起诉 告你 维权到底 刷差评 闹到"
)
REFUSAL = (
    "不退 不给退 不给我退 不肯退 不同意退 拒绝退 拒不退 不把钱退 不把款退 不赔 不给赔 不肯赔 不补偿 不给补偿 "
    "不返现 不给返现 不给钱 不给我补偿 不给我赔 不把钱还 不还钱 不还我 不处理退款 不给处理 不办理退款 不同意退 不给个说法 不给说法 不给我个说法 不给我一个说法 没退 不退还 不全额"
)
# What makes a refusal a condition rather than a complaint: 不退款*就*差评, not 商家不退款，差评.
THEN = "就 我就 那就 便 马上 立马 立刻 立即 直接 必须 一定 绝对 的话 等着"
CONDITION = "否则 不然 要不然 要不 要么 或者 还是 再不 不给的话 不退的话 不赔的话 不处理的话"
UNTIL = "除非 直到 等你 什么时候"
UNTIL_AFTER = "为止 才停 才罢休 才删 才撤"
UNDO = "改好评 改成好评 删差评 删掉差评 删评 撤销投诉 撤诉 撤回投诉 追加好评 改评价 删除评价 删除差评"
THREATS = (
    "差评等着 等着差评 等着吃差评 等着被投诉 走着瞧 让你店开不下去 让你关店 让你倒闭 差评轰炸 刷你差评 给你刷差评 "
    "找人刷差评 号召大家差评 让你吃不了兜着走 让你好看 有你好看 给我等着 差评满天飞 差评伺候 一星伺候 刷一星 投诉到底 "
    "让你店铺开不下去 让你们店开不下去 让你的店开不下去"
)
# Angry but not conditional: they count, without raising a flag alone.
PERSISTENT = "天天差评 差评到底 一直差评 每单差评 每个号都差评"
EXTORTION_WORDS = "敲诈 封口费 私了 花钱消灾 给钱了事 给钱就删 给钱就改"
# Complaints that look like a condition: "不退款就算了", "不退就不退吧".
NOT_A_THREAT = "就算 就算了 就不退吧 就这样吧 就这样 就罢了 也就算了 就不说了"
ABUSE = "死全家 全家死 去死 傻逼 煞笔 沙比 sb商家 妈的 操你 狗娘 不得好死 脑残 智障商家 人渣 畜生 狗东西"


def words(text: str) -> str:
    return "\n".join(text.split())


PATTERNS = [
    dict(
        name="拒退则差评 (refusal, then a bad review)",
        match="proximity",
        flag="extortion",
        ordered=True,
        terms=words(REFUSAL),
        near_terms=words(THEN),
        then_terms=words(BAD_REVIEW),
        except_terms=words(NOT_A_THREAT),
        distance=10,
        weight=8,
        description="不退款就差评, 不给我退钱我就差评到底, 不赔偿就投诉曝光",
    ),
    dict(
        name="退款否则差评 (pay, or else)",
        match="proximity",
        flag="extortion",
        ordered=True,
        terms=words(MONEY),
        near_terms=words(CONDITION),
        then_terms=words(BAD_REVIEW),
        distance=12,
        weight=8,
        description="退款，否则差评; 赔钱不然就投诉; 要么退款要么差评",
    ),
    dict(
        name="差评直到退款 (a bad review until paid)",
        match="proximity",
        flag="extortion",
        ordered=True,
        terms=words(BAD_REVIEW),
        near_terms=words(UNTIL),
        then_terms=words(MONEY),
        distance=12,
        weight=8,
        description="差评到你退款为止, 投诉直到赔偿",
    ),
    dict(
        name="差评到退款为止 (bad reviews until paid)",
        match="proximity",
        flag="extortion",
        ordered=True,
        terms=words(BAD_REVIEW),
        near_terms=words(MONEY),
        then_terms=words(UNTIL_AFTER),
        distance=8,
        weight=8,
        description="差评到你退款为止",
    ),
    dict(
        name="给钱就改评 (pay and the review goes)",
        match="proximity",
        flag="extortion",
        ordered=True,
        terms=words(MONEY),
        near_terms=words(UNDO),
        distance=12,
        weight=7,
        description="返现就改好评, 赔钱我就删差评, 补偿到位撤销投诉",
    ),
    dict(
        name="差评威胁 (threats)",
        match="phrase",
        flag="extortion",
        terms=words(THREATS),
        weight=5,
        description="走着瞧, 让你店开不下去, 差评到底",
    ),
    dict(
        name="差评到底 (persistent bad reviews)",
        match="phrase",
        flag="extortion",
        terms=words(PERSISTENT),
        weight=3,
        description="差评到底, 天天差评: counted, not enough alone",
    ),
    dict(
        name="敲诈用语 (extortion words)",
        match="phrase",
        flag="extortion",
        terms=words(EXTORTION_WORDS),
        weight=5,
        description="封口费, 私了, 花钱消灾",
    ),
    dict(
        name="退钱就差评 (regex: money, a threat verb, a bad review)",
        match="regex",
        flag="extortion",
        terms=r"(?:不|拒绝|拒不)(?:给我|给|把钱|把款|肯|同意|愿意)?(?:退|赔|补|返|还)[^差投曝举]{0,8}"
        r"(?:就|我就|那就|便|马上|立马|立刻|直接|必须|一定|的话|等着).{0,6}"
        r"(?:差评|一星|1星|投诉|曝光|举报|12315|消协|工商|媒体|微博|抖音|记者|告你|起诉)",
        except_terms=words(NOT_A_THREAT),
        weight=8,
        description="不退我就直接差评",
    ),
    dict(
        name="要好评先给钱 (a good review for money)",
        match="regex",
        flag="extortion",
        terms=r"(?:想要|要|想让我给)(?:好评|五星|删差评|改评).{0,4}(?:先|就|得).{0,6}(?:退|赔|补|返|钱|红包)",
        weight=7,
        description="想要好评？先把钱退了",
    ),
    dict(
        name="辱骂 (abuse)",
        match="phrase",
        flag="abuse",
        terms=words(ABUSE),
        weight=3,
        description="insults; two abusive reviews raise an abuse flag",
    ),
]


def seed(apps, schema_editor):
    RiskPattern = apps.get_model("crm", "RiskPattern")
    RiskPatternVersion = apps.get_model("crm", "RiskPatternVersion")
    fields = ("match", "flag", "terms", "near_terms", "then_terms", "except_terms", "ordered", "distance", "weight")
    for spec in PATTERNS:
        pattern, created = RiskPattern.objects.get_or_create(name=spec["name"], defaults={**spec, "version": 1})
        if created:
            RiskPatternVersion.objects.create(pattern=pattern, number=1, **{f: getattr(pattern, f) for f in fields})


class Migration(migrations.Migration):
    """The risk patterns supervisors start from (extortion and abuse wording), version 1 each."""

    dependencies = [("crm", "0006_risk_patterns")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
