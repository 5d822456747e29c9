"""The chart's alerting rules and dashboard, checked by promtool: valid rules, rules that fire (and stay quiet)
when they should on input series (rules_test.yaml), and dashboard queries that parse."""

from __future__ import annotations

import subprocess

from tests.support.monitoring import (
    RULES_FILE,
    RULES_TESTS,
    dashboard,
    dashboard_queries,
    dashboard_variable_matchers,
    monitoring_tool,
    rules,
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(monitoring_tool("promtool")), *args], capture_output=True, text=True, timeout=120)


def test_the_rules_file_passes_promtool_check_rules() -> None:
    result = _promtool("check", "rules", "--lint=all", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_alerts_fire_and_stay_quiet_on_input_series() -> None:
    result = _promtool("test", "rules", str(RULES_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_says_what_to_do() -> None:
    tests = RULES_TESTS.read_text()
    for rule in rules():
        if "alert" in rule:
            assert f"alertname: {rule['alert']}" in tests, f"{rule['alert']} has no promtool test"
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_every_dashboard_query_parses_as_promql() -> None:
    queries = dashboard_queries()
    assert len(queries) >= 10
    for query in queries:
        result = _promtool("--experimental", "promql", "format", query.runnable())
        assert result.returncode == 0, f"panel {query.panel!r}: {query.expr}\n{result.stderr}"
    for name, selector in dashboard_variable_matchers().items():
        result = _promtool("--experimental", "promql", "format", selector)
        assert result.returncode == 0, f"variable {name}: {selector}\n{result.stderr}"


def test_every_dashboard_panel_reads_the_chosen_data_source() -> None:
    board = dashboard()
    assert board["uid"] == "sextant-overview"
    assert [v["name"] for v in board["templating"]["list"]][0] == "datasource"
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert all(t["datasource"] == panel["datasource"] for t in panel["targets"]), panel["title"]
