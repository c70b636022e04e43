"""Charts drawn on the server as inline SVG (the pages load nothing from elsewhere and run no chart script).
Titles and axis words come from the templates; here only geometry, numbers and the data's own labels."""
from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

from markupsafe import Markup, escape

COLOURS = ("#0b4f8a", "#d64545", "#f0b429", "#3ebd93", "#7b61ff")
WIDTH = 640
LEFT, BOTTOM, TOP = 44, 34, 10


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else (f"{value:.0f}" if value == int(value) else f"{value:.2f}")


def _frame(height: int, title: str, body: List[str]) -> Markup:
    return Markup(f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
                  f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
                  + "".join(body) + "</svg>")


def _axis(top: float, height: int, percent: bool) -> List[str]:
    plot = height - BOTTOM - TOP
    out = []
    for i in range(5):
        y = TOP + plot - plot * i / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9e2ec"/>'
                   f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#52606d">'
                   f'{_fmt(top * i / 4, percent)}</text>')
    return out


def _day_labels(days: Sequence[str], x_of, height: int) -> List[str]:
    step = max(1, len(days) // 10)
    return [f'<text x="{x_of(i):.1f}" y="{height - BOTTOM + 16}" text-anchor="middle" font-size="11" '
            f'fill="#52606d">{escape(day[5:])}</text>' for i, day in enumerate(days) if i % step == 0]


def day_bars(series: Dict[str, Sequence[float]], days: Sequence[str], title: str, height: int = 220) -> Markup:
    """Grouped bars per day: {legend: values per day}."""
    names = list(series)
    top = max([v for vals in series.values() for v in vals] + [1])
    plot_w, plot_h = WIDTH - LEFT - 8, height - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8 / max(len(names), 1), 1)
    body = _axis(top, height, False)
    for k, name in enumerate(names):
        for i, value in enumerate(series[name]):
            h = plot_h * value / top
            x = LEFT + i * slot + slot * 0.1 + k * bar
            body.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[k % len(COLOURS)]}"><title>{escape(days[i])} {escape(name)}：'
                        f'{_fmt(value, False)}</title></rect>')
    body += _day_labels(days, lambda i: LEFT + (i + 0.5) * slot, height)
    body += _legend(names, height)
    return _frame(height + 18, title, body)


def day_lines(series: Dict[str, Sequence[float]], days: Sequence[str], title: str, height: int = 220) -> Markup:
    """Rates (0..1) per day as lines, one per legend."""
    names = list(series)
    top = max([v for vals in series.values() for v in vals] + [0.01])
    top = min(1.0, math.ceil(top * 5) / 5)  # 20%, 40% … so the four grid lines fall on round figures
    plot_w, plot_h = WIDTH - LEFT - 8, height - BOTTOM - TOP
    x_of = (lambda i: LEFT + plot_w * i / (len(days) - 1)) if len(days) > 1 else (lambda i: LEFT + plot_w / 2)
    body = _axis(top, height, True)
    for k, name in enumerate(names):
        points = [(x_of(i), TOP + plot_h - plot_h * min(v, top) / top) for i, v in enumerate(series[name])]
        colour = COLOURS[k % len(COLOURS)]
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(days[i])} '
                 f'{escape(name)}：{series[name][i]:.1%}</title></circle>' for i, (x, y) in enumerate(points)]
    body += _day_labels(days, x_of, height)
    body += _legend(names, height)
    return _frame(height + 18, title, body)


def _legend(names: Sequence[str], height: int) -> List[str]:
    out, x = [], LEFT
    for k, name in enumerate(names):
        out.append(f'<rect x="{x}" y="{height + 4}" width="10" height="10" fill="{COLOURS[k % len(COLOURS)]}"/>'
                   f'<text x="{x + 14}" y="{height + 13}" font-size="12" fill="#1f2933">{escape(name)}</text>')
        x += 24 + 13 * len(name)
    return out


def hbars(rows: Sequence[Tuple[str, float]], title: str, label_width: int = 260) -> Markup:
    """Horizontal bars, one row per (label, value), in the order given."""
    row_h, height = 22, max(len(rows), 1) * 22 + 8
    top = max([v for _, v in rows] + [1])
    span = WIDTH - label_width - 50
    body = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        shown = label if len(label) <= label_width // 13 else label[:label_width // 13 - 1] + "…"
        w = span * value / top
        body.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12" fill="#1f2933">'
                    f'<title>{escape(label)}</title>{escape(shown)}</text>'
                    f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{COLOURS[0]}"/>'
                    f'<text x="{label_width + w + 4:.1f}" y="{y + 15}" font-size="12" fill="#52606d">'
                    f'{_fmt(value, False)}</text>')
    return _frame(height, title, body)
