"""Point labels on a scatter plot that never overlap one another or another point.

Rows of one run cluster: the fp32 exports share the student's accuracy and sit within microseconds of each other.
Each label tries offsets around its point, nearest first, and takes the first whose box (measured by the renderer)
clears every label placed so far and every point's marker; a label that had to move away gets a thin leader line.
"""
from __future__ import annotations

from matplotlib.transforms import Bbox

# Offsets in points (dx, dy, horizontal alignment): beside the point first, then above and below, then further out.
NEAR = [(5, 2, "left"), (5, -9, "left"), (-5, 2, "right"), (-5, -9, "right")]
FAR = [(dx, dy, ha) for step in (12, 22, 34, 48) for dx, dy, ha in
       ((6, step, "left"), (6, -step - 7, "left"), (-6, step, "right"), (-6, -step - 7, "right"))]
MARKER_PX = 5.0


def place_labels(ax, items: list[tuple[float, float, str]], fontsize: float = 7) -> None:
    """Annotate each (x, y, text) of `ax` without overlaps. Call after scales, limits and the title are set."""
    fig = ax.figure
    ax.figure.canvas.draw()  # limits and transforms as they will be saved
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    points = [to_px((x, y)) for x, y, _ in items]
    markers = [Bbox.from_extents(px - MARKER_PX, py - MARKER_PX, px + MARKER_PX, py + MARKER_PX) for px, py in points]
    placed: list[Bbox] = [ax.title.get_window_extent(renderer)] if ax.get_title() else []  # keep clear of it
    seen: set[tuple[float, float, str]] = set()
    for (x, y, text) in sorted(items, key=lambda item: (-item[1], item[0])):
        if (x, y, text) in seen:  # the same label at the same point says nothing twice
            continue
        seen.add((x, y, text))
        label = None
        for dx, dy, ha in NEAR + FAR:
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, fontsize=fontsize)
            box = label.get_window_extent(renderer).expanded(1.04, 1.15)  # the text alone
            label.remove()
            if not any(box.overlaps(other) for other in placed + markers):
                placed.append(box)
                leader = {"arrowstyle": "-", "color": "#aaa", "lw": 0.6} if (dx, dy, ha) not in NEAR else None
                label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha,
                                    fontsize=fontsize, arrowprops=leader)
                break
            label = None
        if label is None:  # nowhere free: keep the nearest spot rather than lose the label
            nearest = ax.annotate(text, (x, y), xytext=NEAR[0][:2], textcoords="offset points", fontsize=fontsize)
            placed.append(nearest.get_window_extent(renderer))
