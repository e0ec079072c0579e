// The one C header nanochat uses: OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>
