"""Maximum-likelihood fits of the customer model of docs/model.md section 3 (the
method is docs/calibration.md): adoption with a shared season, churn with
gamma heterogeneity, re-adds with censoring; standard errors from the
observed information, 95% Wald intervals on the log or logit scale.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .files import CalibrationError

Z95 = 1.959963984540054
PARAMS = ("adoption_rate", "churn_rate", "churn_shape", "readd_prob", "readd_delay_days")
SHAPE_INF = 1e4          # a fitted shape above this is written as inf (no heterogeneity)


@dataclass
class Estimate:
    """A fitted value, its standard error and 95% interval (NaN: none)."""
    value: float
    se: float = math.nan
    lo: float = math.nan          # 95% interval
    hi: float = math.nan
    note: str = ""

    def as_dict(self):
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in dataclasses.asdict(self).items()}


def _log_scale(value, se_log, note=""):
    """Estimate of a positive quantity from its log and that log's SE."""
    value, se_log = float(value), float(se_log)
    if not math.isfinite(se_log):
        return Estimate(value, math.nan, math.nan, math.nan, note)
    z = min(Z95 * se_log, 700.0)
    return Estimate(value, value * se_log, value * math.exp(-z), value * math.exp(z), note)


def _logit_scale(p, se_logit, note=""):
    p, se_logit = float(p), float(se_logit)
    if not math.isfinite(se_logit) or p <= 0 or p >= 1:
        return Estimate(p, math.nan, math.nan, math.nan, note)
    lg = math.log(p / (1 - p))
    ex = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    return Estimate(p, p * (1 - p) * se_logit, ex(lg - Z95 * se_logit),
                    ex(lg + Z95 * se_logit), note)


