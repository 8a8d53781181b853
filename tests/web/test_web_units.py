"""Units of the web app: the SQLite job store, safe names, settings merge, the form schema."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pandas as pd
import pytest

from storeplan.scenario import OBJECTIVES, ObjectiveSpec
from storeplan.web.runner import DiskCache, deep_merge, job_dir, scenario_overrides, warm_start
from storeplan.web.schema import form_schema, knob_values
from storeplan.web.store import INTERRUPTED_MESSAGE, JobStore
from storeplan.web.uploads import UploadError, safe_join, safe_name


def test_job_store_lifecycle(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create(name="a", source="bundled:year-one", inputs={"scenario": "bundled:year-one"})
    assert job.status == "queued" and job.progress == {} and job.outputs == []
    store.update(job.id, status="running", started=time.time())
    store.set_progress(job.id, "market", 0.0)
    store.set_progress(job.id, "market", 1.0, seconds=1.25)
    store.set_progress(job.id, "solve", 0.5)
    j = store.get(job.id)
    assert j.progress == {"market": 1.0, "solve": 0.5}
    assert j.timings == {"market": 1.25}
    assert j.phase == "solve"
    assert store.finish(job.id, "done", outputs=["plan.csv"], summary={"stores": 3})
    assert not store.finish(job.id, "failed", error="late")  # a finished job stays finished
    j = store.get(job.id)
    assert (j.status, j.error, j.outputs, j.summary) == ("done", None, ["plan.csv"], {"stores": 3})
    assert j.seconds is not None and j.seconds >= 0
    with pytest.raises(ValueError):
        store.finish(job.id, "running")
    with pytest.raises(KeyError):
        store.update(job.id, nonsense=1)


def test_a_cancelled_job_is_never_set_running_again(tmp_path):
    # a cancel that lands while the runner hands the job to a worker: the worker's start
    # must not bring it back (found by the API test of cancelling an uploaded run)
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create(name="a", source="s", inputs={})
    assert store.finish(job.id, "cancelled", error="cancelled by the user")
    assert not store.mark_running(job.id)
    assert store.get(job.id).status == "cancelled"
    other = store.create(name="b", source="s", inputs={})
    assert store.mark_running(other.id) and store.get(other.id).status == "running"
    assert store.get(other.id).started is not None


def test_job_store_recovery_on_reopen(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(path)
    a = store.create(name="a", source="s", inputs={})
    b = store.create(name="b", source="s", inputs={})
    c = store.create(name="c", source="s", inputs={})
    store.update(a.id, status="running", started=time.time())
    store.finish(c.id, "done")
    assert [j.id for j in store.queued()] == [b.id]
    reopened = JobStore(path)  # what a server restart does
    assert reopened.get(a.id).status == "failed" and reopened.get(a.id).error == INTERRUPTED_MESSAGE
    assert reopened.get(b.id).status == "failed"
    assert reopened.get(c.id).status == "done"
    assert [j.name for j in reopened.list()] == ["c", "b", "a"]
    assert JobStore(path, recover=False).recover_interrupted() == 0


@pytest.mark.parametrize("name", ["areas.csv", "Scenario 1.toml", "a-b_c.parquet", "x.GEOJSON"])
def test_safe_name_accepts(name):
    assert safe_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "../a.csv",
        "/etc/a.csv",
        "C:/a.csv",
        "a\\b.csv",
        "a\x00.csv",
        ".hidden.csv",
        "a.exe",
        "dir/a.csv",
    ],
)
def test_safe_name_refuses(name):
    with pytest.raises(UploadError):
        safe_name(name)


def test_safe_join_refuses_links_and_escapes(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.csv").write_text("x")
    (root / "link.csv").symlink_to(tmp_path / "secret.csv")
    (root / "dir").symlink_to(tmp_path)
    assert safe_join(root, "a.csv") == root.resolve() / "a.csv"
    for bad in ("link.csv", "dir/secret.csv", "../secret.csv"):
        with pytest.raises(UploadError):
            safe_join(root, bad)


def test_overrides_merge_pins_and_bans():
    inputs = {
        "overrides": {"objective": {"stores": 5}, "constraints": {"must_open": ["a"]}},
        "pins": ["b"],
        "bans": ["c"],
    }
    over = scenario_overrides(inputs)
    assert over == {"objective": {"stores": 5}, "constraints": {"must_open": ["a", "b"], "forbidden": ["c"]}}
    assert inputs["overrides"]["constraints"] == {"must_open": ["a"]}  # not mutated
    base = {"objective": {"kind": "revenue", "stores": 200}, "name": "x"}
    assert deep_merge(base, {"objective": {"stores": 5}}) == {
        "objective": {"kind": "revenue", "stores": 5},
        "name": "x",
    }


def test_form_schema_follows_the_pydantic_models():
    sections = {s["key"]: s for s in form_schema()["sections"]}
    assert list(sections) == ["areas", "objective", "formats", "rollout", "constraints", "options"]
    fields = {f["key"]: f for f in sections["objective"]["fields"]}
    assert fields["kind"]["enum"] == list(OBJECTIVES)
    assert fields["stores"]["type"] == "integer" and fields["stores"]["nullable"]
    assert fields["stores"]["minimum"] == 0
    radius = ObjectiveSpec.model_fields["radius_km"]
    assert fields["radius_km"]["default"] == radius.default
    assert fields["radius_km"]["exclusiveMinimum"] == 0
    rollout = {f["key"]: f for f in sections["rollout"]["fields"]}
    assert rollout["stores_per_year"]["type"] == "array" and rollout["stores_per_year"]["items"] == "integer"
    assert sections["formats"]["repeated"]


def test_knob_values_of_the_bundled_scenario():
    from storeplan.bundled import demo_scenario_path

    k = knob_values(demo_scenario_path("three-years"))
    assert k["objective"]["kind"] == "revenue"
    assert [f["name"] for f in k["formats"]] == ["standard", "flagship", "partner"]
    assert k["rollout"]["years"] == 3
    assert k["options"]["seed"] == 0


def test_web_does_not_import_the_command_line():
    """Layering: the web app and the CLI are both front ends; neither imports the other
    (what they share lives below them, e.g. :mod:`storeplan.bundled`)."""
    web = Path(__file__).resolve().parents[2] / "src" / "storeplan" / "web"
    for path in sorted(web.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                assert name not in ("..cli", "storeplan.cli"), f"{path.name} imports {name}"
            elif isinstance(node, ast.Import):
                assert all(a.name != "storeplan.cli" for a in node.names), path.name


def test_disk_cache_keeps_the_latest_entries(tmp_path):
    cache = DiskCache(tmp_path / "markets", keep=2)
    assert cache.get("a1") is None and len(cache) == 0
    cache["a1"] = {"x": [1, 2]}
    time.sleep(0.02)
    cache["b2"] = (1, "two")
    time.sleep(0.02)
    assert cache["a1"] == {"x": [1, 2]}  # a read counts as a use
    time.sleep(0.02)
    cache["c3"] = 3.0
    assert sorted(cache) == ["a1", "c3"]  # b2 was the least recently used
    with pytest.raises(KeyError):
        cache["../x"]
    (tmp_path / "markets" / "c3.pkl").write_bytes(b"broken")
    assert cache.get("c3") is None  # a damaged file is a miss, not an error


def test_warm_start_keeps_the_parent_bound_only_for_added_constraints(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    base = {
        "scenario": "bundled:year-one",
        "overrides": {"objective": {"stores": 3}},
        "pins": ["p"],
        "bans": [],
    }
    parent = store.create(name="p", source="bundled:year-one", inputs=base)
    out = job_dir(tmp_path, parent.id) / "out"
    out.mkdir(parents=True)
    pd.DataFrame({"id": ["s1", "s2", "e1"], "status": ["new", "new", "existing"]}).to_csv(out / "plan.csv")
    assert warm_start(store, tmp_path, {**base, "warm_start": parent.id}) is None  # not finished
    store.finish(parent.id, "done", summary={"bound_value": 123.0})
    web = job_dir(tmp_path, parent.id) / "web"
    web.mkdir(parents=True)
    (web / "summary.json").write_text(json.dumps({"market_key": "k1"}), encoding="utf-8")
    more = warm_start(store, tmp_path, {**base, "bans": ["s1"], "warm_start": parent.id}, "k1")
    assert more.sites == ("s1", "s2") and more.bound == 123.0  # only a ban added: the bound holds
    # the same settings on another market (its data or model changed): the bound may not hold
    moved = warm_start(store, tmp_path, {**base, "bans": ["s1"], "warm_start": parent.id}, "k2")
    assert moved.sites == ("s1", "s2") and moved.bound is None
    unpinned = warm_start(store, tmp_path, {**base, "pins": [], "warm_start": parent.id}, "k1")
    assert unpinned.sites == ("s1", "s2") and unpinned.bound is None  # a pin removed: it may not
    other = {**base, "overrides": {"objective": {"stores": 4}}, "warm_start": parent.id}
    assert warm_start(store, tmp_path, other, "k1").bound is None
    assert warm_start(store, tmp_path, base, "k1") is None  # no re-plan
