"""The web app's HTTP API (FastAPI TestClient): runs, progress, cancel, re-plan, compare,
outputs, uploads (good and bad) and restart recovery with the SQLite job store."""

from __future__ import annotations

import io
import json
import math
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import DATA, SMALL, upload_files, wait_for
from storeplan import Plan, Scenario
from storeplan.engine import COLUMNS, SHOWN, compare, comparison_row
from storeplan.geo import haversine_km
from storeplan.web.store import INTERRUPTED_MESSAGE, JobStore


# ---------------------------------------------------------------------------- runs and outputs
def test_finished_run_has_phases_outputs_and_consistent_numbers(finished, make_client):
    data_dir, ja, _ = finished
    c = make_client(data_dir)
    job = c.get(f"/api/jobs/{ja['id']}").json()
    assert job["status"] == "done" and job["error"] is None
    for phase in ("load", "market", "network", "solve", "evaluate", "save", "explain"):
        assert job["progress"][phase] == 1.0
        assert job["timings"][phase] >= 0.0
    for name in ("plan.csv", "summary.json", "assignment.parquet", "report.html", "map.html", "why_here.csv"):
        assert name in job["outputs"]
    # each output file comes back byte for byte
    out = data_dir / "jobs" / ja["id"] / "out"
    for name in job["outputs"]:
        r = c.get(f"/api/jobs/{ja['id']}/files/{name}")
        assert r.status_code == 200, name
        assert r.content == (out / name).read_bytes()
    # the page's numbers are the files' numbers
    summary = json.loads((out / "summary.json").read_text())
    page = c.get(f"/api/jobs/{ja['id']}/summary").json()
    head = {h["key"]: h["value"] for h in page["headline"]}
    assert head["objective"] == pytest.approx(summary["objective"], rel=1e-12)
    assert head["bound"] == pytest.approx(summary["bound"], rel=1e-12)
    plan_csv = pd.read_csv(out / "plan.csv")
    opened = int((plan_csv["status"].astype(str) == "new").sum())
    # the rollout opens at most the 6 asked for (it leaves out a store whose NPV is negative)
    assert head["n_new_stores"] == summary["n_new_stores"] == opened
    assert 1 <= opened <= 6
    assert head["market_share"] == pytest.approx(summary["market_share"], rel=1e-12)
    ro = summary["rollout"]  # the year-one scenario has a rollout: its certificate is shown too
    if ro.get("npv_bound") is not None:
        assert head["npv_bound"] == pytest.approx(ro["npv_bound"], rel=1e-12)
        assert head["npv_gap"] == pytest.approx(ro["npv_gap"], rel=1e-12)
    plan = pd.read_csv(out / "plan.csv", dtype={"id": str})
    layers = c.get(f"/api/jobs/{ja['id']}/map").json()
    assert layers["stores"]["id"] == plan["id"].tolist()
    assert layers["stores"]["revenue"] == pytest.approx(plan["revenue"].round().tolist(), abs=0.5)
    assert layers["areas"]["n"] == summary["n_areas"] == len(layers["areas"]["lon"])
    served = np.bincount([s for s in layers["areas"]["store"] if s >= 0], minlength=len(plan))
    assert served.tolist() == plan["n_areas"].tolist()
    # a store's card carries the plan.csv row
    row = plan.iloc[0]
    card = c.get(f"/api/jobs/{ja['id']}/stores/{row['id']}").json()
    fields = {f["key"]: f["value"] for f in card["fields"]}
    assert fields["revenue"] == pytest.approx(row["revenue"], rel=1e-12)
    assert fields["net_gain"] == pytest.approx(row["net_gain"], rel=1e-12)
    assert sum(card["revenue_by_category"].values()) == pytest.approx(row["offline_revenue"], rel=1e-9)
    # the archive holds every output
    z = zipfile.ZipFile(io.BytesIO(c.get(f"/api/jobs/{ja['id']}/archive.zip").content))
    assert sorted(z.namelist()) == sorted(job["outputs"])