def _hessian(f, x, h=1e-4):
    """Central-difference Hessian of a scalar function."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    H = np.zeros((n, n))
    f0 = f(x)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h**2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4 * h * h)
    return H


def _covariance(H):
    """Inverse of the observed information (-H of the log-likelihood); NaN
    where it is not positive definite."""
    info = -np.asarray(H, dtype=np.float64)
    try:
        np.linalg.cholesky(info)
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full_like(info, math.nan)


def month_of_year(days):
    """Month 0..11 of each day (docs/model.md section 2)."""
    starts = np.array([(365 * m) // 12 for m in range(12)])
    return np.searchsorted(starts, np.asarray(days) % 365, side="right") - 1


def _softmax12(u):
    e = np.exp(u - u.max())
    return 12 * e / e.sum()


class _AdoptionLikelihood:
    """Log-likelihood of first adds and its gradient in the optimiser's
    parameters x = (log a_s of the active segments, season u_1..u_11 if
    fitted, log X if the never-adopters are estimated)."""

    def __init__(self, A, S0, E, never, act, fit_season, estimate_never):
        from scipy.special import digamma, gammaln
        self.digamma, self.gammaln = digamma, gammaln
        self.A, self.S0, self.E, self.never, self.act = A, S0, E, never, act
        self.n_adopt = float(A.sum())
        self.ns = len(act)
        self.fit_season, self.estimate_never = fit_season, estimate_never
        self.n_u = 11 if fit_season else 0

    def unpack(self, x):
        ns, n_u = self.ns, self.n_u
        loga = x[:ns]
        u = np.concatenate([[0.0], x[ns:ns + n_u]]) if self.fit_season else np.zeros(12)
        X = math.exp(x[-1]) if self.estimate_never else None
        return loga, u, X

    def parts(self, x):
        """(a, season, daily hazard h[s, m], person-days at risk S[s, m], X)."""
        loga, u, X = self.unpack(x)
        sig = _softmax12(u)
        a = np.exp(loga)
        h = a[:, None] * sig[None, :]
        nev = np.asarray(self.never, dtype=np.float64)[self.act] if X is None else np.array([X])
        S = self.S0[self.act] + nev[:, None] * self.E[None, :]
        return a, sig, h, S, X

    def negll(self, x):
        a, sig, h, S, X = self.parts(x)
        Aa = self.A[self.act]
        ll = np.where(Aa > 0, Aa * np.log(-np.expm1(-np.maximum(h, 1e-300))), 0.0) - S * h
        if X is not None:   # unlabelled never-adopters: which of the pool adopted
            ll = ll.sum() + self.gammaln(self.n_adopt + X + 1) - self.gammaln(X + 1)
        return -float(ll.sum())

    def grad(self, x):
        a, sig, h, S, X = self.parts(x)
        Aa = self.A[self.act]
        g = np.where(Aa > 0, Aa / np.expm1(np.maximum(h, 1e-300)), 0.0) - S   # dLL/dh
        gh = g * h
        out = [gh.sum(axis=1)]
        if self.fit_season:
            tot = gh.sum()
            col = gh.sum(axis=0)
            out.append((col - sig / 12 * tot)[1:])
        if self.estimate_never:
            out.append(np.array([(-(h[0] * self.E).sum() + self.digamma(self.n_adopt + X + 1)
                                  - self.digamma(X + 1)) * X]))
        return -np.concatenate(out)

    def start(self):
        """(x0: per-segment crude rates and a flat season, bounds, upper
        bound of log X or None)."""
        A, S0, E, never = self.A, self.S0, self.E, self.never
        x0 = []
        for s in self.act:
            risk = S0[s].sum() + (never[s] if not self.estimate_never else A[s].sum()) * E.sum()
            x0.append(math.log(max(A[s].sum(), 0.5) / max(risk, 1.0)))
        x0 += [0.0] * self.n_u
        bounds = [(-50, 5)] * self.ns + [(-30, 30)] * self.n_u
        x_hi = None
        if self.estimate_never:
            x0.append(math.log(max(A.sum(), 1.0)))
            x_hi = math.log(max(A.sum(), 1.0) * 1e4)
            bounds.append((-20, x_hi))
        return np.array(x0), bounds, x_hi

    def hessian(self, x):
        """Hessian of the log-likelihood: central differences of the
        analytic gradient, symmetrised."""
        k = len(x)
        H = np.zeros((k, k))
        for i in range(k):
            hstep = 1e-5 * max(1.0, abs(x[i]))
            e = np.zeros(k)
            e[i] = hstep
            H[:, i] = -(self.grad(x + e) - self.grad(x - e)) / (2 * hstep)
        return (H + H.T) / 2


def _season_fittable(A, E, active, notes) -> bool:
    if (E <= 0).any():
        notes.append("the log covers less than a year after day 0: season not fitted (all 1)")
        return False
    if A[active].sum() < 24:
        notes.append("fewer than 24 first adds: season not fitted (all 1)")
        return False
    return True


def _season_estimates(sig, cov_u):
    """Season factors with SEs: log sigma_m = u_m - logsumexp(u) + log 12,
    delta method on u_1..u_11."""
    sm = sig / 12
    out = []
    for mth in range(12):
        g = -sm[1:].copy()
        if mth > 0:
            g[mth - 1] += 1
        v = float(g @ cov_u @ g)
        out.append(_log_scale(float(sig[mth]), math.sqrt(v) if v >= 0 else math.nan))
    return out


def fit_adoption(A, S0, E, never, fit_season=True, estimate_never=False):
    """Maximum likelihood of first adds with shared seasonality.

    A[s, m]: first adds of segment s on days of month-of-year m; S0[s, m]:
    person-days at risk without adding of the segment's adopters; E[m]: days
    of month m in the exposure window; never[s]: pool customers who never add
    (each at risk every exposure day). Daily add probability
    1 - exp(-a_s season_m). With `estimate_never` (one segment) the
    never-adopters count X is a parameter (log scale) too, and the likelihood
    gains log((n + X)! / X!) for the ways to pick which n of the pool adopted.

    Returns (a estimates, season estimates, never-adopters estimate or None,
    notes)."""
    from scipy.optimize import minimize
    A = np.asarray(A, dtype=np.float64)
    S0 = np.asarray(S0, dtype=np.float64)
    E = np.asarray(E, dtype=np.float64)
    nseg = A.shape[0]
    notes = []
    active = A.sum(axis=1) > 0              # segments with any first add
    fit_season = fit_season and _season_fittable(A, E, active, notes)
    act = np.flatnonzero(active)
    a_out = [Estimate(0.0, 0.0, 0.0, 0.0, "no first adds in the log") for _ in range(nseg)]
    season = [Estimate(1.0, note="not fitted") for _ in range(12)]
    if not len(act):
        if estimate_never:
            raise CalibrationError("no first adds in the log (after day 0): cannot estimate "
                                   "the addressable population; pass --population N")
        return a_out, season, None, notes
    lik = _AdoptionLikelihood(A, S0, E, never, act, fit_season, estimate_never)
    x0, bounds, x_hi = lik.start()
    res = minimize(lik.negll, x0, jac=lik.grad, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    x = res.x
    if estimate_never and x[-1] > x_hi - 1.0:
        raise CalibrationError(
            "the log does not pin down the addressable population (first adds show no "
            "saturation: the pool could be any size); pass --population N")
    cov = _covariance(lik.hessian(x))
    a, sig, h, S, X = lik.parts(x)
    for j, s in enumerate(act):
        a_out[s] = _log_scale(float(a[j]), math.sqrt(cov[j, j]) if cov[j, j] >= 0 else math.nan)
    ns = lik.ns
    if fit_season:
        season = _season_estimates(sig, cov[ns:ns + 11, ns:ns + 11])
    never_est = None
    if estimate_never:
        v = cov[-1, -1]
        if x[-1] < -10:       # at the boundary: every pool customer has been seen
            never_est = Estimate(0.0, math.nan, 0.0, math.nan, "at the boundary")
            notes.append("the adds look saturated: the population estimate is the customers "
                         "seen (no interval); pass --population N if you know it")
        else:
            never_est = _log_scale(float(X), math.sqrt(v) if v >= 0 else math.nan)
    return a_out, season, never_est, notes


# Gauss-Laguerre nodes/weights for Gamma(a, 1) expectations (Golub-Welsch),
# normalised weights so that large shapes do not overflow.
_GL_NODES = 32
_gl_cache: dict = {}


def _gamma_rule(a):
    key = round(float(a), 12)
    r = _gl_cache.get(key)
    if r is None:
        from scipy.linalg import eigh_tridiagonal
        alpha = a - 1.0
        i = np.arange(_GL_NODES)
        d = 2 * i + alpha + 1
        e = np.sqrt(i[1:] * (i[1:] + alpha))
        x, v = eigh_tridiagonal(d, e)
        w = v[0] ** 2
        r = (x, w / w.sum())
        if len(_gl_cache) > 4096:
            _gl_cache.clear()
        _gl_cache[key] = r
    return r


def churn_loglik(rate, shape, n, T, w=None, age=None):
    """Log-likelihood of customers with n closed spells and exposure T
    (sum of L - 1 over closed spells plus the open spell's days), lam_u ~
    Gamma(shape, rate / shape), L = 1 + floor(Exp(lam_u)). Exact:
    E[(1 - e^-lam)^n e^(-lam T)] = Gamma(k+n)/Gamma(k) th^n (1 + th T)^-(k+n)
    * E[((1 - e^-lam)/lam)^n], lam ~ Gamma(k + n, th / (1 + th T)), the last
    factor by 32-node Gauss-Laguerre. shape = inf: homogeneous.
    `age` (left truncation): days a customer had been a contact when the
    window opened. Having survived them, its lam is Gamma(k, th / (1 + th
    age)) (P(L > age | lam) = e^(-lam age) exactly), so th is replaced by that
    per customer: its spells are conditioned on the survival."""
    from scipy.special import gammaln
    n = np.asarray(n, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    w = np.ones_like(n) if w is None else np.asarray(w, dtype=np.float64)
    if math.isinf(shape):
        lam = rate
        return float((w * (n * np.log(-np.expm1(-lam)) - lam * T)).sum())
    k = shape
    th = rate / k
    if age is not None:
        th = th / (1 + th * np.asarray(age, dtype=np.float64))
    a = k + n
    ll = gammaln(a) - gammaln(k) + n * np.log(th) - a * np.log1p(th * T)
    thp = th / (1 + th * T)
    corr = np.zeros_like(n)
    for nv in np.unique(n):
        if nv == 0:
            continue
        m = n == nv
        x, wt = _gamma_rule(k + nv)
        lam = thp[m, None] * x[None, :]
        f = np.exp(nv * (np.log(-np.expm1(-lam)) - np.log(lam)))
        corr[m] = np.log(f @ wt)
    return float((w * (ll + corr)).sum())


def fit_churn(n, T, age=None):
    """(rate, shape) estimates from per-customer closed-spell counts n and
    exposures T (and ages when the window opened: left truncation, see
    `churn_loglik`); shape inf when no heterogeneity shows (k-hat > 1e4)."""
    from scipy.optimize import minimize
    n = np.asarray(n, dtype=np.int64)
    T = np.asarray(T, dtype=np.int64)
    age = np.zeros_like(n) if age is None else np.asarray(age, dtype=np.int64)
    notes = []
    keep = (n > 0) | (T > 0)
    if not n.sum():
        return (Estimate(0.0, 0.0, 0.0, 0.0, "no churn in the log"),
                Estimate(math.inf, note="no churn in the log"), notes)
    triples, w = np.unique(np.stack([n[keep], T[keep], age[keep]], axis=1), axis=0,
                           return_counts=True)
    nn, TT = triples[:, 0].astype(np.float64), triples[:, 1].astype(np.float64)
    aa = triples[:, 2].astype(np.float64) if triples[:, 2].any() else None
    lam0 = math.log1p(nn @ w / max(TT @ w, 1.0))

    def f(x):
        return -churn_loglik(math.exp(x[0]), math.exp(x[1]), nn, TT, w, aa)

    best = None
    for k0 in (0.5, 2.0, 20.0):
        r = minimize(f, [math.log(lam0), math.log(k0)], method="L-BFGS-B",
                     bounds=[(math.log(lam0) - 10, math.log(lam0) + 10), (math.log(1e-3), math.log(1e6))])
        if best is None or r.fun < best.fun:
            best = r
    x = best.x
    if math.exp(x[1]) > SHAPE_INF:
        # homogeneous: closed form lam = log(1 + n/T)
        nt, Tt = nn @ w, TT @ w
        lam = math.log1p(nt / max(Tt, 1e-300))
        info = nt * math.exp(lam) / math.expm1(lam) ** 2 if nt else math.nan
        se_log = 1 / (lam * math.sqrt(info)) if info and info > 0 else math.nan
        notes.append(f"churn shows no heterogeneity (shape estimate above {SHAPE_INF:g}): churn_shape = inf")
        return (_log_scale(lam, se_log), Estimate(math.inf, note="no heterogeneity detected"), notes)
    cov = _covariance(-_hessian(f, x, 1e-4))
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))
    return (_log_scale(math.exp(x[0]), float(se[0])), _log_scale(math.exp(x[1]), float(se[1])), notes)


def fit_readd(d, wcens):
    """(probability, delay mean) from observed re-add delays d (days from the
    churn to the next spell) and, for ended spells with no re-add seen, the
    days w left in the log. Likelihood: p P(d) for a re-add, with
    P(d) = exp(-(d-1)/mu) (1 - exp(-1/mu)); (1 - p) + p exp(-w/mu) for none
    (the re-add may fall after the log end)."""
    from scipy.optimize import minimize
    d = np.maximum(np.asarray(d, dtype=np.int64), 1)
    wc = np.asarray(wcens, dtype=np.int64)
    notes = []
    if d.size + wc.size == 0:
        return (Estimate(0.0, note="no ended spells"), Estimate(30.0, note="default (no re-adds)"), notes)
    if d.size == 0:
        return (Estimate(0.0, 0.0, 0.0, math.nan, "no re-adds seen"),
                Estimate(30.0, note="default (no re-adds)"), notes)
    # unique windows for speed
    wu, wn = np.unique(wc, return_counts=True)
    du, dn = np.unique(d, return_counts=True)

    def ll(p, mu):
        q = -np.expm1(-1.0 / mu)
        out = dn.sum() * (math.log(p) + math.log(q)) - float((dn * (du - 1)).sum()) / mu
        out += float((wn * np.log1p(-p * (-np.expm1(-wu / mu)))).sum())
        return out

    def f(x):
        p = 1 / (1 + math.exp(-x[0]))
        return -ll(p, math.exp(x[1]))

    p0 = d.size / (d.size + wc.size)
    mu0 = max(float(d.mean()) - 0.5, 0.5)
    r = minimize(f, [math.log(p0 / (1 - p0)) if p0 < 1 else 5.0, math.log(mu0)],
                 method="L-BFGS-B", bounds=[(-30, 30), (math.log(1e-3), math.log(1e5))])
    x = r.x
    p, mu = 1 / (1 + math.exp(-x[0])), math.exp(x[1])
    cov = _covariance(-_hessian(f, x, 1e-4))
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))
    if p > 1 - 1e-9:
        notes.append("every ended spell was followed by a re-add: readd_prob = 1")
        p = 1.0
    return _logit_scale(p, float(se[0])), _log_scale(mu, float(se[1])), notes
