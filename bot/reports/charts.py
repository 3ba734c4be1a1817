"""Report charts as PNG files, drawn with matplotlib's Agg renderer (no GUI, no pyplot state).

Each chart takes one frozen input value of plain figures, so a campaign report, a digest or the
demo can build it from whatever they computed; the chart itself computes nothing that could
disagree with the tables beside it. Text is drawn in Noto Sans SC (`bot.reports.fonts`).
A character the font lacks is drawn as a box and matplotlib warns "Glyph … missing"; the
tests turn that warning into a failure.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from bot.reports.fonts import matplotlib_family

# Colour-blind safe (Okabe-Ito) without its vermillion, which is kept for "behind the target".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
OTHER_COLOUR = "#B0B0B0"
MET_COLOUR = "#009E73"
BEHIND_COLOUR = "#D55E00"
TARGET_COLOUR = "#C0392B"
DPI = 150


@dataclass(frozen=True, slots=True)
class UnitSeries:
    """Active groups of one sub-unit (its whole subtree) at the end of each week."""

    unit: str
    active: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TrendChart:
    """Active groups per week since the baseline, stacked by sub-unit, with the target line.

    `weeks[0]` is the baseline day, each later entry the last day of a week; every series has
    one value per entry. `baseline` is the baseline count the target is measured from.
    """

    title: str
    weeks: tuple[date, ...]
    units: tuple[UnitSeries, ...]
    baseline: int
    target_pct: float | None = None
    max_units: int = 7  # more sub-units than this: the smallest are drawn together as 其他


@dataclass(frozen=True, slots=True)
class UnitReduction:
    """One unit's row of a campaign's status: baseline, active now, and the reduction."""

    unit: str
    baseline: int
    active: int
    reduction_pct: float | None  # None when the baseline is 0


@dataclass(frozen=True, slots=True)
class ReductionChart:
    title: str
    units: tuple[UnitReduction, ...]
    target_pct: float | None = None


@dataclass(frozen=True, slots=True)
class PersonGroups:
    """How many active groups one person is in (by name, never by WeChat id)."""

    name: str
    groups: int


@dataclass(frozen=True, slots=True)
class BurdenChart:
    """A histogram of groups per person; the `named` heaviest people are listed by name.

    `unnamed` holds the group counts of people the roster has no name for: they shape the
    histogram but are never listed (a WeChat id is not shown instead of a name).
    """

    title: str
    people: tuple[PersonGroups, ...]
    unnamed: tuple[int, ...] = ()
    named: int = 5


@dataclass(frozen=True, slots=True)
class LabelCount:
    """Active groups carrying one label (a group with two labels counts under both)."""

    label: str
    groups: int


@dataclass(frozen=True, slots=True)
class LabelChart:
    title: str
    labels: tuple[LabelCount, ...]
    active: int  # all active groups, for the shares


# rc_context swaps matplotlib's process-wide settings: charts drawn in two threads at once (say,
# digests rendered off the event loop) must not restore each other's settings mid-drawing.
_RC_LOCK = threading.RLock()


@contextmanager
def _style() -> Iterator[None]:
    """Settings for one chart only: matplotlib's global defaults stay as they were."""
    with _RC_LOCK, rc_context(
        {
            "font.family": [matplotlib_family()],
            "font.size": 11,
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 14,
            "axes.titleweight": "normal",  # the font ships one weight: no faux bold
            "svg.fonttype": "none",
        }
    ):
        yield


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (for a file message), exactly what `save` would write."""
    buf = io.BytesIO()
    with _style():
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def save(fig: Figure, path: Path) -> Path:
    """Write the figure as a PNG; the same figures give the same bytes (no date, no version)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _style():
        fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def _empty(ax: Axes, message: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=13)


def trend_figure(chart: TrendChart) -> Figure:
    """Stacked bars of active groups per week by sub-unit, the total above each bar, and the
    target (baseline less the target reduction) as a dashed line."""
    for s in chart.units:
        if len(s.active) != len(chart.weeks):
            raise ValueError(f"{s.unit}: {len(s.active)} values for {len(chart.weeks)} weeks")
    with _style():
        fig, ax = _figure(9, 5.2)
        ax.set_title(chart.title)
        if not chart.weeks or not chart.units:
            _empty(ax, "暂无数据")
            return fig
        ranked = sorted(chart.units, key=lambda s: (-s.active[0], s.unit))
        shown: list[tuple[str, Sequence[int], str]] = [
            (s.unit, s.active, PALETTE[i % len(PALETTE)]) for i, s in enumerate(ranked[: chart.max_units])
        ]
        rest = ranked[chart.max_units :]
        if rest:
            summed = [sum(s.active[i] for s in rest) for i in range(len(chart.weeks))]
            shown.append((f"其他 {len(rest)} 个单位", summed, OTHER_COLOUR))
        x = list(range(len(chart.weeks)))
        bottom = [0] * len(x)
        for name, values, colour in shown:
            ax.bar(x, values, bottom=bottom, color=colour, label=name, width=0.7)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for xi, total in zip(x, bottom, strict=True):
            ax.annotate(str(total), (xi, total), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=10)
        labels = ["基准\n" + f"{chart.weeks[0]:%m-%d}"] + [f"{d:%m-%d}" for d in chart.weeks[1:]]
        ax.set_xticks(x, labels)
        ax.set_ylabel("在用工作群（个）")
        ax.set_xlabel("周末日期")
        top = max([*bottom, chart.baseline])
        if chart.target_pct is not None:
            goal = chart.baseline * (1 - chart.target_pct / 100)
            ax.axhline(
                goal, color=TARGET_COLOUR, linestyle="--", linewidth=1.6,
                label=f"目标：不超过 {goal:.0f} 个\n（基准 {chart.baseline} 个压减 {chart.target_pct:g}%）",
            )
        ax.set_ylim(0, top * 1.15 + 1)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title="单位")
        return fig


