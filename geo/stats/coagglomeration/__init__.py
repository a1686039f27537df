r"""Co-agglomeration of many industry pairs: Kd, cross-L, M and co-location quotients.

Studies of co-agglomeration ask one question of every pair of industries:
Duranton & Overman (2005, 2008) the K-density of each pair against
counterfactuals, Ellison, Glaeser & Kerr (2010) every pair of manufacturing
industries. Here each statistic is computed for a list of type pairs with one
pass over the site pairs for all of them (:mod:`geo.stats.typepairs`), so the cost
hardly grows with the number of pairs.

The counterfactual is the same for every pair and every statistic: the type of
every firm (with its employment for Kd; M keeps weights with the locations, as
dbmss's ``RandomLabeling``) is permuted over all sites, one permutation per
simulation drawn from ``numpy.random.default_rng(seed)`` as
:func:`geo.stats.kdensity.kd_function`, :func:`geo.stats.ripley.kfunction` (with
``relabel="all"``), :func:`geo.stats.mfunction.m_function` and
:func:`geo.stats.colocation.colocation_quotients` draw them. Each pair's result
therefore equals the pair-by-pair function with the same seed.

Types are industries at a level of GB/T 4754 (``division`` such as ``C39``,
``group`` ``C391``, ``class`` ``C3911``) or the values of a column. A pair
list is ``all`` (every pair of types), ``LEFT*RIGHT`` (every type of the
firms matching LEFT with every type of those matching RIGHT, e.g.
``manufacturing*producer_services``; ``×`` also separates) or a CSV file with
columns ``a`` and ``b`` holding either.

The modules: :mod:`~geo.stats.coagglomeration.industry_pairs` (types and pair
lists), :mod:`~geo.stats.coagglomeration.study` (the result, and plans computed
in blocks of labellings for :mod:`geo.batch`),
:mod:`~geo.stats.coagglomeration.kd`, :mod:`~geo.stats.coagglomeration.cross_l`,
:mod:`~geo.stats.coagglomeration.m` and :mod:`~geo.stats.coagglomeration.clq`.
Their public names are importable from here.
"""

from geo.stats.coagglomeration.clq import coagglomeration_clq
from geo.stats.coagglomeration.cross_l import coagglomeration_cross_l, cross_l_plan
from geo.stats.coagglomeration.industry_pairs import LEVELS, industry_types, resolve_pairs
from geo.stats.coagglomeration.kd import coagglomeration_kd, kd_plan
from geo.stats.coagglomeration.m import coagglomeration_m, m_plan
from geo.stats.coagglomeration.study import (
    MATRIX_VALUE,
    PairStudy,
    StudyPlan,
    combine_blocks,
    simulation_blocks,
    study_block,
)

__all__ = [
    "LEVELS", "MATRIX_VALUE", "PairStudy", "StudyPlan",
    "coagglomeration_clq", "coagglomeration_cross_l", "coagglomeration_kd", "coagglomeration_m",
    "combine_blocks", "cross_l_plan", "industry_types", "kd_plan", "m_plan", "resolve_pairs",
    "simulation_blocks", "study_block",
]
