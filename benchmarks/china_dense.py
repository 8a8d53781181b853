"""Dense great-circle p-median instance on the bundled China places (real geography).

Clients are the GeoNames places of :func:`storeplan.data.datasets.china` (16,048 places,
ids ``gn...``, population weights; the dataset's county and township stand-ins, 25,671
more rows since dataset version 3, are left out so the instance stays at the size of the
issue's 10^4 x 10^3 target); candidate sites are the ``n_sites`` most populous of them
(ties broken by id). The matrix is the dense clients x sites great-circle distance in
km (float64), built in row chunks. ``provinces`` restricts both to a few provinces (a
mid-sized instance for quick iterations).
"""

from __future__ import annotations

import numpy as np

from storeplan.data.datasets import china
from storeplan.geo import haversine_km


def china_dense(n_sites: int = 3500, provinces=None, chunk: int = 2048):
    """Return ``(D, w, names)``: dense (n_clients, n_sites) km matrix, population
    weights and the candidate place ids."""
    areas = china(provinces=provinces).areas
    areas = areas[areas["id"].str.startswith("gn")].reset_index(drop=True)
    order = np.lexsort((areas["id"].to_numpy(), -areas["population"].to_numpy()))
    sites = np.sort(order[: min(n_sites, len(areas))])
    lon, lat = areas["lon"].to_numpy(float), areas["lat"].to_numpy(float)
    slon, slat = lon[sites], lat[sites]
    n = len(areas)
    D = np.empty((n, sites.size))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        D[a:b] = haversine_km(lon[a:b, None], lat[a:b, None], slon[None, :], slat[None, :])
    return D, areas["population"].to_numpy(float), areas["id"].to_numpy()[sites]
