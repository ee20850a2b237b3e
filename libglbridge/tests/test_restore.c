/*
 * Tests of libglbridge's reconnecting client (glbridge_connect_opts with
 * reconnect) against real brokers: kill -9 of `glshare serve`, a new one
 * at the same socket, and the resources, fences and keyed-mutex objects
 * back under the same handles and names, in the same session
 * (SET_SESSION, RESTORE, RESTORE_FENCE, RESTORE_KEYED_MUTEX), or refused
 * by a broker without a restore window.
 * Usage: test_restore PATH/TO/glshare
 *
 * Nothing here waits a fixed time for something to happen: every wait
 * polls its condition (a socket that accepts, a LIST that shows a
 * waiter) under a generous deadline, so a loaded machine only makes it
 * slower.
 */
#define _GNU_SOURCE
#include "glbridge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *glshare;
static char tmpdir[] = "/tmp/libglbridge-restore-XXXXXX";

#define DEADLINE_S 120.0 /* for anything to happen, however loaded the machine */
#define WINDOW "60s"     /* restore window of the new brokers: the clients restore well within it */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

/* object_fds counts this process's fds that are the file ref is (same
   device and inode): ref itself and every copy of it, the client's kept
   dups included. */
static int object_fds(int ref)
{
    struct stat want, sb;
    DIR *d;
    struct dirent *e;
    int n = 0;
    CHECK(fstat(ref, &want) == 0);
    d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        int fd;
        if (e->d_name[0] == '.')
            continue;
        fd = atoi(e->d_name);
        if (fd != dirfd(d) && fstat(fd, &sb) == 0 && sb.st_dev == want.st_dev && sb.st_ino == want.st_ino)
            n++;
    }
    closedir(d);
    return n;
}

/* ---- brokers ---- */

struct broker {
    pid_t pid;
    char sock[256], log[300];
};

/* broker_start starts `glshare serve --socket sock [window flag]` and
   returns once the socket accepts connections (polled). */
static void broker_start(struct broker *b, const char *sock, const char *window)
{
    double t0 = now_s();
    snprintf(b->sock, sizeof b->sock, "%s", sock);
    snprintf(b->log, sizeof b->log, "%s.log", sock);
    b->pid = fork();
    CHECK(b->pid >= 0);
    if (b->pid == 0) {
        int fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (window)
            execl(glshare, "glshare", "serve", "--socket", b->sock, "--restore-window", window, (char *)NULL);
        else
            execl(glshare, "glshare", "serve", "--socket", b->sock, (char *)NULL);
        _exit(127);
    }
    for (;;) {
        glbridge_client *c;
        int st;
        if (glbridge_connect(b->sock, &c) == GLBRIDGE_OK) {
            glbridge_client_close(c);
            return;
        }
        if (waitpid(b->pid, &st, WNOHANG) == b->pid)
            FAIL("broker at %s exited (see %s)", b->sock, b->log);
        if (now_s() - t0 > DEADLINE_S)
            FAIL("broker at %s does not answer (see %s)", b->sock, b->log);
        pause_ms(20); /* polling the condition, not waiting for it */
    }
}

static void broker_kill(struct broker *b, int sig)
{
    int st;
    if (b->pid <= 0)
        return;
    CHECK(kill(b->pid, sig) == 0);
    CHECK(waitpid(b->pid, &st, 0) == b->pid);
    b->pid = 0;
}

static glbridge_client *connect_plain(const char *sock)
{
    glbridge_client *c = NULL;
    CHECK_ST(NULL, glbridge_connect(sock, &c), GLBRIDGE_OK);
    return c;
}

static glbridge_client *connect_reconnecting(const char *sock)
{
    glbridge_connect_options o;
    glbridge_client *c = NULL;
    memset(&o, 0, sizeof o);
    o.reconnect = 1;
    o.call_wait_ms = (uint32_t)(DEADLINE_S * 1000);
    o.max_backoff_ms = 50;
    CHECK_ST(NULL, glbridge_connect_opts(sock, &o, &c), GLBRIDGE_OK);
    return c;
}

static glbridge_reconnect_stats stats_of(glbridge_client *c)
{
    glbridge_reconnect_stats s;
    CHECK_ST(c, glbridge_client_stats(c, &s), GLBRIDGE_OK);
    return s;
}

/* ---- resources ---- */

#define SIZE 4096u /* 32 x 32 R8G8B8A8_UNORM in the host-memory layout */

static unsigned char pattern(size_t i, unsigned seed) { return (unsigned char)(i * 13u + seed + (i >> 8)); }

static glbridge_allocation host_alloc(void)
{
    glbridge_allocation a;
    memset(&a, 0, sizeof a);
    a.desc.dimension = GLBRIDGE_DIM_TEXTURE2D;
    a.desc.width = 32;
    a.desc.height = 32;
    a.desc.depth_or_array_size = 1;
    a.desc.mip_levels = 1;
    a.desc.sample_count = 1;
    a.desc.format = 28; /* R8G8B8A8_UNORM */
    a.desc.bind_flags = 0x8;
    a.size = SIZE;
    a.flags = GLBRIDGE_ALLOC_HOST_MEMORY;
    return a;
}

/* sealed_memfd: SIZE bytes of pattern(seed), sealed against resizing. */
static int sealed_memfd(unsigned seed)
{
    unsigned char buf[SIZE];
    size_t i;
    int fd = memfd_create("libglbridge-restore", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    for (i = 0; i < SIZE; i++)
        buf[i] = pattern(i, seed);
    CHECK(write(fd, buf, SIZE) == (ssize_t)SIZE);
    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
    return fd;
}

static void check_bytes(int fd, unsigned seed)
{
    unsigned char *m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    size_t i;
    CHECK(m != MAP_FAILED);
    for (i = 0; i < SIZE; i++)
        if (m[i] != pattern(i, seed))
            FAIL("byte %lu is %u, want %u", (unsigned long)i, m[i], pattern(i, seed));
    munmap(m, SIZE);
}

static glbridge_list_entry *find_entry(glbridge_list_entry *e, size_t n, uint32_t kmt)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (e[i].kmt == kmt)
            return &e[i];
    return NULL;
}

