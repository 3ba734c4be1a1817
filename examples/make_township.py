"""Generate examples/township.yaml: four weeks in three towns of 郾城区 (scenario file, version 1).

Deterministic (seeded): running it again writes the same file. The YAML is committed so it can be
read and reviewed without running this script; regenerate after editing the tables below:

    python examples/make_township.py            # writes examples/township.yaml next to this file
    python examples/make_township.py --check    # fails if the committed file is stale

The script checks the scenario's own invariants (ids exist, members valid at every event, times
ordered, only the intended pair of rooms shares an audience) so a careless edit fails here rather
than in a test run.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

SEED = 20261102
TZ = timezone(timedelta(hours=8))
START = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
END = datetime(2026, 11, 30, 18, 0, tzinfo=TZ)
BOT_NAME = "清群助手"
AT_BOT = f"@{BOT_NAME} "
OUT = Path(__file__).with_name("township.yaml")

UNITS: list[tuple[str, str | None]] = [
    ("郾城区", None),
    ("黑龙潭镇", "郾城区"), ("裴城镇", "郾城区"), ("新店镇", "郾城区"),
    ("黑龙潭村", "黑龙潭镇"), ("吴刘村", "黑龙潭镇"),
    ("裴城社区", "裴城镇"), ("郭庄村", "裴城镇"),
    ("新店社区", "新店镇"), ("后王村", "新店镇"),
]

# id, name, unit, title (comment only), role, friend
CONTACTS: list[tuple[str, str, str, str, str, bool]] = [
    ("zhaojianguo", "赵建国", "郾城区", "区委办督导", "supervisor", True),
    ("liuyan", "刘燕", "郾城区", "区人武部参谋", "staff", True),
    ("zhouxin", "周欣", "郾城区", "区人武部干事", "staff", True),
    ("wanghaitao", "王海涛", "黑龙潭镇", "党委书记", "staff", True),
    ("zhangwei", "张伟", "黑龙潭镇", "党政办主任", "staff", True),
    ("lijing", "李静", "黑龙潭镇", "党政办干事", "staff", True),
    ("huyanan", "胡亚楠", "黑龙潭镇", "包村干部", "staff", True),
    ("chenlei", "陈磊", "黑龙潭镇", "人武部长", "staff", True),
    ("sunli", "孙丽", "黑龙潭镇", "综治网格办主任", "staff", True),
    ("zhoujun", "周军", "黑龙潭镇", "副镇长（应急、农业）", "staff", True),
    ("wuxiaohong", "吴晓红", "黑龙潭镇", "民政所", "staff", True),
    ("maqiang", "马强", "黑龙潭镇", "镇纪委书记", "supervisor", True),
    ("liuwei", "刘伟", "黑龙潭镇", "副镇长，11月调任区农业农村局", "staff", True),
    ("songyu", "宋雨", "黑龙潭镇", "新入职选调生", "staff", True),
    ("liguoqiang", "李国强", "黑龙潭村", "村党支部书记", "staff", True),
    ("wangfang", "王芳", "黑龙潭村", "村委委员", "staff", True),
    ("zhangxiuying", "张秀英", "黑龙潭村", "网格员", "staff", True),
    ("lixiaomei", "李晓梅", "黑龙潭村", "网格员", "staff", True),
    ("wudejun", "吴德军", "吴刘村", "村党支部书记", "staff", False),
    ("liuhaiyan", "刘海燕", "吴刘村", "村委委员", "staff", True),
    ("zhaoguiying", "赵桂英", "吴刘村", "网格员", "staff", True),
    ("guozhiyong", "郭志勇", "裴城镇", "党政办主任", "staff", True),
    ("huangmin", "黄敏", "裴城镇", "党政办信息员", "staff", True),
    ("xugang", "徐刚", "裴城镇", "镇纪委书记", "supervisor", True),
    ("zhenghui", "郑辉", "裴城镇", "副镇长（农业、禁烧）", "staff", True),
    ("mayan", "马艳", "裴城镇", "统计站", "staff", True),
    ("peiyulan", "裴玉兰", "裴城社区", "社区党支部书记", "staff", True),
    ("peijianjun", "裴建军", "裴城社区", "网格员", "staff", True),
    ("guoqingshan", "郭青山", "郭庄村", "村党支部书记", "staff", False),
    ("guoli", "郭丽", "郭庄村", "村信息员", "staff", True),
    ("luoyong", "罗勇", "新店镇", "镇长", "staff", True),
    ("fengxiaodong", "冯晓东", "新店镇", "党政办主任", "staff", True),
    ("lina", "李娜", "新店镇", "党政办干事", "staff", True),
    ("heli", "何丽", "新店镇", "社保所所长", "staff", True),
    ("hanbing", "韩冰", "新店镇", "组织委员", "staff", True),
    ("gaofeng", "高峰", "新店镇", "副镇长", "staff", True),
    ("tangjing", "唐静", "新店社区", "社区党支部书记", "staff", True),
    ("xiemin", "谢敏", "新店社区", "网格员", "staff", True),
    ("songjie", "宋杰", "新店社区", "社区居委委员", "staff", True),
    ("wangdashan", "王大山", "后王村", "村党支部书记", "staff", True),
    ("wangxiulan", "王秀兰", "后王村", "村委委员", "staff", True),
    ("wangjun", "王军", "后王村", "网格员", "staff", True),
]
CONTACT = {c[0]: c for c in CONTACTS}


@dataclass
class Room:
    id: str
    topic: str
    owner: str
    members: list[str]
    created: str
    expect: str  # expected audit outcome at the end of the scenario (comment in the YAML)
    # traffic: say messages per working day (expected), chance of a working-day burst, phrases
    rate: float = 0.0
    burst_p: float = 0.0
    phrases: list[str] = field(default_factory=list)


# Phrase pools: ordinary work chatter.
ACK = ["收到", "好的", "收到，马上落实", "明白", "收到👍", "好的，马上办", "已阅", "收到，谢谢"]
REPORT = ["材料已报送", "表格已上传，请查收", "已完成，照片发群里了", "已报送，请审核", "数据已核对无误"]
OFFICE = ["明天上午9点在三楼会议室开会，请准时参加", "请各位今天下午5点前报送本周工作总结",
          "周例会改到周四下午3点", "请把本月考勤表交到党政办", "上级检查组明天上午到，各办室做好准备",
          "请各办室今天下班前报送下周工作安排", "文件已转发OA，请及时签收"]
GRID = ["今日走访12户，无异常", "矛盾纠纷排查已录入系统", "今天入户核查独居老人3户，情况正常",
        "网格巡查发现一处私搭乱建，已上报", "本周网格事件已全部办结", "重点人员走访已完成"]
VILLAGE = ["村两委今晚不开会，改到明天上午", "低保年审材料已交民政所", "村部门口的路灯已修好",
           "明天上午村两委碰头会", "党员冬训名单已报镇组织办"]
ZHENGBING = ["今天有3名应征青年到站体检", "政审材料已报区人武部", "体检名单已汇总，请核对",
             "明天早上7点在镇政府门口集合去体检", "役前教育安排已下发", "征兵宣传海报已张贴到各村"]
FIRE = ["今日巡山无异常", "防火宣传横幅已悬挂", "护林员今日在岗情况已上报", "进山路口已设卡登记",
        "扑火物资已清点，无短缺"]
JINSHAO = ["今日巡查无火点", "卫星火点已核实，为误报", "各村禁烧巡查记录已上传", "秸秆离田进度85%",
           "网格员今日已全覆盖巡查"]
ZHIBAN = ["今日带班领导王海涛，值班人李静", "值班情况正常，已交接", "值班表已更新，请查看",
          "今日无突发情况", "下周值班安排已发"]
RENJU = ["村内垃圾已清运", "今天整治了两处乱堆乱放", "人居环境检查评比结果已出", "门前三包已落实",
         "下周区里来暗访，各村做好准备"]
YIBAO = ["各村医保征缴进度请今天报一下", "后王村已完成78%", "新店社区完成82%", "征缴台账已更新"]
KAOHE = ["迎检材料目录已发，请各办室对照准备", "档案盒标签统一用宋体三号", "自评报告初稿已完成",
         "佐证材料请周三前交党政办"]
CAMPAIGN = ["各镇请于本周五前报送工作群底数", "清理进度请每周一上报", "已报送黑龙潭镇工作群台账",
            "裴城镇已完成摸底，共37个群", "新店镇底数已报"]
SQ = ["社区今日走访6户", "居民议事会定在周四下午", "社区活动室已布置好", "楼道杂物已清理"]
XINXI = ["今晚10点前报送本周工作信息", "请各村今晚把表格补齐", "收到，马上弄", "已报送",
         "明天一早要用，今晚辛苦一下", "数据有误，请重新核对后再报", "好的，我现在改",
         "周末加个班，周一一早要报区里"]
DANGZHENG_PC = ["裴城镇本周工作信息已汇总", "明天上午开党委会", "请各线报送月度重点工作进展"]

H, P, X = "黑龙潭镇", "裴城镇", "新店镇"
ROOMS: list[Room] = [
    # --- district ---------------------------------------------------------------------------
    Room("yc-qingli@chatroom", "郾城区工作群清理整治专项行动联络群", "zhaojianguo",
         ["zhaojianguo", "maqiang", "xugang", "zhangwei", "guozhiyong", "fengxiaodong"], "2026-10-28",
         "running campaign group (专项/行动 window ends 2027-02) -> unregistered only",
         1.0, 0.0, CAMPAIGN + ACK),
    # --- 黑龙潭镇 ----------------------------------------------------------------------------
    Room("hlt-dzb@chatroom", "黑龙潭镇党政办工作群", "zhangwei",
         ["zhangwei", "lijing", "huyanan", "wanghaitao", "liuwei", "wuxiaohong", "maqiang"], "2021-03-08",
         "registered standing (党政日常工作) -> clean", 3.0, 0.35, OFFICE + REPORT + ACK),
    Room("hlt-ganbu@chatroom", "黑龙潭镇全体干部群", "wanghaitao",
         ["wanghaitao", "zhangwei", "lijing", "chenlei", "sunli", "zhoujun", "wuxiaohong", "maqiang",
          "liuwei", "huyanan", "liguoqiang", "wudejun"], "2019-06-12",
         "registered standing (全镇干部通知) -> clean", 1.5, 0.15, OFFICE + ACK),
    Room("hlt-zhiban@chatroom", "黑龙潭镇值班群", "lijing",
         ["lijing", "zhangwei", "chenlei", "zhoujun", "sunli", "wuxiaohong", "huyanan"], "2020-01-20",
         "registered standing by the owner after a non-owner's attempt -> clean", 1.2, 0.0, ZHIBAN + ACK),
    Room("hlt-wangge@chatroom", "黑龙潭镇网格员工作群", "sunli",
         ["sunli", "wangfang", "zhangxiuying", "liuhaiyan", "lixiaomei", "zhaoguiying", "liguoqiang",
          "wudejun", "zhangwei"], "2022-04-06",
         "the busier half of the duplicate pair -> unregistered only", 2.5, 0.4, GRID + ACK),
    Room("hlt-wgll@chatroom", "黑龙潭镇综治网格联络群", "wangfang",
         ["wangfang", "sunli", "zhangxiuying", "liuhaiyan", "lixiaomei", "zhaoguiying", "liguoqiang",
          "wudejun"], "2023-07-18",
         "duplicate of 黑龙潭镇网格员工作群 (8 of 9 members shared, Jaccard 0.89, quieter) "
         "-> duplicate (merge) + unregistered", 0.25, 0.0, GRID + ACK),
    Room("hltc-lw@chatroom", "黑龙潭村两委班子群", "liguoqiang",
         ["liguoqiang", "wangfang", "zhangxiuying", "lixiaomei"], "2021-01-25",
         "registered standing (村两委日常工作) -> clean", 0.8, 0.0, VILLAGE + ACK),
    Room("wuliu-lw@chatroom", "吴刘村两委班子群", "wudejun",
         ["wudejun", "liuhaiyan", "zhaoguiying", "zhoujun"], "2021-01-26",
         "owner is not the bot's friend; renamed to 吴刘村两委班子及驻村工作队群 -> unregistered only",
         0.6, 0.0, VILLAGE + ACK),
    Room("hlt-renju@chatroom", "黑龙潭镇人居环境整治工作群", "liuwei",
         ["liuwei", "zhoujun", "liguoqiang", "wudejun", "wangfang", "liuhaiyan", "huyanan"], "2023-03-01",
         "owner 刘伟 leaves on 11-11 (transferred) -> ownerless + unregistered", 1.0, 0.0, RENJU + ACK),
    Room("hlt-nongji@chatroom", "黑龙潭镇农技推广交流群", "zhoujun",
         ["zhoujun", "liguoqiang", "wudejun", "wangfang", "zhaoguiying"], "2022-09-09",
         "no message at all after the invite (11-02) -> unregistered; idle once 30 days have passed "
         "(audit --at 2026-12-02 or later)", 0.0, 0.0, []),
    Room("hlt-zb2024@chatroom", "2024年秋季征兵工作群", "chenlei",
         ["chenlei", "liuyan", "liguoqiang", "wudejun", "wangfang", "liuhaiyan", "huyanan"], "2024-08-01",
         "unregistered, name ends 2024-12-31 -> suspected_phase_expired", 0.0, 0.0, []),
    Room("hlt-zb2026@chatroom", "2026年冬季征兵工作群", "chenlei",
         ["chenlei", "liuyan", "liguoqiang", "wudejun", "liuhaiyan", "zhangxiuying", "zhangwei", "huyanan",
          "zhaoguiying"], "2026-10-15",
         "registered phase until 2026-12-31 (冬季征兵) -> clean", 2.0, 0.25, ZHENGBING + ACK),
    Room("hlt-tj@chatroom", "黑龙潭镇2026年征兵体检临时群", "chenlei",
         ["chenlei", "liuyan", "wuxiaohong", "lijing"], "2026-10-28",
         "registered temporary until 2026-11-20 (征兵体检) -> temporary_expired (dissolve)",
         1.0, 0.0, ZHENGBING + ACK),
    Room("hlt-fx2025@chatroom", "2025年防汛抗旱工作群", "zhoujun",
         ["zhoujun", "wanghaitao", "zhangwei", "liguoqiang", "wudejun", "liuwei", "chenlei", "sunli",
          "lixiaomei", "zhaoguiying"], "2025-05-20",
         "suspected_phase_expired (2025-09-30); dissolved by the owner on 11-17 -> status dissolved",
         0.0, 0.0, []),
    Room("hlt-gq@chatroom", "国庆安保临时群", "chenlei",
         ["chenlei", "zhoujun", "lijing", "sunli", "liguoqiang"], "2025-09-22",
         "suspected_phase_expired (国庆 2025); dissolved on 11-24 -> status dissolved", 0.0, 0.0, []),
    Room("hlt-slfh@chatroom", "2026年冬春森林防火工作群", "zhoujun",
         ["zhoujun", "wanghaitao", "liguoqiang", "wudejun", "wangfang", "liuhaiyan", "lixiaomei",
          "zhaoguiying", "zhangxiuying"], "2026-10-30",
         "running, name ends 2027-05-31 -> unregistered only", 1.5, 0.1, FIRE + ACK),
    # --- 裴城镇 ------------------------------------------------------------------------------
    Room("pc-dzb@chatroom", "裴城镇党政办工作群", "guozhiyong",
         ["guozhiyong", "huangmin", "xugang", "zhenghui", "peiyulan"], "2020-08-17",
         "registered standing (党政日常工作) -> clean", 2.0, 0.2, DANGZHENG_PC + OFFICE + ACK),
    Room("pc-xinxi@chatroom", "裴城镇信息报送群", "huangmin",
         ["huangmin", "peiyulan", "peijianjun", "guoqingshan", "guoli", "mayan", "zhenghui"], "2023-02-14",
         "all traffic on evenings and weekends -> after_hours + unregistered", 0.0, 0.0, XINXI),
    Room("pc-xunshi@chatroom", "迎接省委巡视整改临时群", "guozhiyong",
         ["guozhiyong", "xugang", "huangmin", "mayan", "zhaojianguo"], "2024-03-15",
         "unregistered, no time in name: created + 180 days (整改) = 2024-09-11 -> suspected_phase_expired",
         0.0, 0.0, []),
    Room("pc-jg2025@chatroom", "2025年秸秆禁烧专项工作群", "zhenghui",
         ["zhenghui", "huangmin", "guoqingshan", "mayan", "xugang"], "2025-09-25",
         "unregistered, name ends 2025-11-30; a few stray messages -> suspected_phase_expired",
         0.0, 0.0, []),
    Room("pc-jg2026@chatroom", "裴城镇2026年秋季秸秆禁烧工作群", "zhenghui",
         ["zhenghui", "guozhiyong", "peiyulan", "guoqingshan", "peijianjun", "guoli"], "2026-09-20",
         "registered phase until 2026-11-15 (秋季秸秆禁烧) -> phase_expired (dissolve)", 1.5, 0.15,
         JINSHAO + ACK),
    Room("pc-kh2024@chatroom", "裴城镇2024年度综合考核迎检群", "huangmin",
         ["huangmin", "guozhiyong", "mayan", "peiyulan", "guoli"], "2024-11-20",
         "unregistered, name ends 2024-12-31 -> suspected_phase_expired", 0.0, 0.0, []),
    Room("pcsq-wg@chatroom", "裴城社区网格工作群", "peiyulan",
         ["peiyulan", "peijianjun", "zhenghui"], "2022-05-10",
         "small standing group -> unregistered only", 0.5, 0.0, GRID + ACK),
    # --- 新店镇 ------------------------------------------------------------------------------
    Room("xd-ganbu@chatroom", "新店镇全体干部群", "luoyong",
         ["luoyong", "fengxiaodong", "lina", "heli", "hanbing", "gaofeng", "tangjing", "wangdashan",
          "xiemin"], "2019-04-02",
         "15 @所有人 in four weeks -> mention_all_heavy + unregistered", 1.0, 0.0, ACK + REPORT),
    Room("xd-dzb@chatroom", "新店镇党政办工作群", "fengxiaodong",
         ["fengxiaodong", "lina", "heli", "luoyong", "gaofeng"], "2020-06-01",
         "standing, never registered -> unregistered only", 1.5, 0.15, OFFICE + ACK),
    Room("xdsq-rp@chatroom", "第七次全国人口普查新店社区工作群", "tangjing",
         ["tangjing", "xiemin", "hanbing", "heli"], "2020-10-10",
         "unregistered, 七普 ended 2021-06-30 -> suspected_phase_expired", 0.0, 0.0, []),
    Room("xd-kh@chatroom", "新店镇2026年度考核迎检临时群", "fengxiaodong",
         ["fengxiaodong", "lina", "gaofeng", "hanbing", "luoyong"], "2026-10-26",
         "registered temporary until 2026-12-02 (年度考核迎检) -> ending_soon (notice)", 1.2, 0.1,
         KAOHE + ACK),
    Room("xd-yb@chatroom", "新店镇2027年度医保征缴工作群", "heli",
         ["heli", "tangjing", "wangdashan", "xiemin", "gaofeng"], "2026-09-15",
         "bot removed by the owner on 11-12, group lives on -> status removed", 1.5, 0.0, YIBAO + ACK),
    Room("xd-sq@chatroom", "新店社区工作群", "tangjing",
         ["tangjing", "xiemin", "heli", "songjie"], "2021-09-01",
         "standing -> unregistered only", 0.8, 0.0, SQ + ACK),
    Room("hw-lw@chatroom", "后王村两委班子群", "wangdashan",
         ["wangdashan", "wangxiulan", "wangjun"], "2021-01-28",
         "small standing group -> unregistered only", 0.5, 0.0, VILLAGE + ACK),
    Room("xd-sanxia@chatroom", "新店镇2025年三夏生产工作群", "gaofeng",
         ["gaofeng", "wangdashan", "wangjun", "fengxiaodong"], "2025-05-25",
         "unregistered, 三夏 ended 2025-07-15 -> suspected_phase_expired", 0.0, 0.0, []),
]
ROOM = {r.id: r for r in ROOMS}
DUPLICATE_PAIR = {"hlt-wangge@chatroom", "hlt-wgll@chatroom"}


# ------------------------------------------------------------------------------------------------
# Timeline
def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=TZ)


def workdays() -> list[date]:
    d, out = START.date(), []
    while d <= END.date():
        if d.weekday() < 5:  # 2026-11 has no statutory holidays or make-up workdays
            out.append(d)
        d += timedelta(days=1)
    return out


class Timeline:
    def __init__(self) -> None:
        self.items: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(self, when: datetime, **entry: Any) -> None:
        self.items.append((when, len(self.items), {"at": when.isoformat(), **entry}))

    def say(self, when: datetime, room: str | None, who: str, text: str, mention_all: bool = False) -> None:
        entry: dict[str, Any] = {"room": room} if room else {}
        entry.update({"from": who, "say": text})
        if mention_all:
            entry["mention_all"] = True
        self.add(when, **entry)


def build() -> Timeline:
    rng = random.Random(SEED)
    tl = Timeline()
    days = workdays()

    # Week 1: staff invite the bot into every group (owner, or a member who is the bot's friend).
    invites: dict[str, tuple[datetime, str]] = {
        "yc-qingli@chatroom": (at(2, 8, 40), "zhaojianguo"),
        "hlt-nongji@chatroom": (at(2, 9, 5), "zhoujun"),
        "hlt-dzb@chatroom": (at(2, 9, 20), "zhangwei"),
        "hlt-ganbu@chatroom": (at(2, 9, 25), "zhangwei"),
        "hlt-zhiban@chatroom": (at(2, 9, 30), "lijing"),
        "hlt-zb2026@chatroom": (at(2, 10, 15), "chenlei"),
        "hlt-tj@chatroom": (at(2, 10, 17), "chenlei"),
        "hlt-zb2024@chatroom": (at(2, 10, 20), "chenlei"),
        "hlt-gq@chatroom": (at(2, 10, 22), "chenlei"),
        "pc-dzb@chatroom": (at(2, 14, 30), "guozhiyong"),
        "pc-xunshi@chatroom": (at(2, 14, 35), "guozhiyong"),
        "pc-kh2024@chatroom": (at(2, 14, 40), "mayan"),
        "hlt-wangge@chatroom": (at(3, 8, 50), "sunli"),
        "hlt-wgll@chatroom": (at(3, 8, 55), "sunli"),
        "hlt-fx2025@chatroom": (at(3, 9, 10), "zhoujun"),
        "hlt-slfh@chatroom": (at(3, 9, 12), "zhoujun"),
        "hlt-renju@chatroom": (at(3, 9, 40), "liuwei"),
        "pc-jg2026@chatroom": (at(3, 10, 30), "zhenghui"),
        "pc-jg2025@chatroom": (at(3, 10, 32), "zhenghui"),
        "pc-xinxi@chatroom": (at(3, 20, 45), "huangmin"),  # evening, like all traffic there
        "xd-dzb@chatroom": (at(3, 15, 0), "fengxiaodong"),
        "xd-kh@chatroom": (at(3, 15, 5), "fengxiaodong"),
        "xd-ganbu@chatroom": (at(3, 15, 10), "lina"),
        "hltc-lw@chatroom": (at(4, 9, 0), "liguoqiang"),
        "wuliu-lw@chatroom": (at(4, 9, 15), "liuhaiyan"),  # owner 吴德军 is not the bot's friend
        "pcsq-wg@chatroom": (at(4, 10, 0), "peiyulan"),
        "xd-yb@chatroom": (at(4, 10, 40), "heli"),
        "xdsq-rp@chatroom": (at(4, 11, 0), "tangjing"),
        "xd-sq@chatroom": (at(4, 11, 5), "tangjing"),
        "hw-lw@chatroom": (at(5, 9, 30), "wangdashan"),
        "xd-sanxia@chatroom": (at(5, 9, 45), "gaofeng"),
    }
    for rid, (when, by) in invites.items():
        tl.add(when, invite=rid, by=by)

    # Commands.
    tl.say(at(2, 8, 45), "yc-qingli@chatroom", "zhaojianguo", AT_BOT + "帮助")
    tl.say(at(2, 8, 50), "yc-qingli@chatroom", "zhaojianguo",
           "各镇请把本镇工作群都拉清群助手进群，本周内完成，群主按提示登记")
    tl.say(at(2, 9, 22), "hlt-dzb@chatroom", "zhangwei", AT_BOT + "登记 常设 党政日常工作")
    tl.say(at(2, 10, 16), "hlt-zb2026@chatroom", "chenlei", AT_BOT + "登记 阶段性 2026-12-31 冬季征兵")
    tl.say(at(2, 10, 18), "hlt-tj@chatroom", "chenlei", AT_BOT + "登记 临时 2026-11-20 征兵体检")
    tl.say(at(2, 14, 32), "pc-dzb@chatroom", "guozhiyong", AT_BOT + "登记 常设 党政日常工作")
    tl.say(at(3, 10, 35), "pc-jg2026@chatroom", "zhenghui", AT_BOT + "登记 阶段性 2026-11-15 秋季秸秆禁烧")
    tl.say(at(3, 15, 7), "xd-kh@chatroom", "fengxiaodong", AT_BOT + "登记 临时 2026-12-02 年度考核迎检")
    tl.say(at(4, 9, 3), "hltc-lw@chatroom", "liguoqiang", AT_BOT + "登记 常设 村两委日常工作")
    tl.say(at(4, 16, 20), "hlt-ganbu@chatroom", "wanghaitao", AT_BOT + "登记 常设 全镇干部通知")
    # A member who is not the owner tries first; then the owner registers.
    tl.say(at(5, 10, 5), "hlt-zhiban@chatroom", "wuxiaohong", AT_BOT + "登记 常设 值班值守")
    tl.say(at(5, 10, 40), "hlt-zhiban@chatroom", "lijing", AT_BOT + "登记 常设 值班值守")
    tl.say(at(6, 11, 10), "yc-qingli@chatroom", "fengxiaodong", AT_BOT + "状态")
    tl.say(at(16, 9, 40), "yc-qingli@chatroom", "maqiang", AT_BOT + "状态")
    tl.say(at(23, 9, 15), "hlt-dzb@chatroom", "zhangwei", AT_BOT + "状态")
    tl.say(at(10, 14, 5), "hlt-dzb@chatroom", "songyu", AT_BOT + "帮助")
    # Private messages to the bot.
    tl.say(at(9, 8, 50), None, "chenlei", "我的群")
    tl.say(at(10, 14, 10), None, "songyu", "帮助")
    tl.say(at(16, 10, 0), None, "zhangwei", "我的群")
    tl.say(at(18, 11, 30), None, "zhenghui", "我的群")
    tl.say(at(25, 15, 0), None, "zhaojianguo", "我的群")

    # Membership, topic, removal and dissolution.
    tl.add(at(9, 9, 0), join="hlt-ganbu@chatroom", members=["songyu"], by="wanghaitao")
    tl.say(at(9, 9, 2), "hlt-ganbu@chatroom", "wanghaitao", "欢迎新同事宋雨，分在党政办")
    tl.add(at(9, 9, 10), join="hlt-dzb@chatroom", members=["songyu"], by="zhangwei")
    tl.say(at(10, 17, 30), "hlt-ganbu@chatroom", "liuwei", "感谢大家这几年的支持，明天到区农业农村局报到")
    for rid in ("hlt-renju@chatroom", "hlt-fx2025@chatroom", "hlt-dzb@chatroom", "hlt-ganbu@chatroom"):
        tl.add(at(11, 8, 35), leave=rid, members=["liuwei"])  # left on his own
    tl.add(at(11, 10, 0), join="hlt-zb2026@chatroom", members=["zhouxin"])  # joined by QR code
    tl.say(at(12, 10, 15), "xd-yb@chatroom", "heli", "这个群只报征缴进度，机器人先移出去了")
    tl.add(at(12, 10, 20), remove_bot="xd-yb@chatroom", by="heli")
    tl.add(at(13, 11, 0), topic="wuliu-lw@chatroom", to="吴刘村两委班子及驻村工作队群", by="wudejun")
    tl.add(at(13, 11, 5), join="wuliu-lw@chatroom", members=["huyanan"], by="zhoujun")
    tl.say(at(17, 9, 50), "hlt-fx2025@chatroom", "zhoujun", "防汛工作已结束，本群解散，谢谢大家")
    tl.add(at(17, 10, 0), dissolve="hlt-fx2025@chatroom", by="zhoujun")
    tl.add(at(20, 21, 30), leave="pc-xinxi@chatroom", members=["guoli"], by="huangmin")
    tl.say(at(24, 15, 20), "hlt-gq@chatroom", "chenlei", "国庆安保早结束了，群解散")
    tl.add(at(24, 15, 30), dissolve="hlt-gq@chatroom", by="chenlei")

    # Old groups: a stray question or two, then silence.
    tl.say(at(10, 9, 30), "hlt-zb2024@chatroom", "liguoqiang", "这个群还用吗？新的征兵群已经建了")
    tl.say(at(10, 9, 45), "hlt-zb2024@chatroom", "chenlei", "不用了，以后都在2026年的群里报")
    strays = ((3, "guoqingshan", "今日巡查无火点"), (3, "mayan", "发错群了吧，报到2026年的新群"),
              (5, "huangmin", "今年的都在新群报，这个群先别发了"))
    for n, (day_no, who, text) in enumerate(strays):
        tl.say(at(day_no, 11, 20 + n), "pc-jg2025@chatroom", who, text)

    # Heavy @所有人 in 新店镇全体干部群: 镇长 posts everything to everyone.
    notices = ["@所有人 明天上午8:30在二楼会议室召开全体干部会议，不得请假",
               "@所有人 请于今天下午5点前上报周工作总结", "@所有人 区里督查组下午到，各岗位在岗在位",
               "@所有人 今天下午3点前把包村台账交党政办", "@所有人 周末不休息，全员下村开展禁烧巡查",
               "@所有人 医保征缴进度本周必须过90%", "@所有人 明早7:50点名", "@所有人 请及时查看OA文件并签收",
               "@所有人 各村今天报送冬季征兵宣传照片", "@所有人 人居环境暗访发现问题，立即整改"]
    mention_days = rng.sample([d for d in days if d > date(2026, 11, 3)], 15)
    for n, d in enumerate(sorted(mention_days)):
        t = datetime.combine(d, time(rng.randint(8, 11), rng.randint(31, 59)), TZ)
        tl.say(t, "xd-ganbu@chatroom", "luoyong", notices[n % len(notices)], mention_all=True)
        tl.say(t + timedelta(minutes=rng.randint(1, 9)), "xd-ganbu@chatroom",
               rng.choice(ROOM["xd-ganbu@chatroom"].members[1:]), rng.choice(ACK))
    # Two @所有人 elsewhere (normal use).
    tl.say(at(19, 8, 40), "hlt-ganbu@chatroom", "wanghaitao", "@所有人 今天上午10点全镇干部大会",
           mention_all=True)
    tl.say(at(26, 9, 0), "hlt-dzb@chatroom", "zhangwei", "@所有人 年终考核材料下周一前交齐",
           mention_all=True)

    # After-hours group: evenings 19:30-23:30 and weekend daytime, never within working hours.
    xinxi = ROOM["pc-xinxi@chatroom"]
    d = date(2026, 11, 3)
    while d < END.date():  # the scenario ends at 18:00 on the last day
        weekend = d.weekday() >= 5
        if rng.random() < (0.5 if weekend else 0.8):
            for _ in range(rng.randint(1, 3)):
                lo, hi = (9 * 60, 17 * 60 + 59) if weekend else (19 * 60 + 30, 23 * 60 + 30)
                minute = rng.randint(lo, hi)
                here = [c for c in xinxi.members if not (c == "guoli" and d >= date(2026, 11, 20))]
                tl.say(datetime.combine(d, time(minute // 60, minute % 60), TZ), xinxi.id,
                       rng.choice(here), rng.choice(XINXI))
        d += timedelta(days=1)
    tl.add(at(12, 20, 10), burst=xinxi.id, **{"from": ["huangmin", "peijianjun", "mayan"]},
           count=12, every="10m")
    tl.add(at(26, 21, 0), burst=xinxi.id, **{"from": ["huangmin", "peiyulan", "zhenghui"]},
           count=10, every="10m")

    # Ordinary working-hours traffic (08:35-17:45 on workdays) for every active room.
    # Last day of ordinary traffic: dissolved, bot removed, or the task is over.
    gone = {"hlt-fx2025@chatroom": date(2026, 11, 17), "hlt-gq@chatroom": date(2026, 11, 24),
            "xd-yb@chatroom": date(2026, 11, 12), "hlt-tj@chatroom": date(2026, 11, 21),
            "pc-jg2026@chatroom": date(2026, 11, 19)}
    first_day = {rid: when.date() for rid, (when, _) in invites.items()}
    for room in ROOMS:
        if room.rate <= 0 and room.burst_p <= 0:
            continue
        for d in days:
            if d <= first_day[room.id] or d >= gone.get(room.id, date.max):
                continue
            speakers = list(room.members)
            if "liuwei" in speakers and d >= date(2026, 11, 11):
                speakers.remove("liuwei")
            if room.id in ("hlt-ganbu@chatroom", "hlt-dzb@chatroom") and d >= date(2026, 11, 10):
                speakers.append("songyu")
            n = int(room.rate) + (1 if rng.random() < room.rate % 1 else 0)
            for _ in range(n):
                minute = rng.randint(8 * 60 + 35, 17 * 60 + 45)
                tl.say(datetime.combine(d, time(minute // 60, minute % 60), TZ), room.id,
                       rng.choice(speakers), rng.choice(room.phrases))
            if rng.random() < room.burst_p:
                # A busy stretch (collecting returns, everybody acknowledging): inside working hours.
                every = rng.choice([5, 10, 15])
                count = rng.randint(15, 30)
                latest_start = 17 * 60 + 45 - (count - 1) * every
                start_min = rng.randint(8 * 60 + 35, max(8 * 60 + 35, latest_start))
                senders = rng.sample(speakers, min(len(speakers), rng.randint(3, 5)))
                tl.add(datetime.combine(d, time(start_min // 60, start_min % 60), TZ), burst=room.id,
                       **{"from": senders}, count=count, every=f"{every}m")
    return tl


# ------------------------------------------------------------------------------------------------
# Invariants
class ScenarioBug(Exception):
    """The tables above contradict the contract or the intended outcomes."""


def need(ok: bool, what: object) -> None:
    if not ok:
        raise ScenarioBug(repr(what))


def check(tl: Timeline) -> None:
    need(len({c[0] for c in CONTACTS}) == len(CONTACTS) >= 20, "contact ids unique, >= 20")
    need(sum(c[4] == "supervisor" for c in CONTACTS) in (2, 3), "2-3 supervisors")
    need(sum(not c[5] for c in CONTACTS) >= 2, "some contacts are not the bot's friends")
    units = {u for u, _ in UNITS}
    need(all(c[2] in units for c in CONTACTS), "contact units exist")
    need(len(ROOM) == len(ROOMS) >= 25, "room ids unique, >= 25")
    members = {}
    for r in ROOMS:
        need(r.owner in r.members, r.id)
        need(3 <= len(r.members) <= 15, r.id)
        need(len(set(r.members)) == len(r.members), r.id)
        need(all(m in CONTACT for m in r.members), r.id)
        need(date.fromisoformat(r.created) < START.date(), r.id)
        members[r.id] = set(r.members)
    status = dict.fromkeys(ROOM, "active")
    bot_in: set[str] = set()
    last = START
    for when, _, e in sorted(tl.items, key=lambda x: (x[0], x[1])):
        need(last <= when <= END, e)
        last = when
        by = e.get("by")
        if "invite" in e:
            rid = e["invite"]
            # Only a member who is the bot's friend can pull it into a group.
            need(rid not in bot_in and by in members[rid] and CONTACT[by][5], e)
            bot_in.add(rid)
            continue
        keys = ("room", "burst", "join", "leave", "topic", "remove_bot", "dissolve")
        rid = next((e[k] for k in keys if e.get(k)), "")
        if not rid:  # private message: only friends can write to the bot
            need(CONTACT[e["from"]][5], e)
            continue
        need(rid in bot_in and status[rid] == "active", e)
        need(by is None or by in members[rid], e)
        senders = e["from"] if "burst" in e else [e["from"]] if "say" in e else []
        need(all(s in members[rid] for s in senders), e)
        if "join" in e:
            need(not members[rid] & set(e["members"]), e)
            members[rid] |= set(e["members"])
        if "leave" in e:
            need(set(e["members"]) <= members[rid], e)
            members[rid] -= set(e["members"])
        if "remove_bot" in e:
            status[rid] = "removed"
        if "dissolve" in e:
            status[rid] = "dissolved"
        if "say" in e:
            need(e.get("mention_all", False) == e["say"].startswith("@所有人"), e)
        if "say" in e or "burst" in e:
            count, every = (e["count"], int(e["every"].removesuffix("m"))) if "burst" in e else (1, 0)
            for k in range(count):
                t = when + timedelta(minutes=k * every)
                working = t.weekday() < 5 and time(8, 30) <= t.time() < time(18, 0)
                need(working == (rid != "pc-xinxi@chatroom"), (e, t))
    need(bot_in == set(ROOM), "every room gets the bot")
    need({r for r, s in status.items() if s == "dissolved"} == {"hlt-fx2025@chatroom", "hlt-gq@chatroom"},
         "dissolved rooms")
    # Only the intended pair shares an audience among groups still active at the end.
    active = [r for r in ROOM if status[r] == "active" and len(members[r]) >= 3]
    for a, b in combinations(active, 2):
        j = len(members[a] & members[b]) / len(members[a] | members[b])
        need((j >= 0.8) == ({a, b} == DUPLICATE_PAIR), (a, b, j))


# ------------------------------------------------------------------------------------------------
# Emission: one flow mapping per line; quote only what YAML would misread.
_PLAIN = re.compile(r"^[A-Za-z\u4e00-\u9fff][^,\[\]{}:#\"'\s]*$")


def scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    s = str(v)
    if _PLAIN.match(s) and yaml.safe_load(s) == s:
        return s
    return json.dumps(s, ensure_ascii=False)


def flow(d: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in d.items()) + "}"


def render(tl: Timeline) -> str:
    out = [
        "# 清群 example scenario: four weeks (2026-11-02 .. 2026-11-30) in three towns of 郾城区.",
        f"# Generated by examples/make_township.py (seed {SEED}); edit the script, not this file.",
        "# Contract: design notes 4.3 (scenario files, version 1). Names and people are fictional.",
        "#",
        "# Expected audit at the end (2026-11-30) with the default rules, per room:",
    ]
    for r in ROOMS:
        out.append(f"#   {r.id:22} {r.topic}: {r.expect}")
    out += [
        "# (`unregistered` = enrolled over 7 days without 登记. `idle` needs 30 silent days, so the",
        "#  quiet group only turns idle when audited on or after 2026-12-02.)",
        "",
        "version: 1",
        f'start: "{START.isoformat()}"',
        f'end: "{END.isoformat()}"',
        f"bot: {{id: qingqun-bot, name: {BOT_NAME}}}",
        "",
        "units:",
    ]
    for name, parent in UNITS:
        out.append("  - " + flow({"name": name} | ({"parent": parent} if parent else {})))
    out += ["", "contacts:"]
    for cid, name, unit, title, role, friend in CONTACTS:
        d: dict[str, Any] = {"id": cid, "name": name, "unit": unit}
        if role != "staff":
            d["role"] = role
        if not friend:
            d["friend"] = False
        out.append(f"  - {flow(d):60} # {title}")
    out += ["", "rooms:                       # exist before the bot is invited; the bot is not a member yet"]
    for r in ROOMS:
        out.append("  - " + flow({"id": r.id, "topic": r.topic, "owner": r.owner, "members": r.members,
                                  "created": r.created}))
    out += ["", "settings: {}", "", "timeline:"]
    current: date | None = None
    for when, _, e in sorted(tl.items, key=lambda x: (x[0], x[1])):
        if when.date() != current:
            current = when.date()
            week = (current - START.date()).days // 7 + 1
            out.append(f"  # --- {current.isoformat()} {current.strftime('%a')} (week {week})")
        out.append("  - " + flow(e))
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed YAML is out of date")
    args = ap.parse_args()
    tl = build()
    check(tl)
    text = render(tl)
    data = yaml.safe_load(text)
    entries = [e for _, _, e in sorted(tl.items, key=lambda x: (x[0], x[1]))]
    need(data["timeline"] == entries, "YAML round trip")
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUT} is stale: run python {Path(__file__).name}\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUT} ({text.count(chr(10))} lines, {len(data['timeline'])} timeline entries)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
