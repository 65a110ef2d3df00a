#include "csystem.h"
#include <malloc.h>

size_t larder_malloc_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