static int has_name(const glbridge_list_entry *e, const char *name)
{
    uint32_t i;
    for (i = 0; i < e->name_count; i++)
        if (strcmp(e->names[i], name) == 0)
            return 1;
    return 0;
}

/* ---- an ACQUIRE_SYNC in flight across the restart ---- */

struct waiter {
    glbridge_client *c;
    uint32_t handle;
    uint64_t key, value;
    glbridge_status st;
};

static void *waiter_main(void *p)
{
    struct waiter *w = p;
    w->st = glbridge_acquire_sync(w->c, w->handle, w->key, GLBRIDGE_INFINITE, &w->value, NULL);
    return NULL;
}

/* wait_waiters polls LIST (through c) until kmt has n waiters. */
static void wait_waiters(glbridge_client *c, uint32_t kmt, uint32_t n)
{
    double t0 = now_s();
    for (;;) {
        glbridge_list_entry *le;
        size_t ln;
        glbridge_list_entry *e;
        uint32_t w;
        CHECK_ST(c, glbridge_list(c, GLBRIDGE_LIST_SYNC_STATE, &le, &ln), GLBRIDGE_OK);
        e = find_entry(le, ln, kmt);
        CHECK(e != NULL);
        w = e->sync.waiters;
        glbridge_list_free(le, ln);
        if (w == n)
            return;
        if (now_s() - t0 > DEADLINE_S)
            FAIL("resource 0x%x has %u waiters, want %u", (unsigned)kmt, (unsigned)w, (unsigned)n);
        pause_ms(10);
    }
}

/* A query through another thread, made while no broker listens: it waits
   in the client's reconnection until the new broker is there. */
struct querier {
    glbridge_client *c;
    uint32_t handle;
    glbridge_record rec;
    glbridge_status st;
};

static void *querier_main(void *p)
{
    struct querier *q = p;
    q->st = glbridge_query(q->c, q->handle, &q->rec);
    return NULL;
}

/*
 * test_restore: a reconnecting creator c makes a resource from a sealed
 * memfd with known bytes and a semaphore, updates its data, names it,
 * makes a second NT handle, and holds its keyed mutex through the named
 * NT handle; a second reconnecting client c2 opens it by name and waits
 * in ACQUIRE_SYNC. kill -9 of the broker, a new one at the socket: the
 * resource is back under its KMT handle, NT handles and name, with its
 * bytes, data and mutex hold, c2's acquire is sent again and completes,
 * and no fd is left over. A second kill -9 with a CLOSE and a
 * RELEASE_SYNC made while no broker runs: they count as done, and the
 * next broker learns them from the restore.
 */
