"""Seeded synthetic layers for the bundled China dataset.

Everything in this module is **synthetic**: plausible, documented, reproducible, but not
measured. The real layers (places, coordinates, known populations, administrative
hierarchy, province census totals) are built in :mod:`storeplan.data.datasets`; the
functions here only add columns on top of them.

Rules every function follows:

* inputs are plain arrays / frames, outputs are new arrays / frames (no mutation);
* every random draw comes from ``numpy.random.default_rng([seed, STREAM])`` where
  ``STREAM`` is a constant private to that function, so the layers are independent of
  each other and of the order in which they are computed, and the global NumPy random
  state is never touched;
* region-level random effects are drawn for the **sorted unique region names** and
  place-level effects for the rows in the given order, so calling a function on the
  national table and slicing gives the same values as the dataset loader.

Currency is CNY (yuan). Populations are persons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "RivalBrand",
    "DEFAULT_BRANDS",
    "TIER_THRESHOLDS",
    "income",
    "price_tier",
    "online_share",
    "online_orders",
    "rivals",
    "country_key",
    "world_income_targets",
    "world_income",
    "world_online_share",
    "world_online_orders",
    "world_price_level",
    "world_rivals",
    "WORLD_BRANDS",
    "WORLD_TIER_THRESHOLDS",
    "OUTLETS_PER_100K",
    "HOUSEHOLD_INCOME_SHARE",
    "SIZE_ELASTICITY",
    "INCOME_BASE",
    "WORLD_SIZE_ELASTICITY",
    "CALIBRATED_BRANDS",
    "rival_outlets",
]

# Private stream ids: default_rng([seed, stream]) gives independent generators.
_INCOME_STREAM = 101
_ONLINE_SHARE_STREAM = 102
_ORDERS_STREAM = 103
_RIVALS_STREAM = 104

#: Elasticity of place income with respect to place population and the income (CNY per
#: person per year) of a 50,000-person place at 110 E: fitted (least squares on the log
#: means, seed 0) so the China dataset's mean township income is the 2020 rural and its
#: mean city income the 2020 urban disposable income per person (NBS statistical
#: communique 2020: 17,131 and 43,834 CNY). Refitted on dataset version 3 (the township
#: stand-ins made the township mix smaller and more western; version 2 gave 0.24 / 18,500).
SIZE_ELASTICITY = 0.201
INCOME_BASE = 20_500.0

#: The world dataset's elasticity: the China fit of dataset version 2, kept so that the
#: world tables stay as published (each country is scaled to its own mean income anyway,
#: so this sets only the spread between a country's small and large places).
WORLD_SIZE_ELASTICITY = 0.24

#: Upper bounds (CNY per capita per year) of the ``budget`` and ``mid`` price tiers.
TIER_THRESHOLDS: tuple[float, float] = (25_000.0, 45_000.0)


def _region_effect(region: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Map per-region random effects (``draw[i]`` for the i-th sorted region) onto rows."""
    names, inverse = np.unique(np.asarray(region, dtype=object).astype(str), return_inverse=True)
    if draw.shape[0] != names.shape[0]:  # pragma: no cover - internal misuse
        raise ValueError("one draw per unique region expected")
    return draw[inverse]


def _n_regions(region: np.ndarray) -> int:
    return int(np.unique(np.asarray(region, dtype=object).astype(str)).shape[0])


def income(
    population: np.ndarray,
    lon: np.ndarray,
    region: np.ndarray,
    *,
    seed: int = 0,
    base: float = INCOME_BASE,
    ref_population: float = 50_000.0,
    size_elasticity: float = SIZE_ELASTICITY,
    east_gradient: float = 0.12,
    region_sd: float = 0.15,
    place_sd: float = 0.20,
    bounds: tuple[float, float] = (8_000.0, 200_000.0),
) -> np.ndarray:
    """Synthetic disposable income per capita (CNY per person per year).

    A log-linear model with a city-size premium, an east-west gradient and region and
    place random effects::

        ln I = ln(base) + size_elasticity * ln(max(P, 1) / ref_population)
               + east_gradient * (lon - 110) / 10 + u_region + e_place
        u_region ~ N(0, region_sd**2),  e_place ~ N(0, place_sd**2)

    clipped to ``bounds`` and rounded to whole yuan.

    Parameters
    ----------
    population : ndarray
        Persons per place (>= 0).
    lon : ndarray
        Longitude in degrees east.
    region : ndarray
        Province name per place (random effect groups).
    seed : int
        Seed of ``numpy.random.default_rng``.
    base : float
        Income (CNY/person/year) of a place of ``ref_population`` persons at 110 E.
    ref_population : float
        Reference population (persons).
    size_elasticity : float
        Elasticity of income with respect to place population (dimensionless).
    east_gradient : float
        Log-income change per 10 degrees of longitude eastwards.
    region_sd, place_sd : float
        Standard deviations of the log-scale region and place effects.
    bounds : tuple of float
        Lower and upper clip (CNY/person/year).

    Returns
    -------
    ndarray of float64
        Income per capita, CNY per person per year.
    """
    pop = np.maximum(np.asarray(population, dtype=np.float64), 1.0)
    lon = np.asarray(lon, dtype=np.float64)
    rng = np.random.default_rng([seed, _INCOME_STREAM])
    u = rng.normal(0.0, region_sd, size=_n_regions(region))
    e = rng.normal(0.0, place_sd, size=pop.shape[0])
    log_i = (
        np.log(base)
        + size_elasticity * np.log(pop / ref_population)
        + east_gradient * (lon - 110.0) / 10.0
        + _region_effect(region, u)
        + e
    )
    return np.round(np.clip(np.exp(log_i), bounds[0], bounds[1]))


