"""Loss terms (R-space, k-space P/Q/PQ, TraceGrad auxiliary). Empty in this release: the data layer comes first."""