static void test_restore(void)
{
    char sock[300], name[128];
    struct broker b;
    glbridge_client *c, *c2, *p;
    glbridge_allocation a = host_alloc();
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_list_entry *le, *e;
    glbridge_reconnect_stats s;
    size_t ln;
    uint32_t kmt, nt, nt_ro, nt3, nt_c2, kinds[1] = {GLBRIDGE_SYNC_BINARY};
    uint64_t v;
    int mem, sem, fd0, fd_held, ab;
    struct waiter w;
    struct querier q;
    pthread_t th, qth;
    double t0;

    snprintf(sock, sizeof sock, "%s/restore.sock", tmpdir);
    snprintf(name, sizeof name, "libglbridge restore %ld", (long)getpid());
    broker_start(&b, sock, NULL);
    fd0 = count_fds();

    mem = sealed_memfd(1);
    sem = memfd_create("libglbridge-restore-sem", MFD_CLOEXEC); /* any fd but a socket or directory */
    CHECK(sem >= 0);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create(c, mem, &a, 1, kinds, &sem, "v1", 2, &kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_update_data(c, kmt, "version two", 11), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE, name, &nt, NULL),
             GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_ro, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_acquire_sync(c, kmt, 0, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 0);
    CHECK_ST(c, glbridge_release_sync(c, kmt, 5, 42), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_acquire_sync(c, nt, 5, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 42);
    CHECK_EQ(ab, 0);
    s = stats_of(c);
    CHECK_EQ(s.held, 1);
    CHECK_EQ(s.kept_fds, 2); /* the memory and the semaphore */

    /* c2 opens by name and waits for key 99, which nobody releases to yet. */
    c2 = connect_reconnecting(sock);
    CHECK_ST(c2, glbridge_open_name(c2, name, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    nt_c2 = rec.handle;
    CHECK_EQ(rec.kmt, kmt);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_EQ(stats_of(c2).kept_fds, 2);
    w.c = c2;
    w.handle = nt_c2;
    w.key = 99;
    w.value = 0;
    w.st = GLBRIDGE_E_INTERNAL;
    CHECK(pthread_create(&th, NULL, waiter_main, &w) == 0);
    p = connect_plain(sock);
    wait_waiters(p, kmt, 1);
    glbridge_client_close(p);
    /* Two sockets, the caller's two fds and two kept dups per client. */
    fd_held = count_fds();
    CHECK_EQ(fd_held, fd0 + 2 + 2 + 2 * 2);

    /* kill -9, and a call made while no broker listens waits for the next. */
    broker_kill(&b, SIGKILL);
    q.c = c;
    q.handle = nt;
    q.st = GLBRIDGE_E_INTERNAL;
    CHECK(pthread_create(&qth, NULL, querier_main, &q) == 0);
    t0 = now_s();
    broker_start(&b, sock, WINDOW);
    pthread_join(qth, NULL);
    CHECK_ST(c, q.st, GLBRIDGE_OK);
    CHECK_EQ(q.rec.kmt, kmt);
    CHECK_EQ(q.rec.handle, nt);
    CHECK_EQ(q.rec.access, GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE);
    CHECK(q.rec.data_len == 11 && memcmp(q.rec.data, "version two", 11) == 0);
    glbridge_record_free(&q.rec);
    s = stats_of(c);
    CHECK_EQ(s.connected, 1);
    CHECK_EQ(s.reconnects, 1);
    CHECK_EQ(s.restored, 1);
    CHECK_EQ(s.refused, 0);
    CHECK_EQ(s.held, 1);
    CHECK_EQ(s.kept_fds, 2);

    /* A plain client of the new broker: the old KMT handle opens to the
       same bytes, data and record; the name and the mutex hold are back. */
    p = connect_plain(sock);
    CHECK_ST(p, glbridge_open_kmt(p, kmt, &rec, &fds), GLBRIDGE_OK);
    CHECK_EQ(rec.kmt, kmt);
    CHECK(memcmp(&rec.alloc, &a, sizeof a) == 0);
    CHECK_EQ(rec.sync_count, 1);
    CHECK_EQ(rec.sync_kinds[0], GLBRIDGE_SYNC_BINARY);
    CHECK(rec.data_len == 11 && memcmp(rec.data, "version two", 11) == 0);
    CHECK(fds.memory >= 0 && fds.sync[0] >= 0);
    check_bytes(fds.memory, 1);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_ST(p, glbridge_list(p, GLBRIDGE_LIST_SYNC_STATE, &le, &ln), GLBRIDGE_OK);
    e = find_entry(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->name_count, 1);
    CHECK(has_name(e, name));
    CHECK_EQ(e->creator_pid, getpid());
    CHECK(e->flags & 1); /* the creator (c) is connected */
    CHECK_EQ(e->sync.mutex_state, 1);
    CHECK_EQ(e->sync.holder_pid, getpid());
    CHECK_EQ(e->sync.last_key, 5);
    CHECK_EQ(e->sync.last_value, 42);
    glbridge_list_free(le, ln);

    /* c still holds the mutex through nt: it releases to 99, which hands
       it to c2's acquire, sent again after c2's restore (first or not). */
    CHECK_ST(c, glbridge_release_sync(c, nt_ro, 99, 77), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_release_sync(c, nt, 99, 77), GLBRIDGE_OK);
    pthread_join(th, NULL);
    CHECK_ST(c2, w.st, GLBRIDGE_OK);
    CHECK_EQ(w.value, 77);
    CHECK_EQ(stats_of(c2).reconnects, 1);
    CHECK_EQ(stats_of(c2).restored, 1);
    CHECK_ST(c2, glbridge_release_sync(c2, nt_c2, 7, 43), GLBRIDGE_OK);
    CHECK_ST(c2, glbridge_close(c2, nt_c2), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c2).held, 0);
    CHECK_EQ(stats_of(c2).kept_fds, 0);
    glbridge_client_close(c2);
    /* The plain client takes it with key 7 and hands it to c's KMT handle. */
    CHECK_ST(p, glbridge_acquire_sync(p, kmt, 7, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 43);
    CHECK_EQ(ab, 0);
    CHECK_ST(p, glbridge_release_sync(p, kmt, 8, 44), GLBRIDGE_OK);
    CHECK_ST(p, glbridge_close(p, kmt), GLBRIDGE_OK);
    glbridge_client_close(p);
    CHECK_ST(c, glbridge_acquire_sync(c, kmt, 8, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 44);
    /* New NT handles do not reuse restored values. */
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, NULL, &nt3, NULL), GLBRIDGE_OK);
    CHECK(nt3 > nt && nt3 > nt_ro);
    CHECK_EQ(count_fds(), fd0 + 1 + 2 + 2);
    printf("ok   kill -9: a reconnecting client's call waited for the new broker (%.2f s), its resource came back "
           "under KMT 0x%x, NT 0x%x and 0x%x and its name, same bytes and data, mutex still held; a waiting "
           "ACQUIRE_SYNC was sent again and completed\n",
           now_s() - t0, (unsigned)kmt, (unsigned)nt, (unsigned)nt_ro);

    /* Second kill -9: a CLOSE and a RELEASE_SYNC while no broker runs
       count as done at once; the next broker learns them from the restore. */
    broker_kill(&b, SIGKILL);
    t0 = now_s();
    CHECK_ST(c, glbridge_release_sync(c, kmt, 9, 45), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt3), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt3), GLBRIDGE_E_NOT_FOUND);       /* not held any more */
    CHECK_ST(c, glbridge_release_sync(c, kmt, 9, 45), GLBRIDGE_E_ACCESS_DENIED); /* not held now */
    CHECK(now_s() - t0 < DEADLINE_S);
    CHECK_EQ(stats_of(c).connected, 0);
    broker_start(&b, sock, WINDOW);
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.reconnects, 2);
    CHECK_EQ(s.restored, 2);
    CHECK_EQ(s.connected, 1);
    CHECK_ST(c, glbridge_close(c, nt3), GLBRIDGE_E_NOT_FOUND); /* the broker agrees */
    CHECK_ST(c, glbridge_list(c, GLBRIDGE_LIST_SYNC_STATE, &le, &ln), GLBRIDGE_OK);
    e = find_entry(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->refs, 3); /* the create, nt and nt_ro */
    CHECK(has_name(e, name));
    CHECK_EQ(e->sync.mutex_state, 0);
    CHECK_EQ(e->sync.last_key, 9);
    CHECK_EQ(e->sync.last_value, 45);
    glbridge_list_free(le, ln);
    CHECK_ST(c, glbridge_acquire_sync(c, nt_ro, 9, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 45);
    CHECK_ST(c, glbridge_release_sync(c, nt_ro, 0, 0), GLBRIDGE_OK);

    /* Closing every reference forgets the resource and closes the dups. */
    CHECK_ST(c, glbridge_close(c, nt_ro), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 2);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.held, 0);
    CHECK_EQ(s.kept_fds, 0);
    CHECK_EQ(count_fds(), fd0 + 1 + 2);
    CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK);
    CHECK(find_entry(le, ln, kmt) == NULL);
    glbridge_list_free(le, ln);
    glbridge_client_close(c);
    check_bytes(mem, 1); /* the caller's fds are still the caller's */
    close(mem);
    close(sem);
    CHECK_EQ(count_fds(), fd0);
    broker_kill(&b, SIGTERM);
    printf("ok   kill -9 with CLOSE and RELEASE_SYNC made while no broker ran: done at once, restored as done; "
           "no fd left (%d before and after)\n",
           fd0);
}

/*
 * test_refused: a new broker without a restore window refuses the
 * RESTORE: the call still succeeds on the new connection, the old handle
 * is gone (NOT_FOUND), and the dups of the fds are closed.
 */
