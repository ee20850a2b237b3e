/*
 * Tests of libglbridge's NT handle calls (DUPLICATE, OPEN_DUPLICATE,
 * QUERY_OBJECT), shared fences (CREATE_FENCE ... LIST_FENCES, service
 * fences), keyed-mutex objects (CREATE_KEYED_MUTEX, OPEN_KEYED_MUTEX),
 * sessions (SET_SESSION) and names' lifetime against a real broker
 * (glshare serve), across real processes.
 * Usage: test_objects PATH/TO/glshare
 *
 * fd checks count the fds of the object under test only (the fds of this
 * process that are the same file), never the whole process's. Nothing
 * waits a fixed time for something to happen: a wait polls its condition
 * (a LIST_FENCES that shows a waiter) under a generous deadline, so a
 * loaded machine only makes it slower.
 */
#define _GNU_SOURCE
#include "glbridge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *glshare;
static char tmpdir[] = "/tmp/libglbridge-objects-XXXXXX";

#define DEADLINE_S 120.0 /* for anything to happen, however loaded the machine */
#define RW (GLBRIDGE_ACCESS_READ | GLBRIDGE_ACCESS_WRITE)
#define SESSION_PATH "\\Sessions\\1\\BaseNamedObjects\\"

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

/* object_fds counts this process's fds that are the file ref is (same
   device and inode): ref itself and every copy of it received. */
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

static void fd_valid_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    CHECK(fd >= 0);
    CHECK(fl >= 0);
    CHECK(fl & FD_CLOEXEC);
}

/* ---- the broker ---- */

struct broker {
    pid_t pid;
    char sock[256], log[300];
};

static void broker_start(struct broker *b, const char *tag)
{
    double t0 = now_s();
    snprintf(b->sock, sizeof b->sock, "%s/%s.sock", tmpdir, tag);
    snprintf(b->log, sizeof b->log, "%s/%s.log", tmpdir, tag);
    b->pid = fork();
    CHECK(b->pid >= 0);
    if (b->pid == 0) {
        int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test leaves no broker behind */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
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
            FAIL("broker %s exited (see %s)", tag, b->log);
        if (now_s() - t0 > DEADLINE_S)
            FAIL("broker %s does not answer on %s", tag, b->sock);
        pause_ms(20); /* polling the condition, not waiting for it */
    }
}

static void broker_kill(struct broker *b, int sig)
{
    int st;
    if (b->pid <= 0)
        return;
    kill(b->pid, sig);
    waitpid(b->pid, &st, 0);
    b->pid = 0;
}

static glbridge_client *connect_to(const struct broker *b)
{
    glbridge_client *c = NULL;
    CHECK_ST(NULL, glbridge_connect(b->sock, &c), GLBRIDGE_OK);
    CHECK(c != NULL);
    return c;
}

static void wait_child(pid_t pid, const char *what)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAIL("child %s failed (status 0x%x)", what, st);
}

/* A pipe carries a token (or a byte) from one process to another. */
static void send_u64(int fd, uint64_t v) { CHECK(write(fd, &v, sizeof v) == (ssize_t)sizeof v); }
static uint64_t recv_u64(int fd)
{
    uint64_t v = 0;
    CHECK(read(fd, &v, sizeof v) == (ssize_t)sizeof v);
    return v;
}

/* ---- resources ---- */

#define TEX_SIZE 1024u /* 16 x 16 R8G8B8A8_UNORM in the host-memory layout */

static unsigned char pattern(size_t i) { return (unsigned char)(i * 11u + 5u + (i >> 8)); }

/* host_resource allocates 16x16 host memory filled with pattern(). */
static void host_resource(glbridge_client *c, glbridge_record *rec, glbridge_fds *fds)
{
    glbridge_allocate_params p;
    unsigned char *m;
    size_t i;
    memset(&p, 0, sizeof p);
    p.flags = GLBRIDGE_ALLOCATE_HOST_MEMORY;
    p.desc.dimension = GLBRIDGE_DIM_TEXTURE2D;
    p.desc.width = p.desc.height = 16;
    p.desc.depth_or_array_size = p.desc.mip_levels = p.desc.sample_count = 1;
    p.desc.format = 28; /* R8G8B8A8_UNORM */
    p.desc.bind_flags = 0x8;
    CHECK_ST(c, glbridge_allocate(c, &p, rec, fds), GLBRIDGE_OK);
    CHECK_EQ(rec->alloc.size, TEX_SIZE);
    m = mmap(NULL, TEX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds->memory, 0);
    CHECK(m != MAP_FAILED);
    for (i = 0; i < TEX_SIZE; i++)
        m[i] = pattern(i);
    munmap(m, TEX_SIZE);
}

static void check_bytes(int fd)
{
    unsigned char *m = mmap(NULL, TEX_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    size_t i;
    CHECK(m != MAP_FAILED);
    for (i = 0; i < TEX_SIZE; i++)
        if (m[i] != pattern(i))
            FAIL("byte %lu is %u, want %u", (unsigned long)i, m[i], pattern(i));
    munmap(m, TEX_SIZE);
}

static uint32_t list_refs(glbridge_client *c, uint32_t kmt)
{
    glbridge_list_entry *le;
    size_t ln, i;
    uint32_t refs = 0;
    int found = 0;
    CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK);
    for (i = 0; i < ln; i++)
        if (le[i].kmt == kmt) {
            refs = le[i].refs;
            found = 1;
        }
    glbridge_list_free(le, ln);
    CHECK(found);
    return refs;
}

static void check_object(glbridge_client *c, uint32_t h, uint32_t kmt, uint32_t access, uint32_t mask,
                         const char *type, const char *name)
{
    glbridge_object_info o;
    CHECK_ST(c, glbridge_query_object(c, h, &o), GLBRIDGE_OK);
    CHECK_EQ(o.handle, h);
    CHECK_EQ(o.kmt, kmt);
    CHECK_EQ(o.access, access);
    CHECK_EQ(o.mask, mask);
    if (strcmp(o.type, type) != 0)
        FAIL("object type \"%s\", want \"%s\"", o.type, type);
    if (strcmp(o.name, name) != 0)
        FAIL("object name \"%s\", want \"%s\"", o.name, name);
}

/*
 * test_query_object: QUERY_OBJECT of a resource's NT handles reports
 * DxgkSharedResource and the path of the object's name in the session's
 * (or the global) directory, as the sharer spelt the leaf; an unnamed
 * share is unnamed; the mask is the one asked (GENERIC_ALL stays), the
 * access what it grants; KMT handles are BAD_HANDLE.
 */
