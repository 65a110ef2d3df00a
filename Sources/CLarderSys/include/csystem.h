#ifndef LARDER_CSYSTEM_H
#define LARDER_CSYSTEM_H
#include <stddef.h>

/// Bytes glibc's malloc has handed out and not taken back (mallinfo2's uordblks + hblkhd).
size_t larder_malloc_in_use(void);
/* Bytes malloc holds from the system: its arenas and its mmapped blocks (allocator_active). */
size_t larder_malloc_from_system(void);



/// Fixes glibc's mmap threshold (see csystem.c).
void larder_configure_malloc(void);

/// Makes stdout line-buffered, so log lines reach a file or pipe as they are written.
void larder_line_buffer_stdout(void);
/* Standard output and error appended to `path` (the logfile directive); -1 on failure. */
int larder_redirect_output(const char *path);
#endif
