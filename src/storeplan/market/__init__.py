r"""The market: Huff competition model, calibration, revenue oracles.

Every demand area :math:`i` splits its yearly offline spending :math:`M_i` (currency per
year, from :mod:`storeplan.demand`) between the stores it can reach and an *outside option*
(buying at a store not in the model, or not buying offline) with the Huff / multinomial-logit
rule

.. math::

    P_{ij} = \frac{u_{ij}}{u_{0i} + \sum_{k \in \text{open}} u_{ik}}, \qquad
    u_{ij} = a_i^{[j\ \text{ours}]} \, A_j \, f_{\ell(i)}(d_{ij}), \qquad
    P_{i0} = \frac{u_{0i}}{u_{0i} + \sum_k u_{ik}},

with :math:`A_j` the attractiveness of the store (per format for ours, per brand for
rivals), :math:`a_i` our brand affinity in the area (:func:`storeplan.demand.brand_affinity`),
:math:`d_{ij}` the great-circle distance in km, :math:`f_\ell` a distance decay that
depends on the area level :math:`\ell` (``power``: :math:`\max(d, d_{\min})^{-\lambda_\ell}`;
``exponential``: :math:`e^{-\lambda_\ell d}`, :math:`\lambda_\ell` per km) and
:math:`u_{0i}` the outside option's utility (``outside`` plus ``outside_per_100k`` per
100,000 residents). Pairs farther than the network radius (and beyond the ``k`` nearest)
are not stored and count as :math:`u_{ij} = 0`.

Online and offline as one: a share ``transfer_rate`` of our online revenue :math:`O_i` in
an area moves to our stores in proportion to their Huff shares, so a store's gross revenue
is :math:`R_j = \sum_i (M_i + t\,O_i) P_{ij}`. The part :math:`t\,O_i P_{ij}` is
*cannibalised from our online channel*: it is revenue for the store, not for the brand. The
brand's net gain from its store network is therefore the offline capture
:math:`\sum_i M_i \sum_{j \text{ ours}} P_{ij}`, which is monotone submodular in the set of
our stores (an MNL capture), the objective of :func:`storeplan.solvers.revenue.revenue`.

With ``MarketParams.channel`` (``[market.channel]``) a nested-logit channel model with a
store halo replaces the fixed transfer (:mod:`.channel`).

Modules: :mod:`.huff` (parameters, shares, capture, cannibalisation), :mod:`.calibration`
(fit to observed sales), :mod:`.selection` (competitive site selection), :mod:`.oracles`
(revenue oracles for the rollout).
"""

from __future__ import annotations

from .calibration import CalibrationReport, calibrate, predicted_sales
from .channel import ChannelFit, ChannelParams, calibrate_channel, channel_accounts, channel_state
from .huff import (
    CANDIDATE,
    EXISTING,
    RIVAL,
    Cannibalisation,
    Capture,
    HuffShares,
    Market,
    MarketParams,
    build_market,
    cannibalisation,
    capture,
    decay,
    huff_shares,
)
from .selection import revenue_inputs, select_sites

__all__ = [
    "CANDIDATE",
    "EXISTING",
    "RIVAL",
    "MarketParams",
    "Market",
    "HuffShares",
    "Capture",
    "Cannibalisation",
    "CalibrationReport",
    "ChannelParams",
    "ChannelFit",
    "channel_state",
    "channel_accounts",
    "calibrate_channel",
    "decay",
    "huff_shares",
    "build_market",
    "capture",
    "cannibalisation",
    "revenue_inputs",
    "select_sites",
    "calibrate",
    "predicted_sales",
]