static void test_refused(void)
{
    char sock[300], name[128];
    struct broker b;
    glbridge_client *c;
    glbridge_allocation a = host_alloc();
    glbridge_record rec;
    glbridge_list_entry *le;
    glbridge_reconnect_stats s;
    char err[512];
    size_t ln;
    uint32_t kmt, nt, kmt2;
    int mem, mem2, fd0;

    snprintf(sock, sizeof sock, "%s/refused.sock", tmpdir);
    snprintf(name, sizeof name, "libglbridge refused %ld", (long)getpid());
    broker_start(&b, sock, NULL);
    fd0 = count_fds();
    mem = sealed_memfd(2);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, "d", 1, &kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 1);
    CHECK_EQ(count_fds(), fd0 + 1 + 1 + 1);

    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, "0");
    CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK); /* reconnected: the call succeeds */
    CHECK(find_entry(le, ln, kmt) == NULL);
    glbridge_list_free(le, ln);
    CHECK_ST(c, glbridge_last_error(c, err, sizeof err), GLBRIDGE_OK);
    CHECK(strstr(err, "not restored") != NULL && strstr(err, "RESTORE_REFUSED") != NULL);
    s = stats_of(c);
    CHECK_EQ(s.reconnects, 1);
    CHECK_EQ(s.restored, 0);
    CHECK_EQ(s.refused, 1);
    CHECK_EQ(s.held, 0);
    CHECK_EQ(s.kept_fds, 0);
    CHECK_EQ(count_fds(), fd0 + 1 + 1); /* the dup is closed */
    CHECK_ST(c, glbridge_query(c, kmt, &rec), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_E_NOT_FOUND);
    {
        glbridge_fds f;
        CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &rec, &f), GLBRIDGE_E_NOT_FOUND);
    }
    /* The memory lives on in the caller's fd; it may be registered anew. */
    check_bytes(mem, 2);
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt2), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt2), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 0);
    glbridge_client_close(c);
    close(mem);
    CHECK_EQ(count_fds(), fd0);

    /* A plain client (no reconnect) keeps today's behaviour: CLOSED. */
    c = connect_plain(sock);
    mem2 = sealed_memfd(3);
    CHECK_ST(c, glbridge_create(c, mem2, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 0);
    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, WINDOW);
    {
        glbridge_status st = glbridge_query(c, kmt, &rec);
        if (st != GLBRIDGE_E_CLOSED && st != GLBRIDGE_E_IO)
            FAIL("plain client after a restart: %d (%s)", (int)st, glbridge_strerror(st));
    }
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_E_CLOSED);
    glbridge_client_close(c);
    close(mem2);
    CHECK_EQ(count_fds(), fd0);
    broker_kill(&b, SIGKILL);
    printf("ok   restore refused (--restore-window 0): the call succeeded, the old handles are NOT_FOUND, the dup was "
           "closed; a plain client still gets CLOSED\n");
}

/*
 * test_many_nt: more NT handles than one RESTORE carries (256) come back
 * in several RESTOREs of the resource, every value still valid.
 */
#define MANY_NT 300

static void test_many_nt(void)
{
    char sock[300];
    struct broker b;
    glbridge_client *c;
    glbridge_allocation a = host_alloc();
    glbridge_list_entry *le, *e;
    size_t ln;
    uint32_t kmt, nts[MANY_NT], i;
    int mem, fd0;

    snprintf(sock, sizeof sock, "%s/many.sock", tmpdir);
    broker_start(&b, sock, NULL);
    fd0 = count_fds();
    mem = sealed_memfd(4);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_OK);
    for (i = 0; i < MANY_NT; i++)
        CHECK_ST(c, glbridge_share(c, kmt, i % 2 ? GLBRIDGE_ACCESS_READ : GLBRIDGE_ACCESS_WRITE, NULL, &nts[i], NULL),
                 GLBRIDGE_OK);
    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, WINDOW);
    CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK);
    e = find_entry(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->refs, 1 + MANY_NT);
    glbridge_list_free(le, ln);
    CHECK_EQ(stats_of(c).restored, 1);
    for (i = 0; i < MANY_NT; i++) {
        glbridge_record rec;
        CHECK_ST(c, glbridge_query(c, nts[i], &rec), GLBRIDGE_OK);
        CHECK_EQ(rec.access, i % 2 ? GLBRIDGE_ACCESS_READ : GLBRIDGE_ACCESS_WRITE);
        glbridge_record_free(&rec);
        CHECK_ST(c, glbridge_close(c, nts[i]), GLBRIDGE_OK);
    }
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 0);
    glbridge_client_close(c);
    close(mem);
    CHECK_EQ(count_fds(), fd0);
    broker_kill(&b, SIGKILL);
    printf("ok   %d NT handles restored in %d RESTOREs of one resource, each with its access\n", MANY_NT,
           (MANY_NT + 255) / 256);
}


/* ---- fences and object names across a restart ---- */

#define RW (GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE)
#define SESSION_PATH "\\Sessions\\1\\BaseNamedObjects\\"

static void check_object(glbridge_client *c, uint32_t h, uint32_t kmt, uint32_t access, const char *type,
                         const char *name)
{
    glbridge_object_info o;
    CHECK_ST(c, glbridge_query_object(c, h, &o), GLBRIDGE_OK);
    CHECK_EQ(o.kmt, kmt);
    CHECK_EQ(o.access, access);
    if (strcmp(o.type, type) != 0)
        FAIL("object type \"%s\", want \"%s\"", o.type, type);
    if (strcmp(o.name, name) != 0)
        FAIL("object name \"%s\", want \"%s\"", o.name, name);
}

static void check_value(const glbridge_fence_value *v, uint64_t value, uint64_t signals, uint64_t offset)
{
    CHECK_EQ(v->value, value);
    CHECK_EQ(v->signals, signals);
    CHECK_EQ(v->offset, offset);
}

static glbridge_fence_entry *find_fence(glbridge_fence_entry *e, size_t n, uint32_t kmt)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (e[i].kmt == kmt)
            return &e[i];
    return NULL;
}

