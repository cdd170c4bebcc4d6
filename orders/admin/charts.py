"""Charts for the admin, drawn on the server as inline SVG: no script, no external asset."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

SERIES = (  # (row key, legend, colour)
    ("fireToReadyP50", "fire → ready p50", "#4c78a8"),
    ("fireToReadyP90", "fire → ready p90", "#9ecae9"),
    ("readyToServedP50", "ready → served p50", "#f58518"),
    ("readyToServedP90", "ready → served p90", "#ffbf79"),
)
ROW_HEIGHT, BAR_HEIGHT, LABEL_WIDTH, PLOT_WIDTH = 44, 9, 160, 560


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def kitchen_times_svg(rows: list[dict]) -> str:
    """Horizontal grouped bars: per row, the four percentiles on one time axis."""
    if not rows:
        return ""
    top = max((row[key] or 0 for row in rows for key, *_ in SERIES), default=0) or 1
    scale = PLOT_WIDTH / top
    height = 30 + ROW_HEIGHT * len(rows) + 20
    parts = []
    for index, row in enumerate(rows):
        y = 30 + index * ROW_HEIGHT
        parts.append(format_html(
            '<text x="{}" y="{}" text-anchor="end" class="label">{}</text>',
            LABEL_WIDTH - 8, y + 2 * BAR_HEIGHT + 2, row["key"],
        ))
        for offset, (key, legend, colour) in enumerate(SERIES):
            value = row[key]
            if value is None:
                continue
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} ({})</title></rect>',
                LABEL_WIDTH, y + offset * BAR_HEIGHT, round(value * scale, 1), BAR_HEIGHT - 1,
                colour, row["key"], legend, _minutes(value),
            ))
    legend = format_html_join("", (
        '<rect x="{}" y="4" width="10" height="10" fill="{}"></rect>'
        '<text x="{}" y="13" class="legend">{}</text>'
    ), ((LABEL_WIDTH + i * 140, colour, LABEL_WIDTH + i * 140 + 14, text)
        for i, (_, text, colour) in enumerate(SERIES)))
    axis = format_html(
        '<text x="{}" y="{}" class="legend">0</text><text x="{}" y="{}" text-anchor="end" '
        'class="legend">{}</text>', LABEL_WIDTH, height - 4, LABEL_WIDTH + PLOT_WIDTH, height - 4,
        _minutes(top),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="kitchen-times-chart" role="img" '
        'aria-label="Kitchen times" width="{}" height="{}" viewBox="0 0 {} {}">'
        "<style>.label{{font:12px sans-serif;fill:currentColor}}"
        ".legend{{font:11px sans-serif;fill:currentColor}}</style>{}{}{}</svg>",
        LABEL_WIDTH + PLOT_WIDTH + 20, height, LABEL_WIDTH + PLOT_WIDTH + 20, height,
        legend, mark_safe("".join(parts)), axis,
    )
