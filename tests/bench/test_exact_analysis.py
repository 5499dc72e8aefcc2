"""bench-exact's maths: the plan, callgrind dump parsing, ratios, spread, attribution."""

from __future__ import annotations

import pytest

from tracelab.bench import configs as shared_configs
from tracelab.bench.exact import analysis, callgrind, configs, plan, report
from tracelab.bench.exact.runner import probability_of
from tracelab.bench.workload import Account

DUMP = """\
# callgrind format
version: 1
pid: 4242
part: 2
desc: Trigger: dump w1
positions: line
events: Ir
summary: 1000

ob=/usr/lib/libpython3.11.so
fl=ceval.c
fn=_PyEval_EvalFrameDefault'2
0 600
cob=/usr/lib/libc.so.6
cfn=malloc
calls=3 0
0 999999
fn=_PyEval_EvalFrameDefault
0 100
ob=/usr/lib/libc.so.6
fn=malloc
0 250
+1 50

totals: 1000
"""


def test_a_dump_gives_its_trigger_total_and_self_costs_without_call_costs(tmp_path):
    path = tmp_path / "frontend.4242.2"
    path.write_text(DUMP)
    dump = callgrind.parse_dump(path)
    assert (dump.pid, dump.trigger, dump.total) == (4242, "dump w1", 1000)
    libpython, libc = "/usr/lib/libpython3.11.so", "/usr/lib/libc.so.6"
    # the inclusive cost after `calls=` is not malloc's self cost, nor the caller's
    assert dump.functions == {
        (libpython, "_PyEval_EvalFrameDefault'2"): 600,
        (libpython, "_PyEval_EvalFrameDefault"): 100,
        (libc, "malloc"): 300,
    }
    assert sum(dump.functions.values()) == dump.total
    assert callgrind.dump_named(tmp_path, "frontend", 4242, "w1").total == 1000
    with pytest.raises(FileNotFoundError):
        callgrind.dump_named(tmp_path, "frontend", 4242, "w2")


def test_the_wrapper_counts_nothing_at_start_follows_exec_and_keeps_the_command(tmp_path):
    argv = ["opentelemetry-instrument", "python", "-m", "services.auth"]
    wrapped = callgrind.wrapper_argv(tmp_path, "auth", argv)
    assert wrapped[0] == "valgrind" and wrapped[-len(argv) :] == argv
    assert "--instr-atstart=no" in wrapped and "--trace-children=yes" in wrapped
    assert f"--callgrind-out-file={tmp_path}/auth.%p" in wrapped


def test_control_refuses_to_run_without_a_pid():
    with pytest.raises(ValueError):
        callgrind.control(0, "--dump")


def test_sampled_flags_pick_exactly_the_share_evenly():
    assert sum(plan.sampled_flags(100, 0.01)) == 1
    assert sum(plan.sampled_flags(100, 0.1)) == 10
    assert plan.sampled_flags(20, 0.1) == [i in (9, 19) for i in range(20)]
    assert all(plan.sampled_flags(7, 1.0)) and not any(plan.sampled_flags(7, 0.0))


def test_the_plan_is_the_same_for_the_same_seed_and_carries_its_sampling():
    accounts = [Account(1, "t1"), Account(2, "t2")]
    first = plan.build_plan(40, accounts, 7, 0.1)
    again = plan.build_plan(40, accounts, 7, 0.1)
    assert first == again
    assert first != plan.build_plan(40, accounts, 8, 0.1)
    flags = [p.request.headers["traceparent"].endswith("-01") for p in first]
    assert flags == [p.sampled for p in first] == plan.sampled_flags(40, 0.1)
    # the same requests whatever the sampling: only the flag differs
    other = plan.build_plan(40, accounts, 7, 1.0)
    assert [p.request.path for p in other] == [p.request.path for p in first]


def test_probability_of_each_configuration():
    by_name = configs.BY_NAME
    assert probability_of(by_name["off"]) == 0.0
    assert probability_of(by_name["unsampled"]) == 0.0
    assert probability_of(by_name["ratio-1pct"]) == 0.01
    assert probability_of(by_name["stock-encoder"]) == 1.0
    assert probability_of(by_name["abl-no-flask"]) == 1.0