/* wait_fence_waiters polls LIST_FENCES (through c) until kmt has n waiters. */
static void wait_fence_waiters(glbridge_client *c, uint32_t kmt, uint32_t n)
{
    double t0 = now_s();
    for (;;) {
        glbridge_fence_entry *le, *e;
        size_t ln;
        uint32_t w;
        CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
        e = find_fence(le, ln, kmt);
        CHECK(e != NULL);
        w = e->waiters;
        glbridge_list_fences_free(le, ln);
        if (w == n)
            return;
        if (now_s() - t0 > DEADLINE_S)
            FAIL("fence 0x%x has %u waiters, want %u", (unsigned)kmt, (unsigned)w, (unsigned)n);
        pause_ms(10);
    }
}

/* A WAIT_FENCE in flight across the restart. */
struct fence_waiter {
    glbridge_client *c;
    uint32_t handle;
    uint64_t value;
    glbridge_fence_value got;
    glbridge_status st;
};

static void *fence_waiter_main(void *p)
{
    struct fence_waiter *w = p;
    w->st = glbridge_wait_fence(w->c, w->handle, w->value, GLBRIDGE_INFINITE, &w->got);
    return NULL;
}

/*
 * test_restore_fence: a reconnecting creator c makes a fence with a
 * timeline semaphore (a memfd stands in), names it, makes a read-only NT
 * handle, signals and lowers it with a rebase; a second reconnecting
 * client c2 opens it by name, redeems a duplicate of c's handle, signals
 * a value c never learns, and waits in WAIT_FENCE for more. kill -9 of
 * the broker, a new one: the fence is back under its KMT handle, NT
 * handles and name (RESTORE_FENCE), with the value of the claim that saw
 * the most signals (c2's) and the largest offset, the semaphore (every
 * open hands out one new fd of it), QUERY_OBJECT's names; c2's wait is
 * sent again and answered by c's next signal; and the kept dups go with
 * the last handle.
 */
static void test_restore_fence(void)
{
    char sock[300], name[128], path[400], other[200];
    struct broker b;
    glbridge_client *c, *c2, *p;
    glbridge_fence f;
    glbridge_fence_value v;
    glbridge_fence_entry *le, *e;
    glbridge_reconnect_stats s;
    struct fence_waiter w;
    pthread_t th;
    size_t ln;
    uint32_t kmt, nt, nt_ro, nt2, nt_dup;
    uint64_t tok;
    int sem, s2, s3, s4;

    snprintf(sock, sizeof sock, "%s/fence.sock", tmpdir);
    snprintf(name, sizeof name, "libglbridge restore fence %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    /* Another spelling of the same path (the leaf as shared: whichever
       client restores first names the object). */
    snprintf(other, sizeof other, "Local\\%s", name);
    broker_start(&b, sock, NULL);
    sem = memfd_create("libglbridge-restore-fence", MFD_CLOEXEC); /* any fd but a socket or directory */
    CHECK(sem >= 0);

    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create_fence(c, 1, sem, &kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_ro, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_signal_fence(c, nt, 10, &v), GLBRIDGE_OK);
    check_value(&v, 10, 1, 0);
    CHECK_ST(c, glbridge_rebase_fence(c, nt, 4, 6, &v), GLBRIDGE_OK);
    check_value(&v, 4, 2, 6);
    s = stats_of(c);
    CHECK_EQ(s.held, 1);
    CHECK_EQ(s.kept_fds, 1); /* the semaphore */
    CHECK_EQ(object_fds(sem), 2);

    c2 = connect_reconnecting(sock);
    CHECK_ST(c2, glbridge_open_fence_name(c2, other, RW, &f, &s2), GLBRIDGE_OK);
    nt2 = f.handle;
    CHECK_EQ(f.kmt, kmt);
    CHECK(strcmp(f.name, path) == 0);
    CHECK_EQ(f.sync_kind, GLBRIDGE_SYNC_TIMELINE);
    CHECK_EQ(object_fds(sem), 4); /* c2's fd and its kept dup */
    CHECK_ST(c, glbridge_duplicate(c, nt, GLBRIDGE_ACCESS_READ, 0, (int32_t)getpid(), &tok, NULL, NULL), GLBRIDGE_OK);
    CHECK_ST(c2, glbridge_open_fence_duplicate(c2, tok, &f, &s3), GLBRIDGE_OK);
    nt_dup = f.handle;
    CHECK_EQ(object_fds(sem), 5); /* one more fd; the kept dup is the fence's, not the handle's */
    CHECK_EQ(stats_of(c2).kept_fds, 1);
    CHECK_ST(c2, glbridge_signal_fence(c2, nt2, 7, &v), GLBRIDGE_OK); /* c never learns it */
    check_value(&v, 7, 3, 6);
    w.c = c2;
    w.handle = nt2;
    w.value = 20;
    w.st = GLBRIDGE_E_INTERNAL;
    CHECK(pthread_create(&th, NULL, fence_waiter_main, &w) == 0);
    p = connect_plain(sock);
    wait_fence_waiters(p, kmt, 1);
    glbridge_client_close(p);

    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, WINDOW);
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.reconnects, 1);
    CHECK_EQ(s.restored, 1);
    CHECK_EQ(s.refused, 0);
    /* c2's wait is sent again once c2 has restored (its thread holds c2,
       whose stats wait for the join). */
    p = connect_plain(sock);
    wait_fence_waiters(p, kmt, 1);

    /* The value of the claim with the most signals (c2's 7 after 3), the
       offset, the semaphore, the names and handles. */
    CHECK_ST(p, glbridge_open_fence_kmt(p, kmt, &f, &s4), GLBRIDGE_OK);
    check_value(&f.value, 7, 3, 6);
    CHECK_EQ(f.sync_kind, GLBRIDGE_SYNC_TIMELINE);
    CHECK(s4 >= 0);
    CHECK_EQ(object_fds(sem), 6); /* the new broker's copy is the same semaphore */
    close(s4);
    CHECK_ST(p, glbridge_list_fences(p, &le, &ln), GLBRIDGE_OK);
    e = find_fence(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->refs, 6); /* c: the create, nt, nt_ro; c2: nt2, nt_dup; p's open */
    CHECK_EQ(e->nt_handles, 4);
    CHECK_EQ(e->flags, GLBRIDGE_FENCE_CREATOR_CONNECTED | GLBRIDGE_FENCE_TIMELINE);
    CHECK_EQ(e->creator_pid, getpid());
    CHECK_EQ(e->waiters, 1);
    CHECK_EQ(e->name_count, 1); /* every claim's spelling is one name */
    glbridge_list_fences_free(le, ln);
    CHECK_ST(p, glbridge_close(p, kmt), GLBRIDGE_OK);
    glbridge_client_close(p);
    check_object(c, nt, kmt, RW, "DxgkSharedSyncObject", path);
    check_object(c, nt_ro, kmt, GLBRIDGE_ACCESS_READ, "DxgkSharedSyncObject", "");
    CHECK_ST(c, glbridge_signal_fence(c, nt_ro, 1, &v), GLBRIDGE_E_ACCESS_DENIED);

    /* c's signal answers c2's wait, sent again after its restore. */
    CHECK_ST(c, glbridge_signal_fence(c, nt, 20, &v), GLBRIDGE_OK);
    check_value(&v, 20, 4, 6);
    pthread_join(th, NULL);
    CHECK_ST(c2, w.st, GLBRIDGE_OK);
    check_value(&w.got, 20, 4, 6);
    CHECK_EQ(stats_of(c2).reconnects, 1);
    CHECK_EQ(stats_of(c2).restored, 1);
    check_object(c2, nt2, kmt, RW, "DxgkSharedSyncObject", path);
    check_object(c2, nt_dup, kmt, GLBRIDGE_ACCESS_READ, "DxgkSharedSyncObject", path);
    /* A lower value after the restart, as before it. */
    CHECK_ST(c2, glbridge_signal_fence(c2, nt2, 2, &v), GLBRIDGE_OK);
    check_value(&v, 2, 5, 6);

    /* The kept dups go with the last handle of each client. */
    CHECK_ST(c2, glbridge_close(c2, nt2), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c2).kept_fds, 1);
    CHECK_ST(c2, glbridge_close(c2, nt_dup), GLBRIDGE_OK);
    s = stats_of(c2);
    CHECK_EQ(s.held, 0);
    CHECK_EQ(s.kept_fds, 0);
    glbridge_client_close(c2);
    close(s2);
    close(s3);
    CHECK_EQ(object_fds(sem), 2);
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt_ro), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 1);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.held, 0);
    CHECK_EQ(s.kept_fds, 0);
    CHECK_EQ(object_fds(sem), 1);
    CHECK_ST(c, glbridge_get_fence(c, kmt, &v), GLBRIDGE_E_NOT_FOUND);
    glbridge_client_close(c);
    close(sem);
    broker_kill(&b, SIGTERM);
    printf("ok   kill -9 with a shared fence: RESTORE_FENCE from two reconnecting clients brought it back under KMT "
           "0x%x and its NT handles and name, with the value of the claim that saw the most signals and the "
           "largest offset, its semaphore, QUERY_OBJECT's names; a waiting WAIT_FENCE was sent again and answered\n",
           (unsigned)kmt);
}

