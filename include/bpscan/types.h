/* Basic scalar types shared by every bpscan module. */
#ifndef BPSCAN_TYPES_H
#define BPSCAN_TYPES_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

typedef double complex bps_cplx; /* complex double, 16 bytes, C99 layout (re, im) */
typedef int64_t bps_idx;         /* index into state arrays (2^q can exceed 2^31) */

_Static_assert(sizeof(bps_cplx) == 16, "bps_cplx must be two packed doubles");

#define BPS_MAX_QUBITS 30      /* hard cap on qubits in one state */
#define BPS_HAAR_MAX_QUBITS 15 /* a drawn Haar unitary acts on at most 15 qubits (2^15 x 2^15) */
#define BPS_PAULI_MAX_QUBITS 10 /* a Pauli rotation is applied as a dense 2^k x 2^k gate */
#define BPS_GATE_MAX_QUBITS 24  /* qubits of one executable operation (circuit.h BPS_OP_MAXQ) */
#define BPS_ENS_MAX_QUBITS                                                                      \
  65536              /* register width of a model ensemble (exact moments: no state) */
#define BPS_ALIGN 64 /* byte alignment of every state array */

#endif