def price_tier(
    income_per_capita: np.ndarray, thresholds: tuple[float, float] = TIER_THRESHOLDS
) -> np.ndarray:
    """Price tier of a place from its (synthetic) income: ``budget`` / ``mid`` / ``high``.

    ``budget`` below ``thresholds[0]``, ``mid`` below ``thresholds[1]``, else ``high``
    (CNY per person per year). Deterministic: no randomness beyond that of the income.

    Parameters
    ----------
    income_per_capita : ndarray
        CNY per person per year.
    thresholds : tuple of float
        Upper bounds of the budget and mid tiers (CNY per person per year).

    Returns
    -------
    ndarray of str (object)
    """
    inc = np.asarray(income_per_capita, dtype=np.float64)
    out = np.full(inc.shape, "high", dtype=object)
    out[inc < thresholds[1]] = "mid"
    out[inc < thresholds[0]] = "budget"
    return out


def online_share(
    population: np.ndarray,
    income_per_capita: np.ndarray,
    *,
    seed: int = 0,
    low: float = 0.08,
    high: float = 0.32,
    size_slope: float = 1.2,
    size_mid: float = 4.5,
    income_slope: float = 1.0,
    income_ref: float = 30_000.0,
    noise_sd: float = 0.3,
) -> np.ndarray:
    """Synthetic share of retail spending done online (0..1).

    A logistic curve in place size and income::

        z = size_slope * (log10(max(P, 1)) - size_mid)
            + income_slope * ln(I / income_ref) + e,   e ~ N(0, noise_sd**2)
        share = low + (high - low) / (1 + exp(-z))

    so big, rich cities approach ``high`` (~30 %) and small, poor townships ``low``
    (~10 %).

    Parameters
    ----------
    population : ndarray
        Persons per place.
    income_per_capita : ndarray
        CNY per person per year.
    seed : int
        Seed of ``numpy.random.default_rng``.
    low, high : float
        Asymptotic shares (0..1).
    size_slope : float
        Logit change per factor 10 of population.
    size_mid : float
        log10 population at the curve's midpoint (4.5 = 31,600 persons).
    income_slope : float
        Logit change per unit of log income.
    income_ref : float
        Reference income (CNY per person per year).
    noise_sd : float
        Standard deviation of the place noise on the logit scale.

    Returns
    -------
    ndarray of float64
        Share in ``[low, high]``.
    """
    pop = np.maximum(np.asarray(population, dtype=np.float64), 1.0)
    inc = np.maximum(np.asarray(income_per_capita, dtype=np.float64), 1.0)
    rng = np.random.default_rng([seed, _ONLINE_SHARE_STREAM])
    z = (
        size_slope * (np.log10(pop) - size_mid)
        + income_slope * np.log(inc / income_ref)
        + rng.normal(0.0, noise_sd, size=pop.shape[0])
    )
    return low + (high - low) / (1.0 + np.exp(-z))


