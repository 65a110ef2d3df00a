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

void larder_malloc_trim(void) {
    malloc_trim(0);
}

#include <stdlib.h>

unsigned char *larder_slot_map_new(void) {
    return calloc(16384, 1);
}

unsigned char larder_slot_map_get(const unsigned char *map, int slot) {
    return __atomic_load_n(&map[slot], __ATOMIC_RELAXED);
}

void larder_slot_map_set(unsigned char *map, int slot, unsigned char value) {
    __atomic_store_n(&map[slot], value, __ATOMIC_RELAXED);
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

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

void larder_daemonize(void) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(1); }
    if (pid > 0) _exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
}

int larder_sd_notify(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0') return 0;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof addr.sun_path) return -1;
    memcpy(addr.sun_path, path, len);
    /* "@name" is Linux's abstract namespace: a leading NUL, the length counted exactly. */
    if (path[0] == '@') addr.sun_path[0] = '\0';
    socklen_t addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addrlen);
    close(fd);
    return n < 0 ? -1 : 0;
}

static const int facilities[] = { LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3,
                                  LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7 };

void larder_openlog(const char *ident, int facility) {
    /* openlog keeps the pointer: the ident must outlive the process's logging. */
    openlog(strdup(ident), LOG_PID | LOG_NDELAY | LOG_NOWAIT, facilities[facility]);
}

void larder_syslog(int level, const char *message) {
    static const int priorities[] = { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING };
    syslog(priorities[level], "%s", message);
}

int larder_disable_thp(void) {
    return prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
}

/* The process title: argv's strings, and the environment's after them when they follow in
   one block, are the only memory /proc/PID/cmdline shows. The environment is copied out
   first so getenv goes on working; the title then takes the whole block. */
static char *title_start = NULL;
static size_t title_room = 0;
extern char **environ;

void larder_proctitle_init(int argc, char **argv) {
    if (argc <= 0 || argv == NULL || argv[0] == NULL) return;
    char *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc; i++) {
        if (argv[i] != end) break;
        end = argv[i] + strlen(argv[i]) + 1;
    }
    int envc = 0;
    while (environ[envc] != NULL) envc++;
    char **copy = malloc(sizeof(char *) * (envc + 1));
    if (copy == NULL) return;
    for (int i = 0; i < envc; i++) {
        if (environ[i] == end) end = environ[i] + strlen(environ[i]) + 1;
        copy[i] = strdup(environ[i]);
    }
    copy[envc] = NULL;
    environ = copy;
    title_start = argv[0];
    title_room = (size_t)(end - argv[0]);
}

void larder_set_proctitle(const char *title) {
    if (title_start == NULL || title_room < 2) return;
    size_t n = strlen(title);
    if (n > title_room - 1) n = title_room - 1;
    memset(title_start, 0, title_room);
    memcpy(title_start, title, n);
}

void larder_write_stdout(const char *text) { fputs(text, stdout); }
void larder_write_stderr(const char *text) { fputs(text, stderr); }
