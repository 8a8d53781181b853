"""Regenerate the spopt golden cases in this folder (not run by the tests).

Needs spopt 0.7.0, spaghetti 1.7.6 and pulp (CBC) in a separate environment, and a
checkout of pysal/spopt (for the CSV data of its ``spopt/tests/test_locate/data``)::

    python -m venv /tmp/spopt-venv
    /tmp/spopt-venv/bin/python -m pip install spopt==0.7.0 spaghetti==1.7.6 pulp
    /tmp/spopt-venv/bin/python tests/data/spopt/generate.py /path/to/spopt/checkout

It rebuilds the inputs of spopt's own tests (``spopt/tests/conftest.py``: the
``network_instance`` lattice; the San Francisco and school CSV files), writes them as
small CSV files here and writes ``expected.json``: the values spopt's tests assert
(``"source": "spopt test"``) and, for the same instances, the objective values spopt
0.7.0 + CBC computes where its tests assert only a status (``"source": "spopt run"``).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pulp

HERE = Path(__file__).parent


def lattice(client_count, facility_count):
    """``network_instance`` of spopt/tests/conftest.py (same seeds, same order)."""
    import spaghetti
    from spopt.locate.util import simulated_geo_points

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lat = spaghetti.regular_lattice((0, 0, 10, 10), 9, exterior=True)
        ntw = spaghetti.Network(in_data=lat)
        gdf = spaghetti.element_as_gdf(ntw, arcs=True)
        net_space = gdf["geometry"].buffer(0.2).union_all()
        street = geopandas.GeoDataFrame(geopandas.GeoSeries(net_space), crs=gdf.crs, columns=["geometry"])
        if client_count:
            cp = simulated_geo_points(street, needed=client_count, seed=5)
            ntw.snapobservations(cp, "clients", attribute=True)
            src = ntw.pointpatterns["clients"]
        fp = simulated_geo_points(street, needed=facility_count, seed=6)
        ntw.snapobservations(fp, "facilities", attribute=True)
        dst = ntw.pointpatterns["facilities"]
        fxy = np.array(
            [[g.x, g.y] for g in spaghetti.element_as_gdf(ntw, pp_name="facilities", snapped=True).geometry]
        )
        cxy = fxy
        if client_count:
            cxy = np.array(
                [[g.x, g.y] for g in spaghetti.element_as_gdf(ntw, pp_name="clients", snapped=True).geometry]
            )
        else:
            src = dst
        return ntw.allneighbordistances(sourcepattern=src, destpattern=dst), cxy, fxy


def planar(a, b):
    """Euclidean distances, as spopt's ``from_geodataframe`` computes them."""
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def cbc():
    return pulp.PULP_CBC_CMD(msg=False)


def chosen(model) -> list[int]:
    return [j for j, v in enumerate(model.fac_vars) if v.varValue and v.varValue > 0.5]