def online_orders(
    population: np.ndarray,
    share_online: np.ndarray,
    income_per_capita: np.ndarray,
    region: np.ndarray,
    *,
    seed: int = 0,
    rate: float = 0.01,
    income_ref: float = 30_000.0,
    income_elasticity: float = 0.8,
    region_shape: float = 4.0,
    place_shape: float = 2.0,
) -> np.ndarray:
    """Synthetic orders per year in our own web shop (the fan-base signal).

    A Poisson count whose mean scales with the online-shopping population, income and a
    clustered brand affinity::

        lambda = rate * P * share * (I / income_ref) ** income_elasticity * A_r * A_p
        A_r ~ Gamma(region_shape, 1 / region_shape)   (mean 1, per region)
        A_p ~ Gamma(place_shape, 1 / place_shape)     (mean 1, per place)
        orders ~ Poisson(lambda)

    With ``rate = 0.01`` orders per online-shopping person and year the national total is
    a few million orders per year.

    Parameters
    ----------
    population : ndarray
        Persons per place.
    share_online : ndarray
        Online share of retail spending (0..1).
    income_per_capita : ndarray
        CNY per person per year.
    region : ndarray
        Province name per place (affinity clusters).
    seed : int
        Seed of ``numpy.random.default_rng``.
    rate : float
        Orders per online-shopping person per year at the reference income.
    income_ref : float
        Reference income (CNY per person per year).
    income_elasticity : float
        Elasticity of orders with respect to income.
    region_shape, place_shape : float
        Gamma shape of the region and place affinity (larger = less dispersed).

    Returns
    -------
    ndarray of int64
        Orders per year, >= 0.
    """
    pop = np.maximum(np.asarray(population, dtype=np.float64), 0.0)
    share = np.clip(np.asarray(share_online, dtype=np.float64), 0.0, 1.0)
    inc = np.maximum(np.asarray(income_per_capita, dtype=np.float64), 1.0)
    rng = np.random.default_rng([seed, _ORDERS_STREAM])
    a_r = rng.gamma(region_shape, 1.0 / region_shape, size=_n_regions(region))
    a_p = rng.gamma(place_shape, 1.0 / place_shape, size=pop.shape[0])
    lam = rate * pop * share * (inc / income_ref) ** income_elasticity
    lam = lam * _region_effect(region, a_r) * a_p
    return rng.poisson(lam).astype(np.int64)


@dataclass(frozen=True)
class RivalBrand:
    """How one synthetic rival brand places its stores.

    Attributes
    ----------
    name : str
        Generic brand label (never a real brand).
    code : str
        One letter used in store ids.
    n_stores : int
        Stores in the whole country.
    alpha : float
        Placement weight exponent: a place is drawn with probability proportional to
        ``population ** alpha`` (with replacement, so big places get several stores).
    min_population, max_population : float
        Eligible places (persons, inclusive lower / exclusive upper bound).
    format : str
        Store format label.
    big_format : str or None
        Format used instead in places of at least ``big_population`` persons.
    big_population : float
        Threshold (persons) for ``big_format``.
    attractiveness : float
        Mean Huff attractiveness (relative; 1 = a ~100 m2 township dealer shop).
    big_attractiveness : float
        Mean attractiveness of ``big_format`` stores.
    """

    name: str
    code: str
    n_stores: int
    alpha: float
    min_population: float = 0.0
    max_population: float = float("inf")
    format: str = "store"
    big_format: str | None = None
    big_population: float = float("inf")
    attractiveness: float = 1.0
    big_attractiveness: float = 1.0


#: The default rival landscape: a dealer network dense in county and township markets, a
#: mass-market chain following population, and a premium brand in big cities.
DEFAULT_BRANDS: tuple[RivalBrand, ...] = (
    RivalBrand(
        name="Rival A",
        code="A",
        n_stores=2400,
        alpha=0.7,
        max_population=500_000.0,
        format="dealer",
        attractiveness=1.0,
    ),
    RivalBrand(
        name="Rival B",
        code="B",
        n_stores=1000,
        alpha=1.0,
        format="store",
        big_format="mall",
        big_population=1_000_000.0,
        attractiveness=2.5,
        big_attractiveness=3.5,
    ),
    RivalBrand(
        name="Rival C",
        code="C",
        n_stores=250,
        alpha=1.3,
        min_population=300_000.0,
        format="mall",
        big_format="flagship",
        big_population=3_000_000.0,
        attractiveness=4.0,
        big_attractiveness=8.0,
    ),
)


def _jitter_km(population: np.ndarray) -> np.ndarray:
    """Spread (km, Rayleigh scale) of a brand's stores around a place of ``population``."""
    return np.minimum(0.3 + 1.5 * np.sqrt(np.maximum(population, 0.0) / 1e5), 12.0)


