/* landscape: one-dimensional cuts of a cost landscape analysed by FFT (physics.md Sec. 5).
 *
 * Conventions
 *   Cut      f(t) = C(theta0 + t k), k an integer direction (nparams entries), t measured
 *            from theta0 (so no phase e^{ik t0} has to be removed), period 2 pi.
 *   Degree   Every parameter j enters through the circuit's PROT operations
 *            exp(-i s theta_j P); each occurrence contributes frequencies {-2|s|, 0, 2|s|},
 *            so R_j = sum over occurrences of 2|s| (R_j = q for q rotations R_P = scale 1/2).
 *            f is then a real trigonometric polynomial of degree K = sum_j |k_j| R_j.
 *            Only parameters with k_j != 0 matter; each of those must have an integer R_j,
 *            otherwise the cut is almost-periodic and bps_landscape_degree refuses it
 *            (BPS_ERR_ARG).
 *   Samples  f_s = f(t_s), t_s = 2 pi s / N, s = 0 .. N-1, N >= 2K+1 (sampling theorem).
 *   Spectrum c_k = X_k / N with X_k = sum_s f_s e^{-2 pi i k s/N} (FFTW r2c, unnormalised),
 *            f(t) = sum_{|k|<=K} c_k e^{ikt}, c_{-k} = conj(c_k);
 *            equivalently f = a_0 + sum_k (a_k cos kt + b_k sin kt), a_0 = c_0,
 *            a_k = 2 Re c_k, b_k = -2 Im c_k.
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
 *   slope_fft      f'(0) = sum_{k=1}^K k b_k = -2 sum k Im c_k = k . grad C(theta0)
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
 * FFT plans are created once per (kind, size) with FFTW_ESTIMATE (deterministic: the same
 * plan and the same rounding on every run and rank), under an OpenMP critical section, and
 * executed with the new-array interface so the same plan serves every thread. Cut sizes
 * are small (N ~ 2.5 K, K = tens to thousands): FFTW threads (fftw3_omp) are used only
 * for sizes >= BPS_LANDSCAPE_FFT_THREAD_MIN, where a 1-D transform starts to pay; below it
 * every plan is single-threaded and the parallelism belongs to the caller (cuts/samples)
 * or the simulator kernels. The N model evaluations of bps_cut_sample run in order on the
 * calling thread (the state kernels thread themselves); the result does not depend on the
 * thread count.
 */
#ifndef BPSCAN_LANDSCAPE_H
#define BPSCAN_LANDSCAPE_H

#include <complex.h>

#include "bpscan/circuit.h"
#include "bpscan/model.h"

#define BPS_LANDSCAPE_MAX_DEGREE (1 << 22)       /* largest K accepted */
#define BPS_LANDSCAPE_FFT_THREAD_MIN (1 << 16)   /* plans of this size and up are threaded */
#define BPS_LANDSCAPE_PAD 16                     /* default fine-grid factor */

/* Largest frequency R_j of every parameter (c->nparams entries, sum of 2|scale| over its
 * PROT occurrences; 0 for unused parameters). Not rounded. */
int bps_landscape_frequencies(const bps_circuit *c, double *R);

/* Degree K = sum_j |k_j| R_j of the cut along the integer direction k (c->nparams
 * entries). BPS_ERR_ARG if a parameter with k_j != 0 has a non-integer frequency. */
int bps_landscape_degree(const bps_circuit *c, const int *k, int *K);

/* Cut size for degree K: smallest odd 7-smooth N >= 2(K + guard) + 1 (and >= 3).
 * guard < 0 selects the default 2 + K/4. */
int bps_landscape_size(int K, int guard, int *N);

typedef struct {
  int K;              /* declared degree */
  int N;              /* samples */
  int nf;             /* fine-grid points (pad N) */
  double complex *c;  /* K+1 coefficients c_0 .. c_K (owned) */
  double *W;          /* K+1 spectral powers by degree (owned) */
  double mean;        /* c_0 */
  double var;         /* sum_{k>=1} W_k */
  double alias;       /* max |c_k|, K < k <= N/2 */
  double slope_fft;   /* f'(0) from the spectrum */
  double slope_adjoint; /* k . grad C(theta0) by the adjoint gradient (bps_landscape_cut) */
  double f0;          /* C(theta0) (bps_landscape_cut: from the adjoint pass) */
  double fmax, fmin, spread; /* max f, min f (refined fine grid); spread = fmax - fmin */
  double lipschitz;   /* max |f'| (refined fine grid) */
  double t_lipschitz; /* where it is attained */
  double bernstein;   /* K spread / 2 */
} bps_cut_result;

void bps_cut_result_free(bps_cut_result *r);

/* Analyse N samples f[s] = f(2 pi s / N) of a cut of declared degree K (N >= 2K+1, any
 * N; odd preferred). pad >= 1 is the fine-grid factor (0: BPS_LANDSCAPE_PAD). Fills r
 * (r->c, r->W allocated here; free with bps_cut_result_free; slope_adjoint and f0 are
 * set to NAN). */
int bps_cut_analyse(const double *f, int N, int K, int pad, bps_cut_result *r);

/* f[s] = C(theta0 + t_s k), t_s = 2 pi s / N, s = 0 .. N-1 (m->nparams entries in theta0
 * and k; cost only). */
int bps_cut_sample(const bps_model_instance *m, const double *theta0, const int *k, int N,
                   double *f);

/* Degree -> size (default guard) -> samples -> analysis, plus the adjoint gradient at
 * theta0: r->slope_adjoint = k . grad C(theta0) (cross-check against r->slope_fft) and
 * r->f0. Models without a circuit (QBM) are refused (BPS_ERR_ARG). */
int bps_landscape_cut(const bps_model_instance *m, const double *theta0, const int *k,
                      bps_cut_result *r);

/* Destroy the cached FFT plans (optional, at exit; not while other threads use them). */
void bps_landscape_cleanup(void);

#endif
