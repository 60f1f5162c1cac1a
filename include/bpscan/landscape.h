/* landscape: one- and two-dimensional cuts of a cost landscape analysed by FFT
 * (physics.md Sec. 5).
 *
 * Conventions
 *   Units    Natural frequency units. Every parameter j enters through the circuit's PROT
 *            operations exp(-i s_r theta_j P_r); occurrence r contributes the frequencies
 *            {-2|s_r|, 0, 2|s_r|}. The BASE FREQUENCY nu_j > 0 is the largest number of
 *            which every 2|s_r| is an integer multiple (found as a/q, a = min_r 2|s_r|,
 *            q = 1 .. 12, every 2|s_r|/nu within 1e-9 relative of an integer), and the
 *            integer DEGREE R_j = sum_r 2|s_r|/nu_j. In the natural coordinate
 *            phi_j = nu_j theta_j the cost is 2 pi periodic in phi_j with integer spectrum
 *            {-R_j .. R_j}. Examples: R_y = scale 1/2 (nu = 1, R = 1 per rotation); scale
 *            0.3 (nu = 0.6, R = 1); scales 0.5 and 1 on one parameter (nu = 1, R = 3); a VH
 *            term exp(-i J theta h) (nu = 2|J|, R = 1). Unused parameters: nu = 1, R = 0.
 *            No such nu (e.g. scales 0.5 and 0.5 sqrt 2): INCOMMENSURATE, R_j = -1; a cut
 *            moving it is almost periodic (Sec. 5.1, e.g. Beer's matrix updates) and is
 *            refused (BPS_ERR_ARG naming the parameter).
 *   Cut      Integer direction k (nparams entries); theta moves along dir_j = k_j / nu_j:
 *            f(t) = C(theta0 + t dir), t measured from theta0 (no phase e^{ikt0} to
 *            remove), period 2 pi, a real trigonometric polynomial of degree
 *            K = sum_j |k_j| R_j, and f'(0) = dir . grad C(theta0).
 *   Plane    Two integer directions k1, k2 (dir1, dir2 as above):
 *            f(t, u) = C(theta0 + t dir1 + u dir2), 2 pi periodic in t and u, a real 2-D
 *            trigonometric polynomial sum_{|a|<=K1, |b|<=K2} c_ab e^{i(at + bu)},
 *            K_i = degree of k_i (its spectrum lies in that rectangle; K1 + K2 bounds the
 *            total degree |a| + |b|).
 *   Samples  f_s = f(t_s), t_s = 2 pi s / N, s = 0 .. N-1, N >= 2K+1 (sampling theorem);
 *            plane: f[a N2 + b] = f(2 pi a/N1, 2 pi b/N2), N_i >= 2K_i+1.
 *   Spectrum c_k = X_k / N with X_k = sum_s f_s e^{-2 pi i k s/N} (FFTW r2c, unnormalised),
 *            f(t) = sum_{|k|<=K} c_k e^{ikt}, c_{-k} = conj(c_k);
 *            equivalently f = a_0 + sum_k (a_k cos kt + b_k sin kt), a_0 = c_0,
 *            a_k = 2 Re c_k, b_k = -2 Im c_k. Plane: c_ab = X_ab / (N1 N2) (2-D r2c),
 *            c_{-a,-b} = conj(c_ab).
 *   Size N   bps_landscape_size: the smallest ODD 7-smooth number (3^a 5^b 7^c, fast FFTW
 *            codelets, no Nyquist bin to special-case) that is >= 2(K + guard) + 1, where
 *            the guard bins K < k <= K + guard carry the aliasing self-test
 *            (default guard = 2 + K/4, i.e. ~25 % oversampling; at least 3 points).
 *
 * Outputs of bps_cut_analyse (bps_cut_result):
 *   c[0..K]        Fourier coefficients c_k (the declared band)
 *   W[0..K]        spectral power by degree, W_0 = |c_0|^2, W_k = |c_k|^2 + |c_{-k}|^2
 *                  = 2|c_k|^2; mean = c_0, var = sum_{k>=1} W_k = (1/2pi) int |f - c_0|^2
 *   alias          max |c_k| over the bins K < k <= floor(N/2) (0 if there are none): at
 *                  the rounding level (~1e-16 |f|) when the declared K is right; large when
 *                  the spectrum is wrong (a shared parameter, a wrong generator scale, ...)
 *   slope_fft      f'(0) = sum_{k=1}^K k b_k = -2 sum k Im c_k = dir . grad C(theta0)
 *   fmax, fmin     max / min of the band-limited f: found on the fine grid (nf = pad N
 *                  points, zero-padded spectrum through c2r), then every grid local
 *                  maximum that can hold the true one (Bernstein margin (K h)^2/8 max|g|,
 *                  the best 16) is refined by golden-section search on the exact spectral
 *                  sum: exact to ~1e-12 relative. spread = fmax - fmin
 *   lipschitz      max |f'(t)| (empirical Lipschitz constant of the cut), same procedure,
 *                  attained at t = t_lipschitz
 *   bernstein      K (fmax - fmin)/2 >= lipschitz (Bernstein, Sec. 5.5; equality for
 *                  cos(Kt + phi) + const)
 *
 * Outputs of bps_plane_analyse (bps_plane_result), the 2-D analogues:
 *   c              the band c_ab, |a| <= K1, 0 <= b <= K2 (c_{a,-b} = conj c_{-a,b}),
 *                  c[(a + K1)(K2 + 1) + b]; the b = 0 column is exactly Hermitian
 *   W[0..K1+K2]    power by TOTAL degree d = |a| + |b| (both signs counted): W[0] = c_00^2,
 *                  sum_{d>=1} W[d] = var = sum_{(a,b) != 0} |c_ab|^2 = torus mean of
 *                  (f - c_00)^2 (Parseval)
 *   alias          max |c_ab| over the bins outside |a| <= K1, |b| <= K2
 *   slope_fft      (f_t, f_u)(0, 0) = (dir1 . grad C, dir2 . grad C)
 *   fmax, fmin, lipschitz  extrema of f and max |grad f| = max sqrt(f_t^2 + f_u^2) over the
 *                  torus: fine grid nf1 x nf2 = pad N1 x pad N2 (2-D c2r of the zero-padded
 *                  spectrum; pad reduced, down to 2, to keep nf1 nf2 <= 2^22), then every
 *                  grid local maximum (8 neighbours) within the Bernstein margin
 *                  (1/2)(K1 h1/2 + K2 h2/2)^2 max|g| of the grid maximum (the best 16) is
 *                  refined by damped Newton iterations (trust radius one grid cell) on the
 *                  exact spectral sum (derivatives to third order in one O(K1 K2) pass;
 *                  |grad f|^2 is maximised). The refined values are attained values of
 *                  the band-limited f: they agree with the analytic maxima to ~1e-14
 *                  relative (t802: separable sums against the 1-D analysis, cos(at + bu),
 *                  dense brute force)
 *   bernstein      sqrt(K1^2 + K2^2) spread / 2 >= lipschitz (Sec. 5.5: along a unit
 *                  direction v the plane is of exponential type K1|v1| + K2|v2|)
 *
 * FFT plans are created once per (kind, size) with FFTW_ESTIMATE (deterministic: the same
 * plan and the same rounding on every run and rank), under an OpenMP critical section, and
 * executed with the new-array interface so the same plan serves every thread. Cut sizes
 * are small (N ~ 2.5 K, K = tens to thousands): FFTW threads (fftw3_omp) are used only
 * for sizes (1-D: N; 2-D: N1 N2) >= BPS_LANDSCAPE_FFT_THREAD_MIN, where a transform starts
 * to pay; below it every plan is single-threaded and the parallelism belongs to the caller
 * (cuts/samples) or the simulator kernels. The model evaluations of bps_cut_sample and
 * bps_plane_sample run in order on the calling thread (the state kernels thread
 * themselves); the result does not depend on the thread count.
 */