def rivals(
    areas: pd.DataFrame,
    *,
    seed: int = 0,
    brands: Sequence[RivalBrand] = DEFAULT_BRANDS,
    attractiveness_sd: float = 0.25,
) -> pd.DataFrame:
    """Synthetic rival stores placed on the demand areas.

    For each brand, ``n_stores`` anchor places are drawn with replacement among the
    eligible places (``min_population <= P < max_population``) with probability
    proportional to ``P ** alpha``. Each store is then moved from its anchor by a
    Rayleigh-distributed distance with scale ``s = min(0.3 + 1.5 * sqrt(P / 1e5), 12)``
    km in a uniform direction (stores spread over a city, not stacked on its centre),
    and gets ``attractiveness = mean * LogNormal(0, attractiveness_sd)`` where ``mean``
    depends on the brand and format.

    Parameters
    ----------
    areas : DataFrame
        Needs ``id``, ``lon``, ``lat`` (degrees), ``population`` (persons) and ``region``.
    seed : int
        Seed of ``numpy.random.default_rng``.
    brands : sequence of RivalBrand
        The brands to place.
    attractiveness_sd : float
        Log-scale standard deviation of store attractiveness.

    Returns
    -------
    DataFrame
        ``id, brand, format, lon, lat, attractiveness, area_id, region``; ``area_id`` is
        the anchor place and ``region`` its province. Sorted by brand, then by anchor.
    """
    rng = np.random.default_rng([seed, _RIVALS_STREAM])
    pop = areas["population"].to_numpy(dtype=np.float64)
    lon0 = areas["lon"].to_numpy(dtype=np.float64)
    lat0 = areas["lat"].to_numpy(dtype=np.float64)
    frames = []
    for brand in brands:
        ok = (pop >= brand.min_population) & (pop < brand.max_population) & (pop > 0)
        w = np.where(ok, np.maximum(pop, 0.0) ** brand.alpha, 0.0)
        n = int(brand.n_stores)
        if n <= 0 or w.sum() <= 0:
            continue
        idx = np.sort(rng.choice(pop.shape[0], size=n, replace=True, p=w / w.sum()))
        p = pop[idx]
        dist = rng.rayleigh(_jitter_km(p))
        theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
        dlat = dist * np.sin(theta) / 111.195
        dlon = dist * np.cos(theta) / (111.195 * np.cos(np.radians(lat0[idx])))
        big = p >= brand.big_population
        fmt = np.where(big & (brand.big_format is not None), brand.big_format or "", brand.format)
        mean = np.where(big & (brand.big_format is not None), brand.big_attractiveness, brand.attractiveness)
        attr = mean * rng.lognormal(0.0, attractiveness_sd, size=n)
        frames.append(
            pd.DataFrame(
                {
                    "id": [f"rv{brand.code}{i:05d}" for i in range(1, n + 1)],
                    "brand": brand.name,
                    "format": fmt.astype(object),
                    "lon": np.round(lon0[idx] + dlon, 6),
                    "lat": np.round(lat0[idx] + dlat, 6),
                    "attractiveness": np.round(attr, 3),
                    "area_id": areas["id"].to_numpy()[idx],
                    "region": areas["region"].to_numpy()[idx],
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in ("id", "brand", "format")}
            | {c: pd.Series(dtype=np.float64) for c in ("lon", "lat", "attractiveness")}
            | {c: pd.Series(dtype=object) for c in ("area_id", "region")}
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- world layers
#
# The world dataset's synthetic layers draw, for each country, from
# ``default_rng([seed, STREAM, country_key(cc)])``: a country's values do not depend on
# which other countries are built, so a slice equals the whole world restricted.

_WORLD_INCOME_STREAM = 201
_WORLD_SHARE_STREAM = 202
_WORLD_ORDERS_STREAM = 203
_WORLD_RIVALS_STREAM = 204
_WORLD_PRICE_STREAM = 205
_RIVAL_OUTLETS_STREAM = 105

#: Share of GDP per capita taken as household disposable income per capita. World Bank
#: WDI: household final consumption expenditure is about 56 % of world GDP (2019,
#: NE.CON.PRVT.ZS); disposable income is somewhat above consumption.
HOUSEHOLD_INCOME_SHARE = 0.60

#: Upper bounds of the ``budget`` and ``mid`` tiers in USD per person per year: the China
#: dataset's 25,000 / 45,000 CNY at the 2020 average rate of 6.90 CNY per USD.
WORLD_TIER_THRESHOLDS: tuple[float, float] = (3_600.0, 6_500.0)

#: Rival outlets (all brands together) per 100,000 persons by World Bank income group.
#: Anchor: China (upper-middle income), where each of the two biggest domestic phone
#: brands reports on the order of 10^5 points of sale (press reports 2016-2020), i.e.
#: about 7 per 100,000 persons each, plus a premium and a local layer; the other groups
#: scale with smartphone sales per person (high-income markets buy more phones but
#: through fewer, larger outlets and carriers; low-income markets sell through few
#: formal outlets). Order-of-magnitude planning figures, not measurements.
OUTLETS_PER_100K: dict[str, float] = {
    "high": 8.0,
    "upper-middle": 15.0,
    "lower-middle": 8.0,
    "low": 2.0,
    "": 5.0,
}


def country_key(country: str) -> int:
    """Stable integer of an ISO2 code for keying random streams (``"VN"`` -> 22094)."""
    c = str(country).upper()
    return sum((ord(ch) - 64) * 1000 ** (1 - k) for k, ch in enumerate(c[:2])) if len(c) == 2 else 0


def world_income_targets(gdp_per_capita: np.ndarray, continent: np.ndarray) -> np.ndarray:
    """Country mean disposable income per person (USD per year) from GDP per capita.

    ``target = HOUSEHOLD_INCOME_SHARE * GDP per capita`` (Natural Earth GDP_MD / POP_EST,
    USD, 2019). Countries without a Natural Earth GDP get the median target of their
    continent (the whole world's where the continent has none).

    Parameters
    ----------
    gdp_per_capita : ndarray
        USD per person per year (NaN where unknown).
    continent : ndarray
        Continent name per country.

    Returns
    -------
    ndarray of float64
        USD per person per year.
    """
    g = np.asarray(gdp_per_capita, dtype=np.float64)
    out = HOUSEHOLD_INCOME_SHARE * g
    cont = np.asarray(continent, dtype=object).astype(str)
    ok = np.isfinite(out) & (out > 0)
    world_median = float(np.median(out[ok])) if ok.any() else 5_000.0
    for c in np.unique(cont[~ok]):
        sel = cont == c
        m = out[sel & ok]
        out[sel & ~ok] = float(np.median(m)) if m.size else world_median
    return out


def world_income(
    population: np.ndarray,
    admin1: np.ndarray,
    target: float,
    *,
    country: str,
    seed: int = 0,
    size_elasticity: float = WORLD_SIZE_ELASTICITY,
    region_sd: float = 0.10,
    place_sd: float = 0.20,
    bounds: tuple[float, float] = (100.0, 500_000.0),
) -> np.ndarray:
    """Synthetic disposable income per person (USD per year) of one country's places.

    ::

        ln I_raw = size_elasticity * ln(max(P, 1)) + u_admin1 + e_place
        I = I_raw * target / (population-weighted mean of I_raw)

    so the population-weighted mean income of the country equals ``target`` (before
    clipping to ``bounds`` and rounding to whole USD).

    Parameters
    ----------
    population : ndarray
        Persons per place.
    admin1 : ndarray
        Admin-1 key per place (random-effect groups).
    target : float
        Country mean income, USD per person per year.
    country : str
        ISO2 code (keys the random stream).
    seed : int
        Seed.
    size_elasticity : float
        Elasticity of income with respect to place population.
    region_sd, place_sd : float
        Log-scale standard deviations of the admin-1 and place effects.
    bounds : tuple of float
        Clip, USD per person per year.

    Returns
    -------
    ndarray of float64
    """
    pop = np.maximum(np.asarray(population, dtype=np.float64), 1.0)
    rng = np.random.default_rng([seed, _WORLD_INCOME_STREAM, country_key(country)])
    u = rng.normal(0.0, region_sd, size=_n_regions(admin1))
    e = rng.normal(0.0, place_sd, size=pop.shape[0])
    raw = np.exp(size_elasticity * np.log(pop) + _region_effect(admin1, u) + e)
    scaled = raw * float(target) / (np.sum(raw * pop) / np.sum(pop))
    return np.round(np.clip(scaled, bounds[0], bounds[1]))


def world_online_share(
    population: np.ndarray,
    income_per_capita: np.ndarray,
    *,
    country: str,
    seed: int = 0,
    low: float = 0.02,
    high: float = 0.28,
    income_slope: float = 1.4,
    income_mid: float = 10_000.0,
    size_slope: float = 0.6,
    size_mid: float = 4.5,
    noise_sd: float = 0.3,
) -> np.ndarray:
    """Synthetic online share of retail spending (0..1) of one country's places.

    ::

        z = income_slope * ln(I / income_mid) + size_slope * (log10 P - size_mid) + e
        share = low + (high - low) / (1 + exp(-z)),   e ~ N(0, noise_sd**2)

    Calibrated so country means fall near published e-commerce shares of retail (US
    Census 2023: 15 %; NBS 2023 online physical goods: 27.6 % of China's retail sales;
    UNCTAD: low single digits in low-income countries).

    Parameters
    ----------
    population : ndarray
        Persons per place.
    income_per_capita : ndarray
        USD per person per year.
    country : str
        ISO2 code (keys the random stream).
    seed : int
        Seed.
    low, high : float
        Asymptotic shares.
    income_slope : float
        Logit change per unit of log income.
    income_mid : float
        Income (USD) at the midpoint.
    size_slope : float
        Logit change per factor 10 of population.
    size_mid : float
        log10 population at the midpoint.
    noise_sd : float
        Logit-scale noise.

    Returns
    -------
    ndarray of float64
    """
    pop = np.maximum(np.asarray(population, dtype=np.float64), 1.0)
    inc = np.maximum(np.asarray(income_per_capita, dtype=np.float64), 1.0)
    rng = np.random.default_rng([seed, _WORLD_SHARE_STREAM, country_key(country)])
    z = (
        income_slope * np.log(inc / income_mid)
        + size_slope * (np.log10(pop) - size_mid)
        + rng.normal(0.0, noise_sd, size=pop.shape[0])
    )
    return low + (high - low) / (1.0 + np.exp(-z))


def world_online_orders(
    population: np.ndarray,
    share_online: np.ndarray,
    income_per_capita: np.ndarray,
    *,
    country: str,
    seed: int = 0,
    rate: float = 0.002,
    income_ref: float = 8_000.0,
    income_elasticity: float = 0.8,
    country_shape: float = 2.0,
    place_shape: float = 2.0,
) -> np.ndarray:
    """Synthetic orders per year in our web shop of one country's places.

    ::

        lambda = rate * P * share * (I / income_ref) ** income_elasticity * A_c * A_p
        A_c ~ Gamma(country_shape, 1/country_shape), A_p ~ Gamma(place_shape, 1/place_shape)
        orders ~ Poisson(lambda)

    ``rate`` abroad is a fifth of the home dataset's 0.01 orders per online-shopping
    person (a brand known at home, new abroad): an assumption, our own web-shop data being
    private.

    Parameters
    ----------
    population : ndarray
        Persons per place.
    share_online : ndarray
        0..1.
    income_per_capita : ndarray
        USD per person per year.
    country : str
        ISO2 code (keys the random stream).
    seed : int
        Seed.
    rate : float
        Orders per online-shopping person per year at ``income_ref``.
    income_ref : float
        USD per person per year.
    income_elasticity : float
        Elasticity of orders with respect to income.
    country_shape, place_shape : float
        Gamma shapes of the country and place brand affinity.

    Returns
    -------
    ndarray of int64
    """
    pop = np.maximum(np.asarray(population, dtype=np.float64), 0.0)
    share = np.clip(np.asarray(share_online, dtype=np.float64), 0.0, 1.0)
    inc = np.maximum(np.asarray(income_per_capita, dtype=np.float64), 1.0)
    rng = np.random.default_rng([seed, _WORLD_ORDERS_STREAM, country_key(country)])
    a_c = rng.gamma(country_shape, 1.0 / country_shape)
    a_p = rng.gamma(place_shape, 1.0 / place_shape, size=pop.shape[0])
    lam = rate * pop * share * (inc / income_ref) ** income_elasticity * a_c * a_p
    return rng.poisson(lam).astype(np.int64)


def world_price_level(
    countries: np.ndarray,
    income_target: np.ndarray,
    *,
    seed: int = 0,
    elasticity: float = 0.08,
    ref_income: float = 20_000.0,
    noise_sd: float = 0.05,
    bounds: tuple[float, float] = (0.7, 1.3),
) -> np.ndarray:
    """Synthetic consumer-electronics price level per country (USD list price = 1).

    ``level = (income / ref_income) ** elasticity * LogNormal(0, noise_sd)`` clipped to
    ``bounds``. Electronics are traded goods: their prices vary far less with income than
    the whole consumption basket (Balassa-Samuelson; the ICP 2017 price level of
    household consumption rises with an elasticity of about 0.3 on GDP per capita). The
    low ``elasticity`` and the noise (taxes, duties, distribution) are assumptions.

    Parameters
    ----------
    countries : ndarray
        ISO2 codes (key each country's draw).
    income_target : ndarray
        Country mean income, USD per person per year.
    seed : int
        Seed.
    elasticity : float
        Price-level elasticity with respect to income.
    ref_income : float
        Income (USD) with price level 1 before noise.
    noise_sd : float
        Log-scale country noise.
    bounds : tuple of float
        Clip.

    Returns
    -------
    ndarray of float64
        Price index, rounded to 3 decimals.
    """
    inc = np.maximum(np.asarray(income_target, dtype=np.float64), 1.0)
    noise = np.array(
        [
            np.random.default_rng([seed, _WORLD_PRICE_STREAM, country_key(c)]).normal(0.0, noise_sd)
            for c in np.asarray(countries, dtype=object)
        ]
    )
    lvl = (inc / ref_income) ** elasticity * np.exp(noise)
    return np.round(np.clip(lvl, bounds[0], bounds[1]), 3)


#: The rival landscape abroad: a global premium brand, a global mass-market brand and a
#: local dealer network; ``share`` is each brand's fraction of the country's outlets.
WORLD_BRANDS: tuple[tuple[RivalBrand, float], ...] = (
    (
        RivalBrand(
            name="Global Premium",
            code="P",
            n_stores=0,
            alpha=1.3,
            min_population=100_000.0,
            format="mall",
            big_format="flagship",
            big_population=3_000_000.0,
            attractiveness=4.0,
            big_attractiveness=8.0,
        ),
        0.15,
    ),
    (
        RivalBrand(
            name="Global Mass",
            code="M",
            n_stores=0,
            alpha=1.0,
            format="store",
            big_format="mall",
            big_population=1_000_000.0,
            attractiveness=2.5,
            big_attractiveness=3.5,
        ),
        0.45,
    ),
    (
        RivalBrand(
            name="Local Dealer", code="L", n_stores=0, alpha=0.7, max_population=500_000.0, format="dealer"
        ),
        0.40,
    ),
)


def _outlet_rows(
    areas: pd.DataFrame,
    brand: RivalBrand,
    n: int,
    rng: np.random.Generator,
    *,
    id_prefix: str,
    attractiveness_sd: float,
) -> pd.DataFrame | None:
    """``n`` outlets of one brand over ``areas``, one row per place that gets any."""
    pop = areas["population"].to_numpy(dtype=np.float64)
    ok = (pop >= brand.min_population) & (pop < brand.max_population) & (pop > 0)
    w = np.where(ok, np.maximum(pop, 0.0) ** brand.alpha, 0.0)
    if n <= 0 or w.sum() <= 0:
        return None
    lon0 = areas["lon"].to_numpy(dtype=np.float64)
    lat0 = areas["lat"].to_numpy(dtype=np.float64)
    counts = rng.multinomial(n, w / w.sum())
    idx = np.flatnonzero(counts)
    k = counts[idx]
    p = pop[idx]
    dist = rng.rayleigh(_jitter_km(p))
    theta = rng.uniform(0.0, 2.0 * np.pi, size=idx.shape[0])
    dlat = dist * np.sin(theta) / 111.195
    dlon = dist * np.cos(theta) / (111.195 * np.cos(np.radians(lat0[idx])))
    big = (p >= brand.big_population) & (brand.big_format is not None)
    fmt = np.where(big, brand.big_format or "", brand.format)
    mean = np.where(big, brand.big_attractiveness, brand.attractiveness)
    attr = k * mean * rng.lognormal(0.0, attractiveness_sd, size=idx.shape[0])
    return pd.DataFrame(
        {
            "id": [f"{id_prefix}{brand.code}{i:06d}" for i in range(1, idx.shape[0] + 1)],
            "brand": brand.name,
            "format": fmt.astype(object),
            "lon": np.round(lon0[idx] + dlon, 6),
            "lat": np.round(lat0[idx] + dlat, 6),
            "attractiveness": np.round(attr, 3),
            "outlets": k.astype(np.int64),
            "area_id": areas["id"].to_numpy()[idx],
            "region": areas["region"].to_numpy()[idx],
        }
    )


def _empty_outlets() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object) for c in ("id", "brand", "format")}
        | {c: pd.Series(dtype=np.float64) for c in ("lon", "lat", "attractiveness")}
        | {"outlets": pd.Series(dtype=np.int64)}
        | {c: pd.Series(dtype=object) for c in ("area_id", "region")}
    )


