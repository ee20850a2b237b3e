/*
 * Tests of libglbridge's reconnecting client (glbridge_connect_opts with
 * reconnect) against real brokers: kill -9 of `glshare serve`, a new one
 * at the same socket, and the resources back under the same handles and
 * names (RESTORE), or refused by a broker without a restore window.
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

    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("PASS libglbridge restore\n");
    return 0;
}