#ifndef BPSCAN_LANDSCAPE_H
#define BPSCAN_LANDSCAPE_H

#include <complex.h>

#include "bpscan/circuit.h"
#include "bpscan/model.h"

#define BPS_LANDSCAPE_MAX_DEGREE (1 << 22)     /* largest K accepted */
#define BPS_LANDSCAPE_FFT_THREAD_MIN (1 << 16) /* plans of this size and up are threaded */
#define BPS_LANDSCAPE_PAD 16                   /* default fine-grid factor */

/* Base frequency nu_j and integer degree R_j of every parameter (c->nparams entries each;
 * see Units above). Unused parameters: nu = 1, R = 0; incommensurate: R = -1 and nu = the
 * smallest 2|scale| of its rotations. (A degree beyond INT_MAX is stored as INT_MAX.) */
int bps_landscape_frequencies(const bps_circuit *c, double *nu, int *R);

/* Degree K = sum_j |k_j| R_j of the cut along the integer direction k (c->nparams
 * entries). BPS_ERR_ARG if a parameter with k_j != 0 is incommensurate (R_j = -1; the
 * message names it, names[j] if names is not NULL) or if K > BPS_LANDSCAPE_MAX_DEGREE. */
int bps_landscape_degree(const bps_circuit *c, char *const *names, const int *k, int *K);