def test_why_here_revenue_matches_marginal_value(finished, make_client):
    """Revenue plan: each new store's value is positive (the solver's swap search keeps no
    store worth less than nothing) and no nearby site beats it by more than the gap."""
    data_dir, ja, _ = finished
    out = data_dir / "jobs" / ja["id"] / "out"
    why = pd.read_csv(out / "why_here.csv", dtype={"id": str, "alternative_id": str})
    plan = pd.read_csv(out / "plan.csv", dtype={"id": str})
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(why["id"]) == sorted(plan.loc[plan["status"] == "new", "id"])
    assert (why["value"] > 0).all()
    slack = summary["bound"] - summary["objective"]
    alt = why.dropna(subset=["alternative_value"])
    assert (alt["alternative_value"] <= alt["value"] + slack + 1e-6).all()
    assert (alt["alternative_km"] <= 30.0 + 1e-9).all()
    assert not set(alt["alternative_id"]) & set(plan["id"])


def test_why_here_coverage_is_exact(finished):
    """Coverage plan (30 towns): brute-force the population lost when each store closes and
    the best swap with a site within 30 km."""
    data_dir, _, jb = finished
    out = data_dir / "jobs" / jb["id"] / "out"
    why = pd.read_csv(out / "why_here.csv", dtype={"id": str, "alternative_id": str}).set_index("id")
    plan = pd.read_csv(out / "plan.csv", dtype={"id": str})
    areas = pd.read_csv(DATA / "areas.csv", dtype={"id": str})
    pos = {s: k for k, s in enumerate(areas["id"])}
    lon, lat, w = areas["lon"].to_numpy(), areas["lat"].to_numpy(), areas["population"].to_numpy(float)
    d = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    radius = 8.0

    def covered(sites):
        return float(w[(d[:, sites] <= radius + 1e-9).any(axis=1)].sum())

    open_ = [pos[s] for s in plan["id"]]
    full = covered(open_)
    for sid in plan["id"]:
        rest = [j for j in open_ if j != pos[sid]]
        assert why.loc[sid, "value"] == pytest.approx(full - covered(rest), abs=1e-6)
        cand = [k for k in range(len(areas)) if k not in open_ and d[pos[sid], k] <= 30.0]
        if cand:
            best = max(covered([*rest, k]) - covered(rest) for k in cand)
            assert why.loc[sid, "alternative_value"] == pytest.approx(best, abs=1e-6)


def test_list_and_restart_keep_runs_and_fail_interrupted(finished_copy, make_client):
    data_dir, ja, jb = finished_copy
    store = JobStore(data_dir / "jobs.sqlite", recover=False)
    cut = store.create(name="cut", source="bundled:year-one", inputs=SMALL)
    store.update(cut.id, status="running", started=time.time(), phase="solve")
    waiting = store.create(name="waiting", source="bundled:year-one", inputs=SMALL)
    c = make_client(data_dir)  # a restart: the app opens the same data dir
    jobs = {j["id"]: j for j in c.get("/api/jobs").json()["jobs"]}
    assert jobs[ja["id"]]["status"] == "done" and jobs[jb["id"]]["status"] == "done"
    for jid in (cut.id, waiting.id):
        assert jobs[jid]["status"] == "failed"
        assert jobs[jid]["error"] == INTERRUPTED_MESSAGE
        assert jobs[jid]["finished"] is not None
    # finished runs still serve their outputs after the restart
    assert c.get(f"/api/jobs/{ja['id']}/files/plan.csv").status_code == 200


