"""The drift report a person reads: one self-contained HTML page, baseline vs live per feature, with bar plots.

Inline SVG only (no script, no external asset), so the page opens from the artifact store or a browser's file view
and can be archived as is. Drifted features come first.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from sextant_services.drift.counts import FeatureCounts
from sextant_services.drift.report import DriftReport, FeatureDrift

BAR_WIDTH, PLOT_HEIGHT = 14, 90
STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
         "td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}.drifted{color:#b00020;font-weight:bold}"
         ".feature{margin:1.5em 0}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}")
BASELINE_COLOUR, LIVE_COLOUR = "#8da0cb", "#fc8d62"


def _share(counts: FeatureCounts) -> list[float]:
    total = counts.total
    return [c / total if total else 0.0 for c in counts.counts]


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def feature_plot(baseline: FeatureCounts, live: FeatureCounts) -> str:
    """Paired bars (baseline, live) of each bin's share of values, as an inline SVG."""
    b, lv = _share(baseline), _share(live)
    top = max([*b, *lv, 1e-9])
    width = len(b) * (2 * BAR_WIDTH + 6) + 10
    bars = []
    for i, (pb, pl) in enumerate(zip(b, lv, strict=True)):
        x = 5 + i * (2 * BAR_WIDTH + 6)
        for dx, share, colour in ((0, pb, BASELINE_COLOUR), (BAR_WIDTH, pl, LIVE_COLOUR)):
            h = PLOT_HEIGHT * share / top
            bars.append(f'<rect x="{x + dx}" y="{PLOT_HEIGHT - h:.1f}" width="{BAR_WIDTH - 1}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{html.escape(baseline.bins[i])}: {share:.3f}</title></rect>')
        bars.append(f'<text x="{x}" y="{PLOT_HEIGHT + 12}" font-size="9">{html.escape(baseline.bins[i][:6])}</text>')
    return (f'<svg width="{width}" height="{PLOT_HEIGHT + 16}" role="img" '
            f'aria-label="baseline and live shares per bin">{"".join(bars)}</svg>')


def feature_section(feature: FeatureDrift, baseline: FeatureCounts, live: FeatureCounts) -> str:
    css = ' class="drifted"' if feature.drifted else ""
    verdict = "drifted" if feature.drifted else feature.verdict.replace("_", " ")
    return (f'<div class="feature"><h3{css}>{html.escape(feature.name)}: {verdict}</h3>'
            f"<p>{feature.kind}, {feature.test or 'no test'}; live samples {feature.samples}, baseline "
            f"{feature.baseline_samples}, missing {feature.missing}; PSI {_fmt(feature.psi)}, JS distance "
            f"{_fmt(feature.js_distance)}, adjusted p {_fmt(feature.adjusted_p_value)}</p>"
            f"{feature_plot(baseline, live)}</div>")


def render_html(report: DriftReport, baseline: Mapping[str, FeatureCounts], live: Mapping[str, FeatureCounts],
                title: str) -> str:
    """The whole report page for `report`, computed from `baseline` and `live` (the same counts it was made of)."""
    ordered = sorted(report.features, key=lambda f: (not f.drifted, -(f.psi or 0.0), f.name))
    rows = "".join(
        f"<tr><td{' class=drifted' if f.drifted else ''}>{html.escape(f.name)}</td>"
        f"<td>{f.verdict.replace('_', ' ')}</td>"
        f"<td>{f.samples}</td><td>{_fmt(f.psi)}</td><td>{_fmt(f.js_distance)}</td>"
        f"<td>{_fmt(f.adjusted_p_value)}</td></tr>" for f in ordered)
    p = report.policy
    sections = "".join(feature_section(f, baseline[f.name], live[f.name]) for f in ordered)
    drifted = ", ".join(report.drifted_features) or "none"
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>Verdict: <b>{report.verdict.replace('_', ' ')}</b>; score {report.score:.3f} (share of tested "
            f"features that drifted); drifted features: {html.escape(drifted)}; live samples {report.samples}.</p>"
            f"<p>Rule: a feature drifts when its {p.correction} adjusted p-value is at most {p.alpha} and its PSI is "
            f"at least {p.min_psi}; features with fewer than {p.min_samples} samples are not tested.</p>"
            f'<p class="legend"><span style="background:{BASELINE_COLOUR}"></span>baseline (training)'
            f'<span style="background:{LIVE_COLOUR}"></span>live</p>'
            f"<table><tr><th>feature</th><th>verdict</th><th>live samples</th><th>PSI</th><th>JS distance</th>"
            f"<th>adjusted p</th></tr>{rows}</table>{sections}</body></html>")