def reduction_figure(chart: ReductionChart) -> Figure:
    """Horizontal bars of each unit's reduction, best first, green when the target is met;
    units without a baseline are listed below the chart."""
    with _style():
        rows = sorted(
            (u for u in chart.units if u.reduction_pct is not None),
            key=lambda u: (-(u.reduction_pct or 0.0), u.unit),
        )
        without = [u.unit for u in chart.units if u.reduction_pct is None]
        fig, ax = _figure(9, max(3.2, 1.4 + 0.42 * len(rows)))
        ax.set_title(chart.title)
        if not rows:
            _empty(ax, "暂无可比较的单位（基准为 0）")
            return fig
        y = list(range(len(rows)))[::-1]  # best at the top
        values = [u.reduction_pct or 0.0 for u in rows]
        target = chart.target_pct
        colours = [
            PALETTE[0] if target is None else (MET_COLOUR if v >= target else BEHIND_COLOUR) for v in values
        ]
        ax.barh(y, values, color=colours, height=0.65)
        if target is not None:
            from matplotlib.patches import Patch

            handles: list[Any] = [
                Patch(color=MET_COLOUR, label="已达目标"),
                Patch(color=BEHIND_COLOUR, label="未达目标"),
            ]
            handles.append(ax.axvline(target, color=TARGET_COLOUR, linestyle="--", linewidth=1.6,
                                      label=f"目标 {target:g}%"))
            ax.legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9)
        ax.set_yticks(y, [u.unit for u in rows])
        lo = min(0.0, *values)
        hi = max(100.0 if target is None else target, *values)
        for yi, u, v in zip(y, rows, values, strict=True):
            ax.annotate(f"{_pct(v)}（{u.baseline}→{u.active}）", (max(v, 0.0), yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=10, zorder=3,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85})
        ax.set_xlim(lo * 1.1 if lo < 0 else 0, hi * 1.3)
        ax.set_xlabel("清理率：(基准数 − 现有数) ÷ 基准数（%）")
        if without:
            note = "基准为 0、未计算清理率：" + "、".join(without)
            fig.text(0.01, 0.005, note, fontsize=9, color="#555555")
        return fig


def burden_figure(chart: BurdenChart) -> Figure:
    """How many people are in how many active groups, with the heaviest named on the chart."""
    with _style():
        fig, ax = _figure(9, 5)
        ax.set_title(chart.title)
        counts = [p.groups for p in chart.people] + list(chart.unnamed)
        if not counts:
            _empty(ax, "暂无人员数据")
            return fig
        top = max(counts)
        people_at = [0] * (top + 1)
        for c in counts:
            people_at[c] += 1
        ax.bar(range(top + 1), people_at, color=PALETTE[0], width=0.85)
        ax.set_xlabel("所在在用工作群数（个）")
        ax.set_ylabel("人数")
        ax.set_xlim(-0.6, top + 0.6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        heaviest = sorted(chart.people, key=lambda p: (-p.groups, p.name))[: chart.named]
        if heaviest:
            lines = [f"{i}. {p.name}：{p.groups} 个群" for i, p in enumerate(heaviest, 1)]
            box = {"boxstyle": "round", "facecolor": "white", "edgecolor": "#999999"}
            ax.text(0.98, 0.97, "所在群最多：\n" + "\n".join(lines), transform=ax.transAxes, ha="right",
                    va="top", multialignment="left", fontsize=10, bbox=box)
            for p in heaviest:
                ax.bar([p.groups], [people_at[p.groups]], color=BEHIND_COLOUR, width=0.85)
        mean = sum(counts) / len(counts)
        ax.axvline(mean, color="#555555", linestyle=":", linewidth=1.2)
        ax.annotate(f"人均 {mean:.1f} 个", (mean, max(people_at)), xytext=(4, -2), textcoords="offset points",
                    va="top", fontsize=10, color="#555555", zorder=3,  # readable over a bar
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85})
        return fig


def labels_figure(chart: LabelChart) -> Figure:
    """Active groups per label, most frequent first, with each label's share of active groups."""
    with _style():
        rows = sorted((c for c in chart.labels if c.groups > 0), key=lambda c: (-c.groups, c.label))
        fig, ax = _figure(9, max(3.2, 1.4 + 0.42 * len(rows)))
        ax.set_title(chart.title)
        if not rows:
            _empty(ax, f"在用 {chart.active} 个群，均无标签")
            return fig
        y = list(range(len(rows)))[::-1]
        ax.barh(y, [c.groups for c in rows], color=PALETTE[0], height=0.65)
        ax.set_yticks(y, [c.label for c in rows])
        for yi, c in zip(y, rows, strict=True):
            share = f"（{c.groups / chart.active:.0%}）" if chart.active else ""
            ax.annotate(f"{c.groups} 个{share}", (c.groups, yi), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=10)
        ax.set_xlim(0, max(c.groups for c in rows) * 1.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"工作群数（个；在用共 {chart.active} 个，一个群可有多个标签）")
        return fig


def drawn_text(fig: Figure) -> list[str]:
    """Every string a figure draws (titles, ticks, labels, annotations, legend), for checks."""
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def trend(chart: TrendChart, path: Path) -> Path:
    return save(trend_figure(chart), path)


def reduction(chart: ReductionChart, path: Path) -> Path:
    return save(reduction_figure(chart), path)


def burden(chart: BurdenChart, path: Path) -> Path:
    return save(burden_figure(chart), path)


def labels(chart: LabelChart, path: Path) -> Path:
    return save(labels_figure(chart), path)