/*
 * test_restore_names: the NT handles of a resource keep their objects'
 * names across a restart (RESTORE's NT_NAMES): a named share, an open by
 * name in another spelling, a redeemed duplicate (whose object path the
 * client keeps as a name), and an unnamed share.
 */
static void test_restore_names(void)
{
    char sock[300], name[128], path[400], other[200];
    struct broker b;
    glbridge_client *c;
    glbridge_allocation a = host_alloc();
    glbridge_record rec;
    glbridge_fds fds;
    uint32_t kmt, nt, nt_u, nt_open, nt_dup;
    uint64_t tok;
    int mem;

    snprintf(sock, sizeof sock, "%s/names.sock", tmpdir);
    snprintf(name, sizeof name, "libglbridge restore names %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    snprintf(other, sizeof other, "Session\\1\\LibGLBridge Restore Names %ld", (long)getpid());
    broker_start(&b, sock, NULL);
    mem = sealed_memfd(5);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_u, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_name(c, other, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    nt_open = rec.handle;
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_ST(c, glbridge_duplicate(c, nt, 0, GLBRIDGE_DUPLICATE_SAME_ACCESS, 0, &tok, NULL, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_duplicate(c, tok, &rec, &fds), GLBRIDGE_OK);
    nt_dup = rec.handle;
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    /* A transfer not redeemed is not restored. */
    CHECK_ST(c, glbridge_duplicate(c, nt, 0, GLBRIDGE_DUPLICATE_SAME_ACCESS, 0, &tok, NULL, NULL), GLBRIDGE_OK);
    CHECK_EQ(object_fds(mem), 2); /* the caller's and the kept dup */
    check_object(c, nt_open, kmt, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", path);
    check_object(c, nt_dup, kmt, RW, "DxgkSharedResource", path);

    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, WINDOW);
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).restored, 1);
    check_object(c, nt, kmt, RW, "DxgkSharedResource", path);
    check_object(c, nt_u, kmt, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", "");
    check_object(c, nt_open, kmt, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", path);
    check_object(c, nt_dup, kmt, RW, "DxgkSharedResource", path);
    CHECK_ST(c, glbridge_open_duplicate(c, tok, &rec, &fds), GLBRIDGE_E_NOT_FOUND);
    CHECK_EQ(object_fds(mem), 2);
    CHECK_ST(c, glbridge_close(c, nt_dup), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt_open), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt_u), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 0);
    CHECK_EQ(object_fds(mem), 1);
    glbridge_client_close(c);
    close(mem);
    broker_kill(&b, SIGTERM);
    printf("ok   kill -9: NT handles of a named share, an open by name, a redeemed duplicate and an unnamed share "
           "keep QUERY_OBJECT's names (%s); a waiting duplicate is not restored\n",
           path);
}

/*
 * test_fence_refused: a new broker without a restore window refuses the
 * RESTORE_FENCE: the fence is forgotten, its semaphore dup closed, and
 * its handles are NOT_FOUND.
 */
static void test_fence_refused(void)
{
    char sock[300];
    struct broker b;
    glbridge_client *c;
    glbridge_fence_value v;
    glbridge_reconnect_stats s;
    uint32_t kmt, nt;
    int sem = memfd_create("libglbridge-refused-fence", MFD_CLOEXEC);

    CHECK(sem >= 0);
    snprintf(sock, sizeof sock, "%s/fence-refused.sock", tmpdir);
    broker_start(&b, sock, NULL);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create_fence(c, 3, sem, &kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, RW, NULL, &nt, NULL), GLBRIDGE_OK);
    CHECK_EQ(object_fds(sem), 2);
    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, "0");
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.reconnects, 1);
    CHECK_EQ(s.restored, 0);
    CHECK_EQ(s.refused, 1);
    CHECK_EQ(s.held, 0);
    CHECK_EQ(s.kept_fds, 0);
    CHECK_EQ(object_fds(sem), 1);
    CHECK_ST(c, glbridge_get_fence(c, kmt, &v), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_get_fence(c, nt, &v), GLBRIDGE_E_NOT_FOUND);
    glbridge_client_close(c);
    close(sem);
    broker_kill(&b, SIGKILL);
    printf("ok   RESTORE_FENCE refused (--restore-window 0): the fence is forgotten, its semaphore dup closed, its "
           "handles NOT_FOUND\n");
}

