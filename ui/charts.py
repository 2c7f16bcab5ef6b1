"""Small line charts as inline SVG, built on the server.

Plain SVG elements with presentation attributes (no `style=`, no script), so they pass the page's strict
Content-Security-Policy and need nothing from outside the machine; every label is escaped by markupsafe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup

#: Colour-blind-safe palette (Okabe–Ito), one colour per series in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def line_chart(
    periods: Sequence[date], series: Mapping[str, Sequence[int]], title: str, href: str | None = None,
    width: int = 360, height: int = 150,
) -> Markup:
    """One SVG chart: a line per series over `periods` (values aligned with them), a legend and a linked title.

    Args:
        periods: the x axis, oldest first.
        series: name → one value per period.
        title: shown above the plot; a link to `href` when given.
    """
    left, right, top, bottom = 30, 8, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(values) for values in series.values() if values), default=0) or 1
    n = max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v / peak)

    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{w}" height="{h}" '
                    'viewBox="0 0 {w} {h}"><title>{t}</title>').format(w=width, h=height, t=title)]
    heading = Markup('<text x="{x}" y="14" font-size="13" font-weight="600">{t}</text>').format(x=left, t=title)
    if href:
        heading = Markup('<a href="{h}" class="chart-link">{inner}</a>').format(h=href, inner=heading)
    parts.append(heading)
    parts.append(Markup('<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/>'
                        '<text x="{tx}" y="{ty}" font-size="10" text-anchor="end">{peak}</text>'
                        '<text x="{tx}" y="{b}" font-size="10" text-anchor="end">0</text>').format(
        l=left, r=left + plot_w, b=top + plot_h, tx=left - 4, ty=top + 8, peak=peak))
    if periods:
        for i in {0, len(periods) - 1}:
            parts.append(Markup('<text x="{x}" y="{y}" font-size="10" text-anchor="{a}">{d}</text>').format(
                x=x(i), y=top + plot_h + 12, a="start" if i == 0 else "end", d=periods[i].strftime("%d %b")))
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(Markup('<polyline fill="none" stroke="{c}" stroke-width="2" points="{p}"><title>{n}</title>'
                            '</polyline>').format(c=colour, p=points, n=name))
        lx = left + (index % 6) * 54
        ly = height - 6
        parts.append(Markup('<rect x="{x}" y="{y}" width="10" height="4" fill="{c}"/>'
                            '<text x="{tx}" y="{ty}" font-size="10">{n}</text>').format(
            x=lx, y=ly - 4, c=colour, tx=lx + 13, ty=ly, n=name))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
