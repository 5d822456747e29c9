"""The data-quality report: one self-contained HTML page with plots, for a person to look at."""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

from sextant_pipelines.profile import Profile

MAX_PLOTTED = 36


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72, bbox_inches="tight", pad_inches=0.15)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _distribution_grid(profile: Profile) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [f.name for f in profile.schema][:MAX_PLOTTED]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        base = profile.baseline["features"][name]
        if base["type"] == "numeric":
            edges = base["bins"]
            widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
            ax.bar(edges[:-1], base["counts"], width=widths, align="edge", color="#4c72b0", edgecolor="white")
        else:
            items = sorted(base["frequencies"].items(), key=lambda kv: -kv[1])[:12]
            ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#dd8452")
        missing = profile.missing[name]
        ax.set_title(f"{name}" + (f"  ({missing:.0%} missing)" if missing else ""), fontsize=9,
                     color="#b00" if missing > 0.2 else "black")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    figure.subplots_adjust(hspace=0.6, wspace=0.35)
    encoded = _png(figure)
    plt.close(figure)
    return encoded


def _missing_chart(profile: Profile) -> str | None:
    from matplotlib import pyplot as plt

    missing = {k: v for k, v in profile.missing.items() if v > 0}
    if not missing:
        return None
    figure, ax = plt.subplots(figsize=(7, 0.3 * len(missing) + 1))
    ax.barh(list(missing), [v * 100 for v in missing.values()], color="#c44e52")
    ax.set_xlabel("% missing")
    ax.set_xlim(0, 100)
    encoded = _png(figure)
    plt.close(figure)
    return encoded


def _target_chart(profile: Profile) -> str | None:
    from matplotlib import pyplot as plt

    if not profile.target or "counts" not in profile.target:
        return None
    counts = profile.target["counts"]
    figure, ax = plt.subplots(figsize=(5, 2.5))
    ax.bar(range(len(counts)), list(counts.values()), color="#55a868", tick_label=[str(k) for k in counts])
    ax.set_title(f"target {profile.target['name']}: rows per class", fontsize=10)
    encoded = _png(figure)
    plt.close(figure)
    return encoded


def _schema_rows(profile: Profile) -> str:
    rows = []
    for f in profile.schema:
        detail = (f"{len(f.categories or [])} categories" if f.type == "categorical" else
                  f"range {profile.baseline['features'][f.name]['bins'][0]:.4g} .. "
                  f"{profile.baseline['features'][f.name]['bins'][-1]:.4g}")
        rate = profile.missing[f.name]
        style = ' class="bad"' if rate > 0.2 else ""
        rows.append(f"<tr><td>{html.escape(f.name)}</td><td>{f.type}</td><td>{html.escape(f.dtype)}</td>"
                    f"<td{style}>{rate:.1%}</td><td>{html.escape(detail)}</td></tr>")
    return "\n".join(rows)


def render_report(profile: Profile, title: str) -> str:
    """Render the profile as an HTML page with embedded PNG charts (no external assets)."""
    images = [("Feature distributions", _distribution_grid(profile)), ("Missing values", _missing_chart(profile)),
              ("Target", _target_chart(profile))]
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in profile.warnings) or "<li>No issues found.</li>"
    charts = "".join(f'<h2>{name}</h2><img alt="{name}" src="data:image/png;base64,{data}">'
                     for name, data in images if data)
    extra = len(profile.schema) - MAX_PLOTTED
    note = f"<p>{extra} more features are summarised in the table only.</p>" if extra > 0 else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}td,th{{padding:2px 10px;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}} .bad{{color:#b00;font-weight:bold}} .warn li{{color:#a60}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{profile.baseline['rows']} training rows, {len(profile.schema)} features
({sum(f.type == 'numeric' for f in profile.schema)} numeric,
{sum(f.type == 'categorical' for f in profile.schema)} categorical).</p>
<h2>Data-quality findings</h2><ul class="warn">{warnings}</ul>
{charts}{note}
<h2>Schema</h2><table><tr><th>feature</th><th>type</th><th>dtype</th><th>missing</th><th>values</th></tr>
{_schema_rows(profile)}</table></body></html>
"""