/* ---- keyed-mutex objects, sessions and abandonment across a restart ---- */

static glbridge_keyed_mutex_entry *find_mutex(glbridge_keyed_mutex_entry *e, size_t n, uint32_t kmt)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (e[i].kmt == kmt)
            return &e[i];
    return NULL;
}

/*
 * test_restore_keyed_mutex: a reconnecting client c moves to session 2,
 * creates a resource, a broker-kept fence and the resource's keyed mutex
 * bound to both, names the resource with a plain (local) name, and holds
 * the mutex through the mutex's own KMT handle. kill -9 of the broker, a
 * new one: SET_SESSION goes first, then the RESTOREs (resource, fence,
 * keyed mutex): the mutex is back under its KMT handle, bound to the same
 * resource and fence, with its data, still held by c (another
 * connection's acquires, through the mutex's and the resource's handles,
 * time out until c releases, and the release raises the fence); the
 * name's QUERY_OBJECT path is still session 2's, where c's plain names
 * resolve.
 */
static void test_restore_keyed_mutex(void)
{
    char sock[300], name[128], path[400], spelt[200];
    struct broker b;
    glbridge_client *c, *p;
    glbridge_allocation a = host_alloc();
    glbridge_keyed_mutex m, m2;
    glbridge_keyed_mutex_entry *le, *e;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_fence_value fv;
    glbridge_reconnect_stats s;
    size_t ln;
    uint32_t kmt, fkmt, nt, nt2;
    uint64_t v;
    int mem, ab;

    snprintf(sock, sizeof sock, "%s/mutex.sock", tmpdir);
    snprintf(name, sizeof name, "libglbridge restore mutex %ld", (long)getpid());
    snprintf(path, sizeof path, "\\Sessions\\2\\BaseNamedObjects\\%s", name);
    snprintf(spelt, sizeof spelt, "Session\\2\\%s", name);
    broker_start(&b, sock, NULL);
    mem = sealed_memfd(6);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_set_session(c, 2), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_create_fence(c, 0, -1, &fkmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, kmt, fkmt, "mutex data", 10, &m), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    check_object(c, nt, kmt, RW, "DxgkSharedResource", path);
    CHECK_ST(c, glbridge_acquire_sync(c, m.kmt, 0, 60000, &v, &ab), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.held, 3); /* the resource, the fence, the keyed mutex */
    CHECK_EQ(s.kept_fds, 1);
    CHECK_EQ(object_fds(mem), 2);

    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, WINDOW);
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.reconnects, 1);
    CHECK_EQ(s.restored, 3);
    CHECK_EQ(s.refused, 0);
    CHECK_EQ(s.held, 3);
    CHECK_EQ(s.kept_fds, 1);
    CHECK_EQ(object_fds(mem), 2);

    /* The same mutex, bound to the same resource and fence, held by c. */
    p = connect_plain(sock);
    CHECK_ST(p, glbridge_open_keyed_mutex(p, m.kmt, &m2), GLBRIDGE_OK);
    CHECK_EQ(m2.kmt, m.kmt);
    CHECK_EQ(m2.resource, kmt);
    CHECK_EQ(m2.sync, fkmt);
    CHECK(m2.data_len == 10 && memcmp(m2.data, "mutex data", 10) == 0);
    glbridge_keyed_mutex_free(&m2);
    CHECK_ST(p, glbridge_list_keyed_mutexes(p, &le, &ln), GLBRIDGE_OK);
    e = find_mutex(le, ln, m.kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->state, 1);
    CHECK_EQ(e->holder_pid, getpid());
    CHECK_EQ(e->creator_pid, getpid());
    CHECK_EQ(e->flags, GLBRIDGE_KEYED_MUTEX_CREATOR_CONNECTED);
    CHECK_EQ(e->refs, 3); /* c's, the resource's, p's open */
    CHECK_EQ(e->resource, kmt);
    CHECK_EQ(e->sync, fkmt);
    glbridge_list_keyed_mutexes_free(le, ln);
    CHECK_ST(p, glbridge_open_kmt(p, kmt, &rec, &fds), GLBRIDGE_OK);
    check_bytes(fds.memory, 6);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_ST(p, glbridge_acquire_sync(p, m.kmt, 0, 200, &v, &ab), GLBRIDGE_E_TIMEOUT);
    CHECK_ST(p, glbridge_acquire_sync(p, kmt, 0, 0, &v, &ab), GLBRIDGE_E_TIMEOUT);
    /* The name is session 2's: p (session 1) opens it by spelling the
       session out. (An open of a name not there, or a new name, would
       wait for the restore window to close.) */
    check_object(c, nt, kmt, RW, "DxgkSharedResource", path);
    CHECK_ST(p, glbridge_open_name(p, spelt, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    CHECK_EQ(rec.kmt, kmt);
    CHECK_ST(p, glbridge_close(p, rec.handle), GLBRIDGE_OK);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);

    /* c releases through the mutex's handle: p's acquire through the
       resource's gets it, and the fence rose to the release's value. */
    CHECK_ST(c, glbridge_release_sync(c, m.kmt, 3, 9), GLBRIDGE_OK);
    CHECK_ST(p, glbridge_acquire_sync(p, kmt, 3, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 9);
    CHECK_EQ(ab, 0);
    CHECK_ST(c, glbridge_get_fence(c, fkmt, &fv), GLBRIDGE_OK);
    CHECK_EQ(fv.value, 9);
    CHECK_ST(p, glbridge_release_sync(p, kmt, 4, 11), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_acquire_sync(c, m.kmt, 4, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 11);
    CHECK_ST(c, glbridge_release_sync(c, m.kmt, 0, 0), GLBRIDGE_OK);
    CHECK_ST(p, glbridge_close(p, kmt), GLBRIDGE_OK);
    CHECK_ST(p, glbridge_close(p, m.kmt), GLBRIDGE_OK);
    glbridge_client_close(p);

    /* c's connection is in session 2 again: its plain names resolve there. */
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &rec, &fds), GLBRIDGE_OK);
    nt2 = rec.handle;
    CHECK_EQ(rec.kmt, kmt);
    check_object(c, nt2, kmt, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", path);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    CHECK_ST(c, glbridge_set_session(c, 1), GLBRIDGE_E_INVALID); /* it holds references */

    CHECK_ST(c, glbridge_close(c, nt2), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, m.kmt), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).held, 2);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, fkmt), GLBRIDGE_OK);
    s = stats_of(c);
    CHECK_EQ(s.held, 0);
    CHECK_EQ(s.kept_fds, 0);
    CHECK_EQ(object_fds(mem), 1);
    /* Gone with the resource (listed, not opened: an open of what is not
       there would wait for the restore window to close). */
    CHECK_ST(c, glbridge_list_keyed_mutexes(c, &le, &ln), GLBRIDGE_OK);
    CHECK(find_mutex(le, ln, m.kmt) == NULL);
    glbridge_list_keyed_mutexes_free(le, ln);
    glbridge_keyed_mutex_free(&m);
    glbridge_client_close(c);
    close(mem);
    broker_kill(&b, SIGTERM);
    printf("ok   kill -9 under a session-2 client holding a resource's keyed mutex through the mutex's handle: "
           "SET_SESSION, RESTORE, RESTORE_FENCE, RESTORE_KEYED_MUTEX brought it back bound to the same resource and "
           "fence, still held (TIMEOUT for another connection until released); the name is still %s\n",
           path);
}

