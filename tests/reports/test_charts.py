"""The report charts: every character drawn has a glyph in the bundled font, each chart writes
a PNG of the expected size that is not blank, and a missing glyph makes the check fail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from bot.reports import charts as c
from bot.reports.fonts import FONT_PATH, uncovered

WEEKS = tuple(date(2026, 10, 8) + timedelta(days=7 * i) for i in range(6))


def trend_input(**overrides: Any) -> c.TrendChart:
    units = tuple(
        c.UnitSeries(name, tuple(max(0, start - i) for i in range(len(WEEKS))))
        for name, start in (("黑龙潭镇", 12), ("裴城镇", 9), ("新店镇", 6), ("龙城镇", 5), ("商桥镇", 4),
                            ("孟庙镇", 4), ("李集镇", 3), ("城关镇", 2), ("郾城区", 3))
    )
    kwargs: dict[str, Any] = {"title": "郾城区 2026冬季清理：在用工作群", "weeks": WEEKS, "units": units,
                              "baseline": 48, "target_pct": 40.0}
    kwargs.update(overrides)
    return c.TrendChart(**kwargs)


def reduction_input() -> c.ReductionChart:
    return c.ReductionChart(
        "各单位清理率（截至 2026-11-30）",
        (c.UnitReduction("黑龙潭镇", 12, 8, 33.33), c.UnitReduction("孟庙镇", 5, 2, 60.0),
         c.UnitReduction("郾城区", 3, 4, -33.33), c.UnitReduction("龙城镇", 0, 2, None)),
        target_pct=40.0,
    )


def burden_input() -> c.BurdenChart:
    people = tuple(c.PersonGroups(f"干部{i}", 1 + i % 4) for i in range(30))
    return c.BurdenChart("人均所在工作群（在用）", (*people, c.PersonGroups("赵建国", 23)), unnamed=(2, 3))


def labels_input() -> c.LabelChart:
    return c.LabelChart("在用工作群标签分布", (c.LabelCount("僵尸群", 7), c.LabelCount("临时群到期未解散", 2),
                                              c.LabelCount("重复群", 0)), active=31)


CHARTS: list[tuple[str, Callable[[Any], Figure], Callable[[Any, Path], Path], Callable[[], Any]]] = [
    ("trend", c.trend_figure, c.trend, trend_input),
    ("reduction", c.reduction_figure, c.reduction, reduction_input),
    ("burden", c.burden_figure, c.burden, burden_input),
    ("labels", c.labels_figure, c.labels, labels_input),
]


@pytest.mark.parametrize(("name", "figure", "draw", "make"), CHARTS, ids=[x[0] for x in CHARTS])
def test_chart_text_is_all_in_the_bundled_font(
    name: str, figure: Any, draw: Any, make: Any, tmp_path: Path
) -> None:
    fig = figure(make())
    texts = c.drawn_text(fig)
    assert any(uncovered(t) == "" and any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)
    assert uncovered("".join(texts)) == "", texts
    # Drawn with the bundled file, not whatever font the machine happens to have.
    fonts = {str(font_manager.findfont(t.get_fontproperties(), fallback_to_default=False))
             for t in fig.findobj(Text) if t.get_text()}
    assert fonts == {str(FONT_PATH)}
    # Rendering under filterwarnings=error: a "Glyph … missing" warning would fail here.
    path = draw(make(), tmp_path / f"{name}.png")
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert width == round(9 * c.DPI)
    assert height >= round(3.2 * c.DPI)
    grey = pixels[..., :3].mean(axis=2)
    assert float(np.std(grey)) > 0.05  # not a blank page
    assert (grey < 0.5).mean() > 0.005  # some dark ink: text and axes


def test_the_same_figures_give_the_same_png(tmp_path: Path) -> None:
    a = c.trend(trend_input(), tmp_path / "a.png").read_bytes()
    b = c.trend(trend_input(), tmp_path / "b.png").read_bytes()
    assert a == b


def test_a_character_the_font_lacks_fails_both_checks(tmp_path: Path) -> None:
    rare = "𠮷"  # CJK Extension B: not in the Simplified Chinese subset
    chart = c.LabelChart(f"{rare}家村工作群", (c.LabelCount("僵尸群", 1),), active=1)
    assert uncovered("".join(c.drawn_text(c.labels_figure(chart)))) == rare
    with pytest.warns(UserWarning, match="missing from font"):
        c.labels(chart, tmp_path / "rare.png")


def test_empty_inputs_still_draw_a_chart_that_says_so(tmp_path: Path) -> None:
    assert "暂无数据" in c.drawn_text(c.trend_figure(c.TrendChart("空", (), (), 0)))
    assert any("均无标签" in t for t in c.drawn_text(c.labels_figure(c.LabelChart("空", (), active=3))))
    assert "暂无人员数据" in c.drawn_text(c.burden_figure(c.BurdenChart("空", ())))
    only_zero = c.ReductionChart("空", (c.UnitReduction("龙城镇", 0, 1, None),), 40.0)
    assert any("基准为 0" in t for t in c.drawn_text(c.reduction_figure(only_zero)))
    for draw, chart in ((c.trend, c.TrendChart("空", (), (), 0)), (c.reduction, only_zero)):
        assert draw(chart, tmp_path / "x" / "empty.png").stat().st_size > 1000


def test_figures_explain_themselves() -> None:
    trend = c.drawn_text(c.trend_figure(trend_input()))
    assert "目标：不超过 29 个\n（基准 48 个压减 40%）" in trend
    assert "其他 2 个单位" in trend  # nine sub-units, seven drawn by name
    assert "基准\n10-08" in trend
    reduction = c.drawn_text(c.reduction_figure(reduction_input()))
    assert reduction.index("孟庙镇") < reduction.index("黑龙潭镇") < reduction.index("郾城区")
    assert "60.0%（5→2）" in reduction
    assert "-33.3%（3→4）" in reduction
    assert any("未计算清理率：龙城镇" in t for t in reduction)
    burden = c.drawn_text(c.burden_figure(burden_input()))
    assert any(t.startswith("所在群最多：\n1. 赵建国：23 个群") for t in burden)
    labels = c.drawn_text(c.labels_figure(labels_input()))
    assert "7 个（23%）" in labels
    assert "重复群" not in labels  # no group carries it


def test_trend_refuses_series_of_the_wrong_length() -> None:
    bad = trend_input(units=(c.UnitSeries("黑龙潭镇", (1, 2)),))
    with pytest.raises(ValueError, match="2 values for 6 weeks"):
        c.trend_figure(bad)


def test_label_and_burden_inputs_come_from_the_audit(tmp_path: Path) -> None:
    from bot.core.config import load_settings
    from bot.reports.figures import burden_chart, label_chart
    from bot.services.audit import run_audit
    from bot.sim.scenario import load_scenario
    from bot.sim.simulate import run_simulation
    from policies.rules import load_rules
    from storage.db import make_engine
    from storage.migrate import upgrade

    sc = load_scenario(Path(__file__).parents[1] / "core" / "data" / "core.yaml")
    settings = load_settings()
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        upgrade(engine)
        run_simulation(sc, settings, engine)
        # Two months on, the quiet groups are idle and the unregistered ones overdue: labels to count.
        later = (sc.end or sc.start) + timedelta(days=60)
        rows, burdens = run_audit(engine, load_rules(), later, settings.tz)
    finally:
        engine.dispose()
    active = [r for r in rows if r.room.status == "active"]
    chart = label_chart(rows, {"unregistered": "未登记"}, "标签")
    assert chart.active == len(active)
    assert chart.labels
    expected = {lb.code for r in active for lb in r.verdict.labels}
    shown = {"未登记" if code == "unregistered" else code for code in expected}
    assert {x.label for x in chart.labels} == shown
    for x in chart.labels:
        code = "unregistered" if x.label == "未登记" else x.label
        assert x.groups == sum(any(lb.code == code for lb in r.verdict.labels) for r in active)
    names = {"zhang": "张三", "li": "李四"}  # wang has no name here
    people = burden_chart(burdens, names, "负担")
    in_groups = [b for b in burdens if b.active_groups]
    assert sorted(p.groups for p in people.people) + sorted(people.unnamed) == sorted(
        [b.active_groups for b in in_groups if b.contact_id in names]
    ) + sorted(b.active_groups for b in in_groups if b.contact_id not in names)
    assert {p.name for p in people.people} <= {"张三", "李四"}
    assert people.unnamed  # wang sits in an active group
    text = "".join(c.drawn_text(c.burden_figure(people)))
    assert "wang" not in text
