"""Every user-facing display word in one place: kinds, labels, statuses, command words, footers.

Replies, digests, the ledger and the help text all read these tables, so a group's label is
called the same thing wherever a person sees it.
"""

from __future__ import annotations

from datetime import date, timedelta

# The kinds' names are defined beside the kinds (the label reasons use them too).
from policies.model import KIND_CN as KIND_CN

# ---------------------------------------------------------------- tables

KIND_SHORT = {"standing": "常设", "temporary": "临时", "phase": "阶段性"}
UNREGISTERED = "未登记"
# What an owner may type for a kind (登记 <kind>).
KIND_WORDS = {
    "常设": "standing", "常设群": "standing",
    "临时": "temporary", "临时群": "temporary",
    "阶段性": "phase", "阶段": "phase", "阶段性群": "phase",
}  # fmt: skip
LABEL_CN = {
    "temporary_expired": "临时群到期未解散",
    "phase_expired": "阶段性群到期未解散",
    "suspected_phase_expired": "疑似任务已结束",
    "idle": "僵尸群",
    "duplicate": "重复群",
    "unregistered": "未登记",
    "ownerless": "群主缺失",
    "ending_soon": "即将到期",
    "after_hours": "工作时间外消息多",
    "mention_all_heavy": "频繁@所有人",
}
REQUEST_CN = {"standing": "常设群登记", "extend": "延期", "retain": "保留", "move": "变更单位"}
REQUEST_STATUS_CN = {"approved": "已批准", "rejected": "已驳回", "withdrawn": "已撤回"}
ACTION_CN = {"dissolve": "解散", "merge": "合并", "register": "登记", "review": "核查", "notice": "提醒"}
ROOM_STATUS_CN = {"active": "在用", "dissolved": "已解散", "removed": "已移出机器人"}
# Campaigns: the 回头看 finding kinds and what became of a group (the campaign report's 处理方式).
FINDING_CN = {
    "new": "新建",
    "recreated": "换名重建",
    "renamed": "改名规避",
    "revived": "僵尸复活",
    "removed_alive": "移出机器人仍存",
    "expired_active": "到期未解散",
}
OUTCOME_CN = {
    "kept": "保留",
    "pending": "待处理",
    "merged": "整合",
    "dissolved": "解散",
    "removed": "机器人被移出",
}


def label_cn(code: str) -> str:
    """The display name of a label code (an unknown code, e.g. from a newer rule file, as is)."""
    return LABEL_CN.get(code, code)


def kind_short(kind: str | None) -> str:
    return KIND_SHORT.get(kind or "", UNREGISTERED)


# ---------------------------------------------------------------- command words

REGISTER = "登记"
EXTEND = "延期"
STATUS = "状态"
MY_GROUPS = "我的群"
CLAIM_DISSOLVED = "已解散"
RETAIN = "保留"
PENDING = "待审批"
APPROVE = "批准"
REJECT = "驳回"
SUMMARY = "汇总"
PROGRESS = "进度"
HELP = "帮助"

# A relative date the date parser always accepts, whatever today is (never in the past).
EXAMPLE_DATE = "12月31日"
REGISTER_EXAMPLE = f"{REGISTER} 临时 {EXAMPLE_DATE} 征兵体检"
REGISTER_STANDING_EXAMPLE = f"{REGISTER} 常设 单位 黑龙潭镇 党建工作"
EXTEND_EXAMPLE = f"{EXTEND} 1月15日 体检推迟"
MY_GROUPS_EXAMPLE = f"{MY_GROUPS} 2"
CLAIM_EXAMPLE = f"{CLAIM_DISSOLVED} 2"
RETAIN_EXAMPLE = f"{RETAIN} 2 全年防汛值班需要"
PENDING_EXAMPLE = f"{PENDING} 2"
APPROVE_EXAMPLE = f"{APPROVE} 12"
REJECT_EXAMPLE = f"{REJECT} 12 不符合常设群条件"
HELP_EXAMPLE = f"{HELP} {REGISTER}"