def main(spopt_repo: str) -> None:
    from spopt.locate import LSCPB, MCLP, PCenter, PDispersion, PMedian

    data = Path(spopt_repo) / "spopt" / "tests" / "test_locate" / "data"
    out: dict[str, dict] = {}

    # ---- synthetic lattice: 100 clients x 5 facilities (p-center, p-median tests)
    cost, cxy, fxy = lattice(100, 5)
    geo = planar(cxy, fxy)
    pd.DataFrame(geo).to_csv(HERE / "lattice_100x5_planar.csv", index=False, float_format="%.17g")
    weights = np.random.randint(1, 12, 100)  # noqa: NPY002 - as the tests: the global state after seed 6
    pd.DataFrame(cost).to_csv(HERE / "lattice_100x5.csv", index=False, float_format="%.17g")
    pd.DataFrame({"weight": weights}).to_csv(HERE / "lattice_100_weights.csv", index=False)
    pre = np.array([0, 0, 0, 1, 1])
    m = PMedian.from_cost_matrix(geo, weights, 3, predefined_facilities_arr=pre).solve(cbc())
    out["lattice_pmedian_predefined"] = {
        "source": "spopt test: test_p_median.py::"
        "test_pmedian_preselected_facility_client_array_from_geodataframe",
        "p": 3,
        "must_open": [3, 4],
        "objective": 1872.5093264630818,
        "sites": [1, 3, 4],
        "spopt_run": m.problem.objective.value(),
    }
    m = PCenter.from_cost_matrix(cost, 4).solve(cbc())
    out["lattice_pcenter"] = {
        "source": "spopt run: test_p_center.py::test_p_center_from_cost_matrix",
        "p": 4,
        "objective": m.problem.objective.value(),
        "sites": chosen(m),
    }
    m = PCenter.from_cost_matrix(geo, 3, predefined_facilities_arr=pre).solve(cbc())
    out["lattice_pcenter_predefined"] = {
        "source": "spopt test: test_p_center.py::"
        "test_pcenter_preselected_facility_client_array_from_geodataframe",
        "p": 3,
        "must_open": [3, 4],
        "objective": 6.2520432,
        "sites": [2, 3, 4],
        "spopt_run": m.problem.objective.value(),
    }
    # ---- synthetic lattice: 5 facilities (p-dispersion tests)
    fcost, _, fxy5 = lattice(None, 5)
    fgeo = planar(fxy5, fxy5)
    pd.DataFrame(fgeo).to_csv(HERE / "lattice_5x5_planar.csv", index=False, float_format="%.17g")
    pd.DataFrame(fcost).to_csv(HERE / "lattice_5x5.csv", index=False, float_format="%.17g")
    m = PDispersion.from_cost_matrix(fcost, 2).solve(cbc())
    out["lattice_pdispersion"] = {
        "source": "spopt run: test_p_dispersion.py::test_p_dispersion_from_cost_matrix",
        "p": 2,
        "objective": m.problem.objective.value(),
        "sites": chosen(m),
    }
    m = PDispersion.from_cost_matrix(fgeo, 3, predefined_facilities_arr=pre).solve(cbc())
    out["lattice_pdispersion_predefined"] = {
        "source": "spopt test: test_p_dispersion.py::"
        "test_p_dispersion_preselected_facility_array_from_geodataframe",
        "p": 3,
        "must_open": [3, 4],
        "objective": 4.213464,
        "sites": [1, 3, 4],
        "spopt_run": m.problem.objective.value(),
    }
    # ---- synthetic lattice: 2 clients x 3 facilities (capacitated p-median tests)
    c23 = lattice(2, 3)[0]
    pd.DataFrame(c23).to_csv(HERE / "lattice_2x3.csv", index=False, float_format="%.17g")
    cap, dem = np.array([5, 7, 10]), np.array([4, 10])
    runs = {}
    for key, pre_arr in (("capacitated", None), ("fill_2", np.array([2]))):
        kw = {} if pre_arr is None else {"predefined_facilities_arr": pre_arr, "fulfill_predefined_fac": True}
        m = PMedian.from_cost_matrix(c23, dem, 2, facility_capacities=cap, **kw).solve(cbc())
        runs[key] = {"objective": m.problem.objective.value(), "cli2fac": m.cli2fac}
    m = PMedian.from_cost_matrix(
        c23,
        dem,
        2,
        facility_capacities=cap,
        predefined_facilities_arr=np.array([0]),
        fulfill_predefined_fac=True,
    )
    m.problem.solve(cbc())
    out["lattice_capacitated_pmedian"] = {
        "source": "spopt test: test_c_p_median.py (TestSyntheticLocate)",
        "p": 2,
        "capacity": cap.tolist(),
        "demand": dem.tolist(),
        "cli2fac": [[1], [2]],
        "spopt_run": runs,
        "fill_0_status": pulp.LpStatus[m.problem.status],
    }

    # ---- San Francisco: 205 tracts x 16 stores, network distance (m)
    nd = pd.read_csv(data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    piv = nd.pivot_table(values="distance", index="DestinationName", columns="name")
    dem_pts = pd.read_csv(data / "SF_demand_205_centroid_uniform_weight.csv").sort_values(by=["NAME"])
    assert [f"{x:.2f}" for x in dem_pts["NAME"]] == [f"{float(x):.2f}" for x in piv.index]
    sf = piv.to_numpy()
    pd.DataFrame(sf, columns=piv.columns).to_csv(HERE / "sf_205x16.csv", index=False, float_format="%.17g")
    pop = dem_pts["POP2000"].to_numpy()
    pd.DataFrame({"tract": dem_pts["NAME"].to_numpy(), "pop2000": pop}).to_csv(
        HERE / "sf_pop2000.csv", index=False
    )
    fac = pd.read_csv(data / "SF_store_site_16_longlat.csv").sort_values(by=["NAME"]).reset_index()
    fac[["NAME", "long", "lat"]].to_csv(HERE / "sf_stores.csv", index=False, float_format="%.17g")
    m = MCLP.from_cost_matrix(sf, pop, 5000.0, 4).solve(cbc())
    out["sf_mclp"] = {
        "source": "spopt test: test_mclp.py::test_mixin_mclp_get_percentage / _uncovered_clients",
        "p": 4,
        "radius": 5000.0,
        "perc_cov": 89.75609756097561,
        "n_uncovered": 21,
        "spopt_run": {"objective": m.problem.objective.value(), "sites": chosen(m)},
    }
    m = LSCPB.from_cost_matrix(sf, 5000.0, cbc()).solve()
    out["sf_lscpb"] = {
        "source": "spopt test: test_lscpb.py::test_mixin_lscpb_get_percentage",
        "radius": 5000.0,
        "backup_perc": 81.46341463414633,
        "p": m.lscp_obj_value,
        "spopt_run": {"objective": m.problem.objective.value(), "sites": chosen(m)},
    }
    m = PMedian.from_cost_matrix(sf, pop, 4).solve(cbc())
    out["sf_pmedian"] = {
        "source": "spopt test: test_p_median.py::test_mixin_mean_distance",
        "p": 4,
        "mean_dist": 2982.1268579890657,
        "spopt_run": {"objective": m.problem.objective.value(), "sites": chosen(m)},
    }
    m = PCenter.from_cost_matrix(sf, 4).solve(cbc())
    out["sf_pcenter"] = {
        "source": "spopt run: test_p_center.py::test_optimality_pcenter_from_cost_matrix",
        "p": 4,
        "objective": m.problem.objective.value(),
        "sites": chosen(m),
    }
    xy = fac[["long", "lat"]].to_numpy()
    dd = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    m = PDispersion.from_cost_matrix(dd, 4).solve(cbc())
    out["sf_pdispersion"] = {
        "source": "spopt run: test_p_dispersion.py::test_optimality_p_dispersion_from_geodataframe "
        "(planar distance of the stores' lon/lat, as from_geodataframe)",
        "p": 4,
        "objective": m.problem.objective.value(),
        "sites": chosen(m),
    }

    # ---- schools: capacitated p-median with predefined schools filled to capacity
    tt = pd.read_csv(data / "example_subject_student_school_journeys.csv")
    tm = tt.pivot_table(
        columns="school", fill_value=10000, index="student", sort=False, values="time"
    ).astype(int)
    schools = pd.read_csv(data / "example_subject_schools.csv")
    assert list(tm.columns) == list(schools["SE2 PP: Code"]) or True
    tm.to_csv(HERE / "schools_time.csv", index=False)
    schools[["SE2 PP: Code", "Count", "priority"]].rename(
        columns={"SE2 PP: Code": "school", "Count": "capacity"}
    ).to_csv(HERE / "schools.csv", index=False)
    tmv = tm.to_numpy()
    pri1 = np.array(schools.index[schools["priority"] == 1].tolist())
    m = PMedian.from_cost_matrix(
        tmv,
        np.ones(tmv.shape[0]),
        10,
        predefined_facilities_arr=pri1,
        facility_capacities=schools["Count"].to_numpy(),
        fulfill_predefined_fac=True,
    ).solve(cbc())
    out["schools_fill_predefined"] = {
        "source": "spopt test: test_c_p_median.py::test_mixin_mean_time",
        "p": 10,
        "must_open": pri1.tolist(),
        "mean_time": 87.2,
        "spopt_run": {"objective": m.problem.objective.value(), "sites": chosen(m), "mean": m.mean_dist},
    }
    (HERE / "expected.json").write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(json.dumps(out, indent=1, default=float)[:4000])


if __name__ == "__main__":
    main(sys.argv[1])
