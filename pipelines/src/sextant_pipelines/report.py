"""The data-quality report: one self-contained HTML page with plots, for a person to look at."""

from __future__ import annotations

import html

from sextant_pipelines import svgcharts
from sextant_pipelines.profile import Profile

MAX_PLOTTED = 36


def _distribution_grid(profile: Profile) -> str:
    """One small chart per feature: a histogram for numeric ones, the 12 commonest values for categorical ones."""
    charts = []
    for feature in [f for f in profile.schema if f.name in profile.baseline["features"]][:MAX_PLOTTED]:
        base = profile.baseline["features"][feature.name]
        missing = profile.missing[feature.name]
        title = feature.name + (f" ({missing:.0%} missing)" if missing else "")
        if base["type"] == "numeric":
            charts.append(svgcharts.histogram(title, base["bins"], base["counts"]))
        else:
            items = sorted(base["frequencies"].items(), key=lambda kv: -kv[1])[:12]
            charts.append(svgcharts.bars(title, [k for k, _ in items], [v * 100 for _, v in items], unit="%"))
    return f'<div class="grid">{"".join(charts)}</div>'


def _missing_chart(profile: Profile) -> str | None:
    missing = {k: v for k, v in profile.missing.items() if v > 0}
    if not missing:
        return None
    return svgcharts.bars("% missing", list(missing), [v * 100 for v in missing.values()], svgcharts.RED, "%",
                          width=600, limit=100.0)


def _target_chart(profile: Profile) -> str | None:
    if not profile.target or "counts" not in profile.target:
        return None
    counts = profile.target["counts"]
    return svgcharts.bars(f"target {profile.target['name']}: rows per class", [str(k) for k in counts],
                          [float(v) for v in counts.values()], svgcharts.GREEN, width=420)


def _schema_rows(profile: Profile) -> str:
    rows = []
    for f in profile.schema:
        detail = (f"{len(f.categories or [])} categories" if f.type == "categorical" else
                  "date/time: year, month, day, weekday, day of year, hour and days since 1970 become features"
                  if f.type == "datetime" else
                  f"range {profile.baseline['features'][f.name]['bins'][0]:.4g} .. "
                  f"{profile.baseline['features'][f.name]['bins'][-1]:.4g}")
        rate = profile.missing[f.name]
        style = ' class="bad"' if rate > 0.2 else ""
        rows.append(f"<tr><td>{html.escape(f.name)}</td><td>{f.type}</td><td>{html.escape(f.dtype)}</td>"
                    f"<td{style}>{rate:.1%}</td><td>{html.escape(detail)}</td></tr>")
    return "\n".join(rows)


def render_report(profile: Profile, title: str) -> str:
    """Render the profile as an HTML page with inline SVG charts (no external assets, no scripts)."""
    images = [("Feature distributions", _distribution_grid(profile)), ("Missing values", _missing_chart(profile)),
              ("Target", _target_chart(profile))]
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in profile.warnings) or "<li>No issues found.</li>"
    charts = "".join(f"<h2>{name}</h2>{chart}" for name, chart in images if chart)
    extra = len(profile.schema) - MAX_PLOTTED
    note = f"<p>{extra} more features are summarised in the table only.</p>" if extra > 0 else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}td,th{{padding:2px 10px;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}} .bad{{color:#b00;font-weight:bold}} .warn li{{color:#a60}}
.grid{{display:flex;flex-wrap:wrap;gap:8px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{profile.baseline['rows']} training rows, {len(profile.schema)} features
({sum(f.type == 'numeric' for f in profile.schema)} numeric,
{sum(f.type == 'categorical' for f in profile.schema)} categorical).</p>
<h2>Data-quality findings</h2><ul class="warn">{warnings}</ul>
{charts}{note}
<h2>Schema</h2><table><tr><th>feature</th><th>type</th><th>dtype</th><th>missing</th><th>values</th></tr>
{_schema_rows(profile)}</table></body></html>
"""
