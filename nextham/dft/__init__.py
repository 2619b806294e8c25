"""Making data with a DFT engine: crystal prototypes (strain, rattling), neutral-atom densities for
H(0), the PySCF engine (H(0), H(T), S in real space, checked against the SCF's own bands), the Fourier
transform to real-space blocks, and resumable, parallel generation into shards."""