/* Direction in parameter space of the cut along k: dir_j = k_j / nu_j (c->nparams entries
 * each). BPS_ERR_ARG if a parameter with k_j != 0 is incommensurate. */
int bps_landscape_direction(const bps_circuit *c, const int *k, double *dir);

/* Cut size for degree K: smallest odd 7-smooth N >= 2(K + guard) + 1 (and >= 3).
 * guard < 0 selects the default 2 + K/4. */
int bps_landscape_size(int K, int guard, int *N);

typedef struct {
  int K;                     /* declared degree */
  int N;                     /* samples */
  int nf;                    /* fine-grid points (pad N) */
  double complex *c;         /* K+1 coefficients c_0 .. c_K (owned) */
  double *W;                 /* K+1 spectral powers by degree (owned) */
  double mean;               /* c_0 */
  double var;                /* sum_{k>=1} W_k */
  double alias;              /* max |c_k|, K < k <= N/2 */
  double slope_fft;          /* f'(0) from the spectrum */
  double slope_adjoint;      /* dir . grad C(theta0) (bps_landscape_cut with a gradient) */
  double fmax, fmin, spread; /* max f, min f (refined fine grid); spread = fmax - fmin */
  double lipschitz;          /* max |f'| (refined fine grid) */
  double t_lipschitz;        /* where it is attained */
  double bernstein;          /* K spread / 2 */
} bps_cut_result;

void bps_cut_result_free(bps_cut_result *r);

/* Analyse N samples f[s] = f(2 pi s / N) of a cut of declared degree K (N >= 2K+1, any
 * N; odd preferred). pad >= 1 is the fine-grid factor (0: BPS_LANDSCAPE_PAD). Fills r
 * (r->c, r->W allocated here; free with bps_cut_result_free; slope_adjoint is NAN). */
int bps_cut_analyse(const double *f, int N, int K, int pad, bps_cut_result *r);

/* f[s] = C(theta0 + t_s dir), t_s = 2 pi s / N, s = 0 .. N-1 (m->nparams entries in
 * theta0 and dir, e.g. from bps_landscape_direction; cost only). */
int bps_cut_sample(const bps_model_instance *m, const double *theta0, const double *dir, int N,
                   double *f);