#: Rival points of sale calibrated to published magnitudes (``china(rivals="calibrated")``):
#: the two big domestic phone brands each report on the order of 10^5 points of sale in
#: China, most of them in lower-tier cities, counties and towns (company statements and
#: press reports 2016-2020), modelled as a dealer network (``Rival A``, towns below
#: 500,000 persons, weight ``P^0.7``) and a mass-market chain (``Rival B``, every place,
#: ``P^0.85``); a premium brand (``Rival C``) sells through about 5,000 authorised
#: resellers and own stores in places of 300,000+. Attractiveness per outlet is a
#: point-of-sale counter in a multi-brand shop (0.3), a brand shop (1.0), a premium
#: reseller (3.0) or flagship (8.0), relative to a ~100 m2 township dealer shop (1).
CALIBRATED_BRANDS: tuple[RivalBrand, ...] = (
    RivalBrand(
        name="Rival A",
        code="A",
        n_stores=100_000,
        alpha=0.7,
        max_population=500_000.0,
        format="dealer",
        attractiveness=0.3,
    ),
    RivalBrand(
        name="Rival B",
        code="B",
        n_stores=100_000,
        alpha=0.85,
        format="store",
        big_format="mall",
        big_population=1_000_000.0,
        attractiveness=0.3,
        big_attractiveness=1.0,
    ),
    RivalBrand(
        name="Rival C",
        code="C",
        n_stores=5_000,
        alpha=1.3,
        min_population=300_000.0,
        format="mall",
        big_format="flagship",
        big_population=3_000_000.0,
        attractiveness=3.0,
        big_attractiveness=8.0,
    ),
)


