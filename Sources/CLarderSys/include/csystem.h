#ifndef LARDER_CSYSTEM_H
#define LARDER_CSYSTEM_H
#include <stddef.h>

/// Bytes glibc's malloc has handed out and not taken back (mallinfo2's uordblks + hblkhd).
size_t larder_malloc_in_use(void);

#endif