def test_compare_two_runs(finished, make_client):
    data_dir, ja, jb = finished
    c = make_client(data_dir)
    res = c.get(f"/api/compare?ids={ja['id']},{jb['id']}").json()
    assert [r["id"] for r in res["rows"]] == [ja["id"], jb["id"]]
    # the columns of `storeplan compare`'s table, in its order
    assert [col["key"] for col in res["columns"]] == [k for k in SHOWN if k != "error"]
    by = {r["id"]: r for r in res["rows"]}
    for job in (ja, jb):
        s = json.loads((data_dir / "jobs" / job["id"] / "out" / "summary.json").read_text())
        assert by[job["id"]]["objective_value"] == pytest.approx(s["objective"], rel=1e-12)
        assert by[job["id"]]["coverage_share"] == pytest.approx(s["coverage_share"], rel=1e-12)
        assert by[job["id"]]["n_stores"] == s["n_stores"]
    png = c.get(f"/api/compare/chart.png?ids={ja['id']},{jb['id']}")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    r = c.get(f"/api/compare?ids={ja['id']}")
    assert r.status_code == 422 and "at least two" in r.json()["message"]


def _same(a, b) -> bool:
    """Two comparison cells hold the same figure (NaN / None: both missing)."""
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in (a, b)]
    if any(missing):
        return all(missing)
    if isinstance(a, str | bool) or isinstance(b, str | bool):
        return a == b
    return float(a) == pytest.approx(float(b), rel=1e-9)


def test_compare_shows_the_figures_of_storeplan_compare(finished, make_client, tmp_path):
    """The web comparison row of a run is the row `storeplan compare` writes for the same
    scenario (the Hangzhou upload: a coverage plan proven optimal, so a second solve is the
    same plan), and the row engine.comparison_row gives the run's saved plan (both runs)."""
    data_dir, ja, jb = finished
    c = make_client(data_dir)
    rows = {r["id"]: r for r in c.get(f"/api/compare?ids={ja['id']},{jb['id']}").json()["rows"]}
    shown = [k for k in SHOWN if k not in ("name", "seconds", "error")]
    for job in (ja, jb):
        plan = Plan.load(data_dir / "jobs" / job["id"] / "out")
        want = comparison_row(plan, job["name"])
        for key in COLUMNS:
            if key in want and key != "name":
                assert _same(rows[job["id"]][key], want[key]), (job["name"], key)
    # `storeplan compare` on the uploaded scenario file
    cli = compare([DATA / "scenario.toml"], tmp_path / "cmp", workers=1).table.iloc[0].to_dict()
    for key in shown:
        assert _same(rows[jb["id"]][key], cli[key]), key
    assert rows[jb["id"]]["gap_share"] == 0.0  # proven optimal: the re-solve is the same plan