def rival_outlets(
    areas: pd.DataFrame,
    *,
    seed: int = 0,
    brands: Sequence[RivalBrand] = CALIBRATED_BRANDS,
    attractiveness_sd: float = 0.25,
) -> pd.DataFrame:
    """Synthetic rival points of sale, aggregated to one row per (brand, place).

    Each brand's ``n_stores`` outlets are spread over its eligible places
    (``min_population <= P < max_population``) by one multinomial draw with
    probabilities proportional to ``P ** alpha``. A place with ``k > 0`` outlets of a
    brand is one row with ``outlets = k``, moved from the place as in :func:`rivals`,
    with ``attractiveness = k * mean * LogNormal(0, attractiveness_sd)``: Huff
    attractiveness adds up over co-located outlets, so the market sees the same pull
    with far fewer rows than outlets.

    Parameters
    ----------
    areas : DataFrame
        Needs ``id``, ``lon``, ``lat`` (degrees), ``population`` (persons), ``region``.
    seed : int
        Seed (stream private to this function).
    brands : sequence of RivalBrand
        ``n_stores`` is the brand's number of outlets.
    attractiveness_sd : float
        Log-scale sd of a row's attractiveness.

    Returns
    -------
    DataFrame
        ``id, brand, format, lon, lat, attractiveness, outlets, area_id, region``.
    """
    rng = np.random.default_rng([seed, _RIVAL_OUTLETS_STREAM])
    frames = [
        f
        for b in brands
        if (
            f := _outlet_rows(
                areas, b, int(b.n_stores), rng, id_prefix="rv", attractiveness_sd=attractiveness_sd
            )
        )
        is not None
    ]
    return pd.concat(frames, ignore_index=True) if frames else _empty_outlets()


