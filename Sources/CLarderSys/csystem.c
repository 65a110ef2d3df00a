#include "csystem.h"
#include <malloc.h>

size_t larder_malloc_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

size_t larder_malloc_from_system(void) {
    struct mallinfo2 m = mallinfo2();
    return m.arena + m.hblkhd;
}

#include <stdio.h>

/* The keyspace's tables are a few large arrays per shard that grow by reallocation. glibc
   raises its mmap threshold (up to 32 MB) each time such a block is freed, after which the
   next generation comes from the heap, and the freed ones stay resident as holes. A fixed
   threshold keeps every large block mapped on its own and unmapped when freed, so resident
   memory follows what is live. */
void larder_configure_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

void larder_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int larder_redirect_output(const char *path) {
    if (freopen(path, "a", stdout) == NULL) return -1;
    if (freopen(path, "a", stderr) == NULL) return -1;
    return 0;
}