# ---------------------------------------------------------------------------- run, cancel, re-plan
def test_cancel_running_and_queued(make_client, tmp_path):
    c = make_client(max_runs=1)
    big = {"scenario": "bundled:three-years"}  # the national scenario: runs long enough to cancel
    first = c.post("/api/jobs", json=big).json()
    second = c.post("/api/jobs", json=big).json()
    assert second["status"] == "queued"
    wait_for(c, first["id"], statuses=("running",), timeout=60)
    time.sleep(1.0)
    r = c.post(f"/api/jobs/{second['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = c.post(f"/api/jobs/{first['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["error"] == "cancelled by the user"
    assert not (tmp_path / "data" / "jobs" / first["id"] / "out").exists()
    again = c.post(f"/api/jobs/{first['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "Conflict"
    assert c.get(f"/api/jobs/{first['id']}/map").status_code == 409
    assert c.get("/api/health").json()["running"] == []


def test_progress_events_stream_until_the_end(finished, make_client):
    data_dir, ja, _ = finished
    c = make_client(data_dir)
    with c.stream("GET", f"/api/jobs/{ja['id']}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [b for b in text.split("\n\n") if b.strip()]
    assert events[-1].startswith("event: end")
    last = json.loads(events[-1].split("data: ", 1)[1])
    assert last["status"] == "done" and last["progress"]["solve"] == 1.0


def test_replan_pins_and_bans(finished_copy, make_client):
    data_dir, ja, _ = finished_copy
    c = make_client(data_dir, spare_worker=True)  # two runs: the second takes the spare
    plan = pd.read_csv(data_dir / "jobs" / ja["id"] / "out" / "plan.csv", dtype={"id": str})
    why = pd.read_csv(
        data_dir / "jobs" / ja["id"] / "out" / "why_here.csv", dtype={"id": str, "alternative_id": str}
    )
    ban = plan["id"].iloc[0]
    pin = why.dropna(subset=["alternative_id"])["alternative_id"].iloc[0]
    r = c.post(f"/api/jobs/{ja['id']}/replan", json={"pins": [pin], "bans": [ban]})
    assert r.status_code == 201, r.text
    child = wait_for(c, r.json()["id"])
    assert child["status"] == "done", child
    assert child["parent_id"] == ja["id"]
    assert child["inputs"]["pins"] == [pin] and child["inputs"]["bans"] == [ban]
    new = pd.read_csv(data_dir / "jobs" / child["id"] / "out" / "plan.csv", dtype={"id": str})
    assert pin in set(new["id"]) and ban not in set(new["id"])
    assert len(new) == len(plan)
    # an error raised in the run: pinning an unknown site passes the request's schema
    # check, then the run's input check refuses it; the job is failed, in SQLite and in
    # the API, with the CLI's own one-line message
    bad = c.post(f"/api/jobs/{ja['id']}/replan", json={"pins": ["no-such-site"]})
    assert bad.status_code == 201, bad.text
    job = wait_for(c, bad.json()["id"])
    assert job["status"] == "failed"
    with pytest.raises(Exception) as cli:  # what `storeplan validate` / `run` print after "error: "
        from storeplan.bundled import demo_scenario_path
        from storeplan.web.runner import scenario_overrides

        Scenario.from_toml(demo_scenario_path("year-one"), **scenario_overrides(bad.json()["inputs"]))
    assert job["error"] == str(cli.value)
    assert "constraints.must_open: unknown site id(s) no-such-site" in job["error"]
    assert "\n" not in job["error"] and "Traceback" not in job["error"]
    assert JobStore(data_dir / "jobs.sqlite", recover=False).get(job["id"]).error == job["error"]
    assert c.get(f"/api/jobs/{job['id']}/summary").status_code == 409
    # the re-plan was warm-started from its parent and kept the parent's bound (it only
    # added a pin and a ban)
    summary = c.get(f"/api/jobs/{child['id']}/summary").json()
    assert summary["warm_start"] is True
    assert child["summary"]["bound_value"] <= ja["summary"]["bound_value"] * (1 + 1e-9)
    assert child["summary"]["bound_value"] >= child["summary"]["objective_value"]


# ---------------------------------------------------------------------------- request errors
def test_bad_settings_are_refused_with_the_cli_message(make_client):
    c = make_client()
    r = c.post(
        "/api/jobs", json={"scenario": "bundled:year-one", "overrides": {"objective": {"kind": "nope"}}}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "UnknownOptionError"
    with pytest.raises(Exception) as cli:  # the CLI's (Scenario.from_toml's) own wording
        from storeplan.bundled import demo_scenario_path

        Scenario.from_toml(demo_scenario_path("year-one"), objective={"kind": "nope"})
    assert body["message"] == str(cli.value)
    r = c.post(
        "/api/jobs", json={"scenario": "bundled:year-one", "overrides": {"options": {"time_limit": -1}}}
    )
    assert r.status_code == 422 and "options.time_limit" in r.json()["message"]
    r = c.post("/api/jobs", json={"scenario": "bundled:year-one", "overrides": {"solver_internals": {}}})
    assert r.status_code == 422 and "cannot override solver_internals" in r.json()["message"]
    r = c.post("/api/jobs", json={"scenario": "../../etc/passwd"})
    assert r.status_code == 422 and r.json()["error"] == "UnknownOptionError"
    r = c.post("/api/jobs", json={"scenario": "upload:../../x"})
    assert r.status_code == 422 and "unknown upload" in r.json()["message"]
    r = c.post("/api/jobs", json={"scenario": "bundled:year-one", "surprise": 1})
    assert r.status_code == 422 and r.json()["error"] == "InvalidRequest"
    for url in ("/api/jobs/nope", "/api/jobs/nope/map", "/api/jobs/..%2F..%2Fjobs.sqlite"):
        r = c.get(url)
        assert r.status_code == 404 and set(r.json()) == {"error", "message"}, url
    assert "Traceback" not in c.get("/api/jobs/nope").text


def test_output_files_stay_inside_the_run(finished_copy, make_client):
    data_dir, ja, _ = finished_copy
    c = make_client(data_dir)
    base = f"/api/jobs/{ja['id']}/files"
    for name in (
        "../../../jobs.sqlite",
        "..%2F..%2Fjobs.sqlite",
        "/etc/passwd",
        "log.txt",
        "charts%2F..%2Fplan.csv",
    ):
        r = c.get(f"{base}/{name}")
        assert r.status_code == 404, name
        assert r.json()["error"] == "NotFound"
    # a link planted in the output folder is not followed, even under an output's name
    out = data_dir / "jobs" / ja["id"] / "out"
    (out / "plan.csv").unlink()
    (out / "plan.csv").symlink_to(data_dir / "jobs.sqlite")
    r = c.get(f"{base}/plan.csv")
    assert r.status_code == 422 and "links are not followed" in r.json()["message"]


# ---------------------------------------------------------------------------- uploads
def _zip(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _scenario_members() -> dict[str, bytes]:
    return {n: (DATA / n).read_bytes() for n in ("scenario.toml", "areas.csv", "rivals.csv")}


def test_upload_zip(make_client):
    c = make_client()
    r = c.post(
        "/api/uploads", files=[("files", ("hangzhou.zip", _zip(_scenario_members()), "application/zip"))]
    )
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["summary"]["areas"] == 30 and up["summary"]["rival_stores"] == 5
    assert up["knobs"]["objective"]["kind"] == "coverage"
    listed = c.get("/api/scenarios").json()["uploads"]
    assert [u["source"] for u in listed] == [up["source"]]
    # a run of it is queued with its settings checked (uploads are run end to end by the
    # `finished` fixture: the Hangzhou upload)
    job = c.post(
        "/api/jobs", json={"scenario": up["source"], "overrides": {"objective": {"stores": 2}}}
    ).json()
    assert job["source"] == up["source"] and job["status"] in ("queued", "running")
    assert c.post(f"/api/jobs/{job['id']}/cancel").json()["status"] == "cancelled"


def test_upload_parquet_and_geojson_tables(make_client, tmp_path):
    """The same scenario with its areas as Parquet and its rivals as GeoJSON, uploaded one
    file at a time, reads the same tables as the CSV upload."""
    pytest.importorskip("pyarrow")
    gpd = pytest.importorskip("geopandas")
    areas = pd.read_csv(DATA / "areas.csv", dtype={"id": str})
    rivals = pd.read_csv(DATA / "rivals.csv", dtype={"id": str})
    areas.to_parquet(tmp_path / "areas.parquet", index=False)
    gdf = gpd.GeoDataFrame(
        rivals.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(rivals["lon"], rivals["lat"]),
        crs=4326,
    )
    gdf.to_file(tmp_path / "rivals.geojson", driver="GeoJSON")
    toml = (DATA / "scenario.toml").read_text(encoding="utf-8")
    toml = toml.replace('"areas.csv"', '"areas.parquet"').replace('"rivals.csv"', '"rivals.geojson"')
    (tmp_path / "scenario.toml").write_text(toml, encoding="utf-8")
    c = make_client()
    r = upload_files(c, ("scenario.toml", "areas.parquet", "rivals.geojson"), folder=tmp_path)
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["summary"]["areas"] == len(areas) and up["summary"]["rival_stores"] == len(rivals)
    assert sorted(up["files"]) == ["areas.parquet", "rivals.geojson", "scenario.toml"]
    csv = upload_files(c).json()
    assert {k: v for k, v in up["summary"].items() if k != "name"} == {
        k: v for k, v in csv["summary"].items() if k != "name"
    }


def test_upload_validation_error_is_the_cli_message(make_client, tmp_path):
    c = make_client()
    areas = pd.read_csv(DATA / "areas.csv").drop(columns=["population"])
    folder = tmp_path / "bad"
    folder.mkdir()
    areas.to_csv(folder / "areas.csv", index=False)
    for n in ("scenario.toml", "rivals.csv"):
        (folder / n).write_bytes((DATA / n).read_bytes())
    r = upload_files(c, folder=folder)
    assert r.status_code == 422
    with pytest.raises(Exception) as cli:
        Scenario.from_toml(folder / "scenario.toml")
    msg = r.json()["message"]
    assert msg == str(cli.value)  # exactly what `storeplan validate` prints after "error: "
    assert "population" in msg
    assert c.get("/api/scenarios").json()["uploads"] == []  # nothing kept


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("evil.exe", b"MZ\x90\x00", 422, "type .exe is not allowed"),
        ("areas.csv", b"\x00\x01\x02binary", 422, "must be text"),
        ("../scenario.toml", b"name = 'x'", 422, "refused file name"),
        ("..", b"x", 422, "refused file name"),
        ("/etc/scenario.toml", b"name = 'x'", 422, "refused file name"),
        ("data.parquet", b"not parquet", 422, "not a Parquet file"),
        ("broken.zip", b"PK\x03\x04 this is not really a zip", 422, "not a readable zip archive"),
        ("fake.zip", b"hello", 422, "not a zip archive"),
        ("areas.csv", b"id,lon,lat,population\na,1,1,1\n", 422, "no scenario file"),
    ],
)
def test_bad_single_uploads(make_client, name, data, status, words):
    c = make_client()
    r = c.post("/api/uploads", files=[("files", (name, data, "application/octet-stream"))])
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"}
    assert words in body["message"]


@pytest.mark.parametrize(
    ("members", "symlink", "words"),
    [
        ({"../../outside.csv": b"a,b\n"}, None, "refused file name"),
        ({"/abs/scenario.toml": b"x"}, None, "absolute paths are not allowed"),
        ({"ok/../../up.csv": b"a\n"}, None, "refused file name"),
        ({"scenario.toml": b"x"}, "areas.csv", "is a link"),
        ({"payload.bin": b"x"}, None, "type .bin is not allowed"),
    ],
)
def test_bad_zip_members(make_client, tmp_path, members, symlink, words):
    c = make_client()
    r = c.post(
        "/api/uploads", files=[("files", ("s.zip", _zip(members, symlink=symlink), "application/zip"))]
    )
    assert r.status_code == 422, r.text
    assert words in r.json()["message"]
    assert not list((tmp_path / "data" / "uploads").iterdir())  # nothing left behind


def test_zip_bomb_is_refused(make_client):
    c = make_client(max_unpacked_mb=5)
    bomb = _zip({"scenario.toml": b"name = 'x'\n", "areas.csv": b"0" * (40 * 1024 * 1024)})
    assert len(bomb) < 200_000
    r = c.post("/api/uploads", files=[("files", ("bomb.zip", bomb, "application/zip"))])
    assert r.status_code in (413, 422)
    assert "zip bomb" in r.json()["message"] or "unpacks to" in r.json()["message"]


def test_upload_too_big(make_client):
    c = make_client(max_upload_mb=0.05)
    payload = b"id,lon,lat,population\n" + b"a,1,1,1\n" * 20_000  # 160 kB
    r = c.post("/api/uploads", files=[("files", ("areas.csv", payload, "text/csv"))])
    assert r.status_code == 413
    assert r.json()["error"] == "UploadTooLargeError"
    assert "larger than the server allows" in r.json()["message"]