def world_rivals(
    areas: pd.DataFrame,
    *,
    income_group: str,
    country: str,
    seed: int = 0,
    outlets_per_100k: dict[str, float] | None = None,
    brands: Sequence[tuple[RivalBrand, float]] = WORLD_BRANDS,
    attractiveness_sd: float = 0.25,
) -> pd.DataFrame:
    """Synthetic rival outlets of one country, aggregated per (brand, place).

    The country gets ``N = round(population * outlets_per_100k[income_group] / 1e5)``
    outlets, split over the brands by ``share`` and placed as in :func:`rival_outlets`.

    Parameters
    ----------
    areas : DataFrame
        One country's places: ``id``, ``lon``, ``lat``, ``population``, ``region``.
    income_group : str
        World Bank group (``high``, ``upper-middle``, ``lower-middle``, ``low`` or ``""``).
    country : str
        ISO2 code (keys the random stream, fills ``country``).
    seed : int
        Seed.
    outlets_per_100k : dict, optional
        Outlets per 100,000 persons by income group (default :data:`OUTLETS_PER_100K`).
    brands : sequence of (RivalBrand, float)
        Brands and their share of the outlets.
    attractiveness_sd : float
        Log-scale sd of a row's attractiveness.

    Returns
    -------
    DataFrame
        ``id, brand, format, lon, lat, attractiveness, outlets, area_id, region, country``.
    """
    dens = OUTLETS_PER_100K if outlets_per_100k is None else outlets_per_100k
    rng = np.random.default_rng([seed, _WORLD_RIVALS_STREAM, country_key(country)])
    pop = areas["population"].to_numpy(dtype=np.float64)
    total = int(round(pop.sum() * dens.get(income_group, dens.get("", 0.0)) / 1e5))
    frames = []
    for brand, share in brands:
        f = _outlet_rows(
            areas,
            brand,
            int(round(total * share)),
            rng,
            id_prefix=f"rv{country}",
            attractiveness_sd=attractiveness_sd,
        )
        if f is not None:
            frames.append(f)
    out = pd.concat(frames, ignore_index=True) if frames else _empty_outlets()
    return out.assign(country=pd.Series([country] * len(out), dtype=object))