def test_one_definition_of_the_configurations_for_both_benchmarks():
    names = [c.name for c in configs.select(None)]
    assert names[:5] == list(shared_configs.CONFIG_NAMES)
    assert names[5:7] == ["stock-encoder", "zero-code"]
    stock = shared_configs.select_configs(["stock-encoder"])
    assert [c.name for c in stock] == ["off", "stock-encoder"]
    assert stock[1].env["OTEL_TRACES_EXPORTER"] == "otlp_proto_http"
    assert configs.BY_NAME["zero-code"].env["TRACELAB_INSTRUMENTATION"] == "zero-code"
    assert [c.name for c in configs.select(["ratio-1pct"])] == ["off", "ratio-1pct"]
    assert all(not c.name.startswith("abl-") for c in configs.select(None, ablations=False))
    with pytest.raises(ValueError):
        configs.select(["bogus"])
    # every ablation the attribution reads is measured by default
    measured = {c.name for c in configs.select(None)}
    assert {n for c in analysis.COMPONENTS for n in (c.with_, c.without)} <= measured


def test_per_request_ratios_and_spread():
    off = [
        analysis.per_request({"frontend": 200, "auth": 200}, 2),
        analysis.per_request({"frontend": 220, "auth": 200}, 2),
    ]
    assert off[0] == {"frontend": 100.0, "auth": 100.0, "total": 200.0}
    full = [
        analysis.per_request({"frontend": 300, "auth": 240}, 2),
        analysis.per_request({"frontend": 330, "auth": 240}, 2),
    ]
    table = analysis.ratio_table({"off": off, "ratio-100pct": full})
    assert table["off"][0]["total"] == 1.0
    assert table["ratio-100pct"][0] == {"frontend": 1.5, "auth": 1.2, "total": 270 / 200}
    assert table["ratio-100pct"][1]["total"] == pytest.approx(285 / 210)
    assert analysis.spread_percent([1.0, 1.01]) == pytest.approx(100 * 0.01 / 1.005)
    assert analysis.spread_percent([1.2]) == 0.0
    with pytest.raises(ValueError):
        analysis.per_request({"frontend": 1}, 0)


def test_the_expected_ratio_at_a_probability_interpolates_between_unsampled_and_full():
    assert analysis.expected_ratio(0.1, 1.01, 1.21) == pytest.approx(1.03)
    assert analysis.expected_ratio(1.0, 1.01, 1.21) == 1.21
    assert analysis.expected_ratio(0.0, 1.01, 1.21) == 1.01


def test_attribution_splits_the_overhead_additively_and_shows_the_pieces_apart():
    totals = {
        "off": 1000.0,
        "ratio-100pct": 1500.0,
        "abl-sink-encode": 1450.0,
        "abl-sink-drop": 1400.0,
        "abl-sink-none": 1300.0,
        "abl-no-flask": 1200.0,
        "abl-no-propagation": 1280.0,
    }
    rows = {r["component"]: r for r in analysis.attribution(totals)}
    http = rows["span export: OTLP/HTTP POST (the transport, socket)"]
    assert http["instructions_per_request"] == 50.0 and http["percent_of_overhead"] == 10.0
    assert rows["span export: OTLP encoding (direct encoder)"]["instructions_per_request"] == 50
    assert (
        rows["span export: batch processor, queue, its thread"]["instructions_per_request"] == 100
    )
    assert rows[analysis.RECORDING]["instructions_per_request"] == 300
    additive = [r for r in rows.values() if r.get("additive")]
    assert sum(r["instructions_per_request"] for r in additive) == 500  # the whole overhead
    flask = rows["- instrumentation: flask (+ wsgi), incl. its no-op cost"]
    assert flask["instructions_per_request"] == 100 and not flask["additive"]
    assert rows["- propagation (tracecontext + baggage)"]["instructions_per_request"] == 20
    assert not any("psycopg" in name for name in rows)  # not measured: no row
    assert analysis.RESIDUAL not in rows
    assert rows["total: 100% sampling over tracing off"]["percent_of_overhead"] == 100.0
    # an additive row missing: the residual says what is not covered
    partial = {k: v for k, v in totals.items() if k != "abl-sink-drop"}
    rest = {r["component"]: r for r in analysis.attribution(partial)}[analysis.RESIDUAL]
    assert rest["instructions_per_request"] == 150
    assert analysis.attribution({"off": 1.0}) == []