/*
 * test_restore_abandoned: a child holding a resource's keyed mutex is
 * killed with SIGKILL; the reconnecting creator c acquires it (told
 * abandoned) and releases it. kill -9 of the broker, a new one: c's
 * RESTORE says MUTEX_ABANDONED, so the mutex is still abandoned (for
 * good): an acquire of any key gets it at once, told so.
 */
static void test_restore_abandoned(void)
{
    char sock[300];
    struct broker b;
    glbridge_client *c, *p;
    glbridge_allocation a = host_alloc();
    glbridge_list_entry *le, *e;
    size_t ln;
    uint32_t kmt;
    uint64_t v;
    int mem, ab, pfd[2], st;
    pid_t pid;

    snprintf(sock, sizeof sock, "%s/abandoned.sock", tmpdir);
    broker_start(&b, sock, NULL);
    mem = sealed_memfd(7);
    c = connect_reconnecting(sock);
    CHECK_ST(c, glbridge_create(c, mem, &a, 0, NULL, NULL, NULL, 0, &kmt), GLBRIDGE_OK);
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc = connect_plain(sock);
        glbridge_record rec;
        glbridge_fds fds;
        char byte = 1;
        close(pfd[0]);
        CHECK_ST(cc, glbridge_open_kmt(cc, kmt, &rec, &fds), GLBRIDGE_OK);
        CHECK_ST(cc, glbridge_acquire_sync(cc, kmt, 0, 60000, &v, &ab), GLBRIDGE_OK);
        CHECK(write(pfd[1], &byte, 1) == 1);
        for (;;)
            pause(); /* holding it until SIGKILL */
    }
    close(pfd[1]);
    {
        char byte;
        CHECK(read(pfd[0], &byte, 1) == 1);
    }
    close(pfd[0]);
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK_ST(c, glbridge_acquire_sync(c, kmt, 5, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(ab, 1);
    CHECK_ST(c, glbridge_release_sync(c, kmt, 6, 1), GLBRIDGE_OK);

    broker_kill(&b, SIGKILL);
    broker_start(&b, sock, WINDOW);
    CHECK_ST(c, glbridge_client_check(c), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).restored, 1);
    p = connect_plain(sock);
    CHECK_ST(p, glbridge_list(p, GLBRIDGE_LIST_SYNC_STATE, &le, &ln), GLBRIDGE_OK);
    e = find_entry(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->sync.mutex_state, 2); /* abandoned and free */
    CHECK_EQ(e->sync.last_value, 1);
    glbridge_list_free(le, ln);
    glbridge_client_close(p);
    /* Key 99 was never released to: only an abandoned mutex is granted. */
    CHECK_ST(c, glbridge_acquire_sync(c, kmt, 99, 0, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(ab, 1);
    CHECK_EQ(v, 1);
    CHECK_ST(c, glbridge_release_sync(c, kmt, 0, 0), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_EQ(stats_of(c).kept_fds, 0);
    CHECK_EQ(object_fds(mem), 1);
    glbridge_client_close(c);
    close(mem);
    broker_kill(&b, SIGTERM);
    printf("ok   kill -9 after a holder's SIGKILL: RESTORE's MUTEX_ABANDONED kept the keyed mutex abandoned (an "
           "acquire of a key never released got it at once, told so)\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/glshare\n", argv[0]);
        return 2;
    }
    glshare = argv[1];
    if (access(glshare, X_OK) != 0) {
        fprintf(stderr, "%s: not executable (run make build)\n", glshare);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    CHECK(mkdtemp(tmpdir) != NULL);
    signal(SIGPIPE, SIG_IGN);

    test_restore();
    test_refused();
    test_many_nt();
    test_restore_names();
    test_restore_fence();
    test_fence_refused();
    test_restore_keyed_mutex();
    test_restore_abandoned();

    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("PASS libglbridge restore\n");
    return 0;
}