/* The cut through theta0 along k (m->nparams entries, natural units, see above): degree
 * -> size (default guard) -> direction -> samples -> analysis with fine-grid factor pad
 * (0: BPS_LANDSCAPE_PAD). grad: the gradient of C at theta0 (m->nparams entries, e.g. from
 * bps_model_cost_grad), giving r->slope_adjoint = dir . grad summed in index order (the
 * cross-check of r->slope_fft), or NULL (slope_adjoint = NAN). Incommensurate parameters
 * with k_j != 0 and models without a circuit (QBM) are refused (BPS_ERR_ARG). The
 * landscape scan (landfields.h) makes its cuts with this function. */
int bps_landscape_cut(const bps_model_instance *m, const double *theta0, const int *k,
                      const double *grad, int pad, bps_cut_result *r);

/* ---- two-dimensional cuts (planes) */

typedef struct {
  int K1, K2, N1, N2, nf1, nf2; /* degrees, sample grid, fine grid */
  int nW;
  double *W;                 /* power by total degree d = |a|+|b|, d = 0..K1+K2 (owned);
                               W[0] = c_00^2; sum_{d>=1} W[d] = var */
  double mean, var, alias;   /* c_00, sum of |c_ab|^2 over (a,b) != 0, max |c_ab| over bins
                               outside |a|<=K1, |b|<=K2 */
  double slope_fft[2];       /* df/dt, df/du at (0,0) from the spectrum */
  double slope_adjoint[2];   /* bps_landscape_plane with a gradient; else NAN */
  double fmax, fmin, spread; /* extrema of the band-limited f over the torus (fine grid,
                                refined) */
  double lipschitz;          /* max over the torus of |grad f| = sqrt(f_t^2 + f_u^2) (fine
                               grid, refined) */
  double bernstein;          /* sqrt(K1^2 + K2^2) * spread / 2 >= lipschitz (Sec. 5.5) */
  double complex *c;         /* (2K1+1)(K2+1) coefficients c_ab, a = -K1..K1, b = 0..K2, at
                               c[(a + K1)(K2 + 1) + b] (owned) */
} bps_plane_result;

void bps_plane_result_free(bps_plane_result *r);

/* Analyse samples f[a N2 + b] = f(2 pi a/N1, 2 pi b/N2) (row-major) of a plane of declared
 * degrees K1, K2 (N_i >= 2K_i+1; odd preferred). pad >= 1 is the fine-grid factor per axis
 * (0: BPS_LANDSCAPE_PAD), reduced (not below 2) so that pad^2 N1 N2 <= 2^22. Fills r (W and
 * c allocated here; free with bps_plane_result_free; slope_adjoint = NAN). */
int bps_plane_analyse(const double *f, int N1, int N2, int K1, int K2, int pad,
                      bps_plane_result *r);

/* f[a N2 + b] = C(theta0 + t_a dir1 + u_b dir2), t_a = 2 pi a/N1, u_b = 2 pi b/N2
 * (m->nparams entries in theta0, dir1, dir2; cost only). */
int bps_plane_sample(const bps_model_instance *m, const double *theta0, const double *dir1,
                     const double *dir2, int N1, int N2, double *f);

/* Degrees (K1 from k1, K2 from k2) -> sizes N1, N2 (bps_landscape_size, default guard)
 * -> directions -> samples -> analysis with pad (as bps_plane_analyse). grad (or NULL) as
 * in bps_landscape_cut: r->slope_adjoint = (dir1 . grad, dir2 . grad). samples: NULL, or
 * room for the N1 N2 samples f[a N2 + b], which are then left there (the scan stores them
 * as its `image`). Refusals as bps_landscape_cut. */
int bps_landscape_plane(const bps_model_instance *m, const double *theta0, const int *k1,
                        const int *k2, const double *grad, int pad, double *samples,
                        bps_plane_result *r);

/* Destroy the cached FFT plans (optional, at exit; not while other threads use them). */
void bps_landscape_cleanup(void);

#endif