def test_functions_fall_into_categories_and_their_growth_is_shared_out():
    lib = "/x/libpython3.11.so.1.0"
    assert analysis.category_of(f"{lib}\t_PyEval_EvalFrameDefault'3") == "eval loop"
    assert analysis.category_of(f"{lib}\ttake_gil") == "threads, locks, GIL"
    assert analysis.category_of("/x/_upb.abi3.so\tupb_Encode") == "protobuf (upb)"
    assert analysis.category_of("/x/libz.so.1\tdeflate_slow") == "zlib"
    assert analysis.category_of(f"{lib}\tsomething_else") == "other interpreter (libpython)"
    assert analysis.category_of("/x/other.so\tf") == "other C code"
    assert analysis.category_of(f"{lib}\tPyObject_GC_Del") == "garbage collector"
    assert analysis.category_of("/x/libc.so.6\t__memset_avx2") == "libc memory and string routines"
    cats = analysis.categories({f"{lib}\ttake_gil": 40, "/x/libz.so.1\tdeflate": 20}, 2)
    assert cats["threads, locks, GIL"] == 20 and cats["zlib"] == 10
    rows = analysis.category_deltas({"a": 30.0, "b": 10.0}, {"a": 10.0, "b": 10.0})
    assert rows[0] == {
        "component": "a",
        "category": "a",
        "instructions_per_request": 20.0,
        "percent_of_overhead": 100.0,
    }


def test_the_exact_ratio_is_judged_against_the_time_interval():
    time_document = {
        "overheads": {
            "ratio-100pct": {
                "service_cpu_s_per_1k": {"relative_percent": {"mean": 15.0, "half_width": 8.0}}
            },
            "ratio-1pct": {
                "service_cpu_s_per_1k": {"relative_percent": {"mean": 2.0, "half_width": 1.0}}
            },
            "not-exact": {
                "service_cpu_s_per_1k": {"relative_percent": {"mean": 1.0, "half_width": 1.0}}
            },
        }
    }
    rows = analysis.compare_with_time({"ratio-100pct": 1.10, "ratio-1pct": 1.005}, time_document)
    by_config = {r["config"]: r for r in rows}
    assert set(by_config) == {"ratio-100pct", "ratio-1pct"}
    assert by_config["ratio-100pct"]["within"] is True
    assert by_config["ratio-100pct"]["time_low"] == pytest.approx(1.07)
    assert by_config["ratio-1pct"]["within"] is False


def test_a_time_figure_without_an_interval_is_not_a_verdict():
    nan = float("nan")
    time_document = {
        "overheads": {
            "stock-encoder": {
                "service_cpu_s_per_1k": {"relative_percent": {"mean": 6.6, "half_width": nan}}
            },
            "zero-code": {
                "service_cpu_s_per_1k": {"relative_percent": {"mean": nan, "half_width": nan}}
            },
        }
    }
    rows = analysis.compare_with_time({"stock-encoder": 1.19, "zero-code": 1.25}, time_document)
    assert [(r["config"], r["within"], r["time_low"]) for r in rows] == [
        ("stock-encoder", None, None)
    ]


def test_zero_code_is_attributed_against_programmatic_and_its_metrics_apart():
    totals = {
        "off": 1000.0,
        "ratio-100pct": 1100.0,
        "zero-code": 1250.0,
        "abl-zero-code-no-metrics": 1150.0,
    }
    rows = {r["component"]: r for r in analysis.attribution(totals)}
    over = rows["zero-code over programmatic (both 100%)"]
    assert over["instructions_per_request"] == 150 and not over["additive"]
    metrics = next(r for name, r in rows.items() if name.startswith("- zero-code: the config"))
    assert metrics["instructions_per_request"] == 100
    ablation = configs.BY_NAME["abl-zero-code-no-metrics"].env
    assert ablation["TRACELAB_INSTRUMENTATION"] == "zero-code"
    assert ablation["OTEL_METRICS_EXPORTER"] == "none"


def _post_document(http_per_request: float) -> dict:
    totals = [{"total": 40_000_000.0}, {"total": 40_100_000.0}]
    return {
        "settings": {"requests": 40},
        "configs": [{"name": analysis.REFERENCE, "instructions_per_request": totals}],
        "repeat_spread_percent": {analysis.REFERENCE: {analysis.TOTAL: 0.25}},
        "attribution": [
            {
                "component": "span export: OTLP/HTTP POST (the transport, socket)",
                "instructions_per_request": http_per_request,
            }
        ],
    }


def test_the_post_note_gives_a_cost_per_post_only_where_it_stands_out_of_the_noise():
    # 0.25% of ~40 M: +-100,125 instructions per request is noise.
    assert "too little to tell from zero" in report.post_note(_post_document(-47_000))
    note = report.post_note(_post_document(500_000))
    assert "about 4.00 M instructions per POST" in note