# The weekly trend chart a covered supervisor gets after the digest (a picture and its file name).
CAMPAIGN_CHART_TITLE = "{campaign}：{unit}及下辖单位在用工作群（每周）"
CAMPAIGN_CHART_FILE = "{unit}清理进度{period}.png"

OWNER_FOOTER = (
    f'回复"{EXTEND} …""{RETAIN} … 理由"或解散后回复"{CLAIM_DISSOLVED} …"'
    f'（{EXTEND}请在群里@我；编号私聊发"{MY_GROUPS}"查看）'
)
SUPERVISOR_FOOTER = (
    f'回复"{PENDING}"查看申请，"{APPROVE} …"或"{REJECT} … 理由"处理；'
    f'群主可回复"{EXTEND} …""{RETAIN} … 理由"或解散后回复"{CLAIM_DISSOLVED} …"'
)


def example_end_date(today: date) -> date:
    """An end date to show in examples: the last day of next month, so it is never in the past."""
    first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return (first_next + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def greeting(bot_name: str, today: date) -> str:
    """The one message a group gets when it invites the bot."""
    example = f"{REGISTER} 临时 {example_end_date(today).isoformat()} 用途"
    return (
        f"大家好，我是{bot_name}，协助本群做工作群清理登记。"
        "我只记录群名、成员和消息数量，从不保存聊天内容。"
        f"请群主@我发送“{example}”完成登记（类型：常设、临时、阶段性），"
        f"发送“@{bot_name} {HELP}”查看全部指令。"
    )


# ---------------------------------------------------------------- the fleet of bot accounts


def account_full(name: str, rooms: int, limit: int, other: tuple[str, str] | None) -> str:
    """Said in a group that invited an account which is at its room limit."""
    head = f"本机器人账号（{name}）已加入 {rooms} 个群，达到上限 {limit} 个。"
    if other is None:
        return head + "所有机器人账号都已满，请联系管理员增加账号；本群暂由本账号记录。"
    other_name, other_id = other
    return head + f"请改为邀请机器人账号「{other_name}」（微信号 {other_id}）入群，再将本账号移出本群。"


def wrong_account(expected: str, got: str) -> str:
    """Logged when the gateway logs in as another account than this instance serves."""
    return (
        f"登录的微信号 {got} 不是本实例配置的账号 {expected}（QINGQUN_ACCOUNT）；"
        "为防止两个实例使用同一账号，本实例停止运行。请扫码登录正确的账号或改正配置。"
    )


ACCOUNT_LOGIN_CN: dict[bool | None, str] = {True: "已登录", False: "未登录", None: "未运行"}
NO_ACCOUNTS = "机器人账号：暂无"
# A failed message's reason when no account could reach its recipient (storage UNREACHABLE).
UNREACHABLE_CONTACT = "没有机器人账号能联系到此人"
UNREACHABLE_ROOM = "已没有机器人账号在该群中"


def account_line(
    *, account: str, name: str, rooms: int, room_limit: int, friends: int, sent: int, logged_in: bool | None
) -> str:
    """One account in `qingqun status`."""
    who = f"{name}（{account}）" if name and name != account else account
    return (
        f"机器人账号 {who}：在 {rooms}/{room_limit} 个群，好友 {friends} 人，"
        f"近一小时发送 {sent} 条，{ACCOUNT_LOGIN_CN[logged_in]}"
    )


def account_near_limit(*, label: str, rooms: int, room_limit: int, percent: int) -> str:
    """`qingqun status`'s warning for an account past 90% of its room limit."""
    return f"注意：账号 {label} 已加入 {rooms}/{room_limit} 个群（{percent}%），请增加机器人账号"


def account_near_limit_digest(*, label: str, rooms: int, room_limit: int) -> str:
    """The same warning in a top-level supervisor's digest."""
    return (
        f"机器人账号「{label}」已加入 {rooms}/{room_limit} 个群，接近上限，请增加账号或把新群分给其他账号。"
    )