static void test_query_object(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_record rec, r2;
    glbridge_fds fds, f2;
    uint32_t nt, nt_g, nt_u, nt_all;
    char name[128], gname[128], path[400], gpath[400], upper[256];
    size_t i;

    host_resource(c, &rec, &fds);
    snprintf(name, sizeof name, "libglbridge object %ld", (long)getpid());
    snprintf(gname, sizeof gname, "Global\\libglbridge global %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    snprintf(gpath, sizeof gpath, "\\BaseNamedObjects\\libglbridge global %ld", (long)getpid());
    CHECK_ST(c, glbridge_share(c, rec.kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, gname, &nt_g, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_u, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, 0x10000000u /* GENERIC_ALL */, NULL, &nt_all, NULL), GLBRIDGE_OK);
    check_object(c, nt, rec.kmt, RW, RW, "DxgkSharedResource", path);
    check_object(c, nt_g, rec.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", gpath);
    check_object(c, nt_u, rec.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", "");
    check_object(c, nt_all, rec.kmt, RW, 0x10000000u, "DxgkSharedResource", "");

    /* An open by name in another spelling (Local\, upper case) opens the
       same object: its name is the sharer's. */
    snprintf(upper, sizeof upper, "Local\\%s", name);
    for (i = 6; upper[i]; i++)
        if (upper[i] >= 'a' && upper[i] <= 'z')
            upper[i] = (char)(upper[i] - 'a' + 'A');
    CHECK_ST(c, glbridge_open_name(c, upper, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
    check_object(c, r2.handle, rec.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", path);
    CHECK_ST(c, glbridge_close(c, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);

    {
        glbridge_object_info o;
        CHECK_ST(c, glbridge_query_object(c, rec.kmt, &o), GLBRIDGE_E_BAD_HANDLE);
        CHECK_EQ(o.kmt, 0);
        CHECK(o.type[0] == '\0');
        CHECK_ST(c, glbridge_query_object(c, 7, &o), GLBRIDGE_E_BAD_HANDLE);
        CHECK_ST(c, glbridge_query_object(c, nt_u, &o), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_close(c, nt_u), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_query_object(c, nt_u, &o), GLBRIDGE_E_NOT_FOUND);
        CHECK_ST(c, glbridge_query_object(c, nt, NULL), GLBRIDGE_E_ARGUMENT);
    }
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    printf("ok   QUERY_OBJECT: DxgkSharedResource, %s, the global path, unnamed, GENERIC_ALL's mask; BAD_HANDLE, "
           "NOT_FOUND\n",
           path);
}

/*
 * test_duplicate: DUPLICATE into this process (redeemed on this
 * connection), into a child process (redeemed there; this process is
 * refused the child's token), with SAME_ACCESS and CLOSE_SOURCE, and its
 * refusals. Each redemption hands out exactly one new fd of the memory.
 */
static void test_duplicate(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_record rec, r2;
    glbridge_fds fds, f2;
    uint64_t tok, tok2;
    uint32_t nt, nt_ro, src, granted, mask;
    char name[128], path[400];
    int pfd[2], mem_fds;
    pid_t pid;

    host_resource(c, &rec, &fds);
    snprintf(name, sizeof name, "libglbridge duplicate %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    CHECK_ST(c, glbridge_share(c, rec.kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_ro, NULL), GLBRIDGE_OK);
    mem_fds = object_fds(fds.memory);
    CHECK_EQ(mem_fds, 1);
    CHECK_EQ(list_refs(c, rec.kmt), 3); /* the allocation, nt, nt_ro */

    /* Into this process, read-only: redeemed once, on this connection. */
    CHECK_ST(c, glbridge_duplicate(c, nt, GLBRIDGE_ACCESS_READ, 0, (int32_t)getpid(), &tok, &granted, &mask),
             GLBRIDGE_OK);
    CHECK(tok != 0);
    CHECK_EQ(granted, GLBRIDGE_ACCESS_READ);
    CHECK_EQ(mask, GLBRIDGE_ACCESS_READ);
    CHECK_EQ(list_refs(c, rec.kmt), 4); /* the transfer holds one */
    CHECK_ST(c, glbridge_open_duplicate(c, tok, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.kmt, rec.kmt);
    CHECK_EQ(r2.access, GLBRIDGE_ACCESS_READ);
    CHECK(r2.handle != nt && r2.handle != nt_ro);
    CHECK_EQ(r2.handle & 0xC0000003u, 0);
    CHECK_EQ(r2.alloc.size, TEX_SIZE);
    CHECK(r2.flags & GLBRIDGE_RECORD_SERVICE_ALLOCATED);
    fd_valid_cloexec(f2.memory);
    CHECK_EQ(f2.sync[0], -1);
    CHECK_EQ(object_fds(fds.memory), 2);
    check_bytes(f2.memory);
    check_object(c, r2.handle, rec.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", path);
    CHECK_EQ(list_refs(c, rec.kmt), 4); /* the new handle took the transfer's reference */
    /* A token is redeemed once; a failed open hands out no fd. */
    {
        glbridge_record r3;
        glbridge_fds f3;
        CHECK_ST(c, glbridge_open_duplicate(c, tok, &r3, &f3), GLBRIDGE_E_NOT_FOUND);
        CHECK_EQ(f3.memory, -1);
        CHECK_ST(c, glbridge_open_duplicate(c, 0x1234567890ABCDEFull, &r3, &f3), GLBRIDGE_E_NOT_FOUND);
    }
    CHECK_EQ(object_fds(fds.memory), 2);
    /* The duplicate is independent of its source. */
    CHECK_ST(c, glbridge_close(c, r2.handle), GLBRIDGE_OK);
    check_object(c, nt, rec.kmt, RW, RW, "DxgkSharedResource", path);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_EQ(object_fds(fds.memory), 1);
    CHECK_EQ(list_refs(c, rec.kmt), 3);

    /* SAME_ACCESS: the source's mask, whatever access says. */
    CHECK_ST(c, glbridge_duplicate(c, nt, 0, GLBRIDGE_DUPLICATE_SAME_ACCESS, 0, &tok, &granted, &mask), GLBRIDGE_OK);
    CHECK_EQ(granted, RW);
    CHECK_EQ(mask, RW);

    /* Into a child process: it redeems the token made for its pid; this
       process is refused it, and the token stays waiting for the child. */
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc;
        uint64_t t;
        close(pfd[1]);
        t = recv_u64(pfd[0]);
        cc = connect_to(b);
        CHECK_ST(cc, glbridge_open_duplicate(cc, t, &r2, &f2), GLBRIDGE_OK);
        CHECK_EQ(r2.kmt, rec.kmt);
        CHECK_EQ(r2.access, RW);
        fd_valid_cloexec(f2.memory);
        check_bytes(f2.memory);
        check_object(cc, r2.handle, rec.kmt, RW, RW, "DxgkSharedResource", path);
        CHECK_ST(cc, glbridge_close(cc, r2.handle), GLBRIDGE_OK); /* answered before the parent counts */
        CHECK_ST(cc, glbridge_open_duplicate(cc, t, &r2, &f2), GLBRIDGE_E_NOT_FOUND);
        glbridge_client_close(cc);
        _exit(0); /* not exit: the parent's inherited allocations are not leaks */
    }
    close(pfd[0]);
    CHECK_ST(c, glbridge_duplicate(c, nt, RW, 0, (int32_t)pid, &tok2, &granted, NULL), GLBRIDGE_OK);
    CHECK_EQ(granted, RW);
    CHECK_ST(c, glbridge_open_duplicate(c, tok2, &r2, &f2), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_EQ(f2.memory, -1);
    send_u64(pfd[1], tok2);
    close(pfd[1]);
    wait_child(pid, "duplicate redeemer");
    CHECK_EQ(object_fds(fds.memory), 1);
    /* The SAME_ACCESS token is still ours to redeem. */
    CHECK_ST(c, glbridge_open_duplicate(c, tok, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.access, RW);
    CHECK_EQ(object_fds(fds.memory), 2);
    CHECK_ST(c, glbridge_close(c, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_EQ(list_refs(c, rec.kmt), 3); /* the child closed its handle */

    /* CLOSE_SOURCE: the source is closed once the transfer is made. */
    CHECK_ST(c, glbridge_share(c, rec.kmt, RW, NULL, &src, NULL), GLBRIDGE_OK);
    CHECK_EQ(list_refs(c, rec.kmt), 4);
    CHECK_ST(c, glbridge_duplicate(c, src, GLBRIDGE_ACCESS_READ, GLBRIDGE_DUPLICATE_CLOSE_SOURCE, 0, &tok, &granted,
                                   &mask),
             GLBRIDGE_OK);
    CHECK_EQ(granted, GLBRIDGE_ACCESS_READ);
    {
        glbridge_object_info o;
        CHECK_ST(c, glbridge_query_object(c, src, &o), GLBRIDGE_E_NOT_FOUND);
    }
    CHECK_ST(c, glbridge_close(c, src), GLBRIDGE_E_NOT_FOUND);
    CHECK_EQ(list_refs(c, rec.kmt), 4); /* the source's reference went, the transfer's came */
    CHECK_ST(c, glbridge_open_duplicate(c, tok, &r2, &f2), GLBRIDGE_OK);
    check_object(c, r2.handle, rec.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", "");
    CHECK_ST(c, glbridge_close(c, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_EQ(list_refs(c, rec.kmt), 3);

    /* Refusals. */
    CHECK_ST(c, glbridge_duplicate(c, rec.kmt, RW, 0, 0, &tok, NULL, NULL), GLBRIDGE_E_BAD_HANDLE);
    CHECK_EQ(tok, 0);
    CHECK_ST(c, glbridge_duplicate(c, 3, RW, 0, 0, &tok, NULL, NULL), GLBRIDGE_E_BAD_HANDLE);
    CHECK_ST(c, glbridge_duplicate(c, 0x3FFFFFFCu, RW, 0, 0, &tok, NULL, NULL), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_duplicate(c, nt_ro, RW, 0, 0, &tok, NULL, NULL), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_duplicate(c, nt, 0, 0, 0, &tok, NULL, NULL), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_duplicate(c, nt, 2, 0, 0, &tok, NULL, NULL), GLBRIDGE_E_INVALID);
    CHECK_ST(c, glbridge_duplicate(c, nt, RW, 4, 0, &tok, NULL, NULL), GLBRIDGE_E_BAD_MESSAGE);
    CHECK_ST(c, glbridge_duplicate(c, nt, RW, 0, 0, NULL, NULL, NULL), GLBRIDGE_E_ARGUMENT);
    CHECK_EQ(list_refs(c, rec.kmt), 3);
    CHECK_EQ(object_fds(fds.memory), 1);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    printf("ok   DUPLICATE into this process and a child's (ACCESS_DENIED to others), SAME_ACCESS, CLOSE_SOURCE, "
           "OPEN_DUPLICATE once (one new fd each); BAD_HANDLE, NOT_FOUND, ACCESS_DENIED, INVALID, BAD_MESSAGE\n");
}

/* ---- fences ---- */

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

/* wait_fence_waiters polls LIST_FENCES until kmt has n waiters. */
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
        pause_ms(10); /* polling the condition, not waiting for it */
    }
}

static uint32_t fence_waiters(glbridge_client *c, uint32_t kmt)
{
    glbridge_fence_entry *le, *e;
    size_t ln;
    uint32_t w;
    CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
    e = find_fence(le, ln, kmt);
    CHECK(e != NULL);
    w = e->waiters;
    glbridge_list_fences_free(le, ln);
    return w;
}

/*
 * test_fence: a fence without a semaphore (the broker keeps the value):
 * create, open by KMT handle, share by name, QUERY_OBJECT
 * (DxgkSharedSyncObject), signal higher and lower (D3D12 allows it),
 * rebase, get, wait at once, TIMEOUT at once and after a timeout,
 * ACCESS_DENIED through a read-only handle, and the refusals.
 */
static void test_fence(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_fence f;
    glbridge_fence_value v;
    uint32_t kmt, nt, nt_ro;
    char name[128], path[400];
    int sem;
    double t0, dt;

    CHECK_ST(c, glbridge_create_fence(c, 5, -1, &kmt), GLBRIDGE_OK);
    CHECK_EQ(kmt & 0xC000003Fu, 0x40000002u);
    CHECK_ST(c, glbridge_open_fence_kmt(c, kmt, &f, &sem), GLBRIDGE_OK);
    CHECK_EQ(sem, -1);
    CHECK_EQ(f.handle, kmt);
    CHECK_EQ(f.kmt, kmt);
    CHECK_EQ(f.access, RW);
    CHECK_EQ(f.mask, RW);
    CHECK_EQ(f.sync_kind, GLBRIDGE_SYNC_NONE);
    CHECK(f.name[0] == '\0');
    check_value(&f.value, 5, 0, 0);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK); /* the open's reference; the create's stays */

    snprintf(name, sizeof name, "libglbridge fence %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    CHECK_ST(c, glbridge_share(c, kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_ro, NULL), GLBRIDGE_OK);
    check_object(c, nt, kmt, RW, RW, "DxgkSharedSyncObject", path);
    check_object(c, nt_ro, kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedSyncObject", "");

    CHECK_ST(c, glbridge_get_fence(c, nt, &v), GLBRIDGE_OK);
    check_value(&v, 5, 0, 0);
    CHECK_ST(c, glbridge_signal_fence(c, nt, 10, &v), GLBRIDGE_OK);
    check_value(&v, 10, 1, 0);
    /* A lower value is a signal like any other (ID3D12Fence::Signal). */
    CHECK_ST(c, glbridge_signal_fence(c, kmt, 3, &v), GLBRIDGE_OK);
    check_value(&v, 3, 2, 0);
    CHECK_ST(c, glbridge_get_fence(c, nt_ro, &v), GLBRIDGE_OK);
    check_value(&v, 3, 2, 0);
    /* Waits: reached at once; not reached: TIMEOUT at once for 0, after
       the timeout otherwise. */
    CHECK_ST(c, glbridge_wait_fence(c, nt_ro, 3, 0, &v), GLBRIDGE_OK);
    check_value(&v, 3, 2, 0);
    CHECK_ST(c, glbridge_wait_fence(c, nt, 2, GLBRIDGE_INFINITE, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_wait_fence(c, nt, 4, 0, &v), GLBRIDGE_E_TIMEOUT);
    check_value(&v, 0, 0, 0);
    t0 = now_s();
    CHECK_ST(c, glbridge_wait_fence(c, nt_ro, 4, 200, &v), GLBRIDGE_E_TIMEOUT);
    dt = now_s() - t0;
    CHECK(dt >= 0.2 - 1e-3); /* the broker waits at least the timeout */
    CHECK(dt < DEADLINE_S);
    CHECK_EQ(fence_waiters(c, kmt), 0);
    /* A rebase lowers the value and raises the offset; the offset never
       goes down. */
    CHECK_ST(c, glbridge_rebase_fence(c, nt, 1, 7, &v), GLBRIDGE_OK);
    check_value(&v, 1, 3, 7);
    CHECK_ST(c, glbridge_rebase_fence(c, nt, 1, 6, &v), GLBRIDGE_E_INVALID);
    CHECK_ST(c, glbridge_signal_fence(c, nt, 8, &v), GLBRIDGE_OK);
    check_value(&v, 8, 4, 7);
    /* Write is needed to signal; any access waits and reads. */
    CHECK_ST(c, glbridge_signal_fence(c, nt_ro, 9, &v), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_rebase_fence(c, nt_ro, 9, 7, &v), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_get_fence(c, kmt, &v), GLBRIDGE_OK);
    check_value(&v, 8, 4, 7);

    /* Open by name: the handle grants what was asked (access 0 grants
       nothing: ACCESS_DENIED), and a read-only one cannot signal. */
    {
        uint32_t nt_rn;
        char rname[128];
        snprintf(rname, sizeof rname, "libglbridge fence read %ld", (long)getpid());
        CHECK_ST(c, glbridge_share(c, kmt, GLBRIDGE_ACCESS_READ, rname, &nt_rn, NULL), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_open_fence_name(c, rname, 0, &f, &sem), GLBRIDGE_E_ACCESS_DENIED);
        CHECK_EQ(sem, -1);
        CHECK_ST(c, glbridge_open_fence_name(c, rname, GLBRIDGE_ACCESS_READ, &f, &sem), GLBRIDGE_OK);
        CHECK_EQ(f.access, GLBRIDGE_ACCESS_READ);
        CHECK(f.handle != nt_rn);
        CHECK_ST(c, glbridge_signal_fence(c, f.handle, 9, &v), GLBRIDGE_E_ACCESS_DENIED);
        CHECK_ST(c, glbridge_close(c, f.handle), GLBRIDGE_OK);
        CHECK_ST(c, glbridge_close(c, nt_rn), GLBRIDGE_OK);
    }

    /* Handles that are not there. */
    CHECK_ST(c, glbridge_get_fence(c, 3, &v), GLBRIDGE_E_BAD_HANDLE);
    CHECK_ST(c, glbridge_signal_fence(c, 0x3FFFFFFCu, 1, &v), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_open_fence_kmt(c, nt, &f, &sem), GLBRIDGE_E_BAD_HANDLE);
    CHECK_ST(c, glbridge_open_fence_name(c, "libglbridge no such fence", RW, &f, &sem), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_open_fence_name(c, "", RW, &f, &sem), GLBRIDGE_E_BAD_NAME);
    CHECK_ST(c, glbridge_open_fence_duplicate(c, 0x5555ull, &f, &sem), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_get_fence(c, kmt, NULL), GLBRIDGE_E_ARGUMENT);
    {
        int dir = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint32_t k2 = 1;
        CHECK_ST(c, glbridge_create_fence(c, 0, -2, &k2), GLBRIDGE_E_ARGUMENT);
        CHECK_EQ(k2, 0);
        CHECK(dir >= 0);
        CHECK_ST(c, glbridge_create_fence(c, 0, dir, &k2), GLBRIDGE_E_BAD_FDS);
        CHECK_EQ(k2, 0);
        close(dir);
    }
    /* The last reference frees the fence: its KMT handle is stale. */
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt_ro), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_get_fence(c, kmt, &v), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_open_fence_kmt(c, kmt, &f, &sem), GLBRIDGE_E_NOT_FOUND);
    glbridge_client_close(c);
    printf("ok   fence: CREATE_FENCE, OPEN_FENCE by KMT handle and name, DxgkSharedSyncObject, signal up and down, "
           "rebase, GET_FENCE, WAIT_FENCE at once and TIMEOUT after %.2f s; ACCESS_DENIED, INVALID, BAD_HANDLE, "
           "NOT_FOUND, BAD_NAME, BAD_FDS\n",
           dt);
}

/*
 * test_fence_processes: a child opens the fence by name in another
 * spelling and waits for 10; a signal to 5 leaves it waiting, one to 10
 * answers it; it then signals a lower value. A second child redeems a
 * duplicate of the fence made for its pid (a resource's redemption of
 * it is WRONG_TYPE).
 */
static void test_fence_processes(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_fence_value v;
    uint32_t kmt, nt;
    char name[128], other[256], path[400];
    int pfd[2];
    size_t i;
    pid_t pid;

    CHECK_ST(c, glbridge_create_fence(c, 0, -1, &kmt), GLBRIDGE_OK);
    snprintf(name, sizeof name, "libglbridge shared fence %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    CHECK_ST(c, glbridge_share(c, kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    /* \Sessions\1\BaseNamedObjects\ spelt out, and upper case. */
    snprintf(other, sizeof other, "\\sessions\\1\\basenamedobjects\\%s", name);
    for (i = strlen("\\sessions\\1\\basenamedobjects\\"); other[i]; i++)
        if (other[i] >= 'a' && other[i] <= 'z')
            other[i] = (char)(other[i] - 'a' + 'A');

    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc = connect_to(b);
        glbridge_fence f;
        int sem;
        CHECK_ST(cc, glbridge_open_fence_name(cc, other, RW, &f, &sem), GLBRIDGE_OK);
        CHECK_EQ(sem, -1);
        CHECK_EQ(f.kmt, kmt);
        CHECK_EQ(f.access, RW);
        CHECK(strcmp(f.name, path) == 0);
        check_value(&f.value, 0, 0, 0);
        check_object(cc, f.handle, kmt, RW, RW, "DxgkSharedSyncObject", path);
        CHECK_ST(cc, glbridge_wait_fence(cc, f.handle, 10, 60000, &v), GLBRIDGE_OK);
        check_value(&v, 10, 2, 0);
        CHECK_ST(cc, glbridge_signal_fence(cc, f.handle, 4, &v), GLBRIDGE_OK);
        check_value(&v, 4, 3, 0);
        glbridge_client_close(cc);
        _exit(0);
    }
    wait_fence_waiters(c, kmt, 1);
    CHECK_ST(c, glbridge_signal_fence(c, kmt, 5, &v), GLBRIDGE_OK);
    check_value(&v, 5, 1, 0);
    CHECK_EQ(fence_waiters(c, kmt), 1); /* 5 < 10: still waiting */
    CHECK_ST(c, glbridge_signal_fence(c, nt, 10, &v), GLBRIDGE_OK);
    check_value(&v, 10, 2, 0);
    wait_child(pid, "fence waiter");
    CHECK_ST(c, glbridge_get_fence(c, nt, &v), GLBRIDGE_OK);
    check_value(&v, 4, 3, 0); /* the child's lowering */
    CHECK_EQ(fence_waiters(c, kmt), 0);

    /* A duplicate of the fence's NT handle, for a child's pid. */
    CHECK(pipe2(pfd, O_CLOEXEC) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc;
        glbridge_record rec;
        glbridge_fds fds;
        glbridge_fence f;
        uint64_t t;
        int sem;
        close(pfd[1]);
        t = recv_u64(pfd[0]);
        cc = connect_to(b);
        CHECK_ST(cc, glbridge_open_duplicate(cc, t, &rec, &fds), GLBRIDGE_E_WRONG_TYPE);
        CHECK_EQ(fds.memory, -1);
        CHECK_ST(cc, glbridge_open_fence_duplicate(cc, t, &f, &sem), GLBRIDGE_OK);
        CHECK_EQ(sem, -1);
        CHECK_EQ(f.kmt, kmt);
        CHECK_EQ(f.access, GLBRIDGE_ACCESS_READ);
        CHECK_EQ(f.mask, GLBRIDGE_ACCESS_READ);
        CHECK(strcmp(f.name, path) == 0);
        check_value(&f.value, 4, 3, 0);
        check_object(cc, f.handle, kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedSyncObject", path);
        CHECK_ST(cc, glbridge_signal_fence(cc, f.handle, 1, &v), GLBRIDGE_E_ACCESS_DENIED);
        CHECK_ST(cc, glbridge_open_fence_duplicate(cc, t, &f, &sem), GLBRIDGE_E_NOT_FOUND);
        glbridge_client_close(cc);
        _exit(0);
    }
    close(pfd[0]);
    {
        uint64_t tok;
        uint32_t granted;
        glbridge_fence f;
        int sem;
        CHECK_ST(c, glbridge_duplicate(c, nt, GLBRIDGE_ACCESS_READ, 0, (int32_t)pid, &tok, &granted, NULL),
                 GLBRIDGE_OK);
        CHECK_EQ(granted, GLBRIDGE_ACCESS_READ);
        CHECK_ST(c, glbridge_open_fence_duplicate(c, tok, &f, &sem), GLBRIDGE_E_ACCESS_DENIED);
        send_u64(pfd[1], tok);
        close(pfd[1]);
    }
    wait_child(pid, "fence duplicate redeemer");
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    glbridge_client_close(c);
    printf("ok   fence across processes: opened by name as %s, WAIT_FENCE answered by the signal that reached it "
           "(not the lower one), a lower signal from the waiter; a duplicate redeemed by its pid (WRONG_TYPE as a "
           "resource)\n",
           other);
}

/*
 * test_fence_semaphore: a fence with a timeline semaphore fd (a memfd
 * stands in: the broker never looks inside): every open hands out exactly
 * one new close-on-exec fd of it, a failed open none, and closing them
 * leaves only the caller's.
 */
static void test_fence_semaphore(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_fence f, f2, f3;
    glbridge_fence_entry *le, *e;
    size_t ln;
    uint32_t kmt, nt;
    int sem = memfd_create("libglbridge-fence-sem", MFD_CLOEXEC), s1, s2, s3;
    char name[128];

    CHECK(sem >= 0);
    CHECK_ST(c, glbridge_create_fence(c, 100, sem, &kmt), GLBRIDGE_OK);
    CHECK_EQ(object_fds(sem), 1); /* the broker keeps its own copy */
    CHECK_ST(c, glbridge_open_fence_kmt(c, kmt, &f, &s1), GLBRIDGE_OK);
    CHECK_EQ(f.sync_kind, GLBRIDGE_SYNC_TIMELINE);
    check_value(&f.value, 100, 0, 0);
    fd_valid_cloexec(s1);
    CHECK(s1 != sem);
    CHECK_EQ(object_fds(sem), 2);
    snprintf(name, sizeof name, "libglbridge timeline %ld", (long)getpid());
    CHECK_ST(c, glbridge_share(c, kmt, RW, name, &nt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_fence_name(c, name, GLBRIDGE_ACCESS_READ, &f2, &s2), GLBRIDGE_OK);
    CHECK_EQ(f2.sync_kind, GLBRIDGE_SYNC_TIMELINE);
    fd_valid_cloexec(s2);
    CHECK_EQ(object_fds(sem), 3);
    CHECK_ST(c, glbridge_open_fence_name(c, name, RW | 2, &f3, &s3), GLBRIDGE_E_INVALID);
    CHECK_EQ(s3, -1);
    CHECK_EQ(f3.handle, 0);
    CHECK_EQ(object_fds(sem), 3);
    CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
    e = find_fence(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->flags, GLBRIDGE_FENCE_CREATOR_CONNECTED | GLBRIDGE_FENCE_TIMELINE);
    CHECK_EQ(e->refs, 4); /* the create, the KMT open, nt, the name open */
    CHECK_EQ(e->nt_handles, 2);
    CHECK_EQ(e->creator_pid, getpid());
    CHECK_EQ(e->name_count, 1);
    CHECK(strcmp(e->names[0], name) == 0);
    check_value(&e->value, 100, 0, 0);
    glbridge_list_fences_free(le, ln);
    /* A lowering on the GPU path: the semaphore stays where it is. */
    {
        glbridge_fence_value v;
        CHECK_ST(c, glbridge_rebase_fence(c, nt, 40, 60, &v), GLBRIDGE_OK);
        check_value(&v, 40, 1, 60);
    }
    CHECK_ST(c, glbridge_close(c, f2.handle), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    close(s1);
    close(s2);
    CHECK_EQ(object_fds(sem), 1);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    glbridge_client_close(c);
    close(sem);
    printf("ok   fence with a timeline semaphore fd: one new fd per open (3 of it, then 1 again), none on a refusal, "
           "LIST_FENCES flags and references\n");
}

/*
 * test_wrong_type: the resource calls refuse a fence's handles and name,
 * and the fence calls a resource's, with WRONG_TYPE (22); a resource's
 * token is refused by the fence open and stays redeemable.
 */
static void test_wrong_type(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_record rec, r2;
    glbridge_fds fds, f2;
    glbridge_fence f;
    glbridge_fence_value v;
    uint32_t kmt, fnt, rnt;
    uint64_t tok;
    char fname[128], rname[128];
    int sem, before;

    host_resource(c, &rec, &fds);
    CHECK_ST(c, glbridge_create_fence(c, 0, -1, &kmt), GLBRIDGE_OK);
    snprintf(fname, sizeof fname, "libglbridge wrong fence %ld", (long)getpid());
    snprintf(rname, sizeof rname, "libglbridge wrong resource %ld", (long)getpid());
    CHECK_ST(c, glbridge_share(c, kmt, RW, fname, &fnt, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, RW, rname, &rnt, NULL), GLBRIDGE_OK);
    before = object_fds(fds.memory);

    /* Resource calls on a fence. */
    CHECK_ST(c, glbridge_open_kmt(c, kmt, &r2, &f2), GLBRIDGE_E_WRONG_TYPE);
    CHECK_EQ(f2.memory, -1);
    CHECK_ST(c, glbridge_open_name(c, fname, RW, &r2, &f2), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_query(c, kmt, &r2), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_query(c, fnt, &r2), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_update_data(c, kmt, "x", 1), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_acquire_sync(c, fnt, 0, 0, NULL, NULL), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_release_sync(c, kmt, 0, 0), GLBRIDGE_E_WRONG_TYPE);
    /* Fence calls on a resource. */
    CHECK_ST(c, glbridge_open_fence_kmt(c, rec.kmt, &f, &sem), GLBRIDGE_E_WRONG_TYPE);
    CHECK_EQ(sem, -1);
    CHECK_ST(c, glbridge_open_fence_name(c, rname, RW, &f, &sem), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_signal_fence(c, rec.kmt, 1, &v), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_rebase_fence(c, rnt, 1, 1, &v), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_wait_fence(c, rnt, 1, 0, &v), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_get_fence(c, rec.kmt, &v), GLBRIDGE_E_WRONG_TYPE);
    /* A resource's token: not a fence's; still redeemable as a resource. */
    CHECK_ST(c, glbridge_duplicate(c, rnt, RW, 0, 0, &tok, NULL, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_fence_duplicate(c, tok, &f, &sem), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_open_duplicate(c, tok, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(object_fds(fds.memory), before + 1);
    CHECK_ST(c, glbridge_close(c, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_EQ(object_fds(fds.memory), before);
    /* LIST leaves fences out; LIST_FENCES resources. */
    {
        glbridge_list_entry *le;
        glbridge_fence_entry *fe;
        size_t ln, i;
        int saw_res = 0;
        CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK);
        for (i = 0; i < ln; i++) {
            CHECK(le[i].kmt != kmt);
            saw_res |= le[i].kmt == rec.kmt;
        }
        CHECK(saw_res);
        glbridge_list_free(le, ln);
        CHECK_ST(c, glbridge_list_fences(c, &fe, &ln), GLBRIDGE_OK);
        CHECK(find_fence(fe, ln, kmt) != NULL);
        CHECK(find_fence(fe, ln, rec.kmt) == NULL);
        glbridge_list_fences_free(fe, ln);
    }
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    printf("ok   WRONG_TYPE (22) both ways: OPEN_KMT, OPEN_NAME, QUERY, UPDATE_DATA, the keyed mutex of a fence; "
           "OPEN_FENCE, SIGNAL, WAIT, GET of a resource; tokens; LIST and LIST_FENCES keep to their kind\n");
}

#define LIST_N 60

/*
 * test_list_fences: 60 fences with 8 names of 200 bytes each (about
 * 100 KiB of entries) come back over several pages of LIST_FENCES.
 */
static void test_list_fences(const struct broker *b)
{
    glbridge_client *c = connect_to(b);
    glbridge_fence_entry *le;
    size_t ln, i;
    uint32_t kmts[LIST_N], nt;
    double t0;
    int k;

    for (i = 0; i < LIST_N; i++) {
        CHECK_ST(c, glbridge_create_fence(c, i, -1, &kmts[i]), GLBRIDGE_OK);
        for (k = 0; k < 8; k++) {
            char name[256];
            int len = snprintf(name, sizeof name, "libglbridge fences %ld %lu %d ", (long)getpid(),
                               (unsigned long)i, k);
            memset(name + len, 'f', 200 - (size_t)len);
            name[200] = '\0';
            CHECK_ST(c, glbridge_share(c, kmts[i], GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
        }
        CHECK_ST(c, glbridge_signal_fence(c, kmts[i], 1000 + i, NULL), GLBRIDGE_OK);
    }
    CHECK_ST(c, glbridge_share(c, kmts[0], GLBRIDGE_ACCESS_READ, "libglbridge ninth fence name", &nt, NULL),
             GLBRIDGE_E_LIMIT);
    CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
    CHECK(ln >= LIST_N);
    for (i = 1; i < ln; i++)
        CHECK(((le[i - 1].kmt >> 6) & 0xFFFFFF) < ((le[i].kmt >> 6) & 0xFFFFFF)); /* KMT index order */
    for (i = 0; i < LIST_N; i++) {
        glbridge_fence_entry *e = find_fence(le, ln, kmts[i]);
        char want[64];
        CHECK(e != NULL);
        CHECK_EQ(e->name_count, 8);
        snprintf(want, sizeof want, "libglbridge fences %ld %lu 5 ", (long)getpid(), (unsigned long)i);
        CHECK(strncmp(e->names[5], want, strlen(want)) == 0);
        CHECK_EQ(strlen(e->names[7]), 200);
        CHECK_EQ(e->refs, 9);
        CHECK_EQ(e->nt_handles, 8);
        CHECK_EQ(e->waiters, 0);
        CHECK_EQ(e->flags, GLBRIDGE_FENCE_CREATOR_CONNECTED);
        CHECK_EQ(e->creator_pid, getpid());
        check_value(&e->value, 1000 + i, 1, 0);
    }
    glbridge_list_fences_free(le, ln);
    CHECK_ST(c, glbridge_list_fences(c, NULL, &ln), GLBRIDGE_E_ARGUMENT);
    glbridge_client_close(c);
    /* The connection's references go with it, once the broker has seen
       it end (polled). */
    c = connect_to(b);
    for (t0 = now_s();; pause_ms(10)) {
        int gone;
        CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
        gone = find_fence(le, ln, kmts[0]) == NULL && find_fence(le, ln, kmts[LIST_N - 1]) == NULL;
        glbridge_list_fences_free(le, ln);
        if (gone)
            break;
        if (now_s() - t0 > DEADLINE_S)
            FAIL("the fences outlive their only connection");
    }
    glbridge_client_close(c);
    printf("ok   LIST_FENCES over several pages (%d fences with 8 names of 200 bytes), values, references; freed with "
           "their connection\n",
           LIST_N);
}

/* ---- keyed-mutex objects ---- */

static glbridge_keyed_mutex_entry *find_mutex(glbridge_keyed_mutex_entry *e, size_t n, uint32_t kmt)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (e[i].kmt == kmt)
            return &e[i];
    return NULL;
}

/* mutex_entry is kmt's LIST_FENCES entry with KEYED_MUTEXES; found
   reports whether it is listed at all (0: *out is zeroed). */
static int mutex_entry(glbridge_client *c, uint32_t kmt, glbridge_keyed_mutex_entry *out)
{
    glbridge_keyed_mutex_entry *le, *e;
    size_t ln;
    CHECK_ST(c, glbridge_list_keyed_mutexes(c, &le, &ln), GLBRIDGE_OK);
    e = find_mutex(le, ln, kmt);
    if (e)
        *out = *e;
    else
        memset(out, 0, sizeof *out);
    glbridge_list_keyed_mutexes_free(le, ln);
    return e != NULL;
}

/* wait_mutex_waiters polls the keyed-mutex list until kmt has n waiters. */
static void wait_mutex_waiters(glbridge_client *c, uint32_t kmt, uint32_t n)
{
    double t0 = now_s();
    for (;;) {
        glbridge_keyed_mutex_entry e;
        CHECK(mutex_entry(c, kmt, &e));
        if (e.waiters == n)
            return;
        if (now_s() - t0 > DEADLINE_S)
            FAIL("keyed mutex 0x%x has %u waiters, want %u", (unsigned)kmt, (unsigned)e.waiters, (unsigned)n);
        pause_ms(10); /* polling the condition, not waiting for it */
    }
}

static void check_mutex_data(const glbridge_keyed_mutex *m, const void *data, uint32_t len)
{
    CHECK_EQ(m->data_len, len);
    CHECK(len == 0 ? m->data == NULL : m->data != NULL && memcmp(m->data, data, len) == 0);
}

/*
 * test_keyed_mutex: a keyed-mutex object of its own
 * (D3DKMTCreateKeyedMutex2) with private data: a child opens it by its
 * KMT handle and gets the data; the parent acquires it, the child's
 * acquire times out, the parent releases to key 1 with value 5, and the
 * child's acquire of key 1 gets it with value 5. It is no resource, fence
 * or shareable object (WRONG_TYPE), a made-up value is BAD_HANDLE, and
 * once every reference closed it is NOT_FOUND.
 */
static void test_keyed_mutex(const struct broker *b)
{
    static const char data[] = "keyed mutex private runtime data";
    glbridge_client *c = connect_to(b);
    glbridge_keyed_mutex m, m2;
    glbridge_keyed_mutex_entry e;
    glbridge_record rec;
    glbridge_fds fds;
    glbridge_fence f;
    uint64_t v;
    uint32_t fkmt, nt;
    int to_child[2], to_parent[2], ab, sem;
    pid_t pid;

    CHECK_ST(c, glbridge_create_keyed_mutex(c, 0, 0, data, sizeof data, &m), GLBRIDGE_OK);
    CHECK_EQ(m.kmt & 0xC000003Fu, 0x40000002u);
    CHECK_EQ(m.resource, 0);
    CHECK_EQ(m.sync, 0);
    check_mutex_data(&m, data, sizeof data);
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.creator_pid, getpid());
    CHECK_EQ(e.refs, 1);
    CHECK_EQ(e.state, 0);
    CHECK_EQ(e.events, 0);
    CHECK_EQ(e.data_len, sizeof data);
    CHECK_EQ(e.flags, GLBRIDGE_KEYED_MUTEX_CREATOR_CONNECTED);

    /* Not a resource, a fence or a shareable object; not a handle. */
    CHECK_ST(c, glbridge_open_kmt(c, m.kmt, &rec, &fds), GLBRIDGE_E_WRONG_TYPE);
    CHECK_EQ(fds.memory, -1);
    CHECK_ST(c, glbridge_query(c, m.kmt, &rec), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_open_fence_kmt(c, m.kmt, &f, &sem), GLBRIDGE_E_WRONG_TYPE);
    CHECK_EQ(sem, -1);
    CHECK_ST(c, glbridge_share(c, m.kmt, RW, NULL, &nt, NULL), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_open_keyed_mutex(c, 0x1eadbeedu, &m2), GLBRIDGE_E_BAD_HANDLE);
    CHECK_EQ(m2.kmt, 0);
    CHECK(m2.data == NULL);
    CHECK_ST(c, glbridge_create_fence(c, 0, -1, &fkmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_keyed_mutex(c, fkmt, &m2), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_close(c, fkmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_keyed_mutex(c, m.kmt, NULL), GLBRIDGE_E_ARGUMENT);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, 0, 0, NULL, 1, &m2), GLBRIDGE_E_ARGUMENT);

    CHECK(pipe2(to_child, O_CLOEXEC) == 0);
    CHECK(pipe2(to_parent, O_CLOEXEC) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc;
        double t0;
        close(to_child[1]);
        close(to_parent[0]);
        cc = connect_to(b);
        CHECK_ST(cc, glbridge_open_keyed_mutex(cc, m.kmt, &m2), GLBRIDGE_OK);
        CHECK_EQ(m2.kmt, m.kmt);
        CHECK_EQ(m2.resource, 0);
        CHECK_EQ(m2.sync, 0);
        check_mutex_data(&m2, data, sizeof data);
        glbridge_keyed_mutex_free(&m2);
        CHECK(m2.data == NULL && m2.kmt == 0);
        send_u64(to_parent[1], 1);
        CHECK_EQ(recv_u64(to_child[0]), 2); /* the parent holds it */
        t0 = now_s();
        CHECK_ST(cc, glbridge_acquire_sync(cc, m.kmt, 0, 100, &v, &ab), GLBRIDGE_E_TIMEOUT);
        CHECK(now_s() - t0 >= 0.1 - 1e-3);
        send_u64(to_parent[1], 3);
        CHECK_ST(cc, glbridge_acquire_sync(cc, m.kmt, 1, 60000, &v, &ab), GLBRIDGE_OK);
        CHECK_EQ(v, 5);
        CHECK_EQ(ab, 0);
        CHECK_ST(cc, glbridge_release_sync(cc, m.kmt, 2, 6), GLBRIDGE_OK);
        CHECK_ST(cc, glbridge_close(cc, m.kmt), GLBRIDGE_OK);
        send_u64(to_parent[1], 4);
        glbridge_client_close(cc);
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    CHECK_EQ(recv_u64(to_parent[0]), 1);
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.refs, 2);
    CHECK_ST(c, glbridge_acquire_sync(c, m.kmt, 0, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 0);
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.state, 1);
    CHECK_EQ(e.holder_pid, getpid());
    send_u64(to_child[1], 2);
    CHECK_EQ(recv_u64(to_parent[0]), 3); /* the child's acquire timed out */
    CHECK_ST(c, glbridge_release_sync(c, m.kmt, 1, 5), GLBRIDGE_OK);
    CHECK_EQ(recv_u64(to_parent[0]), 4);
    close(to_child[1]);
    close(to_parent[0]);
    wait_child(pid, "keyed mutex opener");
    /* The child released to key 2 with value 6 and closed its reference. */
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.refs, 1);
    CHECK_EQ(e.state, 0);
    CHECK_EQ(e.last_key, 2);
    CHECK_EQ(e.last_value, 6);
    CHECK_EQ(e.events, 2);
    CHECK_ST(c, glbridge_acquire_sync(c, m.kmt, 2, 0, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 6);
    CHECK_ST(c, glbridge_release_sync(c, m.kmt, 0, 0), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, m.kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_keyed_mutex(c, m.kmt, &m2), GLBRIDGE_E_NOT_FOUND);
    CHECK(m2.data == NULL);
    CHECK_ST(c, glbridge_acquire_sync(c, m.kmt, 0, 0, &v, &ab), GLBRIDGE_E_NOT_FOUND);
    CHECK(!mutex_entry(c, m.kmt, &e));
    glbridge_keyed_mutex_free(&m);
    glbridge_client_close(c);
    printf("ok   keyed mutex of its own: a child opened it by KMT handle with its %lu bytes of data, TIMEOUT while "
           "the parent held it, got key 1 with value 5; WRONG_TYPE as a resource, fence or share, BAD_HANDLE, "
           "NOT_FOUND once closed\n",
           (unsigned long)sizeof data);
}

/*
 * test_resource_keyed_mutex: a resource's keyed mutex as an object
 * bound to the resource and to a broker-kept fence (its sync object).
 * Only the resource's creator may make it, once; a child acquires it
 * through the mutex's KMT handle while the parent's acquires through the
 * resource's handles time out; a release through either wakes a wait
 * through the other, and raises the fence to its value; LIST_FENCES with
 * KEYED_MUTEXES shows the holder's pid. The child is killed with SIGKILL
 * while holding: the parent's next three acquires report abandoned.
 */
static void test_resource_keyed_mutex(const struct broker *b)
{
    glbridge_client *c = connect_to(b), *o;
    glbridge_keyed_mutex m, m2;
    glbridge_keyed_mutex_entry e;
    glbridge_fence_entry *fe;
    glbridge_record rec, r2;
    glbridge_fds fds, f2;
    glbridge_fence_value fv;
    size_t ln;
    uint64_t v;
    uint32_t fkmt, nt_ro, i;
    int to_child[2], to_parent[2], ab, st;
    pid_t pid;

    host_resource(c, &rec, &fds);
    CHECK_ST(c, glbridge_create_fence(c, 0, -1, &fkmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, NULL, &nt_ro, NULL), GLBRIDGE_OK);

    /* Only the creator, through a handle granting write, with a resource
       and a fence in their places. */
    o = connect_to(b);
    CHECK_ST(o, glbridge_open_kmt(o, rec.kmt, &r2, &f2), GLBRIDGE_OK);
    CHECK_ST(o, glbridge_create_keyed_mutex(o, rec.kmt, 0, NULL, 0, &m), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_EQ(m.kmt, 0);
    CHECK_ST(o, glbridge_close(o, rec.kmt), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    glbridge_client_close(o);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, nt_ro, 0, NULL, 0, &m), GLBRIDGE_E_ACCESS_DENIED);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, fkmt, 0, NULL, 0, &m), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, rec.kmt, rec.kmt, NULL, 0, &m), GLBRIDGE_E_WRONG_TYPE);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, rec.kmt, fkmt, "desc", 4, &m), GLBRIDGE_OK);
    CHECK_EQ(m.resource, rec.kmt);
    CHECK_EQ(m.sync, fkmt);
    check_mutex_data(&m, "desc", 4);
    CHECK_ST(c, glbridge_create_keyed_mutex(c, rec.kmt, 0, NULL, 0, &m2), GLBRIDGE_E_INVALID);
    CHECK_ST(c, glbridge_open_kmt(c, m.kmt, &r2, &f2), GLBRIDGE_E_WRONG_TYPE);
    /* The resource holds the mutex, and the mutex the fence: the
       creator's own reference may go at once. */
    CHECK_ST(c, glbridge_close(c, m.kmt), GLBRIDGE_OK);
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.refs, 1);
    CHECK_EQ(e.resource, rec.kmt);
    CHECK_EQ(e.sync, fkmt);
    CHECK_ST(c, glbridge_list_fences(c, &fe, &ln), GLBRIDGE_OK);
    CHECK(find_fence(fe, ln, fkmt) != NULL);
    CHECK_EQ(find_fence(fe, ln, fkmt)->refs, 2); /* the create's and the mutex's */
    glbridge_list_fences_free(fe, ln);

    CHECK(pipe2(to_child, O_CLOEXEC) == 0);
    CHECK(pipe2(to_parent, O_CLOEXEC) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        glbridge_client *cc;
        close(to_child[1]);
        close(to_parent[0]);
        cc = connect_to(b);
        CHECK_ST(cc, glbridge_open_keyed_mutex(cc, m.kmt, &m2), GLBRIDGE_OK);
        CHECK_EQ(m2.resource, rec.kmt);
        CHECK_EQ(m2.sync, fkmt);
        check_mutex_data(&m2, "desc", 4);
        glbridge_keyed_mutex_free(&m2);
        CHECK_ST(cc, glbridge_acquire_sync(cc, m.kmt, 0, 60000, &v, &ab), GLBRIDGE_OK);
        send_u64(to_parent[1], 1);
        CHECK_EQ(recv_u64(to_child[0]), 2);
        /* The parent waits for key 1 through the resource's handle. */
        wait_mutex_waiters(cc, m.kmt, 1);
        CHECK_ST(cc, glbridge_release_sync(cc, m.kmt, 1, 10), GLBRIDGE_OK);
        CHECK_ST(cc, glbridge_acquire_sync(cc, m.kmt, 2, 60000, &v, &ab), GLBRIDGE_OK);
        CHECK_EQ(v, 20);
        send_u64(to_parent[1], 3);
        for (;;)
            pause(); /* holding it until SIGKILL */
    }
    close(to_child[0]);
    close(to_parent[1]);
    CHECK_EQ(recv_u64(to_parent[0]), 1);
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.state, 1);
    CHECK_EQ(e.holder_pid, pid);
    CHECK_EQ(e.refs, 2);
    CHECK_ST(c, glbridge_acquire_sync(c, rec.kmt, 0, 0, &v, &ab), GLBRIDGE_E_TIMEOUT);
    CHECK_ST(c, glbridge_acquire_sync(c, nt_ro, 0, 100, &v, &ab), GLBRIDGE_E_TIMEOUT);
    send_u64(to_child[1], 2);
    /* The child's release through the mutex's handle wakes this wait. */
    CHECK_ST(c, glbridge_acquire_sync(c, rec.kmt, 1, 60000, &v, &ab), GLBRIDGE_OK);
    CHECK_EQ(v, 10);
    CHECK_EQ(ab, 0);
    CHECK_ST(c, glbridge_get_fence(c, fkmt, &fv), GLBRIDGE_OK);
    check_value(&fv, 10, 1, 0); /* the release raised the sync object */
    CHECK_ST(c, glbridge_release_sync(c, rec.kmt, 2, 20), GLBRIDGE_OK);
    CHECK_EQ(recv_u64(to_parent[0]), 3);
    CHECK_ST(c, glbridge_get_fence(c, fkmt, &fv), GLBRIDGE_OK);
    check_value(&fv, 20, 2, 0);
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.state, 1);
    CHECK_EQ(e.holder_pid, pid);
    CHECK(e.holder_conn != 0);

    /* SIGKILL while holding: abandoned, for good, to any key. */
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    close(to_child[1]);
    close(to_parent[0]);
    for (i = 0; i < 3; i++) {
        CHECK_ST(c, glbridge_acquire_sync(c, i == 1 ? nt_ro : rec.kmt, 7 + i, 60000, &v, &ab), GLBRIDGE_OK);
        CHECK_EQ(ab, 1);
        CHECK_EQ(v, i == 0 ? 20 : 29 + i);
        CHECK_ST(c, glbridge_release_sync(c, i == 1 ? nt_ro : rec.kmt, 100 + i, 30 + i), GLBRIDGE_OK);
    }
    CHECK(mutex_entry(c, m.kmt, &e));
    CHECK_EQ(e.state, 2);
    CHECK_EQ(e.holder_pid, 0);
    CHECK_EQ(e.refs, 1);
    CHECK_EQ(e.last_value, 32);
    CHECK_ST(c, glbridge_get_fence(c, fkmt, &fv), GLBRIDGE_OK);
    CHECK_EQ(fv.value, 32);
    /* The mutex goes with the resource, and the fence's reference with it. */
    CHECK_ST(c, glbridge_close(c, nt_ro), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, rec.kmt), GLBRIDGE_OK);
    CHECK(!mutex_entry(c, m.kmt, &e));
    CHECK_ST(c, glbridge_open_keyed_mutex(c, m.kmt, &m2), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_list_fences(c, &fe, &ln), GLBRIDGE_OK);
    CHECK(find_fence(fe, ln, fkmt) != NULL);
    CHECK_EQ(find_fence(fe, ln, fkmt)->refs, 1);
    glbridge_list_fences_free(fe, ln);
    CHECK_ST(c, glbridge_close(c, fkmt), GLBRIDGE_OK);
    glbridge_keyed_mutex_free(&m);
    glbridge_fds_close(&fds);
    glbridge_record_free(&rec);
    glbridge_client_close(c);
    printf("ok   a resource's keyed mutex bound to it and a fence: only its creator, once (ACCESS_DENIED, INVALID, "
           "WRONG_TYPE); a child's hold through the mutex's handle times the resource's handles out, releases through "
           "one wake waits through the other and raise the fence to 10 and 20; after SIGKILL of the holder 3 "
           "acquires report abandoned\n");
}

/* ---- sessions and names ---- */

/*
 * test_sessions: a connection moved to session 2 (SET_SESSION) does not
 * find session 1's local names, finds Global\ names and session 1's by
 * its full path; its own local names are \Sessions\2\..., apart from
 * session 1's of the same leaf; a SET_SESSION after it holds something
 * is INVALID.
 */
static void test_sessions(const struct broker *b)
{
    glbridge_client *a = connect_to(b), *s2 = connect_to(b);
    glbridge_record ra, rb, r2;
    glbridge_fds fa, fb, f2;
    uint32_t nt_l, nt_g, nt2, nt_same;
    char local[128], global[160], gpath[400], lpath[400], full[400], other[128], opath[400], spelt[200],
        same2[400];

    snprintf(local, sizeof local, "libglbridge session local %ld", (long)getpid());
    snprintf(global, sizeof global, "Global\\libglbridge session global %ld", (long)getpid());
    snprintf(gpath, sizeof gpath, "\\BaseNamedObjects\\libglbridge session global %ld", (long)getpid());
    snprintf(lpath, sizeof lpath, SESSION_PATH "%s", local);
    snprintf(full, sizeof full, "\\Sessions\\1\\BaseNamedObjects\\%s", local);
    snprintf(other, sizeof other, "libglbridge session two %ld", (long)getpid());
    snprintf(opath, sizeof opath, "\\Sessions\\2\\BaseNamedObjects\\%s", other);
    snprintf(spelt, sizeof spelt, "Session\\2\\%s", other);
    snprintf(same2, sizeof same2, "\\Sessions\\2\\BaseNamedObjects\\%s", local);

    host_resource(a, &ra, &fa);
    CHECK_ST(a, glbridge_share(a, ra.kmt, RW, local, &nt_l, NULL), GLBRIDGE_OK);
    CHECK_ST(a, glbridge_share(a, ra.kmt, RW, global, &nt_g, NULL), GLBRIDGE_OK);

    CHECK_ST(s2, glbridge_set_session(s2, GLBRIDGE_MAX_SESSION + 1), GLBRIDGE_E_INVALID);
    CHECK_ST(s2, glbridge_set_session(s2, 2), GLBRIDGE_OK);
    CHECK_ST(s2, glbridge_open_name(s2, local, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_E_NOT_FOUND);
    CHECK_EQ(f2.memory, -1);
    {
        char l2[160];
        snprintf(l2, sizeof l2, "Local\\%s", local);
        CHECK_ST(s2, glbridge_open_name(s2, l2, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_E_NOT_FOUND);
    }
    /* Holding nothing yet (failed opens hold nothing), it may move again. */
    CHECK_ST(s2, glbridge_set_session(s2, 2), GLBRIDGE_OK);
    CHECK_ST(s2, glbridge_open_name(s2, full, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.kmt, ra.kmt);
    check_object(s2, r2.handle, ra.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", lpath);
    CHECK_ST(s2, glbridge_close(s2, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_ST(s2, glbridge_open_name(s2, global, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.kmt, ra.kmt);
    check_object(s2, r2.handle, ra.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", gpath);

    /* Its own local names are session 2's, apart from session 1's. */
    host_resource(s2, &rb, &fb);
    CHECK_ST(s2, glbridge_share(s2, rb.kmt, RW, other, &nt2, NULL), GLBRIDGE_OK);
    check_object(s2, nt2, rb.kmt, RW, RW, "DxgkSharedResource", opath);
    CHECK_ST(s2, glbridge_share(s2, rb.kmt, RW, local, &nt_same, NULL), GLBRIDGE_OK); /* not NAME_TAKEN */
    check_object(s2, nt_same, rb.kmt, RW, RW, "DxgkSharedResource", same2);
    check_object(a, nt_l, ra.kmt, RW, RW, "DxgkSharedResource", lpath);
    CHECK_ST(a, glbridge_open_name(a, other, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(a, glbridge_open_name(a, spelt, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.kmt, rb.kmt);
    check_object(a, r2.handle, rb.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", opath);
    CHECK_ST(a, glbridge_close(a, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);

    /* Holding references, neither may move. */
    CHECK_ST(s2, glbridge_set_session(s2, 3), GLBRIDGE_E_INVALID);
    CHECK_ST(a, glbridge_set_session(a, 2), GLBRIDGE_E_INVALID);
    glbridge_fds_close(&fa);
    glbridge_fds_close(&fb);
    glbridge_record_free(&ra);
    glbridge_record_free(&rb);
    glbridge_client_close(s2);
    glbridge_client_close(a);
    printf("ok   SET_SESSION 2: session 1's local name NOT_FOUND, Global\\ and \\Sessions\\1\\... found, its own "
           "local names %s (the same leaf as session 1's too); INVALID once holding or above %u\n",
           opath, (unsigned)GLBRIDGE_MAX_SESSION);
}

/*
 * test_name_lifetime: a name lives while an NT handle to its named
 * object does (the sharer's, or one opened by the name), not while the
 * resource does: once the last is closed the name is NOT_FOUND though
 * the resource lives on through its KMT handle, and any SHARE may take
 * it again. An open by name grants every right asked, more than the
 * sharer's handle has.
 */
static void test_name_lifetime(const struct broker *b)
{
    glbridge_client *c = connect_to(b), *o = connect_to(b);
    glbridge_record rec, r2, r3, ro;
    glbridge_fds fds, f2, f3, fo;
    glbridge_list_entry *le;
    size_t ln, i;
    uint32_t nt, nt2, nt_o;
    char name[128], path[400];

    snprintf(name, sizeof name, "libglbridge name lifetime %ld", (long)getpid());
    snprintf(path, sizeof path, SESSION_PATH "%s", name);
    host_resource(c, &rec, &fds);
    host_resource(o, &ro, &fo);
    CHECK_ST(c, glbridge_share(c, rec.kmt, GLBRIDGE_ACCESS_READ, name, &nt, NULL), GLBRIDGE_OK);
    /* More than the sharer's read-only handle: a name grants every right. */
    CHECK_ST(o, glbridge_open_name(o, name, RW, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.access, RW);
    check_object(o, r2.handle, rec.kmt, RW, RW, "DxgkSharedResource", path);
    CHECK_ST(o, glbridge_open_name(o, name, 0x10000000u /* GENERIC_ALL */, &r3, &f3), GLBRIDGE_OK);
    CHECK_EQ(r3.access, RW);
    CHECK_ST(o, glbridge_close(o, r3.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f3);
    glbridge_record_free(&r3);

    /* The sharer's handle goes: the opener's keeps the name. */
    CHECK_ST(c, glbridge_close(c, nt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &r3, &f3), GLBRIDGE_OK);
    check_object(c, r3.handle, rec.kmt, GLBRIDGE_ACCESS_READ, GLBRIDGE_ACCESS_READ, "DxgkSharedResource", path);
    CHECK_ST(c, glbridge_close(c, r3.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f3);
    glbridge_record_free(&r3);
    CHECK_ST(o, glbridge_share(o, ro.kmt, RW, name, &nt_o, NULL), GLBRIDGE_E_NAME_TAKEN);

    /* The last handle to the named object goes: so does the name. */
    CHECK_ST(o, glbridge_close(o, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_ST(o, glbridge_open_name(o, name, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_E_NOT_FOUND);
    CHECK_EQ(f2.memory, -1);
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_E_NOT_FOUND);
    CHECK_ST(c, glbridge_query(c, rec.kmt, &r3), GLBRIDGE_OK); /* the resource lives on */
    glbridge_record_free(&r3);
    CHECK_ST(c, glbridge_list(c, 0, &le, &ln), GLBRIDGE_OK);
    for (i = 0; i < ln && le[i].kmt != rec.kmt; i++)
        ;
    CHECK(i < ln);
    CHECK_EQ(le[i].name_count, 0);
    glbridge_list_free(le, ln);
    check_bytes(fds.memory);

    /* Free again: its sharer may take it again, or any other SHARE. */
    CHECK_ST(c, glbridge_share(c, rec.kmt, RW, name, &nt2, NULL), GLBRIDGE_OK);
    CHECK_ST(o, glbridge_open_name(o, name, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.kmt, rec.kmt);
    CHECK_ST(o, glbridge_close(o, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    CHECK_ST(c, glbridge_close(c, nt2), GLBRIDGE_OK);
    CHECK_ST(o, glbridge_share(o, ro.kmt, RW, name, &nt_o, NULL), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_open_name(c, name, GLBRIDGE_ACCESS_READ, &r2, &f2), GLBRIDGE_OK);
    CHECK_EQ(r2.kmt, ro.kmt);
    CHECK_ST(c, glbridge_close(c, r2.handle), GLBRIDGE_OK);
    glbridge_fds_close(&f2);
    glbridge_record_free(&r2);
    glbridge_fds_close(&fds);
    glbridge_fds_close(&fo);
    glbridge_record_free(&rec);
    glbridge_record_free(&ro);
    glbridge_client_close(o);
    glbridge_client_close(c);
    printf("ok   a name lives while a handle to its object does: NOT_FOUND once the sharer's and the opener's are "
           "closed, the resource alive, then shared again (NAME_TAKEN before); an open by name gets RW from a "
           "read-only share\n");
}

/* ---- service fences ---- */

/* hex16 reads 32 hex digits at p into out: 0, or -1. */
static int hex16(const char *p, uint8_t out[16])
{
    int i;
    for (i = 0; i < 32; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(d << 4);
        else
            out[i / 2] |= (uint8_t)d;
    }
    return 0;
}

/* json_uuid finds "key": "<32 hex digits>" in s: 0, or -1. */
static int json_uuid(const char *s, const char *key, uint8_t out[16])
{
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    p = strstr(s, pat);
    return p ? hex16(p + strlen(pat), out) : -1;
}

/* first_vk_device asks `glshare info --json` (its broker socket a path
   where none listens) for this machine's first Vulkan device: 1 with its
   name and UUIDs, 0 when it has none. */
static int first_vk_device(char *name, size_t name_len, uint8_t driver_uuid[16], uint8_t device_uuid[16])
{
    static char out[65536];
    char cmd[600];
    const char *dev, *p, *q;
    size_t n;
    FILE *f;
    int st;

    snprintf(cmd, sizeof cmd, "'%s' info --json --socket '%s/no-broker.sock' 2>/dev/null", glshare, tmpdir);
    f = popen(cmd, "r");
    CHECK(f != NULL);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    st = pclose(f);
    if (st != 0)
        FAIL("glshare info --json exited with status 0x%x", st);
    dev = strstr(out, "\"vk_devices\": ");
    CHECK(dev != NULL);
    dev += strlen("\"vk_devices\": ");
    if (strncmp(dev, "null", 4) == 0 || strncmp(dev, "[]", 2) == 0)
        return 0;
    CHECK(*dev == '[');
    p = strstr(dev, "\"name\": \"");
    CHECK(p != NULL);
    p += strlen("\"name\": \"");
    q = strchr(p, '"');
    CHECK(q != NULL);
    snprintf(name, name_len, "%.*s", (int)(q - p), p);
    CHECK(json_uuid(dev, "driver_uuid", driver_uuid) == 0);
    CHECK(json_uuid(dev, "device_uuid", device_uuid) == 0);
    return 1;
}

/* service_fence_works is the positive path of a service fence, on a
   device that shares timeline semaphores (an NVIDIA GPU's): the reply's
   semaphore fd, SERVICE in OPEN_FENCE's record and LIST_FENCES, and the
   broker's CPU signals on it. */
static void service_fence_works(glbridge_client *c, uint32_t kmt, int sem)
{
    glbridge_fence f;
    glbridge_fence_value v;
    glbridge_fence_entry *le, *e;
    size_t ln;
    int s2;

    fd_valid_cloexec(sem);
    CHECK_EQ(object_fds(sem), 1);
    CHECK_ST(c, glbridge_open_fence_kmt(c, kmt, &f, &s2), GLBRIDGE_OK);
    CHECK_EQ(f.sync_kind, GLBRIDGE_SYNC_TIMELINE);
    CHECK_EQ(f.service, 1);
    check_value(&f.value, 5, 0, 0);
    fd_valid_cloexec(s2);
    close(s2);
    CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
    e = find_fence(le, ln, kmt);
    CHECK(e != NULL);
    CHECK_EQ(e->flags, GLBRIDGE_FENCE_CREATOR_CONNECTED | GLBRIDGE_FENCE_TIMELINE | GLBRIDGE_FENCE_SERVICE);
    glbridge_list_fences_free(le, ln);
    CHECK_ST(c, glbridge_host_signal_fence(c, kmt, 9, &v), GLBRIDGE_OK);
    CHECK_EQ(v.value, 9);
    CHECK_ST(c, glbridge_wait_fence(c, kmt, 9, 60000, &v), GLBRIDGE_OK);
    CHECK_EQ(v.value, 9);
    /* A lowering: the semaphore stays, the offset rises. */
    CHECK_ST(c, glbridge_host_signal_fence(c, kmt, 2, &v), GLBRIDGE_OK);
    CHECK_EQ(v.value, 2);
    CHECK_EQ(v.offset, 7);
    CHECK_ST(c, glbridge_get_fence(c, kmt, &v), GLBRIDGE_OK);
    CHECK_EQ(v.value, 2);
}

/*
 * test_service_fence: CREATE_FENCE with SERVICE. Unknown UUIDs are
 * NO_DEVICE; on this machine's first Vulkan device the broker either
 * makes the fence (the positive path runs: an NVIDIA GPU) or refuses it
 * with NO_SEMAPHORE (Mesa 22.3's lavapipe shares no timeline semaphores:
 * the positive path is skipped, saying why). SIGNAL_FENCE with HOST of a
 * fence that is no service fence is NO_SEMAPHORE and changes nothing;
 * OPEN_FENCE and LIST_FENCES say SERVICE of none of them.
 */
static void test_service_fence(const struct broker *b)
{
    static const uint8_t bogus[16] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
                                      0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
    glbridge_client *c = connect_to(b);
    glbridge_fence f;
    glbridge_fence_value v;
    glbridge_fence_entry *le, *e;
    uint8_t drv[16], dev[16];
    char devname[256], err[512];
    size_t ln;
    uint32_t kmt, fk, fk2;
    int sem, memsem = memfd_create("libglbridge-service-fence", MFD_CLOEXEC);
    glbridge_status st;
    const char *positive = NULL;

    CHECK(memsem >= 0);
    CHECK_ST(c, glbridge_create_fence_service(c, 5, bogus, bogus, &kmt, &sem), GLBRIDGE_E_NO_DEVICE);
    CHECK_EQ(kmt, 0);
    CHECK_EQ(sem, -1);
    CHECK_ST(c, glbridge_create_fence_service(c, 5, NULL, bogus, &kmt, &sem), GLBRIDGE_E_ARGUMENT);
    if (!first_vk_device(devname, sizeof devname, drv, dev)) {
        printf("skip service fence on a device: glshare info lists no Vulkan device on this machine\n");
    } else {
        st = glbridge_create_fence_service(c, 5, drv, dev, &kmt, &sem);
        if (st == GLBRIDGE_OK) {
            service_fence_works(c, kmt, sem);
            close(sem);
            CHECK_ST(c, glbridge_close(c, kmt), GLBRIDGE_OK);
            positive = "ran";
        } else {
            CHECK_ST(c, st, GLBRIDGE_E_NO_SEMAPHORE);
            CHECK_EQ(kmt, 0);
            CHECK_EQ(sem, -1);
            CHECK_ST(c, glbridge_last_error(c, err, sizeof err), GLBRIDGE_OK);
            printf("skip service fence positive path: the broker's %s shares no timeline semaphores (%s)\n", devname,
                   err);
        }
    }

    /* HOST signals only a service fence's semaphore. */
    CHECK_ST(c, glbridge_create_fence(c, 4, -1, &fk), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_create_fence(c, 6, memsem, &fk2), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_host_signal_fence(c, fk, 8, &v), GLBRIDGE_E_NO_SEMAPHORE);
    check_value(&v, 0, 0, 0);
    CHECK_ST(c, glbridge_host_signal_fence(c, fk2, 8, &v), GLBRIDGE_E_NO_SEMAPHORE);
    CHECK_ST(c, glbridge_get_fence(c, fk, &v), GLBRIDGE_OK);
    check_value(&v, 4, 0, 0);
    CHECK_ST(c, glbridge_get_fence(c, fk2, &v), GLBRIDGE_OK);
    check_value(&v, 6, 0, 0);
    CHECK_ST(c, glbridge_open_fence_kmt(c, fk2, &f, &sem), GLBRIDGE_OK);
    CHECK_EQ(f.sync_kind, GLBRIDGE_SYNC_TIMELINE);
    CHECK_EQ(f.service, 0);
    close(sem);
    CHECK_ST(c, glbridge_close(c, fk2), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_list_fences(c, &le, &ln), GLBRIDGE_OK);
    e = find_fence(le, ln, fk);
    CHECK(e != NULL);
    CHECK_EQ(e->flags, GLBRIDGE_FENCE_CREATOR_CONNECTED);
    e = find_fence(le, ln, fk2);
    CHECK(e != NULL);
    CHECK_EQ(e->flags, GLBRIDGE_FENCE_CREATOR_CONNECTED | GLBRIDGE_FENCE_TIMELINE);
    glbridge_list_fences_free(le, ln);
    CHECK_ST(c, glbridge_host_signal_fence(c, 0x1eadbeedu, 1, &v), GLBRIDGE_E_BAD_HANDLE);
    CHECK_ST(c, glbridge_close(c, fk), GLBRIDGE_OK);
    CHECK_ST(c, glbridge_close(c, fk2), GLBRIDGE_OK);
    CHECK_EQ(object_fds(memsem), 1);
    close(memsem);
    glbridge_client_close(c);
    printf("ok   service fence: NO_DEVICE for unknown UUIDs, %s on the device; HOST signal of a broker-kept or a "
           "client's timeline fence NO_SEMAPHORE (nothing changed), no SERVICE in their records and entries\n",
           positive ? "the positive path" : "NO_SEMAPHORE");
}

int main(int argc, char **argv)
{
    struct broker b;

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

    broker_start(&b, "objects");
    test_query_object(&b);
    test_duplicate(&b);
    test_fence(&b);
    test_fence_processes(&b);
    test_fence_semaphore(&b);
    test_wrong_type(&b);
    test_list_fences(&b);
    test_keyed_mutex(&b);
    test_resource_keyed_mutex(&b);
    test_sessions(&b);
    test_name_lifetime(&b);
    test_service_fence(&b);
    broker_kill(&b, SIGTERM);
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("PASS libglbridge objects\n");
    return 0;
}
