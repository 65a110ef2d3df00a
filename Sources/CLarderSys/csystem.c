#include "csystem.h"
#include <malloc.h>

size_t larder_malloc_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

#include <stdio.h>

void larder_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
