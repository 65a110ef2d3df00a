#ifndef LARDER_CSYSTEM_H
#define LARDER_CSYSTEM_H
#include <stddef.h>

/// Bytes glibc's malloc has handed out and not taken back (mallinfo2's uordblks + hblkhd).
size_t larder_malloc_in_use(void);
/* Bytes malloc holds from the system: its arenas and its mmapped blocks (allocator_active). */
size_t larder_malloc_from_system(void);
/* MEMORY PURGE: gives the free memory at the top of the heap and in free pages back to the
   system (glibc's malloc_trim). */
void larder_malloc_trim(void);

/* A byte per cluster slot, read by every event loop and written by the one thread holding the
   cluster's lock: relaxed atomic loads and stores (C11), so that readers need no lock. */
unsigned char *larder_slot_map_new(void);
unsigned char larder_slot_map_get(const unsigned char *map, int slot);
void larder_slot_map_set(unsigned char *map, int slot, unsigned char value);



/// Fixes glibc's mmap threshold (see csystem.c).
void larder_configure_malloc(void);

/// Makes stdout line-buffered, so log lines reach a file or pipe as they are written.
void larder_line_buffer_stdout(void);
/* Standard output and error appended to `path` (the logfile directive); -1 on failure. */
int larder_redirect_output(const char *path);

/* daemonize yes: forks, the parent exits, the child leads a new session with standard
   input, output and error on /dev/null. Before any thread starts. */
void larder_daemonize(void);
/* Sends `state` to systemd's $NOTIFY_SOCKET (a path or an abstract "@name"); 0 when sent or
   when there is no socket, -1 on failure. */
int larder_sd_notify(const char *state);
/* syslog-enabled: facility is an index into user, local0 ... local7; level 0-3 is Redis's
   debug, verbose, notice, warning. */
void larder_openlog(const char *ident, int facility);
void larder_syslog(int level, const char *message);
/* disable-thp: transparent huge pages off for this process (prctl); -1 on failure. */
int larder_disable_thp(void);
/* set-proc-title: claims argv's (and the environment's) memory once, then writes titles there. */
void larder_proctitle_init(int argc, char **argv);
void larder_set_proctitle(const char *title);
/* Text to standard output (line-buffered) or standard error, through stdio's streams. */
void larder_write_stdout(const char *text);
void larder_write_stderr(const char *text);
#endif
