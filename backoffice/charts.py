"""Bar charts as inline SVG drawn on the server: no JavaScript, no CDN (the back office may run without internet).

Each day is one bar, stacked when a chart has several layers (Stars and operator top-ups, coloured as ``COLOURS``, which the page's legend shows); every bar piece has a
``<title>`` the browser shows on hover (the day, the layer and its value), the y axis is labelled with its peak and
the x axis with dates (the first day, the last, and evenly spaced ones between).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from billing.formats import figure

COLOURS = ("#417690", "#e0a030", "#ba2121")
WIDTH, HEIGHT = 600, 170
LEFT, TOP, BOTTOM = 52, 8, 22  # room for the y labels, above the bars, for the date labels
DATE_LABELS = 6


@dataclass(frozen=True)
class Layer:
    label: str
    values: list  # one value (int or Decimal) per day


def day_label(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def bar_chart(*, title: str, days: list[date], layers: list[Layer]) -> SafeString:
    """Stacked bars, one per day, with hover titles, a peak label and dated x axis."""
    totals = [sum((layer.values[i] for layer in layers), 0) for i in range(len(days))]
    peak = max([max(float(total), 0) for total in totals] or [0])
    scale = (HEIGHT - TOP - BOTTOM) / (peak or 1)
    plot_width = WIDTH - LEFT
    step = plot_width / max(len(days), 1)
    bar = max(step - (1 if step > 3 else 0), 0.5)
    rects = []
    for index, day in enumerate(days):
        base = HEIGHT - BOTTOM
        x = LEFT + index * step
        for layer, colour in zip(layers, COLOURS):
            value = layer.values[index]
            height = max(float(value), 0) * scale
            base -= height
            hover = f"{day_label(day)} — {layer.label}: {figure(value)}"
            if len(layers) > 1:
                hover += f" ({figure(totals[index])})"
            rects.append((f"{x:.1f}", f"{base:.1f}", f"{bar:.1f}", f"{max(height, 0):.1f}", colour, hover))
    body = format_html_join(
        "", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>', rects
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="stats-chart" role="img" aria-label="{}" '
        'viewBox="0 0 {} {}" width="100%" preserveAspectRatio="xMidYMid meet">{}{}{}</svg>',
        title, WIDTH, HEIGHT, _axes(peak), body, _date_labels(days, step),
    )


def _axes(peak: float) -> SafeString:
    bottom = HEIGHT - BOTTOM
    peak_value = Decimal(str(peak)) if peak != int(peak) else int(peak)
    return format_html(
        '<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#999"/>'
        '<line x1="{left}" y1="{bottom}" x2="{width}" y2="{bottom}" stroke="#999"/>'
        '<line x1="{left}" y1="{top}" x2="{width}" y2="{top}" stroke="#ddd" stroke-dasharray="3,3"/>'
        '<text class="y-label" x="{label_x}" y="{peak_y}" font-size="10" fill="#666" text-anchor="end">{peak}</text>'
        '<text class="y-label" x="{label_x}" y="{bottom}" font-size="10" fill="#666" text-anchor="end">0</text>',
        left=LEFT, top=TOP, bottom=bottom, width=WIDTH, label_x=LEFT - 4, peak_y=TOP + 8,
        peak=figure(peak_value),
    )


def _date_labels(days: list[date], step: float) -> SafeString:
    if not days:
        return mark_safe("")
    every = max(round(len(days) / (DATE_LABELS - 1)), 1)
    shown = sorted({*range(0, len(days), every), len(days) - 1})
    if len(shown) > 1 and shown[-1] - shown[-2] < every / 2:
        shown.pop(-2)  # keep the last day's label clear of its neighbour
    labels = []
    for index in shown:
        anchor = "start" if index == 0 else "end" if index == len(days) - 1 else "middle"
        x = LEFT + index * step + (0 if anchor == "start" else step if anchor == "end" else step / 2)
        labels.append((f"{x:.1f}", HEIGHT - 6, anchor, day_label(days[index])))
    return format_html_join(
        "", '<text class="x-label" x="{}" y="{}" font-size="10" fill="#666" text-anchor="{}">{}</text>', labels
    )

